import CAPICore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOFoundationCompat
import NIOPosix

extension GraphSandbox {
    // MARK: Faults

    /// Runs `body` unless a request-level fault is rolled for this call.
    func faulted(_ request: Request, _ context: SandboxRequestContext, _ body: () async throws -> Response) async throws -> Response {
        // As Graph answers a version it does not know (`26.0`, `v26`).
        guard GraphVersion.isValid(context.parameters.get("version") ?? "") else {
            return await metaError(
                status: .badRequest,
                code: 2500,
                subcode: nil,
                type: "OAuthException",
                message: "Unknown path components: the version segment must be v<major>.<minor>, such as v26.0"
            )
        }
        let kinds = configuration.faults.requestKinds
        guard !kinds.isEmpty, configuration.faults.rate > 0, await store.roll() < configuration.faults.rate else {
            return try await body()
        }
        switch await store.pick(kinds) {
        case .serverError:
            let status: HTTPResponse.Status = await store.roll() < 0.5 ? .internalServerError : .serviceUnavailable
            return await metaError(
                status: status,
                code: 2,
                subcode: nil,
                type: "OAuthException",
                message: "An unexpected error has occurred. Please retry your request later.",
                isTransient: true
            )
        case .throttle:
            let code = await store.pick([4, 17, 613])
            var response = await metaError(
                status: .badRequest,
                code: code,
                subcode: nil,
                type: "OAuthException",
                message: "(#\(code)) Application request limit reached",
                isTransient: true
            )
            response.headers[HTTPField.Name("X-Business-Use-Case-Usage")!] =
                #"{"sandbox":[{"type":"ads_management","call_count":100,"total_cputime":35,"total_time":40,"estimated_time_to_regain_access":0}]}"#
            response.headers[HTTPField.Name("X-App-Usage")!] = #"{"call_count":"100","total_time":"40","total_cputime":"35"}"#
            return response
        case .timeout:
            try await Task.sleep(for: configuration.timeoutDelay)
            return await metaError(
                status: .serviceUnavailable,
                code: 2,
                subcode: nil,
                type: "OAuthException",
                message: "Request timed out.",
                isTransient: true
            )
        case .slow:
            try await Task.sleep(for: configuration.timeoutDelay)
            return try await body()
        case .reset:
            // Drop the connection without an answer, as a proxy or a crashed front end would.
            try? await context.channel.close().get()
            throw HTTPError(.internalServerError)
        case .invalid, .reshape, .warning, .shortCount:
            return try await body()
        case .reduceData:
            guard request.uri.path.hasSuffix("/insights") else { return try await body() }
            return await metaError(
                status: .badRequest,
                code: 1,
                subcode: nil,
                type: "OAuthException",
                message: "Please reduce the amount of data you're asking for, then retry your request"
            )
        case .garbage:
            return Response(
                status: .ok,
                headers: [.contentType: "text/html"],
                body: .init(byteBuffer: ByteBuffer(string: "<html><body>502 Bad Gateway</body></html>"))
            )
        case .pagingLoop:
            let host = request.head.authority ?? "\(configuration.host):\(configuration.port)"
            return await json(.object(["data": .array([]), "paging": .object(["next": .string("http://\(host)\(request.uri.description)")])]))
        }
    }

    // MARK: POST /{version}/{pixel}/events

