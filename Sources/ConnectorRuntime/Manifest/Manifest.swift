import CAPICore
import Foundation

/// A loaded, validated connector manifest: what the runtime is told to do, with every
/// `${env:...}` reference already resolved. Build one with ``ManifestLoader``.
public struct Manifest: Sendable {
    public var manifestVersion: String
    public var id: String
    public var name: String
    public var taxonomy: Taxonomy
    public var runtime: RuntimeSupport
    public var streams: StreamDefaults
    public var graphAPI: GraphAPIConfiguration
    public var pixels: [PixelConfiguration]
    /// Absent when the deployment only polls.
    public var push: PushConfiguration?
    /// Absent when the deployment only mirrors.
    public var pull: PullConfiguration?
    public var state: StateConfiguration
    public var schemaRegistry: SchemaRegistryConfiguration
    /// Where the manifest was read from; relative paths inside it are resolved against its folder.
    public var sourcePath: String
}

/// The connector's place in the catalogue of connectors.
public struct Taxonomy: Sendable, Equatable {
    public var origin: String
    public var source: String
    public var provider: String
    public var product: String
    public var method: String

    public init(origin: String, source: String, provider: String, product: String, method: String) {
        self.origin = origin
        self.source = source
        self.provider = provider
        self.product = product
        self.method = method
    }
}

/// Where the connector may run and what network it needs.
public struct RuntimeSupport: Sendable, Equatable {
    public var supportedRunners: [String]
    public var networkPatterns: [String]
}

/// How streams are found and keyed, in the vocabulary of the connector catalogue.
public struct StreamDefaults: Sendable, Equatable {
    public var strategy: String
    public var keyStrategy: String
    public var cursorStrategy: String

    public init(strategy: String, keyStrategy: String, cursorStrategy: String) {
        self.strategy = strategy
        self.keyStrategy = keyStrategy
        self.cursorStrategy = cursorStrategy
    }
}

/// How to reach the Graph API.
public struct GraphAPIConfiguration: Sendable {
    /// `https://graph.facebook.com` in production; `CAPI_GRAPH_URL` overrides it at run time.
    public var baseURL: String
    /// Pinned Graph API version such as `v26.0`; Meta retires versions, so it is never implicit.
    public var version: String
    /// Timeout of a request sending events; Meta recommends 1.5 s.
    public var timeout: Duration
    /// Timeout of a read (`poll`'s stats, quality and insights calls, the token exchange).
    public var readTimeout: Duration
    /// With an app secret every call carries `appsecret_proof`.
    public var appSecret: Secret?
    public var partnerAgent: String?
    /// `http://[user:pass@]host:port` of an egress proxy (may hold credentials: never printed).
    public var proxy: Secret?
}

/// One Meta pixel (dataset) the connector sends to and reads from.
public struct PixelConfiguration: Sendable {
    public var id: String
    public var name: String?
    public var accessToken: Secret
    public var testEventCode: String?
    /// ISO 3166-1 alpha-2, lowercase: the calling code for national phone numbers and US-only rules.
    public var defaultCountry: String
}

/// An app that sends signed events to the push endpoint.
public struct WebhookSource: Sendable {
    public var name: String
    public var scheme: WebhookScheme
    /// HMAC keys, already decoded; several at once during a rotation.
    public var signingKeys: [SigningKey]
    /// Accepted clock difference between the signature's timestamp and now, both ways.
    public var tolerance: Duration
    /// CIDR ranges allowed to call with this source (empty: any address); others get 403 before
    /// any signature work.
    public var allowedIPs: [String] = []

    /// Secrets per source: each one costs an HMAC over the body of every request.
    public static let maximumSecrets = 8
}

/// Where the webhook replay ledger lives: in the process (fast; each replica checks the ids it
/// received) or in the state store (every replica and Lambda instance sees every id).
public enum ReplayLedgerPlacement: String, Sendable, CaseIterable {
    case memory
    case state
}

