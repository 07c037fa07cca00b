import AsyncHTTPClient
import CAPICore
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOPosix

/// The Graph API over AsyncHTTPClient: sending event batches, reading with paging, and the OAuth2
/// client-credentials exchange.
///
/// Every outcome is either a decoded success or a classified ``GraphError``, never an untyped
/// failure, so callers decide retries from ``RetryPolicy`` alone. Tokens travel in the request body
/// (POST) or the `Authorization` header (GET), never in a URL that proxies might log.
public struct GraphClient: Sendable {
    public struct Configuration: Sendable {
        /// `https://graph.facebook.com`, or the sandbox.
        public var baseURL: String
        public var version: String
        /// How long a call sending events may take: Meta's recommended 1.5 s by default.
        public var timeout: Duration
        /// How long a read may take (``get(_:query:accessToken:)``, ``post(_:form:accessToken:)``,
        /// the token exchange): a query Meta computes when asked, so longer.
        public var readTimeout: Duration
        /// When set, every call carries `appsecret_proof`.
        public var appSecret: Secret?
        public var partnerAgent: String?
        /// Where calls leave through, when the network only lets a fixed egress reach Meta.
        public var proxy: EgressProxy?

        public init(
            baseURL: String,
            version: String,
            timeout: Duration = MetaLimits.recommendedTimeout,
            readTimeout: Duration = MetaLimits.defaultReadTimeout,
            appSecret: Secret? = nil,
            partnerAgent: String? = nil,
            proxy: EgressProxy? = nil
        ) {
            self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
            self.version = version
            self.timeout = timeout
            self.readTimeout = readTimeout
            self.appSecret = appSecret
            self.partnerAgent = partnerAgent
            self.proxy = proxy
        }
    }

    public let configuration: Configuration
    let http: HTTPClient
    let logger: Logger

    /// - Parameter httpClient: by default the process's client for the configured proxy, or for
    ///   none (``OutboundHTTP``): redirects are not followed.
    public init(configuration: Configuration, httpClient: HTTPClient? = nil, logger: Logger = Logger(label: "capi.graph")) {
        self.configuration = configuration
        self.http = httpClient ?? OutboundHTTP.client(proxy: configuration.proxy)
        self.logger = logger
    }

    // MARK: Sending

