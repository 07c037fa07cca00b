import CAPICore
import Foundation

/// Checks and describes Graph base URLs: a configured URL must be an absolute `http(s)` URL with a
/// host, checked once at start-up (a typo is a configuration error, not a transient failure to
/// retry forever), and every log line or error shows it without credentials, path or query.
public enum GraphEndpoint {
    public struct InvalidURL: Error, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
    }

    /// The URL ready for the client (no trailing `/`), or why it cannot be used. The reason never
    /// repeats the URL (it may carry a password).
    public static func validated(_ text: String) throws(InvalidURL) -> String {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw InvalidURL(reason: "is not a URL (expected https://host[:port])")
        }
        guard scheme == "https" || scheme == "http" else { throw InvalidURL(reason: "must use https:// (or http:// for a local stand-in)") }
        guard let host = components.host, !host.isEmpty else { throw InvalidURL(reason: "has no host") }
        guard components.query == nil, components.fragment == nil else { throw InvalidURL(reason: "must not have a query or fragment") }
        // `https://graph.facebook.com/v26.0` would send to `/v26.0/v26.0/…`, which Graph refuses
        // as an unknown path, and every event would end dead-lettered.
        if let last = GraphVersion.trailing(inPath: components.path) {
            throw InvalidURL(reason: "ends in a Graph API version (/\(last)); give the base URL only, the version comes from graph_api.version")
        }
        return text.hasSuffix("/") ? String(text.dropLast()) : text
    }

    /// `scheme://host:port` of a URL, for logs and errors: never the user, password, path or query.
    public static func describe(_ url: String) -> String {
        guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty else { return "the Graph API (unparsable URL)" }
        let scheme = components.scheme ?? "https"
        return "\(scheme)://\(host.contains(":") ? "[\(host)]" : host)" + (components.port.map { ":\($0)" } ?? "")
    }
}
