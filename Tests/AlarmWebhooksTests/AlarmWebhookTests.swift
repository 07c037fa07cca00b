import CAPICore
import ConnectorRuntime
import Foundation
import GraphAPI
import Hummingbird
import Logging
import PushMode
import TestSupport
import Testing

@testable import AlarmWebhooks

/// A receiver on loopback that answers with scripted statuses and keeps what it was sent.
actor AlarmReceiver {
    struct Delivery: Sendable {
        var headers: [String: String]
        var body: [UInt8]
    }

    var answers: [HTTPResponse.Status]
    var deliveries: [Delivery] = []

    init(answers: [HTTPResponse.Status]) { self.answers = answers }

    func take(_ delivery: Delivery) -> HTTPResponse.Status {
        deliveries.append(delivery)
        return answers.isEmpty ? .noContent : answers.removeFirst()
    }

    /// Runs the receiver for the duration of `body`, which gets the URL to POST to.
    static func withRunning<T: Sendable>(
        answers: [HTTPResponse.Status] = [],
        _ body: @Sendable (String, AlarmReceiver) async throws -> T
    ) async throws -> T {
        let receiver = AlarmReceiver(answers: answers)
        let router = Router()
        router.post("/hooks/alarms") { request, _ -> Response in
            let bytes = try await request.body.collect(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let status = await receiver.take(Delivery(headers: headers, body: Array(buffer: bytes)))
            // A redirect leads back here: followed, the alarm would arrive a second time.
            guard status.kind == .redirection else { return Response(status: status) }
            return Response(status: status, headers: [.location: "http://\(request.head.authority ?? "")/hooks/alarms"])
        }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let application = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) },
            logger: Logger(label: "test.receiver")
        )
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await application.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw TestSetupError("the alarm receiver did not start") }
            defer { group.cancelAll() }
            return try await body("http://127.0.0.1:\(port)/hooks/alarms", receiver)
        }
    }
}

@Suite("Alarm webhook: signed with Standard Webhooks, cooled down, retried")
struct AlarmWebhookTests {
    static let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    static var key: SigningKey { try! SigningKey.decode(secret, scheme: .standardWebhooks).get() }

    static func change(_ transition: AlarmChange.Transition = .raised, field: String = "em", at seconds: Int64 = 1_795_000_000) -> AlarmChange {
        AlarmChange(
            transition: transition,
            subject: AlarmSubject(kind: "schema_drift_coverage", pixelID: "111", stream: "delivered_events", eventName: "Purchase", field: field),
            severity: .warning,
            detail: "em coverage fell from 100% to 0% over 100 events",
            at: UnixMillis(seconds * 1000)
        )
    }

    /// The timeout is long unless a test waits for it: the whole suite runs in parallel on two
    /// cores, and with 2 s a receiver that answered late was sent the alarm a second time, which
    /// failed the tests that count deliveries.
    static func webhook(_ url: String, retries: Int = 2, cooldown: Duration = .seconds(900), timeout: Duration = hangLimit) -> AlarmWebhook {
        AlarmWebhook(
            configuration: AlarmWebhookConfiguration(url: Secret(url), signingKey: key, cooldown: cooldown, retries: retries, timeout: timeout),
            clock: .fixed(UnixMillis(1_795_000_000_000)),
            backoff: .milliseconds(10)
        )
    }

    @Test("the signer reproduces the Standard Webhooks reference vector")
    func referenceVector() throws {
        let data = try Data(contentsOf: RepositoryPaths.vectors.appendingPathComponent("webhooks/standard.json"))
        let vectors = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        let published = try #require(vectors.first { $0["name"] as? String == "published_reference_vector" })
        let headers = try #require(published["headers"] as? [String: String])
        let encoded = try #require(published["body_base64"] as? String)
        let body = try #require(Data(base64Encoded: encoded))
        let secret = try #require(published["secret"] as? String)
        let key = try SigningKey.decode(secret, scheme: .standardWebhooks).get()
        let id = try #require(headers["webhook-id"])
        let timestamp = try #require(headers["webhook-timestamp"])
        let signature = StandardWebhookSignature.sign(key: key, id: id, timestamp: timestamp, body: Array(body))
        #expect(signature == headers["webhook-signature"])
    }

    @Test("a raised alarm arrives signed: the sidecar's own verifier accepts it, and the body names the alarm")
    func signedPost() async throws {
        try await AlarmReceiver.withRunning { url, receiver in
            await Self.webhook(url).deliver([Self.change()])
            let deliveries = await receiver.deliveries
            let delivery = try #require(deliveries.first)
            #expect(deliveries.count == 1)
            let verifier = WebhookVerifier(scheme: .standardWebhooks, keys: [Self.key])
            let verified = verifier.verify(header: { delivery.headers[$0] }, body: delivery.body, now: UnixSeconds(1_795_000_000))
            #expect((try? verified.get()) != nil, "the alarm must verify under the scheme the sidecar checks")
            let message = try JSONValue(parsing: String(decoding: delivery.body, as: UTF8.self))
            #expect(message["type"]?.stringValue == "alarm.raised")
            #expect(message["data"]?["kind"]?.stringValue == "schema_drift_coverage" && message["data"]?["field"]?.stringValue == "em")
            #expect(message["data"]?["pixel_id"]?.stringValue == "111" && message["data"]?["severity"]?.stringValue == "warning")
            #expect(delivery.headers["content-type"] == "application/json")
        }
    }