    /// `POST /{version}/{pixel_id}/events` with already-encoded event objects (spliced, not re-encoded).
    public func sendEvents(
        pixelID: String,
        accessToken: Secret,
        encodedEvents: [ByteBuffer],
        testEventCode: String? = nil
    ) async throws(GraphError) -> SendEventsReceipt {
        var body = ByteBuffer()
        body.reserveCapacity(encodedEvents.reduce(64) { $0 + $1.readableBytes + 1 })
        body.writeString(#"{"data":["#)
        for (index, event) in encodedEvents.enumerated() {
            if index > 0 { body.writeInteger(UInt8(ascii: ",")) }
            body.writeImmutableBuffer(event)
        }
        body.writeString("],")
        var fields: [(String, String)] = [("access_token", accessToken.revealed)]
        if let appSecret = configuration.appSecret {
            fields.append(("appsecret_proof", AppSecretProof.make(accessToken: accessToken.revealed, appSecret: appSecret.revealed)))
        }
        if let testEventCode { fields.append(("test_event_code", testEventCode)) }
        if let partnerAgent = configuration.partnerAgent { fields.append(("partner_agent", partnerAgent)) }
        body.writeString(fields.map { "\(Self.jsonString($0.0)):\(Self.jsonString($0.1))" }.joined(separator: ","))
        body.writeString("}")

        var request = HTTPClientRequest(url: "\(configuration.baseURL)/\(configuration.version)/\(pixelID)/events")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(body)
        let response = try await perform(request, timeout: configuration.timeout)
        guard case .object(let object) = response.body, case .integer(let received)? = object["events_received"] else {
            throw GraphError.transport(.malformedResponse, "the events answer has no events_received")
        }
        // Strings as Meta documents them; anything else as its JSON text, so no message is lost.
        let messages = object["messages"]?.arrayValue?.map { $0.stringValue ?? $0.serialized } ?? []
        return SendEventsReceipt(
            eventsReceived: Int(received),
            messages: messages,
            fbtraceID: object["fbtrace_id"]?.stringValue,
            usage: response.usage
        )
    }

    // MARK: Reading

    /// `GET /{version}/{path}` with query parameters, authenticated with the token.
    public func get(_ path: String, query: [(String, String)], accessToken: Secret?) async throws(GraphError) -> GraphResponse {
        let queryText = query.isEmpty ? "" : "?" + URLEncodedForm.encoded(query)
        return try await get(url: "\(configuration.baseURL)/\(configuration.version)/\(path)\(queryText)", accessToken: accessToken)
    }

    /// `GET` a `paging.next` link, on the configured base URL (``rebased(_:onto:)``), with the
    /// credentials of this call only (``withoutCredentials(_:)``).
    public func get(next link: String, accessToken: Secret?) async throws(GraphError) -> GraphResponse {
        guard let url = Self.rebased(link, onto: configuration.baseURL) else {
            throw GraphError.transport(.malformedResponse, "the answer's paging.next is not a URL")
        }
        return try await get(url: Self.withoutCredentials(url), accessToken: accessToken)
    }

    /// A link without the `access_token` and `appsecret_proof` Graph writes into `paging.next`.
    ///
    /// Followed as written, the next page carried the token twice (the link's and the header's)
    /// and the proof twice (the link's and ours): after a token refresh, the link's were the
    /// refused token and a proof of it, beside the new ones, and the token sat in a URL, which
    /// proxies log. A link without them is returned as it is.
    public static func withoutCredentials(_ url: String) -> String {
        guard let mark = url.firstIndex(of: "?") else { return url }
        let query = url[url.index(after: mark)...]
        let credentials: Set<String> = ["access_token", "appsecret_proof"]
        let pairs = URLEncodedForm.pairs(query)
        guard pairs.contains(where: { credentials.contains($0.name) }) else { return url }
        let kept = pairs.filter { !credentials.contains($0.name) }
        return String(url[..<mark]) + (kept.isEmpty ? "" : "?" + URLEncodedForm.encoded(kept))
    }

    /// A `paging.next` link moved onto `baseURL`: its path and query, behind the base URL's
    /// scheme, host, port and path.
    ///
    /// Meta writes its own host into these links, also when it was reached through a relay or a
    /// regional base URL. Followed as written, the second page bypassed the relay (failing where
    /// only the relay is reachable) and took the token to a host the manifest never named. A link
    /// on the base URL's own origin is kept as it is (a relay that rewrites links); `nil` when the
    /// link is no URL.
    public static func rebased(_ link: String, onto baseURL: String) -> String? {
        guard let next = URLComponents(string: link), let base = URLComponents(string: baseURL) else { return nil }
        if let host = next.host {
            let sameOrigin =
                next.scheme?.lowercased() == base.scheme?.lowercased() && host.lowercased() == base.host?.lowercased()
                && next.port == base.port
            if sameOrigin { return link }
        }
        let path = next.percentEncodedPath
        guard path.hasPrefix("/") else { return nil }
        return baseURL + path + (next.percentEncodedQuery.map { "?" + $0 } ?? "")
    }

    /// `GET` an absolute URL.
    public func get(url: String, accessToken: Secret?) async throws(GraphError) -> GraphResponse {
        var target = url
        if let accessToken, let appSecret = configuration.appSecret {
            let proof = AppSecretProof.make(accessToken: accessToken.revealed, appSecret: appSecret.revealed)
            target += (target.contains("?") ? "&" : "?") + "appsecret_proof=\(proof)"
        }
        var request = HTTPClientRequest(url: target)
        request.method = .GET
        if let accessToken { request.headers.add(name: "Authorization", value: "Bearer \(accessToken.revealed)") }
        return try await perform(request, timeout: configuration.readTimeout)
    }

    /// `POST /{version}/{path}` with a form body (an async insights report), authenticated with the token.
    public func post(_ path: String, form: [(String, String)], accessToken: Secret?) async throws(GraphError) -> GraphResponse {
        var fields = form
        if let accessToken, let appSecret = configuration.appSecret {
            fields.append(("appsecret_proof", AppSecretProof.make(accessToken: accessToken.revealed, appSecret: appSecret.revealed)))
        }
        var request = HTTPClientRequest(url: "\(configuration.baseURL)/\(configuration.version)/\(path)")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        if let accessToken { request.headers.add(name: "Authorization", value: "Bearer \(accessToken.revealed)") }
        request.body = .bytes(ByteBuffer(string: URLEncodedForm.encoded(fields)))
        return try await perform(request, timeout: configuration.readTimeout)
    }

    /// The next page's URL, when `paging.next` is present.
    public static func nextPage(of response: GraphResponse) -> String? {
        response.body["paging"]?["next"]?.stringValue
    }

    /// OAuth2 client credentials: an app access token for reads.
    public func exchangeClientCredentials(appID: String, appSecret: Secret) async throws(GraphError) -> Secret {
        let query = URLEncodedForm.encoded([("client_id", appID), ("client_secret", appSecret.revealed), ("grant_type", "client_credentials")])
        // Meta documents this exchange as a GET with the secret in the query; it is sent only to
        // the Graph host and never logged.
        var request = HTTPClientRequest(
            url: "\(configuration.baseURL)/\(configuration.version)/oauth/access_token?\(query)"
        )
        request.method = .GET
        let response: GraphResponse
        do {
            response = try await perform(request, timeout: configuration.readTimeout)
        } catch var error
            where error.errorClass != .throttled && error.transport == nil && (error.httpStatus.map { (400..<500).contains($0) } ?? false)
        {
            // A refused exchange means the app id or secret is wrong, whatever code carries it (Meta
            // answers a bad secret with code 1, which elsewhere means "unknown, retry").
            error.errorClass = .auth
            throw error
        }
        guard let token = response.body["access_token"]?.stringValue, !token.isEmpty else {
            throw GraphError.transport(.malformedResponse, "the token answer has no access_token")
        }
        return Secret(token)
    }

    // MARK: Transport

    func perform(_ request: HTTPClientRequest, timeout: Duration) async throws(GraphError) -> GraphResponse {
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            let deadline = NIODeadline.now() + TimeAmount(timeout)
            response = try await http.execute(request, deadline: deadline, logger: logger)
            bytes = try await response.body.collect(upTo: 64 * 1024 * 1024)
        } catch {
            throw Self.transportError(error, endpoint: GraphEndpoint.describe(request.url))
        }
        let usage = UsageHeaders(
            appUsage: response.headers.first(name: "X-App-Usage"),
            businessUseCaseUsage: response.headers.first(name: "X-Business-Use-Case-Usage"),
            insightsThrottle: response.headers.first(name: "x-fb-ads-insights-throttle")
        )
        let parsed = try? JSONValue(parsing: bytes.readableBytesView)
        let body = parsed ?? .null
        let status = Int(response.status.code)
        if (200..<300).contains(status), body["error"] == nil {
            // A success that is not a JSON object (a proxy's HTML page, a cut-off body) is not an
            // empty answer: reading it as one would delete stored data or lose events.
            guard case .object = parsed else {
                throw GraphError(
                    errorClass: .transient,
                    httpStatus: status,
                    message: "HTTP \(status) from \(GraphEndpoint.describe(request.url)) with a body that is not a JSON object",
                    transport: .malformedResponse
                )
            }
            return GraphResponse(status: status, body: body, usage: usage)
        }
        if (300..<400).contains(status), body["error"] == nil {
            let target = response.headers.first(name: "Location").map { location in
                URLComponents(string: location)?.host == nil ? " to another path" : " to \(GraphEndpoint.describe(location))"
            }
            throw GraphError(
                errorClass: .transient,
                httpStatus: status,
                message:
                    "HTTP \(status) from \(GraphEndpoint.describe(request.url)): a redirect\(target ?? ""), not followed (the Graph API does "
                    + "not redirect its calls; point graph_api.base_url or CAPI_GRAPH_URL where it leads, or fix the relay)"
            )
        }
        throw Self.graphError(status: status, body: body, retryAfterHeader: response.headers.first(name: "Retry-After"), usage: usage)
    }

