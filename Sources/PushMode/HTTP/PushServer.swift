import CAPICore
import ConnectorRuntime
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import NIOCore
import NIOFoundationCompat

/// The sidecar's HTTP face: the mirror routes, the Graph-compatible route, health and metrics.
///
/// Every event route reads the body under the size cap, verifies the signature (or ingest token)
/// over the raw bytes, and only then parses. An event is answered `202` only after its commit.
public struct PushServer: Sendable {
    public struct Source: Sendable {
        public var name: String
        public var verifier: WebhookVerifier
        public var replays: any ReplayGuard
        /// CIDR ranges allowed to call with this source; empty allows any.
        public var allowedIPs: [String]
    }

    let intake: Intake
    let sources: [Source]
    /// SHA-256 of each accepted ingest token; none: the Graph-compatible route is off.
    let ingestTokenDigests: [[UInt8]]
    let ingestAllowedIPs: [String]
    let bodyLimit: Int
    let budget: BodyBudget
    let rateLimiter: ClientRateLimiter?
    let outbox: any OutboxStore
    let backend: String
    let enrich: Bool
    let trustedProxies: [String]
    let pixels: Set<String>
    let metricsText: @Sendable () -> String
    let metrics: IngestMetrics
    let logger: Logger
    let refusals: RefusalLog
    let clock: WallClock

    public init(
        intake: Intake,
        manifest: Manifest,
        push: PushConfiguration,
        registry: any StateRegistry,
        logger: Logger,
        metricsText: @escaping @Sendable () -> String,
        clock: WallClock = .system
    ) {
        self.intake = intake
        self.sources = push.sources.map {
            Source(
                name: $0.name,
                verifier: WebhookVerifier(source: $0),
                replays: push.replayLedger == .state
                    ? SharedReplayLedger(store: registry, tolerance: $0.tolerance, limit: push.limits.commitTimeout)
                    : ReplayLedger(tolerance: $0.tolerance, capacity: push.limits.replayLedgerEntries),
                allowedIPs: $0.allowedIPs
            )
        }
        self.ingestAllowedIPs = push.ingestAllowedIPs
        self.ingestTokenDigests = push.ingestTokens.map { Array(SHA256.hash(data: Array($0.revealed.utf8))) }
        self.bodyLimit = push.bodyLimitBytes
        self.budget = BodyBudget(capacity: max(push.limits.maxBufferedBytes, push.bodyLimitBytes))
        self.rateLimiter =
            push.limits.rateLimitPerClient > 0
            ? ClientRateLimiter(
                rate: push.limits.rateLimitPerClient,
                burst: max(push.limits.rateLimitBurst, Int(push.limits.rateLimitPerClient.rounded(.up)))
            )
            : nil
        self.outbox = registry
        self.backend = registry.backend
        self.enrich = push.enrichFromRequest
        self.trustedProxies = push.trustedProxies
        self.pixels = Set(manifest.pixels.map(\.id))
        self.metricsText = metricsText
        self.metrics = IngestMetrics(pixels: manifest.pixels.map(\.id), sources: push.sources.map(\.name))
        self.logger = logger
        self.refusals = RefusalLog(logger: logger)
        self.clock = clock
    }

