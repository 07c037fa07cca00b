import ConnectorRuntime
import Foundation
import TestSupport
import Testing

@Suite("Manifest bounds")
struct ManifestLimitsTests {
    static func push(_ extra: String) -> String {
        minimalManifest + """
            push:
              sources:
                - {name: default, scheme: standard_webhooks, secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]}
              mirror_salt: a-salt-of-sixteen-bytes
            \(extra)
            """
    }

    @Test("the shipped manifest's push.limits are the documented defaults")
    func shippedLimits() throws {
        let manifest = try ManifestLoader(environment: shippedEnvironment).load(path: RepositoryPaths.shippedManifest)
        #expect(manifest.push?.limits == PushConfiguration.Limits())
    }

    @Test("sending retries outlast an outage of half an hour by default, where 8 attempts gave up after a minute; a poll's stay short")
    func retryDefaults() throws {
        // Without a retry block, and with one that names only some of its keys.
        let bare = try ManifestLoader(environment: [:]).load(yaml: Self.push(""), path: "m.yaml")
        #expect(bare.push?.retry == .forwarding)
        let partial = try ManifestLoader(environment: [:]).load(yaml: Self.push("  retry: {initial_backoff: 1s}"), path: "m.yaml")
        #expect(partial.push?.retry.maxAttempts == 20 && partial.push?.retry.initialBackoff == .seconds(1))
        #expect(partial.push?.retry.maxBackoff == .seconds(300))
        let shipped = try ManifestLoader(environment: shippedEnvironment).load(path: RepositoryPaths.shippedManifest)
        #expect(shipped.push?.retry == .forwarding)
        // Waits of at most 0.5 s doubling to 5 minutes: 53.5 minutes in all, half that expected
        // with full jitter; 8 attempts waited 63.5 s at most.
        #expect(RetryPolicyConfiguration.forwarding.longestWait == .milliseconds(3_211_500))
        #expect(RetryPolicyConfiguration.default.longestWait == .milliseconds(63_500))
        var once = RetryPolicyConfiguration.default
        once.maxAttempts = 1
        #expect(once.longestWait == .zero)
        // A poll's reads keep the short default: the next scheduled run reads again.
        let withPull = try ManifestLoader(environment: [:]).load(
            yaml: Self.push("") + "\npull:\n  auth: {type: system_user_token}\n",
            path: "m.yaml"
        )
        #expect(withPull.pull?.retry == .default)
    }

    @Test(
        "limits are read, and values out of range are located problems",
        arguments: [
            (
                "  limits: {max_connections: 10, header_timeout: 2s, rate_limit_per_client: 5, rate_limit_burst: 10, commit_timeout: 1500ms}",
                nil as String?
            ),
            ("  limits: {max_connections: 0}", "push.limits.max_connections"),
            ("  limits: {body_timeout: 2h}", "push.limits.body_timeout"),
            ("  limits: {rate_limit_per_client: .nan}", "push.limits.rate_limit_per_client"),
            ("  limits: {header_timeout: 1e300s}", "push.limits.header_timeout"),
            ("  batching: {linger: 1e300s}", "push.batching.linger"),
            ("  max_future_skew: -5s", "push.max_future_skew"),
            // A day at most: reconcile reads delivered_events from a day before the report's first day.
            ("  max_future_skew: 25h", "push.max_future_skew must be at most"),
            ("  limits: {commit_timeout: 61s}", "push.limits.commit_timeout must be at most 60 seconds"),
            ("  limits: {commit_timeout: 10ms}", "push.limits.commit_timeout"),
        ]
    )
    func limits(extra: String, problemAt field: String?) throws {
        let found = problems(Self.push(extra))
        if let field {
            #expect(found.contains { $0.message.contains(field) }, "\(found)")
        } else {
            #expect(found.isEmpty, "\(found)")
            let manifest = try ManifestLoader(environment: [:]).load(yaml: Self.push(extra), path: "m.yaml")
            #expect(manifest.push?.limits.maxConnections == 10 && manifest.push?.limits.headerTimeout == .seconds(2))
            #expect(manifest.push?.limits.rateLimitPerClient == 5 && manifest.push?.limits.rateLimitBurst == 10)
            #expect(manifest.push?.limits.commitTimeout == .milliseconds(1500))
        }
    }