/// The webhook-mirror sidecar.
public struct PushConfiguration: Sendable {
    public var listen: ListenAddress
    public var bodyLimitBytes: Int
    public var sources: [WebhookSource]
    /// Tokens the Graph-compatible route takes in `access_token` (more than one while rotating);
    /// none disables that route.
    public var ingestTokens: [Secret]
    /// CIDR ranges allowed to call the Graph-compatible route (empty: any address).
    public var ingestAllowedIPs: [String] = []
    public var batching: Batching
    public var retry: RetryPolicyConfiguration
    /// HMAC key for identifiers in the analytics mirror, so analysts never hold Meta-matchable digests.
    public var mirrorSalt: Secret
    public var enrichFromRequest: Bool
    public var trustedProxies: [String]
    public var maxFutureSkew: Duration
    public var externalID: ExternalIDPolicy
    public var limits: Limits = .init()
    /// Where accepted webhook ids are remembered; `lambda` always uses the state store.
    public var replayLedger: ReplayLedgerPlacement = .memory

    /// What one sidecar gives any number of unauthenticated clients: connections, buffered body
    /// bytes, time to send a request, remembered webhook ids, optionally requests per second, and
    /// how long a request may wait for its commit.
    public struct Limits: Sendable, Equatable {
        public var maxConnections = 1024
        /// Request bodies held in memory at once, across all connections (503 beyond it).
        public var maxBufferedBytes = 64 * 1_048_576
        /// From connecting to the end of the first request's headers.
        public var headerTimeout: Duration = .seconds(10)
        /// From the request headers to the end of the body.
        public var bodyTimeout: Duration = .seconds(30)
        /// From an answer to the end of the next request's headers on a kept-alive connection.
        public var idleTimeout: Duration = .seconds(60)
        /// Webhook ids remembered for replay checks (503 when full; none is forgotten early).
        public var replayLedgerEntries = 2_000_000
        /// Requests per second per client address (0: no limit), and the burst allowed above it.
        public var rateLimitPerClient: Double = 0
        public var rateLimitBurst = 0
        /// The longest a request waits for the state store to commit its events before it is
        /// answered 503 with `Retry-After`: a store that stopped answering must not hold senders.
        public var commitTimeout: Duration = Self.defaultCommitTimeout

        /// Far above a commit's usual tens of milliseconds, well below the timeouts of webhook
        /// senders (15 s and more) and of API Gateway (29 s).
        public static let defaultCommitTimeout = Duration.seconds(5)

        public init() {}
    }

    public struct Batching: Sendable {
        public var maxEvents: Int
        public var linger: Duration
        public var maxInFlight: Int
        /// How long forwarding may hold off while intake is saturated, before it next catches up.
        public var yieldToIntake: Duration = Self.defaultYieldToIntake

        /// Short enough that a burst's events reach Meta within the minute; long enough to cover
        /// the bursts a sidecar sees (a sale, a replay from an app's own queue).
        public static let defaultYieldToIntake = Duration.seconds(30)
    }
}

/// Retry with exponential backoff and full jitter.
public struct RetryPolicyConfiguration: Sendable, Equatable {
    public var maxAttempts: Int
    public var initialBackoff: Duration
    public var maxBackoff: Duration

    /// A poll's reads: a scheduled job retries within its run, then the next run reads again.
    public static let `default` = RetryPolicyConfiguration(maxAttempts: 8, initialBackoff: .milliseconds(500), maxBackoff: .seconds(300))

    /// Sending events: an event may wait days for Meta (7, 62 for store sales), so its retries
    /// outlast an outage of Meta or of the egress, not the minute 8 attempts gave (7 waits of at
    /// most 0.5 s to 32 s, 63.5 s in all, about 32 s expected with full jitter), after which every
    /// queued event was dead-lettered to wait for `dlq replay`. 20 attempts wait at most 53.5
    /// minutes in all, about 27 expected; an event still failing then is dead-lettered with its
    /// reason.
    public static let forwarding = RetryPolicyConfiguration(maxAttempts: 20, initialBackoff: .milliseconds(500), maxBackoff: .seconds(300))

    /// The longest time `attempts` retries can wait in all: each wait is at most
    /// `min(maxBackoff, initialBackoff × 2^(n−1))` before the n-th retry (full jitter draws from
    /// zero up to it, so about half of this is expected). Hints from Meta (`Retry-After`) can
    /// only lengthen it.
    public var longestWait: Duration {
        var total = Duration.zero
        var ceiling = initialBackoff
        for _ in 1..<max(maxAttempts, 1) {
            total += min(ceiling, maxBackoff)
            ceiling = ceiling < maxBackoff ? ceiling * 2 : maxBackoff
        }
        return total
    }
}

