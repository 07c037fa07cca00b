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

/// `POST /{version}/{pixel_id}/events`: Meta's own request shape, for apps on Meta's SDKs.
extension PushServer {
    // MARK: POST /{version}/{pixel_id}/events

    func graphCompatible(_ request: Request, context: some PushContext) async -> Response {
        if let refused = rateLimited(request, context: context) { return refused }
        if let refused = ipRefused(request, context: context, allowed: ingestAllowedIPs) { return refused }
        let pixelID = context.parameters.get("pixel") ?? ""
        let version = context.parameters.get("version") ?? ""
        guard !ingestTokenDigests.isEmpty else {
            return Self.metaError(
                status: .unauthorized,
                code: 190,
                message: "The Graph-compatible route is disabled: set push.ingest_token in the manifest",
                close: true
            )
        }
        // A token in the header or query string is checked before the body is read.
        let earlyToken =
            request.headers[.authorization].flatMap(GraphEventsRequest.accessToken(authorization:))
            ?? URLEncodedForm.pairs(request.uri.query ?? "").last { $0.name == "access_token" }?.value
        if let earlyToken, !tokenMatches(earlyToken) {
            return ingestTokenRefused(close: true)
        }
        if let refused = encodingRefused(request, metaShape: true) { return refused }
        return await withBody(request, context: context) { body in
            await graphCompatible(body, earlyToken: earlyToken, version: version, pixelID: pixelID, request: request)
        }
    }

    /// The rest of ``graphCompatible(_:context:)`` once the body is in memory.
    func graphCompatible(
        _ body: ByteBuffer,
        earlyToken: String?,
        version: String,
        pixelID: String,
        request: Request
    ) async -> Response {
        var parsed: GraphEventsRequest
        do { parsed = try GraphEventsRequest(body: Data(buffer: body), contentType: request.headers[.contentType]) } catch {
            // Why the body cannot be read is told only to a caller whose token was checked.
            if earlyToken == nil { return ingestTokenRefused() }
            return Self.metaError(status: .badRequest, code: 100, message: "(#100) \(error.reason)")
        }
        let token = earlyToken ?? parsed.accessToken ?? ""
        guard tokenMatches(token) else { return ingestTokenRefused() }
        do { try parsed.addQueryParameters(request.uri.query) } catch {
            return Self.metaError(status: .badRequest, code: 100, message: "(#100) \(error.reason)")
        }
        // As Graph answers a version it does not know (`26.0`, `v26`): an SDK configured so would
        // fail the day it is pointed at Meta again. Told only to a caller holding the token.
        guard GraphVersion.isValid(version) else {
            return Self.metaError(
                status: .badRequest,
                code: 2500,
                message: "Unknown path components: the version segment must be v<major>.<minor>, such as v26.0"
            )
        }
        // As Graph answers a post to an object that does not exist, before looking at the events;
        // told only to a caller holding the token. The path is outside input: never echoed.
        guard pixels.contains(pixelID) else {
            metrics.rejected(pixel: "unconfigured", source: IngestMetrics.graphCompatibleSource).increment(
                by: Int64(parsed.events?.count ?? 0)
            )
            return Self.metaError(
                status: .badRequest,
                code: 100,
                subcode: 33,
                message: "Unsupported post request. The pixel id in the path is not a pixel configured in this sidecar's manifest"
            )
        }
        let given = parsed.events
        if let slip = parsed.dataProblem(events: given, limit: MetaLimits.eventsPerRequest) {
            return Self.metaError(
                status: .badRequest,
                code: 100,
                message: "(#100) param data must be an array of 1 to \(MetaLimits.eventsPerRequest) events",
                userMessage: slip
            )
        }
        // Without a slip, `data` holds 1 to 1,000 events.
        let events = given ?? []
        // A request's own test code goes to Meta with its events (they show under Test Events, not
        // as live ones), as it would sent to Meta directly; without one, the pixel's from the
        // manifest applies, if any.
        if let refused = Self.misspeltParameter(in: parsed.fields) { return refused }
        var testEventCode: String?
        if let given = parsed.fields["test_event_code"], given != .null, given != .string("") {
            guard case .string(let code) = given, TestEventCode.isValid(code) else {
                return Self.metaError(status: .badRequest, code: 100, message: "(#100) param test_event_code \(TestEventCode.expected)")
            }
            testEventCode = code
        }
        let (identified, assigned) = Self.assigningEventIDs(events)
        let started = ContinuousClock.now
        let results: [Intake.Result]
        do {
            results = try await intake.accept(
                identified,
                pixelFromPath: pixelID,
                source: "graph_compatible",
                allOrNothing: true,
                testEventCode: testEventCode
            )
        } catch {
            return Self.metaError(status: .serviceUnavailable, code: 2, message: "The state store cannot commit; retry", transient: true)
        }
        record(results, events: identified, source: IngestMetrics.graphCompatibleSource, started: started, pixelFromPath: pixelID)
        for (index, result) in results.enumerated() {
            if case .rejected(let problems, _) = result, let first = problems.first {
                // An event too old for Meta is answered with Meta's own subcode, which an app may
                // act on (drop it rather than retry); any other problem with the family's general one.
                let reported = problems.first { $0.code == .tooOld } ?? first
                return Self.metaError(
                    status: .badRequest,
                    code: 100,
                    subcode: reported.code == .tooOld ? MetaLimits.eventTooOldSubcode : 2_804_001,
                    message: "Invalid parameter",
                    userMessage: "data[\(index)].\(reported.field): \(reported.message)"
                )
            }
        }
        var messages: [JSONValue] = []
        var received = 0
        var warnings: [String] = []
        for (index, result) in results.enumerated() {
            switch result {
            case .accepted(let answer, _):
                received += 1
                // What was dropped from the event and why (by key, never a value), as the mirror
                // routes' answers say it: an app on Meta's SDK reads `messages`.
                for warning in answer["warnings"]?.arrayValue ?? [] {
                    if let text = warning.stringValue { warnings.append("data[\(index)]: \(text)") }
                }
            case .conflict(let id): messages.append(.string("event \(id) conflicts with an earlier event of the same id and time; not sent again"))
            case .rejected: break
            }
        }
        messages += warnings.prefix(Self.warningMessages).map(JSONValue.string)
        if warnings.count > Self.warningMessages {
            messages.append(.string("and \(warnings.count - Self.warningMessages) more such remarks on this request's events"))
        }
        if assigned > 0 {
            messages.append(
                .string(
                    "\(assigned) event(s) without an event_id: the sidecar gave each one its own (capi-…), so Meta drops the "
                        + "sidecar's re-sends; set event_id to de-duplicate with the browser Pixel"
                )
            )
        }
        // Request parameters that apply to a whole request to Meta cannot follow events that the
        // outbox batches with others: said, rather than dropped without a word.
        let unsent = Self.unforwardedParameters.filter { name in
            guard let value = parsed.fields[name] else { return false }
            return value != .null && value != .string("")
        }
        if !unsent.isEmpty {
            // The reason names the manifest's partner agent only when the request sent one.
            let instead = unsent.contains("partner_agent") ? "; Meta gets the manifest's graph_api.partner_agent" : ""
            messages.append(
                .string(
                    "\(unsent.joined(separator: ", ")): not forwarded: the sidecar sends this request's events to Meta in batches with "
                        + "other requests' events\(instead)"
                )
            )
        }
        return Self.json(
            .object([
                "events_received": .integer(Int64(received)), "messages": .array(messages),
                "fbtrace_id": .string("capi-" + UUID().uuidString.prefix(12).lowercased()),
            ]),
            status: .ok
        )
    }

