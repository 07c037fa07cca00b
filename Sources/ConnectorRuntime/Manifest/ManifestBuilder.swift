import CAPICore
import Foundation

/// Turns the located YAML tree into a ``Manifest``: one function per section, each reporting its
/// own problems and returning `nil` only when the section cannot be used at all.
struct ManifestBuilder {
    let sourcePath: String
    let scope: ManifestLoader.Scope

    static let topLevelKeys = [
        "manifest_version", "id", "name", "taxonomy", "runtime", "streams",
        "graph_api", "pixels", "push", "pull", "state", "schema_registry",
    ]

    func build(_ root: YAMLNodeReader) -> Manifest? {
        guard let top = root.mapping(allowed: Self.topLevelKeys) else { return nil }

        let version = top.value("manifest_version", required: true).flatMap { node -> String? in
            guard let text = node.string() else { return nil }
            guard text == "1.0" || text == "1" else {
                node.report("manifest_version must be 1.0, found \(node.shown(text))")
                return nil
            }
            return "1.0"
        }
        let id = top.value("id", required: true).flatMap { node -> String? in
            guard let text = node.string() else { return nil }
            guard text.hasPrefix("conn::"), text.split(separator: ":", omittingEmptySubsequences: true).count >= 3 else {
                node.report("id must look like `conn::origin::source::provider::product::method`, found \(node.shown(text))")
                return nil
            }
            return text
        }
        let name = top.value("name", required: true)?.string()
        let taxonomy = top.value("taxonomy", required: true).flatMap(taxonomy)
        let runtime = top.value("runtime", required: true).flatMap(runtimeSupport)
        let streams = top.value("streams", required: true).flatMap(streamDefaults)
        let graph = top.value("graph_api", required: true).flatMap(graphAPI)
        let pixels = top.value("pixels", required: true).flatMap(pixels)
        let push = top.value("push").flatMap(push)
        let pull = top.value("pull").flatMap { self.pull($0, pixels: pixels.map { Set($0.map(\.id)) }) }
        let state = top.value("state").flatMap(state) ?? StateConfiguration(url: Secret("sqlite:.capi/state.sqlite"))
        let schemaRegistry =
            top.value("schema_registry").flatMap(schemaRegistry)
            ?? defaultSchemaRegistry

        // Problems are collected, not thrown: a field that failed falls back to its default here and the
        // loader rejects the manifest as a whole when anything was reported.
        guard let version, let id, let name, let taxonomy, let runtime, let streams, let graph, let pixels else {
            return nil
        }
        return Manifest(
            manifestVersion: version,
            id: id,
            name: name,
            taxonomy: taxonomy,
            runtime: runtime,
            streams: streams,
            graphAPI: graph,
            pixels: pixels,
            push: push,
            pull: pull,
            state: state,
            schemaRegistry: schemaRegistry,
            sourcePath: sourcePath
        )
    }

    // MARK: Catalogue sections

    func taxonomy(_ node: YAMLNodeReader) -> Taxonomy? {
        guard let map = node.mapping(allowed: ["origin", "source", "provider", "product", "method"]) else { return nil }
        let origin = map.value("origin", required: true)?.string()
        let source = map.value("source", required: true)?.string()
        let provider = map.value("provider", required: true)?.string()
        let product = map.value("product", required: true)?.string()
        let method = map.value("method", required: true)?.string()
        guard let origin, let source, let provider, let product, let method else { return nil }
        return Taxonomy(origin: origin, source: source, provider: provider, product: product, method: method)
    }

    static let knownRunners = ["lambda", "fargate", "ecs", "kubernetes", "container", "cloud_run", "local"]
    static let knownNetworkPatterns = ["nat_allowlist", "public_egress", "private_link", "vpc_peering", "loopback"]

    func runtimeSupport(_ node: YAMLNodeReader) -> RuntimeSupport? {
        guard let map = node.mapping(allowed: ["supported_runners", "network_patterns"]) else { return nil }
        let runners = map.value("supported_runners", required: true).flatMap { list in
            vocabulary(list, allowed: Self.knownRunners)
        }
        let patterns = map.value("network_patterns", required: true).flatMap { list in
            vocabulary(list, allowed: Self.knownNetworkPatterns)
        }
        guard let runners, let patterns else { return nil }
        return RuntimeSupport(supportedRunners: runners, networkPatterns: patterns)
    }

    private func vocabulary(_ node: YAMLNodeReader, allowed: [String]) -> [String]? {
        guard let elements = node.sequence() else { return nil }
        var values: [String] = []
        var failed = false
        for element in elements {
            guard let value = element.string() else {
                failed = true
                continue
            }
            if !allowed.contains(value) {
                var message = "\(element.path) must be one of \(allowed.joined(separator: ", ")), found \(element.shown(value))"
                if let suggestion = Spelling.closest(to: value, among: allowed) { message += "; did you mean `\(suggestion)`?" }
                element.report(message)
                failed = true
                continue
            }
            values.append(value)
        }
        if elements.isEmpty {
            node.report("\(node.path) must list at least one value")
            return nil
        }
        return failed ? nil : values
    }

