import ConnectorRuntime
import Foundation
import PushMode
import Testing

/// One case of `shared/vectors/webhooks/*.json`, made with the schemes' reference libraries.
struct WebhookVector: Decodable, CustomTestStringConvertible, Sendable {
    var name: String
    var secret: String
    var headers: [String: String]
    var body_base64: String
    var now_unix: Int64
    var expect: String
    var scheme: String
    var tolerance_s: Int64?
    var file: String?

    var testDescription: String { "\(file ?? scheme)/\(name)" }

    var webhookScheme: WebhookScheme {
        switch scheme {
        case "standard": .standardWebhooks
        case "svix": .svix
        case "stripe": .stripe
        default: .xHubSignature256
        }
    }

    static let all: [WebhookVector] = ["standard", "svix", "stripe", "xhub"].flatMap { file -> [WebhookVector] in
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/vectors/webhooks/\(file).json")
        guard let data = try? Data(contentsOf: url), var vectors = try? JSONDecoder().decode([WebhookVector].self, from: data) else { return [] }
        for index in vectors.indices { vectors[index].file = file }
        return vectors
    }
}

@Suite("Webhook signature vectors")
struct WebhookVectorTests {
    @Test("all four vector files are present")
    func present() {
        #expect(Set(WebhookVector.all.compactMap(\.file)) == ["standard", "svix", "stripe", "xhub"])
        #expect(WebhookVector.all.count >= 50)
    }

    @Test("every vector verifies as expected with the clock pinned", arguments: WebhookVector.all)
    func vector(_ vector: WebhookVector) throws {
        let body = try #require(Data(base64Encoded: vector.body_base64))
        // A malformed secret is refused when the manifest is loaded, before any request.
        guard case .success(let key) = SigningKey.decode(vector.secret, scheme: vector.webhookScheme) else {
            #expect(vector.expect == "reject", "a valid secret failed to decode")
            return
        }
        let verifier = WebhookVerifier(scheme: vector.webhookScheme, keys: [key], tolerance: vector.tolerance_s ?? 300)
        let lowered = Dictionary(uniqueKeysWithValues: vector.headers.map { ($0.key.lowercased(), $0.value) })
        let result = verifier.verify(header: { lowered[$0.lowercased()] }, body: Array(body), now: vector.now_unix)
        switch (vector.expect, result) {
        case ("accept", .success), ("reject", .failure): break
        default: Issue.record("expected \(vector.expect), got \(result)")
        }
    }

    @Test("rotation: any configured secret may have signed")
    func rotation() throws {
        let vector = try #require(WebhookVector.all.first { $0.name == "valid" && $0.file == "standard" })
        guard case .success(let right) = SigningKey.decode(vector.secret, scheme: .standardWebhooks) else { Issue.record("decode"); return }
        let wrong = SigningKey(bytes: Array("another-secret-entirely".utf8))
        let verifier = WebhookVerifier(scheme: .standardWebhooks, keys: [wrong, right])
        let body = Array(Data(base64Encoded: vector.body_base64)!)
        #expect((try? verifier.verify(header: { vector.headers[$0] }, body: body, now: vector.now_unix).get()) != nil)
        let onlyWrong = WebhookVerifier(scheme: .standardWebhooks, keys: [wrong])
        #expect(throws: SignatureFailure.badSignature) { try onlyWrong.verify(header: { vector.headers[$0] }, body: body, now: vector.now_unix).get() }
    }

    @Test("reason codes for the common refusals")
    func reasons() throws {
        let vector = try #require(WebhookVector.all.first { $0.name == "valid" && $0.file == "standard" })
        guard case .success(let key) = SigningKey.decode(vector.secret, scheme: .standardWebhooks) else { return }
        let verifier = WebhookVerifier(scheme: .standardWebhooks, keys: [key])
        let body = Array(Data(base64Encoded: vector.body_base64)!)
        #expect(throws: SignatureFailure.missingSignature) { try verifier.verify(header: { _ in nil }, body: body, now: vector.now_unix).get() }
        #expect(throws: SignatureFailure.staleTimestamp) { try verifier.verify(header: { vector.headers[$0] }, body: body, now: vector.now_unix + 301).get() }
        #expect(throws: SignatureFailure.badSignature) { try verifier.verify(header: { vector.headers[$0] }, body: body + [0x20], now: vector.now_unix).get() }
    }

    @Test("the replay ledger passes a retry and refuses a different body under the same id")
    func replayLedger() {
        let ledger = ReplayLedger(toleranceSeconds: 300)
        #expect(ledger.admit(source: "app", messageID: "msg_1", bodyDigest: "a", now: 1_000))
        #expect(ledger.admit(source: "app", messageID: "msg_1", bodyDigest: "a", now: 1_010))
        #expect(!ledger.admit(source: "app", messageID: "msg_1", bodyDigest: "b", now: 1_020))
        #expect(ledger.admit(source: "other", messageID: "msg_1", bodyDigest: "b", now: 1_020))
        #expect(ledger.admit(source: "app", messageID: "msg_1", bodyDigest: "b", now: 1_000 + 601))
    }
}
