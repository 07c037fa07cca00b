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
        public var replays: ReplayLedger
    }

    let intake: Intake
    let sources: [Source]
    let ingestTokenDigest: [UInt8]?
    let bodyLimit: Int
    let budget: BodyBudget
    let rateLimiter: ClientRateLimiter?
    let registry: any StateRegistry
    let enrich: Bool
    let trustedProxies: [String]
    let pixels: Set<String>
    let metricsText: @Sendable () -> String
    let logger: Logger
    let refusals: RefusalLog
    let clock: @Sendable () -> Int64

    public init(
        intake: Intake,
        manifest: Manifest,
        push: PushConfiguration,
        registry: any StateRegistry,
        logger: Logger,
        metricsText: @escaping @Sendable () -> String,
        clock: @escaping @Sendable () -> Int64 = { UnixClock.seconds() }
    ) {
        self.intake = intake
        self.sources = push.sources.map {
            Source(
                name: $0.name,
                verifier: WebhookVerifier(source: $0),
                replays: ReplayLedger(toleranceSeconds: $0.tolerance.components.seconds, capacity: push.limits.replayLedgerEntries)
            )
        }
        self.ingestTokenDigest = push.ingestToken.map { Array(SHA256.hash(data: Array($0.revealed.utf8))) }
        self.bodyLimit = push.bodyLimitBytes
        self.budget = BodyBudget(capacity: max(push.limits.maxBufferedBytes, push.bodyLimitBytes))
        self.rateLimiter =
            push.limits.rateLimitPerClient > 0
            ? ClientRateLimiter(
                rate: push.limits.rateLimitPerClient,
                burst: max(push.limits.rateLimitBurst, Int(push.limits.rateLimitPerClient.rounded(.up)))
            )
            : nil
        self.registry = registry
        self.enrich = push.enrichFromRequest
        self.trustedProxies = push.trustedProxies
        self.pixels = Set(manifest.pixels.map(\.id))
        self.metricsText = metricsText
        self.logger = logger
        self.refusals = RefusalLog(logger: logger)
        self.clock = clock
    }

    public func makeRouter() -> Router<PushRequestContext> {
        let router = Router(context: PushRequestContext.self)
        router.post("/v1/events") { request, context in await self.mirror(request, context: context, batch: false) }
        router.post("/v1/events/batch") { request, context in await self.mirror(request, context: context, batch: true) }
        router.post("/:version/:pixel/events") { request, context in await self.graphCompatible(request, context: context) }
        router.get("/healthz") { _, _ in Self.json(.object(["status": .string("ok")]), status: .ok) }
        router.get("/readyz") { _, _ in await self.readiness() }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(string: self.metricsText()))
            )
        }
        return router
    }

    // MARK: POST /v1/events and /v1/events/batch

    /// Cheapest refusals first: rate, source, signature headers, announced size, memory budget;
    /// only then is the body read, its MAC computed, its id checked for replay and its JSON parsed.
    func mirror(_ request: Request, context: PushRequestContext, batch: Bool) async -> Response {
        let started = ContinuousClock.now
        if let refused = rateLimited(request, context: context) { return refused }
        guard let source = selectSource(request) else {
            return Self.json(
                .object(["error": .string("unknown_source"), "message": .string("no webhook source of that name is configured")]),
                status: .badRequest,
                close: true
            )
        }
        let now = clock()
        let header: (String) -> String? = { name in HTTPField.Name(name).flatMap { request.headers[$0] } }
        let inspected: WebhookVerifier.Inspected
        switch source.verifier.inspect(header: header, now: now) {
        case .failure(let failure): return signatureRefused(failure, source: source.name, close: true)
        case .success(let value): inspected = value
        }
        return await withBody(request) { body in
            await mirror(body, inspected: inspected, source: source, now: now, request: request, context: context, batch: batch, started: started)
        }
    }

    /// The rest of ``mirror(_:context:batch:)`` once the body is in memory: MAC, replay, JSON, intake.
    func mirror(
        _ body: ByteBuffer,
        inspected: WebhookVerifier.Inspected,
        source: Source,
        now: Int64,
        request: Request,
        context: PushRequestContext,
        batch: Bool,
        started: ContinuousClock.Instant
    ) async -> Response {
        let verdict = body.withUnsafeReadableBytes { bytes -> Response? in
            switch source.verifier.verify(inspected, body: bytes) {
            case .failure(let failure): return signatureRefused(failure, source: source.name)
            case .success(let delivery):
                guard let id = delivery.messageID, let timestamp = delivery.timestamp else { return nil }
                switch source.replays.admit(source: source.name, messageID: id, timestamp: timestamp, body: bytes, now: now) {
                case .admitted: return nil
                case .replayed: return signatureRefused(.replayedID, source: source.name)
                case .full:
                    refusals.record("replay_ledger_full")
                    return Self.json(
                        .object(["error": .string("busy"), "message": .string("too many recent webhook ids to check replays; retry")]),
                        status: .serviceUnavailable,
                        retryAfter: 5
                    )
                }
            }
        }
        if let verdict { return verdict }
        guard let document = try? JSONValue(parsing: body.readableBytesView) else {
            return Self.json(
                .object(["error": .string("invalid_json"), "message": .string("the body is not valid JSON (or repeats a key)")]),
                status: .badRequest
            )
        }
        var events: [JSONValue]
        if batch {
            guard case .array(let items)? = document["data"] else {
                return Self.problems([EventProblem(field: "data", code: .missing, message: "must be an array of events")])
            }
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
            events = [document]
        }
        if enrich { events = events.map { enriched($0, request: request, context: context) } }

        let results: [Intake.Result]
        do {
            results = try await intake.accept(events, source: source.name)
        } catch {
            logger.error("state store cannot commit", metadata: ["source": "\(source.name)", "error": "\(error)"])
            return Self.json(
                .object(["error": .string("state_unavailable"), "message": .string("the state store cannot commit; retry")]),
                status: .serviceUnavailable,
                retryAfter: 1
            )
        }
        record(results, events: events, source: source.name, started: started)
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

    /// Runs `handle` with the body, read under the size cap and the shared memory budget: the
    /// announced length (or the cap, when none is announced) is reserved before a byte is read and
    /// released when `handle` returns.
    func withBody(_ request: Request, _ handle: (ByteBuffer) async -> Response) async -> Response {
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
        return await handle(body)
    }

    func rateLimited(_ request: Request, context: PushRequestContext) -> Response? {
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

    func selectSource(_ request: Request) -> Source? {
        let name = request.headers[HTTPField.Name("X-CAPI-Source")!] ?? request.uri.queryParameters.get("source")
        guard let name else { return sources.first }
        return sources.first { $0.name == name }
    }

    /// 401 with the reason code; counted per source and reason, and summarized in the log at most
    /// every few seconds (a flood of forged requests must not flood the log).
    func signatureRefused(_ failure: SignatureFailure, source: String, close: Bool = false) -> Response {
        Counter(label: "capi_signature_failures_total", dimensions: [("reason", failure.rawValue), ("source", source)]).increment()
        refusals.record("signature:\(failure.rawValue)")
        logger.debug("signature refused", metadata: ["source": "\(source)", "signature_status": "\(failure.rawValue)"])
        return Self.json(.object(["error": .string("signature"), "reason": .string(failure.rawValue)]), status: .unauthorized, close: close)
    }

    /// Fills `client_ip_address` and `client_user_agent` from the request when the event lacks them.
    func enriched(_ event: JSONValue, request: Request, context: PushRequestContext) -> JSONValue {
        guard case .object(var fields) = event else { return event }
        var user = fields["user_data"]?.objectValue ?? [:]
        if user["client_user_agent"] == nil, let agent = request.headers[.userAgent] { user["client_user_agent"] = .string(agent) }
        if user["client_ip_address"] == nil, let address = clientAddress(request: request, context: context) {
            user["client_ip_address"] = .string(address)
        }
        fields["user_data"] = .object(user)
        return .object(fields)
    }

    /// The peer's address, or the first untrusted hop of `X-Forwarded-For` when the peer is a trusted proxy.
    func clientAddress(request: Request, context: PushRequestContext) -> String? {
        guard let peer = context.remoteAddress?.ipAddress else { return nil }
        guard trustedProxies.contains(where: { NetworkAddress.contains(cidr: $0, address: peer) }),
            let forwarded = request.headers[HTTPField.Name("X-Forwarded-For")!]
        else { return peer }
        let hops = forwarded.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        return hops.reversed().first { hop in !trustedProxies.contains { NetworkAddress.contains(cidr: $0, address: hop) } } ?? peer
    }

    func record(_ results: [Intake.Result], events: [JSONValue], source: String, started: ContinuousClock.Instant, pixelFromPath: String? = nil) {
        for (result, event) in zip(results, events) {
            // A pixel id is logged or used as a label only when it is one of ours: a refused
            // event's fields are outside input and stay out of logs and metric series.
            let pixel = (pixelFromPath ?? Intake.pixelID(of: event)).flatMap { pixels.contains($0) ? $0 : nil } ?? "unconfigured"
            switch result {
            case .accepted(let answer, let duplicate):
                Counter(
                    label: duplicate ? "capi_duplicates_total" : "capi_events_received_total",
                    dimensions: [("pixel_id", pixel), ("source", source)]
                ).increment()
                logger.debug(
                    "event accepted",
                    metadata: [
                        "pixel_id": "\(pixel)", "event_id": "\(answer["event_id"]?.stringValue ?? "")", "source": "\(source)",
                        "signature_status": "verified", "duplicate": "\(duplicate)",
                    ]
                )
            case .conflict:
                logger.info("event conflicts with an earlier one", metadata: ["pixel_id": "\(pixel)", "source": "\(source)"])
            case .rejected(let problems):
                Counter(label: "capi_events_rejected_total", dimensions: [("pixel_id", pixel), ("source", source)]).increment()
                logger.debug(
                    "event rejected",
                    metadata: ["pixel_id": "\(pixel)", "source": "\(source)", "fields": "\(problems.map(\.field).joined(separator: ","))"]
                )
            }
        }
        let elapsed = ContinuousClock.now - started
        Timer(label: "capi_ingest_latency_seconds", dimensions: [("source", source)]).recordNanoseconds(elapsed.wholeNanoseconds)
    }

    // MARK: POST /{version}/{pixel_id}/events

    func graphCompatible(_ request: Request, context: PushRequestContext) async -> Response {
        if let refused = rateLimited(request, context: context) { return refused }
        let pixelID = context.parameters.get("pixel") ?? ""
        guard let ingestTokenDigest else {
            return Self.metaError(
                status: .unauthorized,
                code: 190,
                message: "The Graph-compatible route is disabled: set push.ingest_token in the manifest",
                close: true
            )
        }
        // A token in the header or query string is checked before the body is read.
        let earlyToken =
            request.headers[.authorization].flatMap { (value: String) -> String? in value.hasPrefix("Bearer ") ? String(value.dropFirst(7)) : nil }
            ?? request.uri.queryParameters.get("access_token").map { String($0) }
        if let earlyToken, !tokenMatches(earlyToken, ingestTokenDigest) {
            return ingestTokenRefused(close: true)
        }
        return await withBody(request) { body in
            await graphCompatible(body, earlyToken: earlyToken, tokenDigest: ingestTokenDigest, pixelID: pixelID, request: request)
        }
    }

    /// The rest of ``graphCompatible(_:context:)`` once the body is in memory.
    func graphCompatible(
        _ body: ByteBuffer,
        earlyToken: String?,
        tokenDigest ingestTokenDigest: [UInt8],
        pixelID: String,
        request: Request
    ) async -> Response {
        guard let parsed = GraphEventsRequest(body: Data(buffer: body), contentType: request.headers[.contentType]) else {
            if earlyToken == nil { return ingestTokenRefused() }
            return Self.metaError(
                status: .badRequest,
                code: 100,
                message: "(#100) The request body is neither JSON nor form-encoded (or repeats a field)"
            )
        }
        let token = earlyToken ?? parsed.accessToken ?? ""
        guard tokenMatches(token, ingestTokenDigest) else { return ingestTokenRefused() }
        guard let events = parsed.events, !events.isEmpty, events.count <= MetaLimits.eventsPerRequest else {
            return Self.metaError(
                status: .badRequest,
                code: 100,
                message: "(#100) param data must be an array of 1 to \(MetaLimits.eventsPerRequest) events"
            )
        }
        let started = ContinuousClock.now
        let results: [Intake.Result]
        do {
            results = try await intake.accept(events, pixelFromPath: pixelID, source: "graph_compatible", allOrNothing: true)
        } catch {
            return Self.metaError(status: .serviceUnavailable, code: 2, message: "The state store cannot commit; retry", transient: true)
        }
        record(results, events: events, source: "graph_compatible", started: started, pixelFromPath: pixelID)
        for (index, result) in results.enumerated() {
            if case .rejected(let problems) = result, let first = problems.first {
                return Self.metaError(
                    status: .badRequest,
                    code: 100,
                    subcode: 2_804_001,
                    message: "Invalid parameter",
                    userMessage: "data[\(index)].\(first.field): \(first.message)"
                )
            }
        }
        var messages: [JSONValue] = []
        var received = 0
        for result in results {
            switch result {
            case .accepted: received += 1
            case .conflict(let id): messages.append(.string("event \(id) conflicts with an earlier event of the same id and time; not sent again"))
            case .rejected: break
            }
        }
        return Self.json(
            .object([
                "events_received": .integer(Int64(received)), "messages": .array(messages),
                "fbtrace_id": .string("capi-" + UUID().uuidString.prefix(12).lowercased()),
            ]),
            status: .ok
        )
    }

    /// Compares digests, not strings: constant time in the token's content.
    func tokenMatches(_ token: String, _ digest: [UInt8]) -> Bool {
        !token.isEmpty && WebhookVerifier.constantTimeEqual(Array(SHA256.hash(data: Array(token.utf8))), digest)
    }

    func ingestTokenRefused(close: Bool = false) -> Response {
        Counter(label: "capi_signature_failures_total", dimensions: [("reason", "bad_ingest_token"), ("source", "graph_compatible")]).increment()
        refusals.record("bad_ingest_token")
        return Self.metaError(
            status: .unauthorized,
            code: 190,
            subcode: 463,
            message: "Invalid OAuth access token - Cannot parse access token",
            close: close
        )
    }

    // MARK: Readiness

    func readiness() async -> Response {
        do {
            let age = try await registry.oldestDueOutboxAge(now: Bounded.product(clock(), 1000))
            if let age, age > 15 * 60 * 1000 {
                return Self.json(.object(["status": .string("outbox_stuck"), "oldest_due_ms": .integer(age)]), status: .serviceUnavailable)
            }
            return Self.json(.object(["status": .string("ready"), "state": .string(registry.backend)]), status: .ok)
        } catch {
            return Self.json(.object(["status": .string("state_unavailable")]), status: .serviceUnavailable)
        }
    }

    // MARK: Answers

    static func single(_ result: Intake.Result) -> Response {
        switch result {
        case .accepted: json(body(of: result), status: .accepted)
        case .conflict: json(body(of: result), status: .conflict)
        case .rejected: json(body(of: result), status: .badRequest)
        }
    }

    static func body(of result: Intake.Result) -> JSONValue {
        switch result {
        case .accepted(let answer, _): answer
        case .conflict(let id):
            .object([
                "status": .string("conflict"), "event_id": .string(id),
                "message": .string("an event with this pixel_id, event_id and event_time was accepted with different content"),
            ])
        case .rejected(let problems):
            .object([
                "status": .string("rejected"), "error": .string("invalid_event"),
                "problems": .array(
                    problems.map { .object(["field": .string($0.field), "code": .string($0.code.rawValue), "message": .string($0.message)]) }
                ),
            ])
        }
    }

    static func problems(_ problems: [EventProblem]) -> Response {
        json(body(of: .rejected(problems)), status: .badRequest)
    }

    static func tooLarge(_ limit: Int) -> Response {
        json(.object(["error": .string("body_too_large"), "limit_bytes": .integer(Int64(limit))]), status: .contentTooLarge, close: true)
    }

    static func metaError(
        status: HTTPResponse.Status,
        code: Int,
        subcode: Int? = nil,
        message: String,
        userMessage: String? = nil,
        transient: Bool = false,
        close: Bool = false
    ) -> Response {
        var error: [String: JSONValue] = [
            "message": .string(message), "type": .string("OAuthException"), "code": .integer(Int64(code)), "is_transient": .bool(transient),
            "fbtrace_id": .string("capi-" + UUID().uuidString.prefix(12).lowercased()),
        ]
        if let subcode { error["error_subcode"] = .integer(Int64(subcode)) }
        if let userMessage { error["error_user_msg"] = .string(userMessage) }
        return json(.object(["error": .object(error)]), status: status, close: close)
    }

    /// - Parameter close: the answer comes before the body was read; the connection is closed after
    ///   it instead of reading the rest of a body nobody will use.
    static func json(_ value: JSONValue, status: HTTPResponse.Status, retryAfter: Int? = nil, close: Bool = false) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        if close { headers[.connection] = "close" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: value.serialized)))
    }
}
