import CAPICore
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// A local stand-in for graph.facebook.com: the events endpoint with Meta's validation and answer
/// shapes, stats and dataset quality derived from what it received, the client-credentials token
/// exchange, seeded fault injection, and `GET /_sandbox/events` to see what arrived.
///
/// Tests, benchmarks and the quickstart talk to it instead of Meta. Start it with ``run(onReady:)``
/// inside a task group or service group; cancellation stops it.
public struct GraphSandbox: Service {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var faults: FaultPlan
        public var seed: UInt64
        /// Accepted access tokens; empty accepts any non-empty token.
        public var accessTokens: Set<String>
        /// Client credentials the token exchange accepts; `nil` accepts any pair.
        public var appCredentials: (id: String, secret: String)?
        /// Requests each app token from the exchange authorizes before Graph calls it expired
        /// (190, subcode 463), as after the app secret was reset; `nil`: app tokens do not expire,
        /// as Meta's do not otherwise. With ``appCredentials`` set, an app token (`{app id}|…`)
        /// the exchange never issued is refused.
        public var appTokenRequests: Int?
        /// The `call_count` percentage `X-App-Usage` reports on every stats and dataset-quality
        /// answer; `nil`: no usage header, as far from the limit.
        public var readUsagePercent: Double?
        /// Buckets per stats page, small by default so paging is exercised.
        public var statsPageSize: Int
        /// How long a `timeout` fault holds its error, and a `slow` one the answer (longer than the
        /// client's 1.5 s send timeout).
        public var timeoutDelay: Duration
        /// The clock for Meta's event-time window and stats horizon.
        public var clock: WallClock
        /// Ad accounts the Marketing API answers for.
        public var adAccounts: [SandboxAdAccount] = [SandboxAdAccount()]
        /// Tokens with `ads_read`; `nil`: every accepted token has it.
        public var adsReadTokens: Set<String>?
        /// Rows (days × entities) a synchronous insights request may ask for before Meta's "Please
        /// reduce the amount of data" refusal.
        public var insightsRowLimit = 400
        /// A synchronous insights page (`limit`) larger than this gets the same refusal, as rows
        /// too heavy to compute at once do (`nil`: any page size up to 5,000).
        public var insightsMaxPageSize: Int?
        /// Async jobs over more days than this fail (0: none do).
        public var asyncMaxDays = 0
        /// The utilization `x-fb-ads-insights-throttle` reports, in percent.
        public var insightsUtilization: Double = 5
        public var insightsPageSize = 25
        /// Share of insight rows whose conversion metrics are withheld (no `actions`).
        public var withheldShare: Double = 0
        /// Received events kept per pixel, newest first: a long-running `serve --sandbox` holds
        /// a bounded amount of memory instead of every event it was sent. Kept as parsed trees,
        /// events as the sidecar sends them take about 4 KB each (140,000 took about 550 MB in
        /// `bench ingest`), so the full bound is about 800 MB per pixel.
        public var maxStoredEventsPerPixel = 200_000
        /// Counts every event id received, beyond the events kept, for ``receivedCounts(pixelID:)``:
        /// a check that every event arrived needs only the ids (`bench ingest`, 130,000 events
        /// and 10,000 kept, peaked at 170 MB instead of 620 MB). Grows without bound: for runs of
        /// known length.
        public var countsEveryEventID = false
        /// The scheme and host written into `paging.next` links, as Meta writes
        /// `https://graph.facebook.com` into them however it was reached (through a relay, say);
        /// `nil`: the host the request named.
        public var pagingLinkOrigin: String?

        public init(
            host: String = "127.0.0.1",
            port: Int = 0,
            faults: FaultPlan = .none,
            seed: UInt64 = 1,
            accessTokens: Set<String> = [],
            appCredentials: (id: String, secret: String)? = nil,
            statsPageSize: Int = 24,
            timeoutDelay: Duration = .seconds(3),
            clock: WallClock = .system
        ) {
            self.host = host
            self.port = port
            self.faults = faults
            self.seed = seed
            self.accessTokens = accessTokens
            self.appCredentials = appCredentials
            self.statsPageSize = statsPageSize
            self.timeoutDelay = timeoutDelay
            self.clock = clock
        }
    }

    public let configuration: Configuration
    let store: SandboxStore
    let logger: Logger

    public init(configuration: Configuration = .init(), logger: Logger = Logger(label: "capi.sandbox")) {
        self.configuration = configuration
        self.store = SandboxStore(
            seed: configuration.seed,
            maxEventsPerPixel: configuration.maxStoredEventsPerPixel,
            countsEveryEventID: configuration.countsEveryEventID
        )
        self.logger = logger
    }

    /// Serves until cancelled or gracefully shut down, logging the bound address.
    public func run() async throws {
        try await run { host, port in
            logger.notice("graph sandbox listening", metadata: ["address": "\(host):\(port)", "faults": "\(configuration.faults.rate)"])
        }
    }

    /// Serves until cancelled; `onReady` receives the bound address (useful with port 0).
    public func run(onReady: @escaping @Sendable (String, Int) async -> Void) async throws {
        let application = Application(
            router: makeRouter(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "capi-graph-sandbox"),
            onServerRunning: { channel in
                let address = channel.localAddress
                await onReady(address?.ipAddress ?? configuration.host, address?.port ?? configuration.port)
            },
            logger: logger
        )
        try await application.run()
    }

    /// Forget events, as if Meta had lost them (for reconciliation tests).
    public func drop(pixelID: String, eventIDs: Set<String>) async {
        await store.drop(pixelID: pixelID, eventIDs: eventIDs)
    }

    /// How many app tokens the client-credentials exchange has issued.
    public func appTokenExchanges() async -> Int {
        await store.appTokenExchanges
    }

    /// Per event id: how many times it arrived. Keyed by `String`, so ids that differ only in
    /// Unicode normalization share an entry here; the store and `GET /_sandbox/events` keep them apart.
    public func receivedCounts(pixelID: String) async -> [String: Int] {
        await store.receivedCounts(pixelID: pixelID)
    }

    func makeRouter() -> Router<SandboxRequestContext> {
        let router = Router(context: SandboxRequestContext.self)
        router.add(middleware: UnsupportedRequestMiddleware(sandbox: self))
        router.get("/_sandbox/events") { request, _ in try await self.listReceived(request) }
        router.post("/:version/:node/events") { request, context in
            try await self.faulted(request, context) { try await self.receiveEvents(request, context: context) }
        }
        router.get("/:version/:node/stats") { request, context in
            try await self.faulted(request, context) { try await self.stats(request, context: context) }
        }
        router.get("/:version/dataset_quality") { request, context in
            try await self.faulted(request, context) { try await self.datasetQuality(request) }
        }
        router.get("/:version/oauth/access_token") { request, context in
            try await self.faulted(request, context) { try await self.accessToken(request) }
        }
        router.get("/:version/:node") { request, context in
            try await self.faulted(request, context) { try await self.node(request, context: context) }
        }
        router.get("/:version/:node/insights") { request, context in
            try await self.faulted(request, context) { try await self.insights(request, context: context) }
        }
        router.post("/:version/:node/insights") { request, context in
            try await self.faulted(request, context) { try await self.insights(request, context: context) }
        }
        return router
    }
}
