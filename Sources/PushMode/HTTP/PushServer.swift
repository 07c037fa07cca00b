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
    let registry: any StateRegistry
    let enrich: Bool
    let trustedProxies: [String]
    let metricsText: @Sendable () -> String
    let logger: Logger
    let clock: @Sendable () -> Int64

    public init(
        intake: Intake, push: PushConfiguration, registry: any StateRegistry, logger: Logger,
        metricsText: @escaping @Sendable () -> String, clock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
    ) {
        self.intake = intake
        self.sources = push.sources.map { Source(name: $0.name, verifier: WebhookVerifier(source: $0), replays: ReplayLedger(toleranceSeconds: Int64($0.tolerance.components.seconds))) }
        self.ingestTokenDigest = push.ingestToken.map { Array(SHA256.hash(data: Array($0.revealed.utf8))) }
        self.bodyLimit = push.bodyLimitBytes
        self.registry = registry
        self.enrich = push.enrichFromRequest
        self.trustedProxies = push.trustedProxies
        self.metricsText = metricsText
        self.logger = logger
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
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: self.metricsText())))
        }
        return router
    }

    // MARK: POST /v1/events and /v1/events/batch

    func mirror(_ request: Request, context: PushRequestContext, batch: Bool) async -> Response {
        let started = ContinuousClock.now
        guard let source = selectSource(request) else {
            return Self.json(.object(["error": .string("unknown_source"), "message": .string("no webhook source of that name is configured")]), status: .badRequest)
        }
        let body: ByteBuffer
        do { body = try await request.body.collect(upTo: bodyLimit) } catch { return Self.tooLarge(bodyLimit) }
        let bytes = Array(buffer: body)
        let now = clock()
        let header: (String) -> String? = { name in HTTPField.Name(name).flatMap { request.headers[$0] } }
        switch source.verifier.verify(header: header, body: bytes, now: now) {
        case .failure(let failure):
            return signatureRefused(failure, source: source.name)
        case .success(let delivery):
            if let id = delivery.messageID, !source.replays.admit(source: source.name, messageID: id, bodyDigest: SHA256Hex.digest(bytes: bytes), now: now) {
                return signatureRefused(.replayedID, source: source.name)
            }
        }
        guard let document = try? JSONValue(parsing: bytes) else {
            return Self.json(.object(["error": .string("invalid_json"), "message": .string("the body is not valid JSON")]), status: .badRequest)
        }
        var events: [JSONValue]
        if batch {
            guard case .array(let items)? = document["data"] else {
                return Self.problems([EventProblem(field: "data", code: .missing, message: "must be an array of events")])
            }
            guard items.count <= 1000 else {
                return Self.problems([EventProblem(field: "data", code: .invalidValue, message: "holds \(items.count) events; at most 1000 per request")])
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
            return Self.json(.object(["error": .string("state_unavailable"), "message": .string("the state store cannot commit; retry")]), status: .serviceUnavailable, retryAfter: 1)
        }
        record(results, events: events, source: source.name, started: started)
        if !batch { return Self.single(results[0]) }
        let items: [JSONValue] = results.enumerated().map { index, result in
            var item = Self.body(of: result).objectValue ?? [:]
            item["index"] = .integer(Int64(index))
            return .object(item)
        }
        let accepted = results.filter { if case .accepted = $0 { true } else { false } }.count
        return Self.json(.object(["results": .array(items), "accepted": .integer(Int64(accepted)), "rejected": .integer(Int64(results.count - accepted))]), status: .accepted)
    }

    func selectSource(_ request: Request) -> Source? {
        let name = request.headers[HTTPField.Name("X-CAPI-Source")!] ?? request.uri.queryParameters.get("source")
        guard let name else { return sources.first }
        return sources.first { $0.name == name }
    }

    func signatureRefused(_ failure: SignatureFailure, source: String) -> Response {
        Counter(label: "capi_signature_failures_total", dimensions: [("reason", failure.rawValue), ("source", source)]).increment()
        logger.warning("signature refused", metadata: ["source": "\(source)", "signature_status": "\(failure.rawValue)"])
        return Self.json(.object(["error": .string("signature"), "reason": .string(failure.rawValue)]), status: .unauthorized)
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

    func record(_ results: [Intake.Result], events: [JSONValue], source: String, started: ContinuousClock.Instant) {
        for (result, event) in zip(results, events) {
            let pixel = event["pixel_id"]?.stringValue ?? "unknown"
            switch result {
            case .accepted(let answer, let duplicate):
                Counter(label: duplicate ? "capi_duplicates_total" : "capi_events_received_total", dimensions: [("pixel_id", pixel), ("source", source)]).increment()
                logger.info("event accepted", metadata: [
                    "pixel_id": "\(pixel)", "event_id": "\(answer["event_id"]?.stringValue ?? "")", "source": "\(source)",
                    "signature_status": "verified", "duplicate": "\(duplicate)",
                ])
            case .conflict(let eventID):
                logger.warning("event conflicts with an earlier one", metadata: ["pixel_id": "\(pixel)", "event_id": "\(eventID)", "source": "\(source)"])
            case .rejected(let problems):
                logger.info("event rejected", metadata: ["pixel_id": "\(pixel)", "source": "\(source)", "fields": "\(problems.map(\.field).joined(separator: ","))"])
            }
        }
        let elapsed = ContinuousClock.now - started
        Timer(label: "capi_ingest_latency_seconds", dimensions: [("source", source)]).recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }

    // MARK: POST /{version}/{pixel_id}/events

    func graphCompatible(_ request: Request, context: PushRequestContext) async -> Response {
        let pixelID = context.parameters.get("pixel") ?? ""
        let body: ByteBuffer
        do { body = try await request.body.collect(upTo: bodyLimit) } catch { return Self.tooLarge(bodyLimit) }
        guard let ingestTokenDigest else {
            return Self.metaError(status: .unauthorized, code: 190, message: "The Graph-compatible route is disabled: set push.ingest_token in the manifest")
        }
        guard let parsed = GraphEventsRequest(body: Data(buffer: body), contentType: request.headers[.contentType]) else {
            return Self.metaError(status: .badRequest, code: 100, message: "(#100) The request body is neither JSON nor form-encoded")
        }
        let token = parsed.accessToken ?? request.uri.queryParameters.get("access_token") ?? ""
        // Compare digests, not strings: constant time in the token's content.
        guard !token.isEmpty, Array(SHA256.hash(data: Array(token.utf8))) == ingestTokenDigest else {
            Counter(label: "capi_signature_failures_total", dimensions: [("reason", "bad_ingest_token"), ("source", "graph_compatible")]).increment()
            return Self.metaError(status: .unauthorized, code: 190, subcode: 463, message: "Invalid OAuth access token - Cannot parse access token")
        }
        guard let events = parsed.events, !events.isEmpty, events.count <= 1000 else {
            return Self.metaError(status: .badRequest, code: 100, message: "(#100) param data must be an array of 1 to 1000 events")
        }
        let results: [Intake.Result]
        do {
            results = try await intake.accept(events, pixelFromPath: pixelID, source: "graph_compatible", allOrNothing: true)
        } catch {
            return Self.metaError(status: .serviceUnavailable, code: 2, message: "The state store cannot commit; retry", transient: true)
        }
        for (index, result) in results.enumerated() {
            if case .rejected(let problems) = result, let first = problems.first {
                return Self.metaError(status: .badRequest, code: 100, subcode: 2804001, message: "Invalid parameter", userMessage: "data[\(index)].\(first.field): \(first.message)")
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
        return Self.json(.object(["events_received": .integer(Int64(received)), "messages": .array(messages), "fbtrace_id": .string("capi-" + UUID().uuidString.prefix(12).lowercased())]), status: .ok)
    }

    // MARK: Readiness

    func readiness() async -> Response {
        do {
            let age = try await registry.oldestDueOutboxAge(now: clock() * 1000)
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
            .object(["status": .string("conflict"), "event_id": .string(id), "message": .string("an event with this pixel_id, event_id and event_time was accepted with different content")])
        case .rejected(let problems):
            .object(["status": .string("rejected"), "error": .string("invalid_event"), "problems": .array(problems.map { .object(["field": .string($0.field), "code": .string($0.code.rawValue), "message": .string($0.message)]) })])
        }
    }

    static func problems(_ problems: [EventProblem]) -> Response {
        json(body(of: .rejected(problems)), status: .badRequest)
    }

    static func tooLarge(_ limit: Int) -> Response {
        json(.object(["error": .string("body_too_large"), "limit_bytes": .integer(Int64(limit))]), status: .contentTooLarge)
    }

    static func metaError(status: HTTPResponse.Status, code: Int, subcode: Int? = nil, message: String, userMessage: String? = nil, transient: Bool = false) -> Response {
        var error: [String: JSONValue] = ["message": .string(message), "type": .string("OAuthException"), "code": .integer(Int64(code)), "is_transient": .bool(transient), "fbtrace_id": .string("capi-" + UUID().uuidString.prefix(12).lowercased())]
        if let subcode { error["error_subcode"] = .integer(Int64(subcode)) }
        if let userMessage { error["error_user_msg"] = .string(userMessage) }
        return json(.object(["error": .object(error)]), status: status)
    }

    static func json(_ value: JSONValue, status: HTTPResponse.Status, retryAfter: Int? = nil) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: value.serialized)))
    }
}