    func streamDefaults(_ node: YAMLNodeReader) -> StreamDefaults? {
        guard let map = node.mapping(allowed: ["strategy", "defaults"]) else { return nil }
        let strategy = map.value("strategy", required: true)?.string()
        let defaults = map.value("defaults", required: true)?.mapping(allowed: ["key_strategy", "cursor_strategy"])
        let key = defaults?.value("key_strategy", required: true)?.string()
        let cursor = defaults?.value("cursor_strategy", required: true)?.string()
        guard let strategy, let key, let cursor else { return nil }
        return StreamDefaults(strategy: strategy, keyStrategy: key, cursorStrategy: cursor)
    }

    // MARK: Graph API and pixels

    func graphAPI(_ node: YAMLNodeReader) -> GraphAPIConfiguration? {
        guard let map = node.mapping(allowed: ["base_url", "version", "timeout", "read_timeout", "app_secret", "partner_agent", "proxy"]) else {
            return nil
        }
        let baseURL = map.value("base_url", required: true).flatMap { node -> String? in
            guard let url = httpURL(node) else { return nil }
            // The version is added to every path: a base URL naming one sends to `/v26.0/v26.0/…`.
            if let last = URLComponents(string: url).flatMap({ GraphVersion.trailing(inPath: $0.path) }) {
                node.report("\(node.path) ends in a Graph API version (/\(last)); give the base URL only, the version is graph_api.version")
                return nil
            }
            return url
        }
        let version = map.value("version", required: true).flatMap { node -> String? in
            guard let text = node.string() else { return nil }
            guard GraphVersion.isValid(text) else {
                node.report("\(node.path) must be a Graph API version such as `v26.0`, found \(node.shown(text))")
                return nil
            }
            return text
        }
        // At most what the HTTP client's own read timeout allows (90 s on the shared client): a longer
        // one would silently end at that instead.
        let timeout =
            map.value("timeout").flatMap { $0.duration(minimum: .milliseconds(1), maximum: MetaLimits.longestTimeout) }
            ?? MetaLimits.recommendedTimeout
        let readTimeout =
            map.value("read_timeout").flatMap { $0.duration(minimum: .milliseconds(1), maximum: MetaLimits.longestTimeout) }
            ?? MetaLimits.defaultReadTimeout
        let appSecret = map.value("app_secret").flatMap { $0.text() }.flatMap { $0.isEmpty ? nil : Secret($0) }
        let partnerAgent = map.value("partner_agent")?.string()
        var proxy: Secret?
        if let node = map.value("proxy"), let text = node.text(), !text.isEmpty {
            let components = URLComponents(string: text.contains("://") ? text : "http://" + text)
            guard components?.scheme?.lowercased() == "http", components?.host?.isEmpty == false else {
                node.report("\(node.path) \(Self.unreadable(text, expected: "must be an http:// proxy URL such as `http://proxy.internal:3128`"))")
                return nil
            }
            proxy = Secret(text)
        }
        guard let baseURL, let version else { return nil }
        return GraphAPIConfiguration(
            baseURL: baseURL,
            version: version,
            timeout: timeout,
            readTimeout: readTimeout,
            appSecret: appSecret,
            partnerAgent: partnerAgent,
            proxy: proxy
        )
    }

    /// The problem with a URL that may hold credentials, never repeating it: what to encode or the
    /// port, when that is why it could not be read, else `expected`.
    static func unreadable(_ url: String, expected: String) -> String {
        guard url.contains("://") else { return expected }
        switch UnreadableURL(url) {
        case .unencodedCredentials: return "cannot be read as a URL: \(UnreadableURL.encodingAdvice)"
        case .invalidPort: return "has a port that is not a number from 1 to 65535"
        case .other: return expected
        }
    }

    private func httpURL(_ node: YAMLNodeReader) -> String? {
        guard let text = node.string() else { return nil }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), url.host != nil else {
            node.report("\(node.path) must be an http(s) URL, found \(node.shown(text))")
            return nil
        }
        return text.hasSuffix("/") ? String(text.dropLast()) : text
    }

    func pixels(_ node: YAMLNodeReader) -> [PixelConfiguration]? {
        guard let elements = node.sequence() else { return nil }
        if elements.isEmpty {
            node.report("pixels must list at least one pixel")
            return nil
        }
        var result: [PixelConfiguration] = []
        var failed = false
        var seen: Set<String> = []
        for element in elements {
            guard let pixel = pixel(element) else {
                failed = true
                continue
            }
            if !seen.insert(pixel.id).inserted {
                element.report("pixel \(pixel.id) is configured twice")
                failed = true
            }
            result.append(pixel)
        }
        return failed ? nil : result
    }

