import CAPICore
import ConnectorRuntime
import Crypto
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
        let verifier = WebhookVerifier(scheme: vector.webhookScheme, keys: [key], tolerance: .seconds(vector.tolerance_s ?? 300))
        let lowered = Dictionary(uniqueKeysWithValues: vector.headers.map { ($0.key.lowercased(), $0.value) })
        let result = verifier.verify(header: { lowered[$0.lowercased()] }, body: Array(body), now: UnixSeconds(vector.now_unix))
        switch (vector.expect, result) {
        case ("accept", .success), ("reject", .failure): break
        default: Issue.record("expected \(vector.expect), got \(result)")
        }
    }

    @Test("rotation: any configured secret may have signed")
    func rotation() throws {
        let vector = try #require(WebhookVector.all.first { $0.name == "valid" && $0.file == "standard" })
        let right = try SigningKey.decode(vector.secret, scheme: .standardWebhooks).get()
        let wrong = SigningKey(bytes: Array("another-secret-entirely".utf8))
        let verifier = WebhookVerifier(scheme: .standardWebhooks, keys: [wrong, right])
        let body = Array(Data(base64Encoded: vector.body_base64)!)
        #expect((try? verifier.verify(header: { vector.headers[$0] }, body: body, now: UnixSeconds(vector.now_unix)).get()) != nil)
        let onlyWrong = WebhookVerifier(scheme: .standardWebhooks, keys: [wrong])
        #expect(throws: SignatureFailure.badSignature) {
            try onlyWrong.verify(header: { vector.headers[$0] }, body: body, now: UnixSeconds(vector.now_unix)).get()
        }
    }

    @Test("reason codes for the common refusals")
    func reasons() throws {
        let vector = try #require(WebhookVector.all.first { $0.name == "valid" && $0.file == "standard" })
        let key = try SigningKey.decode(vector.secret, scheme: .standardWebhooks).get()
        let verifier = WebhookVerifier(scheme: .standardWebhooks, keys: [key])
        let body = Array(Data(base64Encoded: vector.body_base64)!)
        #expect(throws: SignatureFailure.missingSignature) {
            try verifier.verify(header: { _ in nil }, body: body, now: UnixSeconds(vector.now_unix)).get()
        }
        #expect(throws: SignatureFailure.staleTimestamp) {
            try verifier.verify(header: { vector.headers[$0] }, body: body, now: UnixSeconds(vector.now_unix + 301)).get()
        }
        #expect(throws: SignatureFailure.badSignature) {
            try verifier.verify(header: { vector.headers[$0] }, body: body + [0x20], now: UnixSeconds(vector.now_unix)).get()
        }
    }

    @Test("the replay ledger passes a retry and refuses a different body under the same id")
    func replayLedger() {
        let ledger = ReplayLedger(tolerance: .seconds(300))
        func admit(_ source: String, _ id: String, _ body: String, signedAt: Int64 = 1_000, now: Int64) -> ReplayLedger.Admission {
            Array(body.utf8).withUnsafeBytes {
                ledger.admit(source: source, messageID: id, timestamp: UnixSeconds(signedAt), body: $0, now: UnixSeconds(now))
            }
        }
        #expect(admit("app", "msg_1", "a", now: 1_000) == .admitted)
        #expect(admit("app", "msg_1", "a", now: 1_010) == .admitted)
        #expect(admit("app", "msg_1", "b", now: 1_020) == .replayed)
        #expect(admit("other", "msg_1", "b", now: 1_020) == .admitted)
        // Remembered until the signed timestamp leaves the tolerance (1_000 + 300), not before.
        #expect(admit("app", "msg_1", "b", now: 1_300) == .replayed)
        #expect(admit("app", "msg_1", "b", now: 1_301) == .admitted)
    }

    @Test("the replay ledger forgets nothing early: at capacity it refuses new ids, and expiry frees room")
    func replayLedgerCapacity() {
        let ledger = ReplayLedger(tolerance: .seconds(60), capacity: 1_000)
        let body: [UInt8] = [1, 2, 3]
        for index in 0..<1_000 {
            #expect(
                body.withUnsafeBytes {
                    ledger.admit(source: "s", messageID: "id-\(index)", timestamp: UnixSeconds(10_000), body: $0, now: UnixSeconds(10_000))
                } == .admitted
            )
        }
        #expect(
            body.withUnsafeBytes {
                ledger.admit(source: "s", messageID: "one-more", timestamp: UnixSeconds(10_000), body: $0, now: UnixSeconds(10_030))
            } == .full
        )
        // Every id is still known right up to the end of its window.
        #expect(
            [9].withUnsafeBytes { ledger.admit(source: "s", messageID: "id-0", timestamp: UnixSeconds(10_000), body: $0, now: UnixSeconds(10_060)) }
                == .replayed
        )
        #expect(ledger.count(now: UnixSeconds(10_060)) == 1_000)
        #expect(ledger.count(now: UnixSeconds(10_061)) == 0)
        #expect(
            body.withUnsafeBytes {
                ledger.admit(source: "s", messageID: "one-more", timestamp: UnixSeconds(10_061), body: $0, now: UnixSeconds(10_061))
            } == .admitted
        )
    }

    @Test("admission work does not grow with the number of remembered ids")
    func replayLedgerIsConstantTime() async {
        // 200,000 live ids over a 300 s window, then 200,000 more as the clock moves on: the table
        // never holds more than the live window (the old ledger filtered all ids on each admit past 100k).
        let ledger = ReplayLedger(tolerance: .seconds(300), capacity: 400_000)
        let body: [UInt8] = [0]
        for start in stride(from: 0, to: 400_000, by: 10_000) {
            await Task.yield()
            body.withUnsafeBytes { bytes in
                for index in start..<start + 10_000 {
                    let now = UnixSeconds(Int64(1_000_000 + index / 1_000))
                    _ = ledger.admit(source: "s", messageID: "m\(index)", timestamp: now, body: bytes, now: now)
                }
            }
        }
        let live = ledger.count(now: UnixSeconds(1_000_399))
        #expect(live <= 301_000 && live >= 299_000)
    }

    @Test("more signature candidates than the cap are refused before any MAC is computed")
    func candidateCap() throws {
        let key = SigningKey(bytes: Array("secret-key-bytes".utf8))
        let verifier = WebhookVerifier(scheme: .standardWebhooks, keys: [key])
        let many = Array(repeating: "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", count: WebhookVerifier.maximumCandidates + 1).joined(
            separator: " "
        )
        let headers = ["webhook-id": "msg_1", "webhook-timestamp": "1000", "webhook-signature": many]
        #expect(throws: SignatureFailure.malformedSignature) { try verifier.inspect(header: { headers[$0] }, now: UnixSeconds(1_000)).get() }
        let timestamp = ["webhook-id": "msg_1", "webhook-timestamp": "99999999999999999999", "webhook-signature": "v1,AAAA"]
        #expect(throws: SignatureFailure.malformedTimestamp) { try verifier.inspect(header: { timestamp[$0] }, now: UnixSeconds(1_000)).get() }
    }

    @Test("a signature is the MAC in canonical padded base64; blank, unpadded or re-spelled MACs are not candidates")
    func signatureSpelling() throws {
        let key = SigningKey(bytes: Array("secret-key-bytes".utf8))
        let verifier = WebhookVerifier(scheme: .standardWebhooks, keys: [key])
        let body = Array(#"{"event":"x"}"#.utf8)
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: key.bytes))
        hmac.update(data: Array("msg_1.1000.".utf8) + body)
        let canonical = Data(hmac.finalize()).base64EncodedString()
        func verify(_ signature: String, family: String = "webhook") -> Result<VerifiedDelivery, SignatureFailure> {
            let headers = ["\(family)-id": "msg_1", "\(family)-timestamp": "1000", "\(family)-signature": signature]
            return verifier.verify(header: { headers[$0] }, body: body, now: UnixSeconds(1_000))
        }
        #expect((try? verify("v1,\(canonical)").get())?.messageID == "msg_1")
        #expect((try? verify("v1a,xyz v1,\(canonical)", family: "svix").get()) != nil)
        // The last character's two spare bits set: the same bytes to a lenient decoder, but not
        // what any library writes, and the reference libraries compare the text.
        let last = canonical.utf8[canonical.utf8.index(canonical.utf8.startIndex, offsetBy: 42)]
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        let respelled = String(canonical.prefix(42)) + String(UnicodeScalar(alphabet[alphabet.firstIndex(of: last)! | 1])) + "="
        for signature in ["v1,\(respelled)", "v1,\(canonical.dropLast())", "v1,\(canonical)=", "v1, \(canonical)", "v2,\(canonical)"] {
            #expect(throws: SignatureFailure.badSignature, "\(signature)") { try verify(signature).get() }
        }
        for blank in ["", "   ", "\t", "\u{A0}"] {
            #expect(throws: SignatureFailure.missingSignature) { try verify(blank).get() }
        }
    }

    @Test("a header sent over several lines: every line's signatures count, in every scheme; conflicting ids or times do not")
    func repeatedHeaderLines() throws {
        let key = SigningKey(bytes: Array("secret-key-bytes".utf8))
        let body = Array(#"{"event":"x"}"#.utf8)
        func mac(_ prefix: String) -> Data {
            var hmac = HMAC<SHA256>(key: SymmetricKey(data: key.bytes))
            hmac.update(data: Array(prefix.utf8) + body)
            return Data(hmac.finalize())
        }
        func verify(_ scheme: WebhookScheme, _ fields: [String: [String]]) -> Result<VerifiedDelivery, SignatureFailure> {
            let verifier = WebhookVerifier(scheme: scheme, keys: [key])
            return verifier.inspect(fields: { fields[$0] ?? [] }, now: UnixSeconds(1_000)).flatMap { inspected in
                body.withUnsafeBytes { verifier.verify(inspected, body: $0) }
            }
        }
        let good = "v1," + mac("msg_1.1000.").base64EncodedString()
        let bad = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
        for lines in [[good, bad], [bad, good], [bad + " " + good, bad], ["v1a,xyz", good]] {
            let fields = ["webhook-id": ["msg_1"], "webhook-timestamp": ["1000"], "webhook-signature": lines]
            #expect((try? verify(.standardWebhooks, fields).get())?.messageID == "msg_1", "\(lines)")
        }
        #expect((try? verify(.svix, ["svix-id": ["msg_1"], "svix-timestamp": ["1000"], "svix-signature": [good, bad]]).get()) != nil)
        #expect(
            (try? verify(.standardWebhooks, ["webhook-id": ["msg_1", "msg_1"], "webhook-timestamp": ["1000"], "webhook-signature": [good]]).get())
                != nil
        )
        #expect(throws: SignatureFailure.malformedTimestamp) {
            try verify(.standardWebhooks, ["webhook-id": ["msg_1", "msg_2"], "webhook-timestamp": ["1000"], "webhook-signature": [good]]).get()
        }
        #expect(throws: SignatureFailure.malformedTimestamp) {
            try verify(.standardWebhooks, ["webhook-id": ["msg_1"], "webhook-timestamp": ["1000", "999"], "webhook-signature": [good]]).get()
        }
        #expect(throws: SignatureFailure.badSignature) {
            try verify(.standardWebhooks, ["webhook-id": ["msg_1"], "webhook-timestamp": ["1000"], "webhook-signature": [bad, bad]]).get()
        }

        let stripeGood = mac("1000.").map { String(format: "%02x", $0) }.joined()
        let stripeBad = String(repeating: "0", count: 64)
        #expect((try? verify(.stripe, ["stripe-signature": ["t=1000,v1=\(stripeGood)", "v1=\(stripeBad)"]]).get()) != nil)
        #expect((try? verify(.stripe, ["stripe-signature": ["t=1000,v1=\(stripeBad)", "v1=\(stripeGood)"]]).get()) != nil)

        let hubGood = "sha256=" + mac("").map { String(format: "%02x", $0) }.joined()
        let hubBad = "sha256=" + stripeBad
        #expect((try? verify(.xHubSignature256, ["x-hub-signature-256": [hubBad, hubGood]]).get()) != nil)
        #expect((try? verify(.xHubSignature256, ["x-hub-signature-256": [hubGood, hubBad]]).get()) != nil)
        #expect(throws: SignatureFailure.malformedSignature) { try verify(.xHubSignature256, ["x-hub-signature-256": [hubGood, "md5=00"]]).get() }
        #expect(throws: SignatureFailure.missingSignature) { try verify(.xHubSignature256, ["x-hub-signature-256": [""]]).get() }
    }

    @Test("Stripe-Signature items are read as stripe 16.1.0 reads them: key before the first =, value up to the next, empty pieces kept")
    func stripeItems() throws {
        let key = SigningKey(bytes: Array("whsec_test".utf8))
        let body = Array(#"{"a":1}"#.utf8)
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: key.bytes))
        hmac.update(data: Array("1000.".utf8) + body)
        let signature = Data(hmac.finalize()).map { String(format: "%02x", $0) }.joined()
        func verify(_ header: String) -> Result<VerifiedDelivery, SignatureFailure> {
            let verifier = WebhookVerifier(scheme: .stripe, keys: [key])
            return verifier.inspect(header: { $0 == "stripe-signature" ? header : nil }, now: UnixSeconds(1_000)).flatMap { inspected in
                body.withUnsafeBytes { verifier.verify(inspected, body: $0) }
            }
        }
        // Accepted by Stripe's library, and here.
        for header in [
            "t=1000,v1=\(signature)", "t=1000,v1=,v1=\(signature)", "t=1000,v1=\(signature)=x", "t=1000=9,v1=\(signature)",
            "t=1000,=,v1=\(signature)",
        ] {
            #expect((try? verify(header).get())?.timestamp == UnixSeconds(1_000), "\(header)")
        }
        // Refused by Stripe's library, and here: an empty key is not `t` (this one was read as
        // `t=1000` and accepted), and an empty time is no time.
        #expect(throws: SignatureFailure.malformedTimestamp) { try verify("=t=1000,v1=\(signature)").get() }
        #expect(throws: SignatureFailure.malformedTimestamp) { try verify("t=,v1=\(signature)").get() }
        // Stripe's library reads the first of two times; two different ones are refused here, as
        // two different ids or times are in every scheme. The same time twice is one time.
        #expect(throws: SignatureFailure.malformedTimestamp) { try verify("t=1000,t=999,v1=\(signature)").get() }
        #expect((try? verify("t=1000,t=1000,v1=\(signature)").get()) != nil)
    }

    @Test("one verifier checks delivery after delivery: its keyed MACs are copied, never used up")
    func verifierReuse() throws {
        let key = SigningKey(bytes: Array("secret-key-bytes".utf8))
        let verifier = WebhookVerifier(scheme: .standardWebhooks, keys: [SigningKey(bytes: Array("other".utf8)), key])
        func signed(_ id: String, _ body: [UInt8]) -> [String: String] {
            var hmac = HMAC<SHA256>(key: SymmetricKey(data: key.bytes))
            hmac.update(data: Array("\(id).1000.".utf8) + body)
            return ["webhook-id": id, "webhook-timestamp": "1000", "webhook-signature": "v1,\(Data(hmac.finalize()).base64EncodedString())"]
        }
        for round in 0..<3 {
            let body = Array(#"{"round":\#(round)}"#.utf8)
            let headers = signed("msg_\(round)", body)
            #expect((try? verifier.verify(header: { headers[$0] }, body: body, now: UnixSeconds(1_000)).get())?.messageID == "msg_\(round)")
            #expect(throws: SignatureFailure.badSignature) {
                try verifier.verify(header: { headers[$0] }, body: body + [0x20], now: UnixSeconds(1_000)).get()
            }
        }
    }
}
