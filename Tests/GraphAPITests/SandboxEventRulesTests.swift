import CAPICore
import Testing

@testable import GraphSandbox

/// The stand-in's own checks on each event: it must refuse what Meta refuses, or the connector's
/// mistakes would pass every test that forwards into it.
@Suite("Sandbox event rules")
struct SandboxEventRulesTests {
    static let now: Int64 = 1_800_000_000
    static let digest = SHA256Hex.digest("a@b.co")

    /// A valid website purchase; each case changes one thing.
    static func event(_ change: (inout JSONObject) -> Void = { _ in }) -> JSONValue {
        var fields: JSONObject = [
            "event_name": .string("Purchase"),
            "event_time": .integer(now - 30),
            "event_id": .string("e1"),
            "action_source": .string("website"),
            "event_source_url": .string("https://shop.example/c"),
            "user_data": .object([
                "em": .array([.string(digest)]),
                "ph": .string(SHA256Hex.digest("16505551234")),
                "client_user_agent": .string("Mozilla/5.0"),
                "client_ip_address": .string("203.0.113.9"),
            ]),
            "custom_data": .object(["value": .number(10.5), "currency": .string("USD")]),
        ]
        change(&fields)
        return .object(fields)
    }

    static func withUserData(_ key: String, _ value: JSONValue) -> JSONValue {
        event { fields in
            guard case .object(var user)? = fields["user_data"] else { return }
            user[key] = value
            fields["user_data"] = .object(user)
        }
    }

    static func subcode(_ event: JSONValue) -> Int? {
        SandboxEventRules.check(event, index: 3, now: now)?.subcode
    }

    @Test("a valid event passes, with digests given alone, in a list, or as an empty list")
    func validEvent() {
        #expect(SandboxEventRules.check(Self.event(), index: 0, now: Self.now) == nil)
        #expect(Self.subcode(Self.withUserData("fn", .array([]))) == nil)
        #expect(Self.subcode(Self.withUserData("fn", .array([.string(Self.digest), .string(String(repeating: "0", count: 64))]))) == nil)
        // Keys Meta does not hash are not held to the digest's shape.
        #expect(Self.subcode(Self.withUserData("fbp", .string("fb.1.1596403881668.1116446470"))) == nil)
    }

    @Test(
        "a hashed key must hold 64 lowercase hex digits, every element of a list included",
        arguments: [
            JSONValue.string("a@b.co"),
            .string(Self.digest.uppercased()),
            .string(String(Self.digest.dropLast())),
            .string(Self.digest + "0"),
            .string(String(Self.digest.dropLast()) + "g"),
            .string(String(Self.digest.dropLast()) + "é"),
            .array([.string(Self.digest), .string("a@b.co")]),
            .array([.string(Self.digest), .null]),
            .array([.array([.string(Self.digest)])]),
            .integer(42),
            .null,
        ]
    )
    func unhashedValues(_ value: JSONValue) {
        let violation = SandboxEventRules.check(Self.withUserData("em", value), index: 3, now: Self.now)
        #expect(violation?.subcode == 2_804_008)
        #expect(violation?.message == "data[3]: user_data.em must be a lowercase SHA-256 hex digest")
    }

    @Test("each documented refusal has its subcode")
    func refusals() {
        #expect(Self.subcode(.array([])) == 2_804_001)
        #expect(Self.subcode(Self.event { $0["event_name"] = .string("") }) == 2_804_001)
        #expect(Self.subcode(Self.event { $0["event_time"] = .string("1800000000") }) == 2_804_001)
        #expect(Self.subcode(Self.event { $0["action_source"] = .string("web") }) == 2_804_001)
        #expect(Self.subcode(Self.event { $0["event_time"] = .integer(Self.now - 8 * 86_400) }) == 2_804_003)
        #expect(Self.subcode(Self.event { $0["event_time"] = .integer(Self.now + 8 * 86_400) }) == 2_804_004)
        // More than the connector's default skew ahead is refused; up to it is taken.
        #expect(Self.subcode(Self.event { $0["event_time"] = .integer(Self.now + 3_600) }) == 2_804_004)
        #expect(Self.subcode(Self.event { $0["event_time"] = .integer(Self.now + 301) }) == 2_804_004)
        #expect(Self.subcode(Self.event { $0["event_time"] = .integer(Self.now + 300) }) == nil)
        #expect(Self.subcode(Self.event { $0["user_data"] = nil }) == 2_804_005)
        #expect(Self.subcode(Self.event { $0["event_source_url"] = nil }) == 2_804_019)
        #expect(Self.subcode(Self.withUserData("client_user_agent", .null)) == 2_804_019)
        #expect(Self.subcode(Self.event { $0["custom_data"] = .object(["value": .number(1), "currency": .string("usd")]) }) == nil)
        #expect(Self.subcode(Self.event { $0["custom_data"] = .object(["value": .number(1), "currency": .string("XYZ")]) }) == 2_804_012)
        #expect(Self.subcode(Self.event { $0["custom_data"] = .object(["currency": .string("USD")]) }) == 2_804_012)
        #expect(Self.subcode(Self.event { $0["custom_data"] = nil }) == 2_804_012)
    }
}