    func receiveEvents(_ request: Request, context: SandboxRequestContext) async throws -> Response {
        let pixelID = context.parameters.get("node") ?? ""
        let body = try await request.body.collect(upTo: 64 * 1024 * 1024)
        var parsed: GraphEventsRequest
        do {
            // Graph reads a request's parameters from its query string as from its body.
            parsed = try GraphEventsRequest(body: Data(buffer: body), contentType: request.headers[.contentType])
            try parsed.addQueryParameters(request.uri.query)
        } catch {
            return await metaError(status: .badRequest, code: 100, subcode: nil, type: "OAuthException", message: "(#100) \(error.reason)")
        }
        // The token as Graph takes it: in an `Authorization` header, the body or the query string.
        let bearer = bearerToken(request)
        if let refused = await refusal(ofToken: bearer ?? parsed.accessToken) { return refused }
        guard let events = parsed.events else {
            return await metaError(
                status: .badRequest,
                code: 100,
                subcode: 2_804_001,
                type: "OAuthException",
                message: "(#100) param data must be an array of events"
            )
        }
        guard !events.isEmpty, events.count <= MetaLimits.eventsPerRequest else {
            return await metaError(
                status: .badRequest,
                code: 100,
                subcode: 2_804_001,
                type: "OAuthException",
                message: "(#100) data must hold 1 to 1000 events, found \(events.count)"
            )
        }
        let now = configuration.clock.seconds().rawValue
        for (index, event) in events.enumerated() {
            if let violation = SandboxEventRules.check(event, index: index, now: now) {
                return await metaError(
                    status: .badRequest,
                    code: 100,
                    subcode: violation.subcode,
                    type: "OAuthException",
                    message: "Invalid parameter",
                    userTitle: violation.title,
                    userMessage: violation.message
                )
            }
            if let eventID = event["event_id"]?.stringValue, configuration.faults.marksInvalid(eventID: eventID, seed: configuration.seed) {
                return await metaError(
                    status: .badRequest,
                    code: 100,
                    subcode: 2_804_050,
                    type: "OAuthException",
                    message: "Invalid parameter",
                    userTitle: "Sandbox Rejected Event",
                    userMessage: "data[\(index)]: the sandbox's fault plan marks this event invalid"
                )
            }
        }
        await store.record(pixelID: pixelID, events: events, testEventCode: parsed.testEventCode.flatMap { $0.isEmpty ? nil : $0 })
        var received = events.count
        var messages: [JSONValue] = []
        let faults = configuration.faults
        if faults.kinds.contains(.warning), await store.roll() < faults.rate {
            messages.append(.string("Sandbox warning: the fault plan adds this message to an accepted batch"))
        }
        if faults.kinds.contains(.shortCount), await store.roll() < faults.rate { received -= 1 }
        return await json(
            .object(["events_received": .integer(Int64(received)), "messages": .array(messages), "fbtrace_id": .string(await store.traceID())])
        )
    }

