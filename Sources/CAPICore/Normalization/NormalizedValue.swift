/// What normalization made of one value.
public enum NormalizedValue: Sendable, Equatable {
    /// Normalized and hashed: the canonical text (kept in memory only) and its SHA-256.
    case hashed(normalized: String, digest: HexDigest)
    /// Already a SHA-256 digest: passed through (lowercased, as every digest is written).
    case digest(HexDigest)
    /// A key Meta takes unhashed.
    case passthrough(String)
}

/// Why a value was dropped. The reason never contains the value: it is logged and returned to senders.
public struct NormalizationIssue: Error, Sendable, Equatable, CustomStringConvertible {
    public var key: String
    public var reason: String

    public init(key: String, reason: String) {
        self.key = key
        self.reason = reason
    }

    public var description: String { "\(key): \(reason)" }
}