    /// The routes for any runner: the HTTP server uses ``PushRequestContext``, a runner without a
    /// socket ``DirectRequestContext`` (through ``PushHandler``).
    public func makeRouter<Context: PushContext>(context: Context.Type = PushRequestContext.self) -> Router<Context> {
        let router = Router(context: Context.self)
        let events = router.group("/v1/events").add(middleware: SignatureMiddleware<Context>(server: self))
        events.post { request, context in await self.mirror(request, context: context, batch: false) }
        events.post("batch") { request, context in await self.mirror(request, context: context, batch: true) }
        router.post("/:version/:pixel/events") { request, context in await self.graphCompatible(request, context: context) }
        // The router takes the literal `v1` of the routes above before a parameter, so a Graph
        // request with `v1` for its version never reached the route that tells it so.
        router.post("/v1/:pixel/events") { request, context in await self.graphCompatible(request, context: context) }
        let readOnly: [(path: RouterPath, answer: @Sendable () async -> Response)] = [
            ("/healthz", { Self.json(.object(["status": .string("ok")]), status: .ok) }),
            ("/readyz", { await self.readiness() }),
            (
                "/metrics",
                {
                    Response(
                        status: .ok,
                        headers: [.contentType: "text/plain; version=0.0.4"],
                        body: .init(byteBuffer: ByteBuffer(string: self.metricsText()))
                    )
                }
            ),
        ]
        for route in readOnly {
            router.get(route.path) { _, _ in await route.answer() }
            // HEAD is GET without the body (RFC 9110 9.3.2): uptime monitors and load balancers ask
            // so. The HTTP server leaves the body out of an answer to HEAD; the headers stay GET's.
            router.head(route.path) { _, _ in await route.answer() }
        }
        // Any other method on these paths: 405 with the methods they take, OPTIONS 204. Added last,
        // so it wraps only the not-found answer; outside the signature middleware, nothing is
        // verified for them.
        router.add(
            middleware: AllowedMethodsMiddleware<Context>(
                [("/v1/events", [.post]), ("/v1/events/batch", [.post]), ("/:version/:pixel/events", [.post])]
                    + readOnly.map { ($0.path.description, [.get, .head]) }
            )
        )
        return router
    }

    // MARK: POST /v1/events and /v1/events/batch

    /// The event routes, behind ``SignatureMiddleware``: the body arrives verified in the context.
    func mirror(_ request: Request, context: some PushContext, batch: Bool) async -> Response {
        guard let verified = context.verified else {
            // Only reachable if the routes were wired without the middleware: refuse, never accept unsigned.
            return signatureRefused(.missingSignature, source: "unverified")
        }
        let body = verified.bytes
        let source = verified.source
        let started = verified.started
        let document: JSONValue
        do {
            document = try JSONValue(parsing: body.readableBytesView)
        } catch {
            // Where and what, so the sender finds it; a reason never holds the body's text. A form
            // sent here is most likely meant for the Graph-compatible route.
            let form = GraphEventsRequest.isForm(request.headers[.contentType] ?? "")
            let hint = form ? "; it was sent as a form: these routes take JSON, and Meta's form shape goes to POST /{version}/{pixel_id}/events" : ""
            return Self.json(
                .object([
                    "error": .string("invalid_json"),
                    "message": .string("the body is not valid JSON: \(error.reason) at byte \(error.offset)\(hint)"),
                    "offset": .integer(Int64(error.offset)),
                ]),
                status: .badRequest
            )
        }
        var events: [JSONValue]
        if batch {
            guard case .array(let items)? = document["data"] else { return Self.batchWithoutData(document) }
            guard items.count <= MetaLimits.eventsPerRequest else {
                return Self.problems([
                    EventProblem(
                        field: "data",
                        code: .invalidValue,
                        message: "holds \(items.count) events; at most \(MetaLimits.eventsPerRequest) per request"
                    )
                ])
            }
            events = items
        } else {
            if let refused = Self.batchSentAlone(document) { return refused }
            events = [document]
        }
        if enrich { events = events.map { enriched($0, request: request, context: context) } }

        let results: [Intake.Result]
        do {
            results = try await intake.accept(events, source: source)
        } catch {
            // Logged by intake as an outage: one line when it starts, a summary while it lasts.
            return Self.json(
                .object(["error": .string("state_unavailable"), "message": .string("the state store cannot commit; retry")]),
                status: .serviceUnavailable,
                retryAfter: 1
            )
        }
        record(results, events: events, source: source, started: started)
        if !batch { return Self.single(results[0]) }
        let items: [JSONValue] = results.enumerated().map { index, result in
            var item = Self.body(of: result).objectValue ?? [:]
            item["index"] = .integer(Int64(index))
            return .object(item)
        }
        let accepted = results.filter { if case .accepted = $0 { true } else { false } }.count
        return Self.json(
            .object(["results": .array(items), "accepted": .integer(Int64(accepted)), "rejected": .integer(Int64(results.count - accepted))]),
            status: .accepted
        )
    }

