/// What every test manifest starts with: the shipped manifest's identity and a Graph API section
/// pointing nowhere (tests that send give the sandbox's address to the client configuration).
public enum TestManifest {
    public static let header = header(graphTimeout: "1s")

    /// The header with another Graph send timeout: a test that counts what the stand-in received
    /// gives it room, since a call past the timeout is sent again, as it should be.
    public static func header(graphTimeout: String) -> String {
        """
        manifest_version: 1.0
        id: conn::third_party::ads::meta::conversions_api::rest
        name: test
        taxonomy: {origin: third_party, source: ads, provider: meta, product: conversions_api, method: rest_or_webhook}
        runtime: {supported_runners: [lambda], network_patterns: [nat_allowlist]}
        streams: {strategy: discovery_by_config, defaults: {key_strategy: a, cursor_strategy: b}}
        graph_api: {base_url: "http://127.0.0.1:1", version: v26.0, timeout: \(graphTimeout)}
        """
    }
}