    @Test("failures the receiver may recover from are retried under the same webhook-id; a refusal is not")
    func retries() async throws {
        try await AlarmReceiver.withRunning(answers: [.serviceUnavailable, .tooManyRequests]) { url, receiver in
            #expect(await Self.webhook(url, retries: 2).send(Self.change()) == .delivered)
            let ids = await receiver.deliveries.map { $0.headers["webhook-id"] }
            #expect(ids.count == 3 && Set(ids).count == 1, "three attempts, one message id")
        }
        try await AlarmReceiver.withRunning(answers: [.serviceUnavailable, .serviceUnavailable, .serviceUnavailable]) { url, receiver in
            #expect(await Self.webhook(url, retries: 2).send(Self.change()) == .failed)
            #expect(await receiver.deliveries.count == 3, "the first attempt and two retries, then it gives up")
        }
        try await AlarmReceiver.withRunning(answers: [.badRequest]) { url, receiver in
            #expect(await Self.webhook(url, retries: 2).send(Self.change()) == .failed)
            #expect(await receiver.deliveries.count == 1, "a 400 is the receiver's answer, not a failure to retry")
        }
    }

    @Test("a redirect is the receiver's answer, not followed", arguments: [HTTPResponse.Status.temporaryRedirect, .permanentRedirect, .found])
    func redirect(status: HTTPResponse.Status) async throws {
        try await AlarmReceiver.withRunning(answers: [status]) { url, receiver in
            #expect(await Self.webhook(url, retries: 2).send(Self.change()) == .failed)
            #expect(await receiver.deliveries.count == 1, "the alarm went where the redirect led")
        }
    }

    @Test("alarms go through HTTPS_PROXY (HTTP_PROXY for http) unless NO_PROXY names the receiver, as Graph calls do")
    func proxy() {
        func proxy(_ url: String, _ environment: [String: String]) -> EgressProxy? {
            AlarmWebhook(
                configuration: AlarmWebhookConfiguration(
                    url: Secret(url),
                    signingKey: Self.key,
                    cooldown: .seconds(1),
                    retries: 0,
                    timeout: .seconds(1)
                ),
                environment: environment
            ).proxy
        }
        #expect(proxy("https://hooks.example/a", ["HTTPS_PROXY": "http://egress:3128"]) == EgressProxy(host: "egress", port: 3128))
        #expect(proxy("http://hooks.internal/a", ["HTTP_PROXY": "http://egress:3128"]) == EgressProxy(host: "egress", port: 3128))
        #expect(proxy("https://hooks.example/a", ["HTTPS_PROXY": "http://egress:3128", "NO_PROXY": ".example"]) == nil)
        #expect(proxy("https://hooks.example/a", [:]) == nil)
    }

    @Test("a receiver that cannot be reached fails after the retries, without naming its URL in the log")
    func unreachable() async throws {
        // A port that was just free: nothing listens there.
        let url = try await AlarmReceiver.withRunning { url, _ in url }
        // The HTTP client keeps trying to connect until the request times out: each attempt takes it.
        #expect(await Self.webhook(url, retries: 1, timeout: .seconds(2)).send(Self.change()) == .failed)
    }

    @Test("cooldown: a raise within the cooldown is held back, and so is its clearing; after it, both go out")
    func cooldown() async throws {
        var cooldown = NotificationCooldown(period: .seconds(900))
        let admitted = [
            Self.change(at: 1_795_000_000),
            Self.change(.cleared, at: 1_795_000_060),
            Self.change(at: 1_795_000_120),  // raised again within 15 minutes: held back…
            Self.change(.cleared, at: 1_795_000_180),  // …and so is its clearing
            Self.change(field: "ph", at: 1_795_000_180),  // another subject is not affected
            Self.change(at: 1_795_000_000 + 901),
            Self.change(.cleared, at: 1_795_000_000 + 960),
        ].map { cooldown.admits($0) }
        #expect(admitted == [true, true, false, false, true, true, true])

        try await AlarmReceiver.withRunning { url, receiver in
            let webhook = Self.webhook(url)
            await webhook.deliver([Self.change(), Self.change(.cleared, at: 1_795_000_030)])
            await webhook.deliver([Self.change(at: 1_795_000_060), Self.change(.cleared, at: 1_795_000_090)])
            let types = try await receiver.deliveries.map { try JSONValue(parsing: String(decoding: $0.body, as: UTF8.self))["type"]?.stringValue }
            #expect(types.sorted { ($0 ?? "") > ($1 ?? "") } == ["alarm.raised", "alarm.cleared"], "the flapping second pair is held back")
        }
    }
}