    /// 400 for a batch body without its `data` array, saying which of the usual slips it is.
    static func batchWithoutData(_ document: JSONValue) -> Response {
        let message: String
        var code = EventProblem.Code.missing
        if case .object(let object) = document {
            if let data = object["data"], data != .null {
                code = .invalidType
                message = "must be an array of events, found \(data.typeName)"
            } else if object["event_name"] != nil || object["user_data"] != nil {
                message = "is required: the body looks like one event; send it to POST /v1/events, or here as {\"data\": [event, …]}"
            } else {
                message = "is required: an array of events, as {\"data\": [event, …]}"
            }
        } else {
            message = "is required: the body must be an object holding the events as {\"data\": [event, …]}, found \(document.typeName)"
        }
        return problems([EventProblem(field: "data", code: code, message: message)])
    }

    /// 400 for a batch sent to the single-event route (`data` an array and no event field), named
    /// as that: judged as one event it drew six "is required" problems and a warning on `data`.
    static func batchSentAlone(_ document: JSONValue) -> Response? {
        guard case .object(let object) = document, case .array = object["data"],
            !object.keys.contains(where: EventPreparer.isKnownField)
        else { return nil }
        return problems([
            EventProblem(
                field: "data",
                code: .unknownField,
                message: "is no event field: the body looks like a batch; send it to POST /v1/events/batch, "
                    + "or in Meta's shape to POST /{version}/{pixel_id}/events"
            )
        ])
    }

    /// A refusal for a body sent in a coding the sidecar does not undo, before it is read: read as
    /// JSON it would be refused as unreadable at byte 0 (or, coded but sent plain, taken as it
    /// came), which tells the sender nothing. Signatures and tokens cover the bytes as sent, so the
    /// sidecar does not inflate them.
    /// - 415 for a `Content-Encoding` other than `identity`;
    /// - 400 for a `Transfer-Encoding` that does not end with `chunked` (`chunked, gzip`), whose
    ///   body has no length to read (RFC 9112 §6.3), as the HTTP parser answers it on a socket;
    /// - 501 for a `Transfer-Encoding` that lists any coding but `chunked` (`gzip, chunked`), as
    ///   RFC 9112 asks of a server that does not implement it; the HTTP layer undoes `chunked` alone.
    func encodingRefused(_ request: Request, metaShape: Bool) -> Response? {
        if let coding = request.headers[.contentEncoding], !Self.codings(coding).allSatisfy({ $0 == "identity" }) {
            let message = "the body has a Content-Encoding other than identity; compressed bodies are not taken, send it uncompressed"
            var response = codingRefusal("unsupported_content_encoding", message, status: .unsupportedMediaType, metaShape: metaShape)
            response.headers[.acceptEncoding] = "identity"
            return response
        }
        if let coding = request.headers[.transferEncoding], let last = Self.codings(coding).last, last != "chunked" {
            return codingRefusal("malformed_request", MalformedHeadAnswer.unreadableLength, status: .badRequest, metaShape: metaShape)
        }
        if let coding = request.headers[.transferEncoding], !Self.codings(coding).allSatisfy({ $0 == "chunked" }) {
            let message = "the body has a Transfer-Encoding other than chunked; compressed bodies are not taken, send it uncompressed"
            return codingRefusal("unsupported_transfer_encoding", message, status: .notImplemented, metaShape: metaShape)
        }
        return nil
    }

    private func codingRefusal(_ reason: String, _ message: String, status: HTTPResponse.Status, metaShape: Bool) -> Response {
        refusals.record(reason)
        return metaShape
            ? Self.metaError(status: status, code: 100, message: "(#100) " + message, close: true)
            : Self.json(.object(["error": .string(reason), "message": .string(message)]), status: status, close: true)
    }

    /// The codings a `Content-Encoding` or `Transfer-Encoding` value lists (several lines arrive
    /// joined with commas), lowercased, each without its parameters. An empty value lists none.
    private static func codings(_ value: String) -> [String] {
        value.split(separator: ",").compactMap { item in
            let name = item.prefix { $0 != ";" }.trimmingCharacters(in: .whitespaces).lowercased()
            return name.isEmpty ? nil : name
        }
    }