    /// The query string read as Graph reads it, as a form (`+` a space, names decoded too); a
    /// repeated name keeps its last value.
    func query(_ request: Request) -> [String: String] {
        Dictionary(URLEncodedForm.pairs(request.uri.query ?? "").map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
    }

    /// Reads carry the token in `Authorization: Bearer` or `access_token`, as Meta accepts; a POST
    /// may carry `access_token` in its form (`parameters`), as the query string's would be.
    func authorizedRead(_ request: Request, parameters: [String: String]? = nil) async -> Response? {
        let bearer = bearerToken(request)
        let given = (parameters ?? query(request))["access_token"]
        // Which of two different tokens Graph would take is not documented: the stand-in takes
        // neither, so a client that sends a stale one beside the current one is caught.
        if let bearer, let given, bearer != given {
            return await metaError(
                status: .badRequest,
                code: 100,
                subcode: nil,
                type: "OAuthException",
                message: "(#100) the request carries two different access tokens"
            )
        }
        return await refusal(ofToken: bearer ?? given)
    }

    /// Graph's 190 for a token it does not take; `nil` for one it does. With app credentials
    /// configured, an app token (`{app id}|…`) must be one the exchange issued, with requests
    /// left; other tokens are checked against ``Configuration/accessTokens``.
    func refusal(ofToken token: String?) async -> Response? {
        let given = token ?? ""
        if configuration.appCredentials != nil, given.contains("|") {
            guard await store.spendAppTokenRequest(given) else {
                return await metaError(
                    status: .unauthorized,
                    code: 190,
                    subcode: 463,
                    type: "OAuthException",
                    message: "Error validating access token: Session has expired"
                )
            }
            return nil
        }
        guard !given.isEmpty, configuration.accessTokens.isEmpty || configuration.accessTokens.contains(given) else {
            // No subcode, as Graph answers a token it cannot parse; 463 is an expired session.
            return await metaError(
                status: .unauthorized,
                code: 190,
                subcode: nil,
                type: "OAuthException",
                message: "Invalid OAuth access token - Cannot parse access token"
            )
        }
        return nil
    }

    // MARK: GET /_sandbox/events

    func listReceived(_ request: Request) async throws -> Response {
        guard let pixelID = query(request)["pixel_id"] else {
            return await metaError(status: .badRequest, code: 100, subcode: nil, type: "GraphMethodException", message: "pixel_id is required")
        }
        let rows = await store.received(pixelID: pixelID).map { received -> JSONValue in
            .object([
                "event_id": .string(received.eventID), "event_name": .string(received.eventName), "received": .integer(Int64(received.count)),
                "event": received.event, "test_event_code": received.testEventCode.map(JSONValue.string) ?? .null,
            ])
        }
        return await json(.object(["data": .array(rows)]))
    }

    // MARK: GET /{version}/{pixel}/stats

    func stats(_ request: Request, context: SandboxRequestContext) async throws -> Response {
        if let refused = await authorizedRead(request) { return refused }
        let pixelID = context.parameters.get("node") ?? ""
        let query = query(request)
        guard query["aggregation"] == "event" else {
            return await metaError(
                status: .badRequest,
                code: 100,
                subcode: nil,
                type: "OAuthException",
                message: "(#100) the sandbox supports aggregation=event"
            )
        }
        let now = configuration.clock.seconds().rawValue
        let start = query["start_time"].flatMap(UTCTimestamp.parse) ?? (now - 86_400)
        let end = query["end_time"].flatMap(UTCTimestamp.parse) ?? now
        guard start >= now - MetaLimits.statsHorizonSeconds - 3_600 else {
            return await metaError(
                status: .badRequest,
                code: 100,
                subcode: nil,
                type: "OAuthException",
                message: "(#100) start_time must be within the last 7 days"
            )
        }
        var buckets: [Int64: [String: Int]] = [:]
        for received in await store.received(pixelID: pixelID) where received.eventTime >= start && received.eventTime < end {
            buckets[received.eventTime - received.eventTime % 3_600, default: [:]][received.eventName, default: 0] += 1
        }
        let ordered = buckets.keys.sorted()
        let offset = query["after"].flatMap { Int(String(decoding: Data(base64Encoded: $0) ?? Data(), as: UTF8.self)) } ?? 0
        let limit = query["limit"].flatMap(Int.init) ?? configuration.statsPageSize
        let page = ordered.dropFirst(offset).prefix(max(1, limit))
        let rows: [JSONValue] = page.map { bucket in
            .object([
                "aggregation": .string("event"),
                "start_time": .string(Self.metaTimestamp(bucket)),
                "data": .array(
                    buckets[bucket]!.sorted { $0.key < $1.key }.map { .object(["value": .string($0.key), "count": .integer(Int64($0.value))]) }
                ),
            ])
        }
        var paging: JSONObject = [
            "cursors": .object([
                "before": .string(Data(String(offset).utf8).base64EncodedString()),
                "after": .string(Data(String(offset + page.count).utf8).base64EncodedString()),
            ])
        ]
        if offset + page.count < ordered.count {
            let kept = URLEncodedForm.pairs(request.uri.query ?? "").filter { $0.name != "after" && $0.name != "access_token" }
            let after = (name: "after", value: Data(String(offset + page.count).utf8).base64EncodedString())
            paging["next"] = .string(pagingLinkOrigin(request) + request.uri.path + "?" + URLEncodedForm.encoded(kept + linkToken(request) + [after]))
        }
        return await readAnswer(.object(["data": .array(rows), "paging": .object(paging)]))
    }

    /// The token of an `Authorization: Bearer` (or `OAuth`) header, as Graph takes it.
    func bearerToken(_ request: Request) -> String? {
        request.headers[.authorization].flatMap(GraphEventsRequest.accessToken(authorization:))
    }

    /// The token Graph writes into a `paging.next` link: the one the page was read with, from
    /// the header or the query.
    func linkToken(_ request: Request, parameters: [String: String]? = nil) -> [(name: String, value: String)] {
        let bearer = bearerToken(request)
        return (bearer ?? (parameters ?? query(request))["access_token"]).map { [(name: "access_token", value: $0)] } ?? []
    }

    /// Where `paging.next` links point: the configured origin, else the host the request named.
    func pagingLinkOrigin(_ request: Request) -> String {
        configuration.pagingLinkOrigin ?? "http://" + (request.head.authority ?? "\(configuration.host):\(configuration.port)")
    }

    /// A read answer, reshaped when the fault plan says so (`reshape`).
    func readAnswer(_ value: JSONValue) async -> Response {
        let faults = configuration.faults
        var reshape = false
        if faults.kinds.contains(.reshape), faults.rate > 0 { reshape = await store.roll() < faults.rate }
        var response = await json(reshape ? Self.reshaped(value) : value)
        if let percent = configuration.readUsagePercent {
            response.headers[HTTPField.Name("X-App-Usage")!] = #"{"call_count":\#(percent),"total_time":1,"total_cputime":1}"#
        }
        return response
    }

    static func reshaped(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(var fields):
            if let name = fields.removeValue(forKey: "value"), fields["count"] != nil { fields["event_name"] = name }
            if case .number(let score)? = fields["composite_score"] { fields["composite_score"] = .string(String(score)) }
            return .object(fields.mapValues(reshaped))
        case .array(let items):
            return .array(items.map(reshaped))
        default:
            return value
        }
    }

    /// Meta's stats timestamps: `2026-11-20T10:00:00+0000`.
    static func metaTimestamp(_ seconds: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ssZ"
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }

    // MARK: GET /{version}/dataset_quality

