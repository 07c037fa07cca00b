import CAPICore
import HTTPTypes
import Hummingbird
import NIOCore

/// Guards the event routes the way Hummingbird composes behaviour: cheapest refusals first (rate,
/// source, the source's IP allowlist, signature headers, announced size, memory budget), then the body is read, its MAC
/// computed and its id checked for replay; only a verified body reaches the route, in the context.
struct SignatureMiddleware<Context: PushContext>: RouterMiddleware {
    let server: PushServer

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let started = ContinuousClock.now
        if let refused = server.rateLimited(request, context: context) { return refused }
        let source: PushServer.Source
        switch server.selectSource(request) {
        case .named(let named): source = named
        case .unknown:
            return PushServer.json(
                .object(["error": .string("unknown_source"), "message": .string("no webhook source of that name is configured")]),
                status: .badRequest,
                close: true
            )
        case .ambiguous:
            return PushServer.json(
                .object([
                    "error": .string("ambiguous_source"),
                    "message": .string("X-CAPI-Source and ?source= name more than one source; name one, once"),
                ]),
                status: .badRequest,
                close: true
            )
        }
        if let refused = server.ipRefused(request, context: context, allowed: source.allowedIPs) { return refused }
        let now = server.clock.seconds()
        let fields: (String) -> [String] = { name in SignatureHeaderNames.fieldName(name).map { request.headers[values: $0] } ?? [] }
        let inspected: WebhookVerifier.Inspected
        switch source.verifier.inspect(fields: fields, now: now) {
        case .failure(let failure): return server.signatureRefused(failure, source: source.name, close: true)
        case .success(let value): inspected = value
        }
        if let refused = server.encodingRefused(request, metaShape: false) { return refused }
        return try await server.withBody(request, context: context) { body in
            switch verify(body, inspected: inspected, source: source) {
            case .refused(let refusal): return refusal
            case .accepted(let replayCheck):
                if let (fingerprint, timestamp) = replayCheck,
                    let refusal = await admit(fingerprint, timestamp: timestamp, source: source, now: now)
                {
                    return refusal
                }
            }
            var context = context
            context.verified = VerifiedBody(bytes: body, source: source.name, started: started)
            return try await next(request, context)
        }
    }

    enum Verification {
        case refused(Response)
        /// The MAC holds; the delivery's fingerprint and signed time when the scheme carries a
        /// message id (schemes without one have no replay check beyond the timestamp).
        case accepted(replayCheck: (DeliveryFingerprint, UnixSeconds)?)
    }

    /// The MAC over the raw bytes; the body is read once, for the MAC and the fingerprint.
    func verify(_ body: ByteBuffer, inspected: WebhookVerifier.Inspected, source: PushServer.Source) -> Verification {
        body.withUnsafeReadableBytes { bytes in
            switch source.verifier.verify(inspected, body: bytes) {
            case .failure(let failure): return .refused(server.signatureRefused(failure, source: source.name))
            case .success(let delivery):
                guard let id = delivery.messageID, let timestamp = delivery.timestamp else { return .accepted(replayCheck: nil) }
                return .accepted(replayCheck: (DeliveryFingerprint(source: source.name, messageID: id, body: bytes), timestamp))
            }
        }
    }

    /// The replay ledger; `nil` when the delivery may go on.
    func admit(_ delivery: DeliveryFingerprint, timestamp: UnixSeconds, source: PushServer.Source, now: UnixSeconds) async -> Response? {
        switch await source.replays.admit(delivery, timestamp: timestamp, now: now) {
        case .admitted: return nil
        case .replayed: return server.signatureRefused(.replayedID, source: source.name)
        case .full:
            server.refusals.record("replay_ledger_full")
            return PushServer.json(
                .object(["error": .string("busy"), "message": .string("too many recent webhook ids to check replays; retry")]),
                status: .serviceUnavailable,
                retryAfter: 5
            )
        case .unavailable:
            server.refusals.record("replay_ledger_unavailable")
            return PushServer.json(
                .object(["error": .string("unavailable"), "message": .string("the state store did not answer the replay check; retry")]),
                status: .serviceUnavailable,
                retryAfter: 1
            )
        }
    }
}

/// The names the verifiers ask for, validated once rather than on every lookup of every request.
enum SignatureHeaderNames {
    static let known: [String: HTTPField.Name] = Dictionary(
        uniqueKeysWithValues: [
            "webhook-signature", "webhook-id", "webhook-timestamp", "svix-signature", "svix-id", "svix-timestamp",
            "stripe-signature", "x-hub-signature-256",
        ].compactMap { name in HTTPField.Name(name).map { (name, $0) } }
    )

    static func fieldName(_ name: String) -> HTTPField.Name? { known[name] ?? HTTPField.Name(name) }
}