/// `HOST:PORT`, IPv6 hosts in brackets.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`, `[::1]:PORT` or `:PORT` (every IPv4 interface, `0.0.0.0`). The host is a name
    /// (letters, digits, `-`, `.`), an IPv4 address, or an IPv6 address in brackets; anything
    /// else (`http://…`, a path, an IPv6 address without brackets) is refused here rather than
    /// failing the bind later with a resolver's error.
    public init?(parsing text: String) {
        let text = text.trimmingCharacters(in: .whitespaces)
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
            guard !host.isEmpty, host.utf8.allSatisfy({ $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") || $0.isHexDigit }) else { return nil }
        } else {
            guard host.utf8.allSatisfy({ $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") || $0.isASCIIAlphanumeric }) else { return nil }
        }
        if host.isEmpty { host = "0.0.0.0" }
        self.init(host: host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// What is wrong with `text`, which ``init(parsing:)`` refused: the mistake named (a scheme, a
    /// port out of range, an IPv6 address without brackets), not only the expected shape.
    public static func refusal(of text: String) -> String {
        let text = text.trimmingCharacters(in: .whitespaces)
        if let scheme = text.range(of: "://") {
            return "has a scheme (`\(text[..<scheme.upperBound])`): give the address alone"
        }
        guard let colon = text.lastIndex(of: ":"), !text[text.index(after: colon)...].isEmpty,
            text[text.index(after: colon)...].allSatisfy(\.isASCII), text[text.index(after: colon)...].allSatisfy(\.isNumber)
        else {
            return text.hasSuffix("]") || !text.contains(":") ? "has no port" : "does not end with a port number"
        }
        let host = text[..<colon]
        guard let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            return "has a port out of range (0 to 65535)"
        }
        if host.contains(":") && !host.hasPrefix("[") {
            return "has an IPv6 address without brackets: write [\(host)]:\(port)"
        }
        return "has a host that is not a name, an IPv4 address or an IPv6 address in brackets"
    }
}

/// The delivery-status poll job.
public struct PullConfiguration: Sendable {
    public var auth: Auth
    public var interval: Duration
    /// First day a partition without a cursor reads from; `nil` means Meta's 7-day horizon.
    public var startDate: Date?
    public var deliveryStatuses: DateRangeStream
    public var matchQuality: Bool
    /// Ad spend from Meta's Ads Insights; `nil` when no ad account is configured.
    public var adInsights: AdInsightsConfiguration?
    public var retry: RetryPolicyConfiguration

    public enum Auth: Sendable {
        /// Each pixel's own access token (a system-user token).
        case systemUserToken(Secret?)
        /// OAuth2 client credentials exchanged for an app token.
        case appCredentials(appID: String, appSecret: Secret)
    }

    /// A date-range cursor in Airbyte's vocabulary.
    public struct DateRangeStream: Sendable {
        /// Width of one request window.
        public var step: Duration
        /// Smallest unit the source reports (Meta: one hour).
        public var cursorGranularity: Duration
        /// How far before the cursor each run starts again, for late data.
        public var lookbackWindow: Duration
        /// How long Meta needs before an hour's counts settle; windows end at now minus this.
        public var settleLag: Duration
        public var pageSize: Int?
    }
}

/// The `ad_insights` stream: what each ad account spent, and the conversions Meta attributed.
public struct AdInsightsConfiguration: Sendable {
    public struct Account: Sendable {
        /// Digits, without `act_`.
        public var id: String
        /// The pixels this account advertises for (reconciliation joins on them); empty: all pixels.
        public var pixels: [String]
        /// A token with `ads_read` for this account; else the pull auth's token.
        public var accessToken: Secret?
        /// `account`, `campaign`, `adset` or `ad`.
        public var level: String

        public init(id: String, pixels: [String] = [], accessToken: Secret? = nil, level: String = "campaign") {
            self.id = id
            self.pixels = pixels
            self.accessToken = accessToken
            self.level = level
        }
    }

    public static let levels = ["account", "campaign", "adset", "ad"]
    public static let reportTimes = ["impression", "conversion", "mixed"]

    public var accounts: [Account]
    /// Days per request window.
    public var stepDays = 7
    /// Days re-read on every poll, ending with the day the cursor is on (it was partial when read):
    /// attributed conversions keep changing for up to 28 days.
    public var lookbackDays = 28
    /// Days a first poll reads back (Meta keeps 37 months).
    public var initialDays = 28
    public var attributionWindows = ["1d_click", "7d_click", "1d_view"]
    /// `mixed` (Ads Manager's choice): spend on the impression day, conversions on the day they happened.
    public var actionReportTime = "mixed"
    /// Event name → the one action type counted for it (overlapping types are never summed).
    public var actionTypes: [String: String] = [
        "Purchase": "offsite_conversion.fb_pixel_purchase",
        "Lead": "offsite_conversion.fb_pixel_lead",
        "AddToCart": "offsite_conversion.fb_pixel_add_to_cart",
        "CompleteRegistration": "offsite_conversion.fb_pixel_complete_registration",
        "InitiateCheckout": "offsite_conversion.fb_pixel_initiate_checkout",
        "ViewContent": "offsite_conversion.fb_pixel_view_content",
    ]
    /// Windows longer than this many days are read as async reports.
    public var asyncThresholdDays = 31
    public var pageSize = 500

    public init(accounts: [Account]) { self.accounts = accounts }
}

/// Where cursors, the outbox and the streams live.
public struct StateConfiguration: Sendable {
    /// `postgres://user:pass@host:port/db` or `sqlite:PATH`. May contain a password: not printed.
    public var url: Secret
}

/// Versioned JSON Schemas and drift alarms.
public struct SchemaRegistryConfiguration: Sendable {
    /// The folder of schemas registered at start-up; a relative one is looked for as
    /// ``candidateFolders`` says.
    public var path = "schemas"
    /// The folder of the manifest that configured this, for a relative `path`.
    public var manifestFolder: String?
    public var alarmsEnabled = true
    /// A window closes after this many events of one stream, pixel and event name…
    public var windowEvents = 100
    /// …or this long after it opened, whichever comes first.
    public var windowDuration: Duration = .seconds(60)
    public var thresholds = DriftThresholds()
    /// Where every raised and cleared drift alarm is POSTed (`nil`: nowhere but the store and the log).
    public var notify: AlarmWebhookConfiguration?

    public init() {}

    /// Where a relative `path` is looked for, in order: the working directory (where the shipped
    /// layout runs: the container's `/app`, the Lambda's task root), then beside the manifest and
    /// beside its folder (`manifests/` and `schemas/` are siblings). `serve --manifest
    /// /app/manifests/…` started from another directory used to register nothing.
    public var candidateFolders: [String] {
        guard !path.hasPrefix("/"), let manifestFolder else { return [path] }
        let beside = URL(fileURLWithPath: manifestFolder)
        return [path, beside.appendingPathComponent(path).path, beside.deletingLastPathComponent().appendingPathComponent(path).path]
    }

    /// The first candidate folder that exists, or `nil`.
    public func resolvedFolder(exists: (String) -> Bool = Self.isFolder) -> String? {
        candidateFolders.first(where: exists)
    }

    public static func isFolder(_ path: String) -> Bool {
        var isFolder: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue
    }
}

/// A receiver of alarm changes, signed with Standard Webhooks (the scheme the sidecar verifies).
public struct AlarmWebhookConfiguration: Sendable {
    /// May carry a token (chat webhooks do): never printed or logged.
    public var url: Secret
    public var signingKey: SigningKey
    /// After an alarm was sent, the same alarm raised again within this time is not sent again
    /// (nor its clearing): a flapping condition does not page every window.
    public var cooldown: Duration
    /// Attempts after the first, with backoff, for a receiver that fails or cannot be reached.
    public var retries: Int
    public var timeout: Duration

    public init(url: Secret, signingKey: SigningKey, cooldown: Duration = .seconds(900), retries: Int = 3, timeout: Duration = .seconds(5)) {
        self.url = url
        self.signingKey = signingKey
        self.cooldown = cooldown
        self.retries = retries
        self.timeout = timeout
    }
}

extension UInt8 {
    fileprivate var isASCIIAlphanumeric: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self | 0x20) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }

    fileprivate var isHexDigit: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self | 0x20) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }
}