    /// Meta's error envelope (or a bare HTTP failure) as a classified error.
    static func graphError(status: Int, body: JSONValue, retryAfterHeader: String?, usage: UsageHeaders) -> GraphError {
        let envelope = body["error"]
        func integer(_ key: String) -> Int? {
            switch envelope?[key] {
            case .integer(let value)?: Int(value)
            case .string(let text)?: Int(text)
            default: nil
            }
        }
        let code = integer("code")
        let isTransient: Bool? = if case .bool(let flag)? = envelope?["is_transient"] { flag } else { nil }
        var retryAfter = retryAfterHeader.flatMap { RetryAfter.parse($0) }
        if usage.regainAccessMinutes > 0, let regain = Bounded.duration(seconds: usage.regainAccessMinutes * 60, maximum: RetryAfter.maximumSeconds) {
            retryAfter = max(retryAfter ?? .zero, regain)
        }
        return GraphError(
            errorClass: GraphErrorClass.classify(code: code, isTransient: isTransient, httpStatus: status),
            httpStatus: status,
            code: code,
            subcode: integer("error_subcode"),
            type: envelope?["type"]?.stringValue,
            message: envelope?["message"]?.stringValue ?? "HTTP \(status) without a Graph error body",
            userMessage: GraphError.userMessage(title: envelope?["error_user_title"]?.stringValue, detail: envelope?["error_user_msg"]?.stringValue),
            isTransient: isTransient,
            fbtraceID: envelope?["fbtrace_id"]?.stringValue,
            retryAfter: retryAfter
        )
    }