    @Test("graph_api.timeout is taken up to 60 s; longer, which the HTTP client would cut at 90 s, is a located problem")
    func graphTimeoutBound() throws {
        func manifest(_ timeout: String) -> String {
            minimalManifest.replacingOccurrences(of: "  version: v26.0\n", with: "  version: v26.0\n  timeout: \(timeout)\n")
        }
        let loader = ManifestLoader(environment: [:])
        #expect(try loader.load(yaml: manifest("60s"), path: "m.yaml").graphAPI.timeout == .seconds(60))
        #expect(try loader.load(yaml: manifest("250ms"), path: "m.yaml").graphAPI.timeout == .milliseconds(250))
        for tooLong in ["61s", "2m", "PT1H"] {
            let found = problems(manifest(tooLong))
            #expect(found.contains { $0.message.contains("graph_api.timeout must be at most 1m, found") }, "\(tooLong): \(found)")
        }
    }

    @Test("graph_api.read_timeout is 30 s unless set, apart from the send timeout, and bounded the same way")
    func graphReadTimeout() throws {
        func manifest(_ lines: String) -> String {
            minimalManifest.replacingOccurrences(of: "  version: v26.0\n", with: "  version: v26.0\n\(lines)")
        }
        let loader = ManifestLoader(environment: [:])
        let defaults = try loader.load(yaml: manifest(""), path: "m.yaml").graphAPI
        #expect(defaults.readTimeout == .seconds(30) && defaults.timeout == .milliseconds(1500))
        let set = try loader.load(yaml: manifest("  timeout: 2s\n  read_timeout: 45s\n"), path: "m.yaml").graphAPI
        #expect(set.readTimeout == .seconds(45) && set.timeout == .seconds(2))
        for tooLong in ["61s", "2m"] {
            let found = problems(manifest("  read_timeout: \(tooLong)\n"))
            #expect(found.contains { $0.message.contains("graph_api.read_timeout must be at most 1m, found") }, "\(tooLong): \(found)")
        }
        #expect(problems(manifest("  read_timeout: soon\n")).contains { $0.message.contains("graph_api.read_timeout") })
    }

    @Test("a graph_api.base_url ending in a version is a located problem: every path would carry the version twice")
    func baseURLWithVersion() throws {
        for url in ["https://graph.facebook.com/v26.0", "https://graph.facebook.com/v25.0/", "https://relay.internal/meta/v26.0"] {
            let found = problems(minimalManifest.replacingOccurrences(of: "base_url: https://graph.facebook.com", with: "base_url: \(url)"))
            #expect(found.contains { $0.message.contains("graph_api.base_url ends in a Graph API version") }, "\(url): \(found)")
        }
        // A relay's own path is kept.
        let relay = minimalManifest.replacingOccurrences(of: "base_url: https://graph.facebook.com", with: "base_url: https://relay.internal/meta/")
        #expect(try ManifestLoader(environment: [:]).load(yaml: relay, path: "m.yaml").graphAPI.baseURL == "https://relay.internal/meta")
    }

    @Test("push.batching.yield_to_intake: 30 s unless given, 0 turns it off, a non-duration is a located problem")
    func yieldToIntake() throws {
        let loader = ManifestLoader(environment: [:])
        #expect(try loader.load(yaml: Self.push(""), path: "m.yaml").push?.batching.yieldToIntake == .seconds(30))
        #expect(try loader.load(yaml: Self.push("  batching: {max_events: 500}"), path: "m.yaml").push?.batching.yieldToIntake == .seconds(30))
        #expect(try loader.load(yaml: Self.push("  batching: {yield_to_intake: 0s}"), path: "m.yaml").push?.batching.yieldToIntake == .zero)
        #expect(try loader.load(yaml: Self.push("  batching: {yield_to_intake: 2m}"), path: "m.yaml").push?.batching.yieldToIntake == .seconds(120))
        #expect(problems(Self.push("  batching: {yield_to_intake: soon}")).contains { $0.message.contains("push.batching.yield_to_intake") })
    }

    @Test("more than eight secrets, or a tolerance over a day, are refused")
    func sourceBounds() {
        let many = (0..<9).map { _ in "\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"" }.joined(separator: ", ")
        let yaml =
            minimalManifest + """
                push:
                  sources:
                    - {name: a, scheme: standard_webhooks, secrets: [\(many)]}
                    - {name: b, scheme: standard_webhooks, secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], tolerance: 2d}
                  mirror_salt: a-salt-of-sixteen-bytes
                """
        let found = problems(yaml).map(\.message)
        #expect(found.contains { $0.contains("at most 8") })
        #expect(found.contains { $0.contains("at most 1 day") })
    }
}