    func datasetQuality(_ request: Request) async throws -> Response {
        if let refused = await authorizedRead(request) { return refused }
        guard let pixelID = query(request)["dataset_id"] else {
            return await metaError(status: .badRequest, code: 100, subcode: nil, type: "OAuthException", message: "(#100) dataset_id is required")
        }
        let received = await store.received(pixelID: pixelID)
        let byName = Dictionary(grouping: received, by: \.eventName)
        let weights: [String: Double] = [
            "em": 3, "ph": 2.5, "external_id": 1.5, "fbp": 1, "fbc": 1.5, "client_ip_address": 0.75, "client_user_agent": 0.75, "fn": 0.5, "ln": 0.5,
            "ct": 0.25, "st": 0.25, "zp": 0.5, "country": 0.25, "db": 0.5, "ge": 0.25,
        ]
        let rows: [JSONValue] = byName.keys.sorted().map { name in
            let events = byName[name]!
            var coverage: [(String, Double)] = []
            for key in weights.keys.sorted() {
                let present = events.filter { $0.event["user_data"]?[key] != nil }.count
                if present > 0 { coverage.append((key, Double(present) * 100 / Double(events.count))) }
            }
            let score = min(10, coverage.reduce(0) { $0 + weights[$1.0]! * $1.1 / 100 })
            let withID = events.filter { !$0.eventID.isEmpty }.count
            let newest = events.map(\.eventTime).max() ?? 0
            return .object([
                "event_name": .string(name),
                "event_match_quality": .object([
                    "composite_score": .number((score * 10).rounded() / 10),
                    "match_key_feedback": .array(
                        coverage.map { .object(["identifier": .string($0.0), "coverage": .object(["percentage": .number($0.1)])]) }
                    ),
                ]),
                "event_coverage": .object(["percentage": .number(100)]),
                "dedupe_key_feedback": .array([
                    .object([
                        "dedupe_key": .string("event_id"),
                        "server_events_with_dedupe_key": .object(["percentage": .number(Double(withID) * 100 / Double(events.count))]),
                    ])
                ]),
                "data_freshness": .object(["last_event_time": .integer(newest), "upload_frequency": .string("real_time")]),
            ])
        }
        return await readAnswer(.object(["web": .array(rows)]))
    }

    // MARK: GET /{version}/oauth/access_token

    func accessToken(_ request: Request) async throws -> Response {
        let query = query(request)
        guard query["grant_type"] == "client_credentials", let id = query["client_id"], let secret = query["client_secret"] else {
            return Self.errorResponse(
                status: .badRequest,
                code: 100,
                subcode: nil,
                type: "OAuthException",
                message: "Missing client_id, client_secret or grant_type=client_credentials",
                isTransient: false,
                userTitle: nil,
                userMessage: nil,
                trace: "sandbox"
            )
        }
        if let expected = configuration.appCredentials, expected.id != id || expected.secret != secret {
            // Meta answers a wrong app secret with code 1 (elsewhere "unknown error, retry").
            return Self.errorResponse(
                status: .badRequest,
                code: 1,
                subcode: nil,
                type: "OAuthException",
                message: "Error validating client secret.",
                isTransient: false,
                userTitle: nil,
                userMessage: nil,
                trace: "sandbox"
            )
        }
        let token = await store.issueAppToken(appID: id, requests: configuration.appTokenRequests, checked: configuration.appCredentials != nil)
        return Self.jsonResponse(.object(["access_token": .string(token), "token_type": .string("bearer")]), status: .ok)
    }

    // MARK: Answers

    func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) async -> Response {
        Self.jsonResponse(value, status: status)
    }

    static func jsonResponse(_ value: JSONValue, status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: value.serialized)))
    }

    func metaError(
        status: HTTPResponse.Status,
        code: Int,
        subcode: Int?,
        type: String,
        message: String,
        isTransient: Bool = false,
        userTitle: String? = nil,
        userMessage: String? = nil
    ) async -> Response {
        Self.errorResponse(
            status: status,
            code: code,
            subcode: subcode,
            type: type,
            message: message,
            isTransient: isTransient,
            userTitle: userTitle,
            userMessage: userMessage,
            trace: await store.traceID()
        )
    }

    static func errorResponse(
        status: HTTPResponse.Status,
        code: Int,
        subcode: Int?,
        type: String,
        message: String,
        isTransient: Bool,
        userTitle: String?,
        userMessage: String?,
        trace: String
    ) -> Response {
        var error: JSONObject = [
            "message": .string(message), "type": .string(type), "code": .integer(Int64(code)),
            "is_transient": .bool(isTransient), "fbtrace_id": .string(trace),
        ]
        if let subcode { error["error_subcode"] = .integer(Int64(subcode)) }
        if let userTitle { error["error_user_title"] = .string(userTitle) }
        if let userMessage { error["error_user_msg"] = .string(userMessage) }
        return jsonResponse(.object(["error": .object(error)]), status: status)
    }
}