    /// - Parameter endpoint: scheme, host and port of the call (never its path, query or credentials).
    static func transportError(_ error: any Error, endpoint: String) -> GraphError {
        if let client = error as? HTTPClientError {
            switch client {
            case .deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout:
                return .transport(.timeout, "no answer from \(endpoint) within the request timeout")
            case .remoteConnectionClosed:
                return .transport(.connectionReset, "\(endpoint) closed the connection before answering")
            case .bodyLengthMismatch, .uncleanShutdown:
                return .transport(.malformedResponse, "\(endpoint) sent a body that could not be read (\(client))")
            default:
                return .transport(.connectionFailed, "cannot reach \(endpoint): \(client)")
            }
        }
        if error is NIOTooManyBytesError {
            return .transport(.malformedResponse, "\(endpoint) sent an answer larger than 64 MiB")
        }
        if let io = error as? IOError {
            if io.errnoCode == ECONNRESET || io.errnoCode == EPIPE { return .transport(.connectionReset, "\(endpoint) reset the connection") }
            return .transport(.connectionFailed, "cannot reach \(endpoint): \(String(cString: strerror(io.errnoCode)))")
        }
        if let connection = error as? NIOConnectionError {
            let reasons = connection.connectionErrors.map { String(describing: $0.error) }
            return .transport(.connectionFailed, "cannot connect to \(endpoint)" + (reasons.isEmpty ? "" : " (\(reasons.joined(separator: "; ")))"))
        }
        if error is ChannelError {
            return .transport(.connectionFailed, "cannot connect to \(endpoint): \(error)")
        }
        if error is CancellationError {
            return .transport(.timeout, "the call to \(endpoint) was cancelled")
        }
        return .transport(.connectionFailed, "cannot reach \(endpoint): \(String(describing: type(of: error)))")
    }

    static func jsonString(_ text: String) -> String { JSONValue.string(text).serialized }
}

/// A successful Graph answer: status, decoded body and the rate-limit headers.
public struct GraphResponse: Sendable {
    public var status: Int
    public var body: JSONValue
    public var usage: UsageHeaders
}

/// Meta's answer to an events batch.
public struct SendEventsReceipt: Sendable, Equatable {
    public var eventsReceived: Int
    public var messages: [String]
    public var fbtraceID: String?
    public var usage: UsageHeaders
}