    func pixel(_ node: YAMLNodeReader) -> PixelConfiguration? {
        guard let map = node.mapping(allowed: ["id", "name", "access_token", "test_event_code", "default_country"]) else { return nil }
        let id = map.value("id", required: true).flatMap { node -> String? in
            guard let text = node.string() else { return nil }
            guard !text.isEmpty, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
                node.report("\(node.path) must be a numeric pixel (dataset) id, found \(node.shown(text))")
                return nil
            }
            return text
        }
        let name = map.value("name")?.string()
        let token = map.value("access_token", required: true).flatMap { $0.text().map(Secret.init) }
        let testEventCode = map.value("test_event_code")?.string(nonEmpty: false).flatMap { $0.isEmpty ? nil : $0 }
        let country = map.value("default_country").flatMap(countryCode) ?? "us"
        guard let id, let token else { return nil }
        return PixelConfiguration(id: id, name: name, accessToken: token, testEventCode: testEventCode, defaultCountry: country)
    }

    private func countryCode(_ node: YAMLNodeReader) -> String? {
        guard let text = node.string() else { return nil }
        let lowered = text.lowercased()
        // The country's calling code is what national phone numbers get, so it must be a real one.
        guard CountryCodes.isAlpha2(lowered), CallingCode.forRegion(lowered) != nil else {
            var message = "\(node.path) must be an ISO 3166-1 alpha-2 country code such as `us`, found \(node.shown(text))"
            if let code = CountryCodes.alpha2(for: text), code != lowered { message += "; did you mean `\(code)`?" }
            node.report(message)
            return nil
        }
        return lowered
    }

    // MARK: Push

    static let pushKeys = [
        "listen", "body_limit_bytes", "sources", "ingest_token", "batching", "retry", "mirror_salt",
        "enrich_from_request", "trusted_proxies", "max_future_skew", "external_id", "limits", "ingest_allowed_ips",
        "replay_ledger",
    ]

    /// IP addresses and CIDR ranges (IPv4 and IPv6), each checked.
    func cidrList(_ node: YAMLNodeReader) -> [String]? {
        node.stringList { entry, value in
            guard NetworkAddress.isValidCIDR(value) else {
                entry.report("\(node.path) entries must be IP addresses or CIDR ranges, found \(entry.shown(value))")
                return false
            }
            return true
        }
    }

    /// One of Ads Insights' `action_attribution_windows`.
    func attributionWindow(_ entry: YAMLNodeReader, _ window: String) -> Bool {
        if MetaLimits.attributionWindows.contains(window) { return true }
        let known = MetaLimits.attributionWindows.sorted()
        if MetaLimits.retiredAttributionWindows.contains(window) {
            entry.report(
                "\(entry.path): Meta stopped answering for \(entry.shown(window)) on 2026-01-12; use one of \(known.joined(separator: ", "))"
            )
        } else {
            var message = "\(entry.path) must be one of \(known.joined(separator: ", ")), found \(entry.shown(window))"
            if let suggestion = Spelling.closest(to: window, among: known) { message += "; did you mean `\(suggestion)`?" }
            entry.report(message)
        }
        return false
    }

    /// `ingest_token`: one token, or a list while rotating (the apps move to the new one while the
    /// old still works). Empty values are left out, so `[${env:OLD}, ${env:NEW:-}]` holds one token
    /// until NEW is set; none at all disables the route.
    func ingestTokens(_ node: YAMLNodeReader) -> [Secret]? {
        let entries = node.isNull ? [] : node.isScalarValue ? [node] : node.sequence()
        guard let entries else { return nil }
        guard entries.count <= WebhookSource.maximumSecrets else {
            node.report("\(node.path) lists \(entries.count) tokens; at most \(WebhookSource.maximumSecrets)")
            return nil
        }
        var tokens: [Secret] = []
        for entry in entries where !entry.isNull {
            guard let text = entry.text() else { return nil }
            if !text.isEmpty { tokens.append(Secret(text)) }
        }
        return tokens
    }

    func push(_ node: YAMLNodeReader) -> PushConfiguration? {
        guard let map = node.mapping(allowed: Self.pushKeys) else { return nil }
        let listen = map.value("listen").flatMap(listenAddress) ?? ListenAddress(host: "127.0.0.1", port: 8088)
        let bodyLimit = map.value("body_limit_bytes").flatMap { $0.integer(in: 1_048_576...268_435_456) } ?? 5 * 1_048_576
        let sources = map.value("sources", required: true).flatMap(webhookSources)
        let readsIntake = scope == .everything
        let tokens = map.value("ingest_token").flatMap { readsIntake ? ingestTokens($0) : nil } ?? []
        let batching =
            map.value("batching").flatMap(batching)
            ?? PushConfiguration.Batching(maxEvents: MetaLimits.eventsPerRequest, linger: .milliseconds(200), maxInFlight: 4)
        let retry = map.value("retry").flatMap { retryPolicy($0, defaults: .forwarding) } ?? .forwarding
        let salt = map.value("mirror_salt", required: true).flatMap { node -> Secret? in
            guard readsIntake else { return Secret("") }
            guard let text = node.text() else { return nil }
            guard text.utf8.count >= 16 else {
                node.report("\(node.path) must be at least 16 bytes long")
                return nil
            }
            return Secret(text)
        }
        let enrich = map.value("enrich_from_request").flatMap { $0.boolean() } ?? false
        let proxies = map.value("trusted_proxies").flatMap(cidrList) ?? []
        let ingestAllowed = map.value("ingest_allowed_ips").flatMap(cidrList) ?? []
        let skew =
            map.value("max_future_skew").flatMap { $0.duration(maximum: .seconds(MetaLimits.longestFutureSkewSeconds)) }
            ?? .seconds(MetaLimits.defaultFutureSkewSeconds)
        let externalID = map.value("external_id").flatMap { $0.oneOf(ExternalIDPolicy.self) } ?? .hash
        let limits = map.value("limits").flatMap(pushLimits) ?? PushConfiguration.Limits()
        let replayLedger = map.value("replay_ledger").flatMap { $0.oneOf(ReplayLedgerPlacement.self) } ?? .memory

        guard let sources, let salt else { return nil }
        return PushConfiguration(
            listen: listen,
            bodyLimitBytes: bodyLimit,
            sources: sources,
            ingestTokens: tokens,
            ingestAllowedIPs: ingestAllowed,
            batching: batching,
            retry: retry,
            mirrorSalt: salt,
            enrichFromRequest: enrich,
            trustedProxies: proxies,
            maxFutureSkew: skew,
            externalID: externalID,
            limits: limits,
            replayLedger: replayLedger
        )
    }

    static let limitKeys = [
        "max_connections", "max_buffered_bytes", "header_timeout", "body_timeout", "idle_timeout", "replay_ledger_entries",
        "rate_limit_per_client", "rate_limit_burst", "commit_timeout",
    ]

    private func pushLimits(_ node: YAMLNodeReader) -> PushConfiguration.Limits? {
        guard let map = node.mapping(allowed: Self.limitKeys) else { return nil }
        var limits = PushConfiguration.Limits()
        if let value = map.value("max_connections")?.integer(in: 1...1_000_000) { limits.maxConnections = value }
        if let value = map.value("max_buffered_bytes")?.integer(in: 1_048_576...68_719_476_736) { limits.maxBufferedBytes = value }
        for (key, path) in [
            ("header_timeout", \PushConfiguration.Limits.headerTimeout), ("body_timeout", \.bodyTimeout), ("idle_timeout", \.idleTimeout),
        ] {
            guard let entry = map.value(key), let value = entry.duration(minimum: .milliseconds(100)) else { continue }
            if value > .seconds(3600) {
                entry.report("\(entry.path) must be at most 1 hour")
                continue
            }
            limits[keyPath: path] = value
        }
        if let value = map.value("replay_ledger_entries")?.integer(in: 1000...100_000_000) { limits.replayLedgerEntries = value }
        if let rate = map.value("rate_limit_per_client")?.number(in: 0...1_000_000) { limits.rateLimitPerClient = rate }
        if let value = map.value("rate_limit_burst")?.integer(in: 0...1_000_000) { limits.rateLimitBurst = value }
        if let entry = map.value("commit_timeout"), let value = entry.duration(minimum: .milliseconds(100)) {
            if value > .seconds(60) {
                entry.report("\(entry.path) must be at most 60 seconds (a sender waits that long for its answer)")
            } else {
                limits.commitTimeout = value
            }
        }
        return limits
    }

    private func listenAddress(_ node: YAMLNodeReader) -> ListenAddress? {
        guard let text = node.string() else { return nil }
        guard let address = ListenAddress(parsing: text) else {
            node.report("\(node.path) \(ListenAddress.refusal(of: text)); expected HOST:PORT such as `127.0.0.1:8088`, found \(node.shown(text))")
            return nil
        }
        return address
    }

    func webhookSources(_ node: YAMLNodeReader) -> [WebhookSource]? {
        guard let elements = node.sequence() else { return nil }
        if elements.isEmpty {
            node.report("\(node.path) must list at least one webhook source")
            return nil
        }
        var sources: [WebhookSource] = []
        var failed = false
        for element in elements {
            guard let map = element.mapping(allowed: ["name", "scheme", "secrets", "tolerance", "allowed_ips"]) else {
                failed = true
                continue
            }
            let name = map.value("name", required: true)?.string()
            let scheme = map.value("scheme", required: true)?.oneOf(WebhookScheme.self)
            let tolerance =
                map.value("tolerance").flatMap { node -> Duration? in
                    guard let value = node.duration(minimum: .seconds(1)) else { return nil }
                    guard value <= .seconds(86_400) else {
                        node.report("\(node.path) must be at most 1 day (ids are remembered for the whole tolerance)")
                        return nil
                    }
                    return value
                } ?? .seconds(300)
            var keys: [SigningKey]? = nil
            if let secretsNode = map.value("secrets", required: true) {
                let entries = secretsNode.isScalarValue ? [secretsNode] : (secretsNode.sequence() ?? [])
                if entries.isEmpty {
                    secretsNode.report("\(secretsNode.path) must list at least one secret")
                } else if entries.count > WebhookSource.maximumSecrets {
                    secretsNode.report(
                        "\(secretsNode.path) lists \(entries.count) secrets; at most \(WebhookSource.maximumSecrets) (each costs an HMAC per request)"
                    )
                } else if scope == .withoutIntake {
                    keys = []
                } else if let scheme {
                    keys = signingKeys(entries, scheme: scheme, at: secretsNode)
                }
            }
            guard let name, let scheme, let keys else {
                failed = true
                continue
            }
            if sources.contains(where: { $0.name == name }) {
                element.report("webhook source `\(name)` is configured twice")
                failed = true
                continue
            }
            let allowed = map.value("allowed_ips").flatMap(cidrList) ?? []
            sources.append(WebhookSource(name: name, scheme: scheme, signingKeys: keys, tolerance: tolerance, allowedIPs: allowed))
        }
        return failed ? nil : sources
    }

    /// The decoded secrets. An entry written as a reference that resolves to nothing
    /// (`${env:CAPI_WEBHOOK_SECRET_NEXT:-}`) is a rotation slot not in use and is left out; an
    /// empty literal is still a problem, and so is a list left with no secret.
    private func signingKeys(_ entries: [YAMLNodeReader], scheme: WebhookScheme, at node: YAMLNodeReader) -> [SigningKey]? {
        var keys: [SigningKey] = []
        for entry in entries {
            guard let secret = entry.text() else { return nil }
            if secret.isEmpty, entry.holdsReference { continue }
            switch SigningKey.decode(secret, scheme: scheme) {
            case .success(let key): keys.append(key)
            case .failure(.empty):
                entry.report("\(entry.path) is empty")
                return nil
            case .failure(.notBase64):
                entry.report("\(entry.path) is not a valid \(scheme.rawValue) secret: expected `whsec_` followed by standard base64")
                return nil
            }
        }
        guard !keys.isEmpty else {
            node.report("\(node.path) has no secret: every entry is a reference to an unset variable")
            return nil
        }
        return keys
    }

    private func batching(_ node: YAMLNodeReader) -> PushConfiguration.Batching? {
        guard let map = node.mapping(allowed: ["max_events", "linger", "max_in_flight", "yield_to_intake"]) else { return nil }
        let maxEvents = map.value("max_events").flatMap { $0.integer(in: 1...MetaLimits.eventsPerRequest) } ?? MetaLimits.eventsPerRequest
        // Both hold events back from Meta, which credits late events less and refuses them after
        // 7 days: an hour bounds what a typo (`200m` for `200ms`, `30d`) can hold back.
        let linger = map.value("linger").flatMap { $0.duration(maximum: .seconds(3_600)) } ?? .milliseconds(200)
        let inFlight = map.value("max_in_flight").flatMap { $0.integer(in: 1...64) } ?? 4
        let yieldToIntake =
            map.value("yield_to_intake").flatMap { $0.duration(maximum: .seconds(3_600)) }
            ?? PushConfiguration.Batching.defaultYieldToIntake
        return .init(maxEvents: maxEvents, linger: linger, maxInFlight: inFlight, yieldToIntake: yieldToIntake)
    }

    /// A `retry` mapping; what it leaves out comes from `defaults`.
    func retryPolicy(_ node: YAMLNodeReader, defaults: RetryPolicyConfiguration) -> RetryPolicyConfiguration? {
        guard let map = node.mapping(allowed: ["max_attempts", "initial_backoff", "max_backoff"]) else { return nil }
        let attempts = map.value("max_attempts").flatMap { $0.integer(in: 1...1000) } ?? defaults.maxAttempts
        let initial = map.value("initial_backoff").flatMap { $0.duration(minimum: .milliseconds(1)) } ?? defaults.initialBackoff
        let maximum = map.value("max_backoff").flatMap { $0.duration(minimum: .milliseconds(1)) } ?? defaults.maxBackoff
        if maximum < initial {
            node.report("\(node.path).max_backoff must not be shorter than initial_backoff")
            return nil
        }
        return RetryPolicyConfiguration(maxAttempts: attempts, initialBackoff: initial, maxBackoff: maximum)
    }

    // MARK: Pull

    /// `pixels`: the manifest's pixel ids, which ad accounts must name; `nil` when that section
    /// failed and was reported already.
    func pull(_ node: YAMLNodeReader, pixels: Set<String>?) -> PullConfiguration? {
        guard let map = node.mapping(allowed: ["auth", "schedule", "start_date", "streams", "retry"]) else { return nil }
        let auth = map.value("auth").flatMap(pullAuth) ?? .systemUserToken(nil)
        let interval =
            map.value("schedule")?.mapping(allowed: ["interval"])?
            .value("interval", required: true)?.duration(minimum: .seconds(1)) ?? .seconds(3600)
        let startDate = map.value("start_date").flatMap { node -> Date? in
            guard let text = node.string() else { return nil }
            // Read as written, to the second; Foundation's ISO 8601 parser took a time's date alone
            // (`2026-11-16T08:30:00Z` became midnight) and ignored what followed a date.
            guard text.contains("-"), let seconds = UTCTimestamp.parse(text) else {
                node.report(
                    "\(node.path) must be a date such as `2026-11-01` or an ISO 8601 time with its zone such as `2026-11-01T08:00:00Z`, found \(node.shown(text))"
                )
                return nil
            }
            return Date(timeIntervalSince1970: TimeInterval(seconds))
        }
        var deliveryStatuses = PullConfiguration.DateRangeStream(
            step: .seconds(86_400),
            cursorGranularity: .seconds(3_600),
            lookbackWindow: .seconds(6 * 3_600),
            settleLag: .seconds(600),
            pageSize: nil
        )
        var matchQuality = true
        var adInsights: AdInsightsConfiguration?
        if let streams = map.value("streams")?.mapping(allowed: ["delivery_statuses", "match_quality", "ad_insights"]) {
            if let statuses = streams.value("delivery_statuses").flatMap({ dateRangeStream($0, defaults: deliveryStatuses) }) {
                deliveryStatuses = statuses
            }
            let quality = streams.value("match_quality")?.mapping(allowed: ["enabled"])
            matchQuality = quality?.value("enabled")?.boolean() ?? true
            adInsights = streams.value("ad_insights").flatMap { adInsightsStream($0, pixels: pixels) }
        }
        let retry = map.value("retry").flatMap { retryPolicy($0, defaults: .default) } ?? .default
        return PullConfiguration(
            auth: auth,
            interval: interval,
            startDate: startDate,
            deliveryStatuses: deliveryStatuses,
            matchQuality: matchQuality,
            adInsights: adInsights,
            retry: retry
        )
    }

    /// `pull.streams.ad_insights`; `nil` (the stream off) when no account has an id, so the shipped
    /// manifest can read `META_AD_ACCOUNT_ID` and work without it.
    func adInsightsStream(_ node: YAMLNodeReader, pixels knownPixels: Set<String>?) -> AdInsightsConfiguration? {
        guard
            let map = node.mapping(allowed: [
                "accounts", "step", "lookback", "initial_lookback", "attribution_windows", "action_report_time", "action_types",
                "async_threshold", "page_size",
            ])
        else { return nil }
        // Every problem is reported, of every account and option, also when no account is left
        // (`validate` lists them all); the stream is off only when no account has an id.
        var accounts: [AdInsightsConfiguration.Account] = []
        for element in map.value("accounts", required: true)?.sequence() ?? [] {
            if let account = adAccount(element, knownPixels: knownPixels) { accounts.append(account) }
        }
        var configuration = AdInsightsConfiguration(accounts: accounts)
        func days(_ key: String, _ range: ClosedRange<Int>, into target: inout Int) {
            guard let node = map.value(key), let duration = node.duration() else { return }
            let whole = Int(duration.components.seconds / 86_400)
            guard duration.components.seconds % 86_400 == 0, range.contains(whole) else {
                node.report("\(node.path) must be whole days from \(range.lowerBound) to \(range.upperBound), such as `P7D`")
                return
            }
            target = whole
        }
        days("step", 1...93, into: &configuration.stepDays)
        days("lookback", 1...400, into: &configuration.lookbackDays)
        configuration.initialDays = max(configuration.initialDays, configuration.lookbackDays)
        days("initial_lookback", 1...1_125, into: &configuration.initialDays)
        if configuration.initialDays < configuration.lookbackDays, let node = map.value("initial_lookback") {
            node.report("\(node.path) must be at least the lookback (\(configuration.lookbackDays) days): later polls re-read that far back")
        }
        days("async_threshold", 1...1_125, into: &configuration.asyncThresholdDays)
        if let windows = map.value("attribution_windows")?.stringList(checkingEach: attributionWindow) {
            configuration.attributionWindows = windows
        }
        if let node = map.value("action_report_time"), let text = node.string() {
            if AdInsightsConfiguration.reportTimes.contains(text) {
                configuration.actionReportTime = text
            } else {
                node.report("\(node.path) must be one of impression, conversion, mixed, found \(node.shown(text))")
            }
        }
        if let types = map.value("action_types")?.mapping(allowed: nil) {
            var mapped: [String: String] = [:]
            for key in types.keys { if let type = types.value(key)?.string() { mapped[key] = type } }
            configuration.actionTypes = mapped
        }
        if let size = map.value("page_size")?.integer(in: 1...5_000) { configuration.pageSize = size }
        return accounts.isEmpty ? nil : configuration
    }

    /// One of `ad_insights.accounts`, every problem of it reported; `nil` when it has a problem,
    /// or no id (the stream off for it, as with `META_AD_ACCOUNT_ID` unset). An account without an
    /// id still has its `level` checked, so `validate` in CI, where the id is not set, finds a
    /// mistake that would stop the poll where it is; its pixels are not read, since they may come
    /// from the same unset environment.
    private func adAccount(_ element: YAMLNodeReader, knownPixels: Set<String>?) -> AdInsightsConfiguration.Account? {
        guard let entry = element.mapping(allowed: ["id", "pixels", "access_token", "level"]) else { return nil }
        guard let idNode = entry.value("id", required: true), let written = idNode.text()?.trimmingCharacters(in: .whitespaces) else { return nil }
        let id = written.hasPrefix("act_") ? String(written.dropFirst(4)) : written
        let off = id.isEmpty
        var valid = !off
        if !off, !id.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            idNode.report("\(idNode.path) must be an ad account id (digits, with or without `act_`), found \(idNode.shown(written))")
            valid = false
        }
        // `reconcile` joins an account's spend to its pixels' conversions: a pixel the manifest
        // does not send for, or none at all, would show spend against no conversions.
        var pixels: [String]?
        if !off, let pixelsNode = entry.value("pixels", required: true) {
            pixels = pixelsNode.stringList(checkingEach: { pixelNode, pixel in
                guard let knownPixels, !knownPixels.contains(pixel) else { return true }
                pixelNode.report(
                    "\(pixelsNode.path) must name pixels of the manifest's `pixels` (\(knownPixels.sorted().joined(separator: ", "))), found \(pixelNode.shown(pixel))"
                )
                return false
            })
            if pixels?.isEmpty == true {
                pixelsNode.report(
                    "\(pixelsNode.path) must list the pixels this account advertises for: reconcile joins its spend to their conversions"
                )
                pixels = nil
            }
        }
        let token = entry.value("access_token").flatMap { $0.text() }.flatMap { $0.isEmpty ? nil : Secret($0) }
        var level = "campaign"
        if let levelNode = entry.value("level"), let text = levelNode.string() {
            if AdInsightsConfiguration.levels.contains(text) {
                level = text
            } else {
                levelNode.report(
                    "\(levelNode.path) must be one of \(AdInsightsConfiguration.levels.joined(separator: ", ")), found \(levelNode.shown(text))"
                )
                valid = false
            }
        }
        guard valid, let pixels else { return nil }
        return AdInsightsConfiguration.Account(id: id, pixels: pixels, accessToken: token, level: level)
    }

    private func pullAuth(_ node: YAMLNodeReader) -> PullConfiguration.Auth? {
        enum Kind: String, CaseIterable {
            case systemUserToken = "system_user_token"
            case appCredentials = "app_credentials"
        }
        guard let map = node.mapping(allowed: ["type", "token", "app_id", "app_secret"]) else { return nil }
        guard let kind = map.value("type", required: true)?.oneOf(Kind.self) else { return nil }
        switch kind {
        case .systemUserToken:
            if map.has("app_id") || map.has("app_secret") {
                node.report("\(node.path): app_id and app_secret belong to type app_credentials")
                return nil
            }
            guard let tokenNode = map.value("token") else { return .systemUserToken(nil) }
            guard let token = tokenNode.text() else { return nil }
            return .systemUserToken(token.isEmpty ? nil : Secret(token))
        case .appCredentials:
            let appID = map.value("app_id", required: true)?.string()
            let secret = map.value("app_secret", required: true)?.string()
            guard let appID, let secret else { return nil }
            return .appCredentials(appID: appID, appSecret: Secret(secret))
        }
    }

    private func dateRangeStream(_ node: YAMLNodeReader, defaults: PullConfiguration.DateRangeStream) -> PullConfiguration.DateRangeStream? {
        guard let map = node.mapping(allowed: ["step", "cursor_granularity", "lookback_window", "settle_lag", "page_size"]) else { return nil }
        let step = map.value("step").flatMap { $0.duration(minimum: .seconds(3600)) } ?? defaults.step
        let granularity = map.value("cursor_granularity").flatMap { $0.duration(minimum: .seconds(1)) } ?? defaults.cursorGranularity
        let lookback = map.value("lookback_window").flatMap { $0.duration() } ?? defaults.lookbackWindow
        let settle = map.value("settle_lag").flatMap { $0.duration() } ?? defaults.settleLag
        let pageSize = map.value("page_size").flatMap { $0.integer(in: 1...5000) }
        if step > .seconds(7 * 86_400) {
            node.report("\(node.path).step must not exceed 7 days, Meta's read horizon")
            return nil
        }
        // Windows end `settle_lag` before now and start no earlier than 7 days ago: from 7 days on,
        // no window would ever be read, and the stream would stay silently empty.
        if settle > .seconds(6 * 86_400) {
            node.report(
                "\(node.path).settle_lag must be at most 6 days: windows end that long before now, and Meta's counts reach back 7 days"
            )
            return nil
        }
        return .init(step: step, cursorGranularity: granularity, lookbackWindow: lookback, settleLag: settle, pageSize: pageSize)
    }

    // MARK: State and schemas

    func state(_ node: YAMLNodeReader) -> StateConfiguration? {
        guard let map = node.mapping(allowed: ["url"]) else { return nil }
        guard let urlNode = map.value("url", required: true), let url = urlNode.string() else { return nil }
        guard url.hasPrefix("sqlite:") || url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") else {
            urlNode.report("\(urlNode.path) must start with `postgres://` or `sqlite:`")
            return nil
        }
        return StateConfiguration(url: Secret(url))
    }

    var defaultSchemaRegistry: SchemaRegistryConfiguration {
        var configuration = SchemaRegistryConfiguration()
        configuration.manifestFolder = URL(fileURLWithPath: sourcePath).deletingLastPathComponent().path
        return configuration
    }

    func schemaRegistry(_ node: YAMLNodeReader) -> SchemaRegistryConfiguration? {
        guard let map = node.mapping(allowed: ["path", "alarms"]) else { return nil }
        var configuration = defaultSchemaRegistry
        configuration.path = map.value("path")?.string() ?? configuration.path
        guard let alarms = map.value("alarms") else { return configuration }
        guard
            let alarmMap = alarms.mapping(allowed: [
                "enabled", "missing_field_threshold", "min_sample", "evaluate_every_events", "evaluate_every", "coverage_drop_points",
                "refusal_rise_points", "format_rise_points", "quality_drop_points", "notify",
            ])
        else { return nil }
        var valid = true
        func read<T>(_ key: String, _ parse: (YAMLNodeReader) -> T?, into target: inout T) {
            guard let node = alarmMap.value(key) else { return }
            if let value = parse(node) { target = value } else { valid = false }
        }
        read("enabled", { $0.boolean() }, into: &configuration.alarmsEnabled)
        read("missing_field_threshold", { $0.number(in: 0...1) }, into: &configuration.thresholds.missingFieldShare)
        read("min_sample", { $0.integer(in: 1...1_000_000) }, into: &configuration.thresholds.minimumSample)
        read("evaluate_every_events", { $0.integer(in: 1...1_000_000) }, into: &configuration.windowEvents)
        read("evaluate_every", { $0.duration(minimum: .seconds(1)) }, into: &configuration.windowDuration)
        read("coverage_drop_points", { $0.number(in: 0...100) }, into: &configuration.thresholds.coverageDropPoints)
        read("refusal_rise_points", { $0.number(in: 0...100) }, into: &configuration.thresholds.refusalRisePoints)
        read("format_rise_points", { $0.number(in: 0...100) }, into: &configuration.thresholds.formatRisePoints)
        read("quality_drop_points", { $0.number(in: 0...10) }, into: &configuration.thresholds.qualityDropPoints)
        if let notify = alarmMap.value("notify") {
            switch alarmWebhook(notify) {
            case .configured(let webhook): configuration.notify = webhook
            case .off: break
            case .invalid: valid = false
            }
        }
        return valid ? configuration : nil
    }

    enum NotifySetting {
        case configured(AlarmWebhookConfiguration)
        case off
        case invalid
    }

    /// `notify: {url, secret, cooldown, retries, timeout}`; an empty `url` turns it off, so the
    /// shipped manifest can reference an unset variable. The delivery settings are checked either
    /// way: `validate` where the URL is not set (a CI step) then finds a mistake before production.
    func alarmWebhook(_ node: YAMLNodeReader) -> NotifySetting {
        guard let map = node.mapping(allowed: ["url", "secret", "cooldown", "retries", "timeout"]) else { return .invalid }
        var cooldown: Duration?
        var retries: Int?
        var timeout: Duration?
        var valid = true
        if let node = map.value("cooldown") {
            cooldown = node.duration()
            valid = valid && cooldown != nil
        }
        if let node = map.value("retries") {
            retries = node.integer(in: 0...10)
            valid = valid && retries != nil
        }
        if let node = map.value("timeout") {
            timeout = node.duration(minimum: .milliseconds(100), maximum: MetaLimits.longestTimeout)
            valid = valid && timeout != nil
        }
        guard let urlNode = map.value("url", required: true), let url = urlNode.text() else { return .invalid }
        guard !url.isEmpty else { return valid ? .off : .invalid }
        guard url.hasPrefix("https://") || url.hasPrefix("http://"), URLComponents(string: url)?.host?.isEmpty == false else {
            urlNode.report("\(urlNode.path) \(Self.unreadable(url, expected: "must be an http:// or https:// URL"))")
            return .invalid
        }
        guard let secretNode = map.value("secret", required: true), let secret = secretNode.text() else { return .invalid }
        let key: SigningKey
        switch SigningKey.decode(secret, scheme: .standardWebhooks) {
        case .success(let decoded): key = decoded
        case .failure(.empty):
            secretNode.report("\(secretNode.path) is empty: alarms are signed with it (Standard Webhooks, `whsec_` + base64)")
            return .invalid
        case .failure(.notBase64):
            secretNode.report("\(secretNode.path) is not a Standard Webhooks secret: expected `whsec_` followed by standard base64")
            return .invalid
        }
        var webhook = AlarmWebhookConfiguration(url: Secret(url), signingKey: key)
        if let cooldown { webhook.cooldown = cooldown }
        if let retries { webhook.retries = retries }
        if let timeout { webhook.timeout = timeout }
        return valid ? .configured(webhook) : .invalid
    }
}
