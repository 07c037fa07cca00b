/// A configuration value that must never be printed: access tokens, app secrets, webhook secrets.
///
/// `description` and `debugDescription` are redacted, so string interpolation into a log line or an
/// error cannot leak it; code that needs the value asks for `revealed` explicitly.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    public let revealed: String

    public init(_ value: String) {
        self.revealed = value
    }

    public var isEmpty: Bool { revealed.isEmpty }
    public var description: String { "<redacted>" }
    public var debugDescription: String { "Secret(<redacted>)" }
}
