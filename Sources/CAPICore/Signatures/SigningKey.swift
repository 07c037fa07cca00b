/// A decoded HMAC key. Its description is redacted like ``Secret``'s.
public struct SigningKey: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]
    public init(bytes: [UInt8]) { self.bytes = bytes }
    public var description: String { "<redacted key>" }
}
