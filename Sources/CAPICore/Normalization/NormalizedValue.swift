/// What normalization made of one value.
public enum NormalizedValue: Sendable, Equatable {
    /// Normalized and hashed: the canonical text (kept in memory only) and its SHA-256.
    case hashed(normalized: String, digest: HexDigest)
    /// Already a SHA-256 digest: passed through (lowercased, as every digest is written).
    case digest(HexDigest)
    /// A key Meta takes unhashed.
    case passthrough(String)
}

/// What normalization made of one value before it is hashed.
///
/// The rules answer this, and ``Normalizer/normalize(_:_:country:)`` hashes it. Intake asks for it
/// directly and hashes an event's values two at a time (``HexDigest/sha256(of:and:)``): a lone
/// SHA-256 leaves the CPU's SHA unit waiting between rounds, and a second message fills the wait.
enum CanonicalValue: Sendable, Equatable {
    /// Normalized, still to be hashed.
    case canonical(String)
    /// Already a SHA-256 digest (lowercased, as every digest is written).
    case digest(HexDigest)
    /// A key Meta takes unhashed.
    case passthrough(String)

    /// Hashed, one value alone.
    var hashed: NormalizedValue {
        switch self {
        case .canonical(let text): .hashed(normalized: text, digest: SHA256Hex.hexDigest(text))
        case .digest(let digest): .digest(digest)
        case .passthrough(let text): .passthrough(text)
        }
    }
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