    /// Runs `handle` with the body, read under the size cap and the shared memory budget: the
    /// announced length (or the cap, when none is announced) is reserved before a byte is read and
    /// released when `handle` returns. Only past these checks is a client that waits on
    /// `Expect: 100-continue` told to send its body.
    func withBody(_ request: Request, context: some PushContext, _ handle: (ByteBuffer) async throws -> Response) async rethrows -> Response {
        let announced = request.headers[.contentLength].flatMap { Bounded.digits($0) }.map { Int($0) }
        if let announced, announced > bodyLimit { return Self.tooLarge(bodyLimit) }
        let reservation = announced ?? bodyLimit
        guard budget.reserve(reservation) else {
            refusals.record("memory_budget")
            return Self.json(
                .object(["error": .string("busy"), "message": .string("too many request bytes in flight; retry")]),
                status: .serviceUnavailable,
                retryAfter: 1,
                close: true
            )
        }
        defer { budget.release(reservation) }
        context.bodyWillBeRead(request)
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: reservation)
        } catch is NIOTooManyBytesError {
            return Self.tooLarge(bodyLimit)
        } catch {
            return Self.json(
                .object(["error": .string("body_incomplete"), "message": .string("the request body did not arrive in full")]),
                status: .badRequest,
                close: true
            )
        }
        return try await handle(body)
    }

    func rateLimited(_ request: Request, context: some PushContext) -> Response? {
        guard let rateLimiter else { return nil }
        let client = clientAddress(request: request, context: context) ?? "unknown"
        guard let wait = rateLimiter.admit(client: client, now: MonotonicSeconds.now()) else { return nil }
        refusals.record("rate_limited")
        return Self.json(
            .object(["error": .string("rate_limited"), "message": .string("too many requests from this client; retry later")]),
            status: .tooManyRequests,
            retryAfter: wait,
            close: true
        )
    }

    /// 403 for a client outside `allowed` (when it lists any): checked before any signature or
    /// token work. The client address honours `trusted_proxies` and `X-Forwarded-For`.
    func ipRefused(_ request: Request, context: some PushContext, allowed: [String]) -> Response? {
        guard !allowed.isEmpty else { return nil }
        if let client = clientAddress(request: request, context: context),
            allowed.contains(where: { NetworkAddress.contains(cidr: $0, address: client) })
        {
            return nil
        }
        Counter(label: "capi_requests_refused_total", dimensions: [("reason", "ip_not_allowed")]).increment()
        refusals.record("ip_not_allowed")
        return Self.json(.object(["error": .string("forbidden"), "reason": .string("ip_not_allowed")]), status: .forbidden, close: true)
    }

    /// Validated once: building a field name checks its characters, on every request otherwise.
    static let sourceHeader = HTTPField.Name("X-CAPI-Source")!

    /// Which configured source verifies a request.
    enum SourceSelection {
        case named(Source)
        /// A name no source has.
        case unknown
        /// Two names, in `X-CAPI-Source` lines or `?source=` parameters: which secrets were meant
        /// is unclear, and a proxy in front may have read the other one.
        case ambiguous
    }

    /// The source the `X-CAPI-Source` header and `?source=` name, the same however often; the first
    /// source when neither names one. An empty value names none: a proxy or template that sets the
    /// header from an unset variable sends it empty, and was refused as an unknown source.
    func selectSource(_ request: Request) -> SourceSelection {
        // Read in place, on every signed request: most have one header line and no query.
        var named: Substring?
        var ambiguous = false
        func take(_ name: Substring) {
            guard !name.isEmpty else { return }
            if let named, named != name { ambiguous = true }
            named = name
        }
        for field in request.headers where field.name == Self.sourceHeader { take(Substring(field.value)) }
        if request.uri.query != nil {
            for (key, value) in request.uri.queryParameters where key == "source" { take(value) }
        }
        if ambiguous { return .ambiguous }
        guard let named else { return sources.first.map(SourceSelection.named) ?? .unknown }
        return sources.first { $0.name == named }.map(SourceSelection.named) ?? .unknown
    }

    /// 401 with the reason code; counted per source and reason, and summarized in the log at most
    /// every few seconds (a flood of forged requests must not flood the log).
    func signatureRefused(_ failure: SignatureFailure, source: String, close: Bool = false) -> Response {
        Counter(label: "capi_signature_failures_total", dimensions: [("reason", failure.rawValue), ("source", source)]).increment()
        refusals.record("signature:\(failure.rawValue)")
        logger.debug("signature refused", metadata: ["source": "\(source)", "signature_status": "\(failure.rawValue)"])
        return Self.json(.object(["error": .string("signature"), "reason": .string(failure.rawValue)]), status: .unauthorized, close: close)
    }

    func record(_ results: [Intake.Result], events: [JSONValue], source: String, started: ContinuousClock.Instant, pixelFromPath: String? = nil) {
        for (result, event) in zip(results, events) {
            // A pixel id is logged or used as a label only when it is one of ours: a refused
            // event's fields are outside input and stay out of logs and metric series.
            let pixel = (pixelFromPath ?? Intake.pixelID(of: event)).flatMap { pixels.contains($0) ? $0 : nil } ?? "unconfigured"
            switch result {
            case .accepted(let answer, let duplicate):
                let counters = metrics.events(pixel: pixel, source: source)
                (duplicate ? counters.duplicates : counters.received).increment()
                logger.debug(
                    "event accepted",
                    metadata: [
                        "pixel_id": "\(pixel)", "event_id": "\(answer["event_id"]?.stringValue ?? "")", "source": "\(source)",
                        "signature_status": "verified", "duplicate": "\(duplicate)",
                    ]
                )
            case .conflict:
                metrics.events(pixel: pixel, source: source).conflicts.increment()
                logger.info("event conflicts with an earlier one", metadata: ["pixel_id": "\(pixel)", "source": "\(source)"])
            case .rejected(let problems, _):
                metrics.rejected(pixel: pixel, source: source).increment()
                logger.debug(
                    "event rejected",
                    metadata: ["pixel_id": "\(pixel)", "source": "\(source)", "fields": "\(problems.map(\.field).joined(separator: ","))"]
                )
            }
        }
        let elapsed = ContinuousClock.now - started
        metrics.latency(source: source).recordNanoseconds(elapsed.wholeNanoseconds)
    }

    // MARK: Readiness

    /// Not ready while an event has been due this long: the forwarder is stuck or Meta unreachable.
    static let stuckOutboxAge: Duration = .seconds(15 * 60)

    /// How long readiness waits for the store: a health probe gives up after a second or two.
    static let readinessLimit: Duration = .seconds(2)

    /// Not ready while intake commits have failed this long with no success between (a store that
    /// answers reads but refuses or stalls writes: locked, read-only, full), so a load balancer
    /// sends events to a replica that can keep them. A single sender's failing event among other
    /// traffic never counts: any success ends the outage.
    static let failingCommitsSpan: Duration = .seconds(5)

    /// ... and ready again once no commit has failed for this long: with traffic sent elsewhere no
    /// commit is tried, and the next ones tell whether the store recovered.
    static let failingCommitsQuiet: Duration = .seconds(15)

    func readiness() async -> Response {
        if intake.commitFailures.isFailingSteadily(for: Self.failingCommitsSpan, lastWithin: Self.failingCommitsQuiet) {
            return Self.json(.object(["status": .string("commits_failing")]), status: .serviceUnavailable)
        }
        do {
            let now = clock.now()
            let age = try await withStateDeadline(Self.readinessLimit, "readiness") { [outbox] in try await outbox.oldestDueOutboxAge(now: now) }
            if let age, age > Self.stuckOutboxAge {
                return Self.json(
                    .object(["status": .string("outbox_stuck"), "oldest_due_ms": .integer(age.wholeMilliseconds)]),
                    status: .serviceUnavailable
                )
            }
            return Self.json(.object(["status": .string("ready"), "state": .string(backend)]), status: .ok)
        } catch {
            return Self.json(.object(["status": .string("state_unavailable")]), status: .serviceUnavailable)
        }
    }

}