    /// `events` with an id given to each event object that has none, and how many got one.
    ///
    /// Meta takes events without an `event_id` (its own examples send none), and an app on Meta's
    /// SDK must not have to change to use this route; the outbox and its de-duplication key need
    /// one. The id is new for every event, as random as the event itself: a request the app
    /// retries is then sent twice, as it would be sent to Meta directly (nothing tells a retry
    /// from a second, identical purchase), and the sidecar's own re-sends carry the id, so Meta
    /// drops them. An `event_id` given as `""` or another wrong value is still refused.
    static func assigningEventIDs(_ events: [JSONValue]) -> (events: [JSONValue], assigned: Int) {
        var assigned = 0
        let identified = events.map { event -> JSONValue in
            guard case .object(var object) = event, object["event_id"] == nil || object["event_id"] == .null else { return event }
            object["event_id"] = .string("capi-" + UUID().uuidString.lowercased())
            assigned += 1
            return .object(object)
        }
        return (identified, assigned)
    }

    /// Whether `token` is one of the ingest tokens. Every one is compared, as digests in constant
    /// time, so the answer's timing says neither which token came close nor how close.
    func tokenMatches(_ token: String) -> Bool {
        guard !token.isEmpty else { return false }
        let digest = Array(SHA256.hash(data: Array(token.utf8)))
        return ingestTokenDigests.reduce(false) { matched, known in WebhookVerifier.constantTimeEqual(digest, known) || matched }
    }

    func ingestTokenRefused(close: Bool = false) -> Response {
        Counter(label: "capi_signature_failures_total", dimensions: [("reason", "bad_ingest_token"), ("source", "graph_compatible")]).increment()
        refusals.record("bad_ingest_token")
        // Graph's answer to a token it cannot parse has no subcode: 463 would say "expired", and a
        // client may act on that by refreshing a token that was never valid here.
        return Self.metaError(
            status: .unauthorized,
            code: 190,
            message: "Invalid OAuth access token - Cannot parse access token",
            close: close
        )
    }

    /// Remarks on accepted events listed in `messages`, at most: a request of 1,000 events with
    /// the same remark each gets a readable answer.
    static let warningMessages = 20

    /// Meta's request-level parameters besides `data`, `access_token`, `appsecret_proof` and
    /// `test_event_code`.
    static let unforwardedParameters = ["partner_agent", "namespace_id", "upload_id", "upload_tag", "upload_source"]

    /// Every request-level parameter of the events endpoint.
    static let requestParameters = ["data", "access_token", "appsecret_proof", "appsecret_time", "test_event_code"] + unforwardedParameters

    /// 400 for a parameter that is not one of the endpoint's but is spelt nearly as one is.
    ///
    /// Graph ignores parameters it does not know, so `test_event_cod=TEST123` sends the events as
    /// live ones, and the store has taken them before anyone reads an answer. A near miss is
    /// refused before anything is stored, naming the parameter meant; other unknown names (Graph's
    /// own `pretty`, `locale`, `method`…) are ignored as Graph ignores them.
    static func misspeltParameter(in fields: JSONObject) -> Response? {
        for name in fields.keys where !requestParameters.contains(name) {
            guard let meant = Spelling.closest(to: name, among: requestParameters) else { continue }
            return metaError(
                status: .badRequest,
                code: 100,
                message: "(#100) param \(PersonalData.shown(name: name)) is not a parameter of this endpoint; did you mean \(meant)?"
            )
        }
        return nil
    }
}
