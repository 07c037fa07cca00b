import AsyncHTTPClient
import CAPICore
import Foundation
import NIOPosix
import Synchronization

/// An HTTP proxy for calls to the Graph API: the NAT-allowlist pattern, where only a fixed egress
/// address may reach Meta. Every call is tunnelled with `CONNECT` (AsyncHTTPClient's way).
public struct EgressProxy: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// `user:password` from the proxy URL, sent as `Proxy-Authorization: Basic`; never printed.
    var credentials: String?

    public init(host: String, port: Int, credentials: String? = nil) {
        self.host = host
        self.port = port
        self.credentials = credentials
    }

    /// `http://[user:password@]host:port`; `nil` for anything else.
    public init?(url text: String) {
        guard let components = URLComponents(string: text.contains("://") ? text : "http://" + text),
            components.scheme?.lowercased() == "http", let host = components.host, !host.isEmpty
        else { return nil }
        self.host = host
        port = components.port ?? 80
        credentials = components.user.map { user in "\(user):\(components.password ?? "")" }
    }

    public var description: String { "\(host):\(port)" }

    /// AsyncHTTPClient's form of this proxy, with its `Proxy-Authorization`.
    var clientProxy: HTTPClient.Configuration.Proxy {
        .server(host: host, port: port, authorization: credentials.map { .basic(credentials: Data($0.utf8).base64EncodedString()) })
    }

    /// The proxy for calls to `baseURL`: `graph_api.proxy` when configured, else `HTTPS_PROXY` (or
    /// `HTTP_PROXY` for an `http` base URL), upper or lower case, unless `NO_PROXY` names the host
    /// (exact, a domain suffix such as `.facebook.com` or `facebook.com`, or `*`).
    public static func resolve(baseURL: String, configured: String?, environment: [String: String]) -> EgressProxy? {
        if let configured, !configured.isEmpty { return EgressProxy(url: configured) }
        guard let url = URLComponents(string: baseURL), let host = url.host?.lowercased() else { return nil }
        func variable(_ name: String) -> String? {
            (environment[name] ?? environment[name.lowercased()]).flatMap { $0.isEmpty ? nil : $0 }
        }
        let exempt = (variable("NO_PROXY") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        for entry in exempt where !entry.isEmpty {
            if entry == "*" || host == entry { return nil }
            let suffix = entry.hasPrefix(".") ? entry : "." + entry
            if host.hasSuffix(suffix) { return nil }
        }
        let name = url.scheme?.lowercased() == "http" ? "HTTP_PROXY" : "HTTPS_PROXY"
        return variable(name).flatMap(EgressProxy.init(url:))
    }
}
