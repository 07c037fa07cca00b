/// Why the state registry could not do what was asked. Messages carry no personal value and no
/// password (URLs are shown with the password masked).
public struct StateError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The URL is malformed or names an unsupported backend.
        case configuration
        /// The store cannot be reached or opened.
        case unavailable
        /// A statement failed.
        case query
        /// A rule of the registry was broken (a cursor past its run's start, …).
        case invariant
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "state \(kind.rawValue) error: \(message)" }
}
