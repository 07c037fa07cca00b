/// Why a URL that may carry credentials could not be read, told without repeating any of it.
///
/// A password holding `#`, `/` or `?` ends the URL's authority early, and what is left reads as a
/// host with a port that is no number: "must start with postgres://" or "must be an http:// URL"
/// sent people looking at the wrong part of a URL they cannot see printed.
public enum UnreadableURL: Sendable, Equatable {
    /// The authority ends at a `#`, `/` or `?` that an `@` still follows: a user name or password
    /// with characters a URL reserves.
    case unencodedCredentials
    /// The port is not a number.
    case invalidPort
    /// Neither: something else about the URL.
    case other

    /// What to do about ``unencodedCredentials``.
    public static let encodingAdvice =
        "percent-encode in the user name and password what a URL reserves (# as %23, / as %2F, ? as %3F, @ as %40, % as %25, a space as %20)"

    /// - Parameter url: the whole URL as given, scheme included.
    public init(_ url: some StringProtocol) {
        guard let schemeEnd = url.range(of: "://") else {
            self = .other
            return
        }
        let rest = url[schemeEnd.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if authority.endIndex < rest.endIndex, rest[authority.endIndex...].contains("@") {
            self = .unencodedCredentials
            return
        }
        let hostAndPort = authority.split(separator: "@", omittingEmptySubsequences: false).last ?? ""
        if !hostAndPort.hasSuffix("]"), let colon = hostAndPort.lastIndex(of: ":"),
            hostAndPort[hostAndPort.index(after: colon)...].contains(where: { !("0"..."9").contains($0) })
        {
            self = .invalidPort
            return
        }
        self = .other
    }
}
