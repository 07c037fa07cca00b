import Crypto
import Testing

@testable import CAPICore
@testable import PushMode

@Suite("Mirror record text")
struct MirrorRecordTests {
    let salt = SymmetricKey(data: Array("record-test-salt".utf8))

    func event(userData: JSONObject, extra: JSONObject = [:]) -> PreparedEvent {
        var payload: JSONObject = ["event_name": .string("Purchase"), "user_data": .object(userData)]
        for (key, value) in extra { payload[key] = value }
        return PreparedEvent(
            pixelID: "111",
            eventID: "order-\"7\"",
            eventName: "Purchase",
            eventTime: 1_795_000_000,
            actionSource: .website,
            payload: .object(payload),
            warnings: []
        )
    }

    func salted(_ digest: String) -> String {
        SHA256Hex.hex(HMAC<SHA256>.authenticationCode(for: Array(digest.utf8), using: salt))
    }

    @Test("every field, in canonical key order, identifiers salted")
    func fullRecord() throws {
        let email = SHA256Hex.digest("a@example.com")
        let phone = SHA256Hex.digest("16505550100")
        let external = SHA256Hex.digest("customer-9")
        let prepared = event(
            userData: [
                "em": .array([.string(email), .string(SHA256Hex.digest("b@example.com"))]), "ph": .string(phone),
                "external_id": .array([.string(external)]),
            ],
            extra: [
                "custom_data": .object(["value": .number(129.5), "currency": .string("usd")]),
                "event_source_url": .string("https://shop.example/checkout?email=x#top"),
            ]
        )
        let text = MirrorRecord.text(
            prepared,
            source: "web",
            receivedAt: UnixMillis(1_795_000_123_456).iso8601,
            keyedMAC: HMAC<SHA256>(key: salt),
            testEventCode: "TEST123"
        )
        let expected: JSONValue = .object([
            "pixel_id": .string("111"), "event_id": .string("order-\"7\""), "event_time": .integer(1_795_000_000),
            "event_name": .string("Purchase"), "action_source": .string("website"), "source": .string("web"),
            "received_at": .string("2026-11-18T11:08:43.456Z"), "outcome": .string("pending"),
            "match_keys": .array([.string("em"), .string("ph"), .string("external_id")]),
            "mirror_ids": .object(["em": .string(salted(email)), "ph": .string(salted(phone)), "external_id": .string(salted(external))]),
            "value": .number(129.5), "currency": .string("USD"), "event_source_url": .string("https://shop.example/checkout"),
            "test_event_code": .string("TEST123"),
        ])
        #expect(try JSONValue(parsing: text) == expected)
        #expect(text == expected.serialized)
        #expect(!text.contains(email) && !text.contains(phone))
    }

    @Test("absent custom data, URL and test code are null; no identifying key, no mirror ids")
    func sparseRecord() throws {
        let prepared = event(userData: ["fn": .string(SHA256Hex.digest("jane"))])
        let text = MirrorRecord.text(prepared, source: "s", receivedAt: UnixMillis(0).iso8601, keyedMAC: HMAC<SHA256>(key: salt), testEventCode: nil)
        let record = try JSONValue(parsing: text)
        #expect(text == record.serialized)
        for field in ["value", "currency", "event_source_url", "test_event_code"] { #expect(record[field] == .null) }
        #expect(record["mirror_ids"] == .object([:]))
        #expect(record["match_keys"] == .array([.string("fn")]))
    }

    @Test("the URL loses its query and fragment, cut on bytes")
    func urlWithoutQuery() {
        #expect(MirrorRecord.withoutQuery("https://shop.example/ü/checkout?email=a%40b.c") == "https://shop.example/ü/checkout")
        #expect(MirrorRecord.withoutQuery("https://shop.example/p#top?x=1") == "https://shop.example/p")
        #expect(MirrorRecord.withoutQuery("https://shop.example/p?\u{301}q") == "https://shop.example/p")
        #expect(MirrorRecord.withoutQuery("https://shop.example/plain") == "https://shop.example/plain")
        #expect(MirrorRecord.withoutQuery("?only") == "")
    }
}
