import ConnectorRuntime
import Foundation

extension GraphClient.Configuration {
    /// The one place the manifest's `graph_api` section becomes a client configuration, so `serve`,
    /// `poll`, the tests and the benchmarks cannot disagree on the version, timeout or proof.
    ///
    /// - Parameter baseURL: where calls go instead of `graph_api.base_url` (the sandbox's address).
    public init(manifest: Manifest, baseURL: String? = nil) {
        self.init(
            baseURL: baseURL ?? manifest.graphAPI.baseURL,
            version: manifest.graphAPI.version,
            timeout: manifest.graphAPI.timeout,
            readTimeout: manifest.graphAPI.readTimeout,
            appSecret: manifest.graphAPI.appSecret,
            partnerAgent: manifest.graphAPI.partnerAgent
        )
    }

    /// The production target: `CAPI_GRAPH_URL` when set (a relay or a stand-in), else
    /// `graph_api.base_url`, through `graph_api.proxy` or the `HTTPS_PROXY`/`NO_PROXY` variables;
    /// validated here so a malformed URL is a configuration error at start-up,
    /// not a transient failure retried for ever. The error names the setting, never the URL.
    public static func resolve(
        manifest: Manifest,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(GraphEndpoint.InvalidURL)
        -> Self
    {
        let override = environment["CAPI_GRAPH_URL"].flatMap { $0.isEmpty ? nil : $0 }
        do {
            var configuration = Self(manifest: manifest, baseURL: try GraphEndpoint.validated(override ?? manifest.graphAPI.baseURL))
            configuration.proxy = EgressProxy.resolve(
                baseURL: configuration.baseURL,
                configured: manifest.graphAPI.proxy?.revealed,
                environment: environment
            )
            return configuration
        } catch {
            throw GraphEndpoint.InvalidURL(reason: "\(override != nil ? "CAPI_GRAPH_URL" : "graph_api.base_url") \(error.reason)")
        }
    }
}
