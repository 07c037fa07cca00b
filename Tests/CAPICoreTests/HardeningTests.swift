import Foundation
import Testing

@testable import CAPICore

/// Outside values that used to trap, leak or be read two ways (issue: hardening).
@Suite("Hardening: outside input never traps, leaks or means two things")
struct HardeningTests {
    @Test("checked conversions refuse NaN, infinities and out-of-range values instead of trapping")
    func boundedConversions() {
        #expect(Bounded.int64(.nan) == nil)
        #expect(Bounded.int64(.infinity) == nil)
        #expect(Bounded.int64(1e300) == nil)
        #expect(Bounded.int64(-9.3e18) == nil)
        #expect(Bounded.int64(42.9) == 42)
        #expect(Bounded.int64(exactly: 42.5) == nil)
        #expect(Bounded.duration(seconds: 1e300) == nil)
        #expect(Bounded.duration(seconds: -1) == nil)
        #expect(Bounded.duration(seconds: .nan) == nil)
        #expect(Bounded.duration(seconds: 1.5) == .milliseconds(1500))
        #expect(Bounded.difference(.max, -1) == .max)
        #expect(Bounded.difference(.min, 1) == .min)
        #expect(Bounded.sum(.max, 1) == .max)
        #expect(Bounded.product(.min, 2) == .min)
        #expect(Bounded.digits("99999999999999999999") == nil)
        #expect(Bounded.digits("-5") == nil)
        #expect(Bounded.digits("0042") == 42)
        #expect(Duration.seconds(Int64.max).wholeMilliseconds == .max)
    }

    @Test(
        "timestamps are parsed strictly and formatted for any Int64 without trapping",
        arguments: [
            ("2026-11-20", Int64(1_795_132_800)), ("2026-11-20T10:00:00Z", 1_795_168_800), ("2026-11-20T10:00:00+0000", 1_795_168_800),
            ("2026-11-20T12:00:00+02:00", 1_795_168_800), ("2026-11-20T10:00:00.123Z", 1_795_168_800), ("1795168800", 1_795_168_800),
        ]
    )
    func strictTimestamps(text: String, expected: Int64) {
        #expect(UTCTimestamp.parse(text) == expected)
    }

    @Test(
        "impossible times are refused, not rolled over",
        arguments: [
            "2026-11-20T25:00:00Z", "2026-02-30", "2026-13-01", "2026-11-20T10:60:00Z", "2026-11-20T10:00:00", "99999999999999",
            "2026-11-20T10:00:00+2400", "", "2026-1-1", "-1",
        ]
    )
    func impossibleTimes(text: String) {
        #expect(UTCTimestamp.parse(text) == nil)
    }

    @Test("formatting the extremes of Int64 does not trap")
    func extremeFormatting() {
        #expect(UTCTimestamp.iso8601(seconds: .min) == "0001-01-01T00:00:00Z")
        #expect(UTCTimestamp.iso8601(seconds: .max) == "9999-12-31T23:59:59Z")
        #expect(UTCTimestamp.iso8601(milliseconds: .min).hasPrefix("0001-01-01"))
        #expect(CalendarDate(unixSeconds: .min).year == 1)
    }

    @Test(
        "an event_time near the Int64 limits is a field problem, not a trap",
        arguments: [
            "-9223372036854775808", "9223372036854775807", "-1", "0", "1e300", "-1e300", "\"99999999999999999999\"",
        ]
    )
    func extremeEventTime(value: String) {
        let found = problems(websitePurchase().replacingOccurrences(of: "\"event_time\": \(now - 60)", with: "\"event_time\": \(value)"))
        #expect(found.contains { $0.field == "event_time" })
    }

    @Test(
        "a birth date with a long digit run is refused, not converted",
        arguments: ["12345678901234567890", "1/2/123456789012345678901", "March 99999999999999999999"]
    )
    func longDigitRuns(value: String) {
        let result = Normalizer(today: vectorToday).normalize(.dateOfBirth, value)
        #expect((try? result.get()) == nil)
    }

    @Test("a JSON object that repeats a key is refused (parsers disagree on which copy wins)")
    func duplicateKeys() {
        #expect(throws: JSONValue.ParseError.self) { try JSONValue(parsing: #"{"event_id":"a","event_id":"b"}"#) }
        #expect(throws: JSONValue.ParseError.self) { try JSONValue(parsing: #"{"user_data":{"em":"x","em":"y"}}"#) }
        #expect((try? JSONValue(parsing: #"{"a":{"b":1},"b":{"b":2}}"#)) != nil)
    }

    @Test(
        "form bodies with empty pairs parse, and a repeated field is refused",
        arguments: [
            ("=", true), ("&&=&", true), ("=x", true), ("access_token=t&data=%5B%5D", true), ("data=1&data=2", false), ("a=%FF", true),
        ]
    )
    func formBodies(body: String, parses: Bool) {
        let request = try? GraphEventsRequest(body: Data(body.utf8), contentType: "application/x-www-form-urlencoded")
        #expect((request != nil) == parses)
        #expect(throws: GraphEventsRequest.BodyProblem(reason: "the form is not UTF-8")) {
            try GraphEventsRequest(body: Data([0x61, 0x3D, 0xFF]), contentType: "application/x-www-form-urlencoded")
        }
    }

    @Test("an 800,000-character name is refused with a clear 400 problem before any folding")
    func overlongName() {
        let name = String(repeating: "é", count: 800_000)
        let found = problems(websitePurchase().replacingOccurrences(of: "\"fn\": \"Jane\"", with: "\"fn\": \"\(name)\""))
        #expect(found.contains { $0.field == "user_data.fn" && $0.code == .tooLong })
        let url = problems(
            websitePurchase().replacingOccurrences(
                of: "https://shop.example/checkout",
                with: "https://shop.example/" + String(repeating: "a", count: 9000)
            )
        )
        #expect(url.contains { $0.field == "event_source_url" && $0.code == .tooLong })
    }

    @Test("non-ASCII folding is linear: each output byte is written once")
    func linearFolding() {
        let text = String(repeating: "É", count: 200_000) + "Σ"
        let lowered = TextFolding.lowercased(Substring(text))
        #expect(lowered.unicodeScalars.count == 200_001)
        #expect(lowered.hasPrefix("éé") && lowered.hasSuffix("ς"))
        let filtered = TextFolding.filtered(String(repeating: "ü.", count: 100_000)) { !TextFolding.isPunctuation($0) }
        #expect(filtered == String(repeating: "ü", count: 100_000))
    }

    @Test("personal data in custom_data is dropped with a warning naming the key, never the value")
    func customDataScrubbed() throws {
        let json = websitePurchase().replacingOccurrences(
            of: "\"coupon\": \"FALL\"",
            with:
                "\"coupon\": \"FALL\", \"customer_email\": \"jane@example.com\", \"note\": \"call +1 650 555 1212\", \"ref\": \"jane.doe@example.com\", \"items\": [\"ok\", \"x@example.org\"], \"Phone\": \"5\""
        )
        let prepared = try EventPreparer.prepare(event(json), policy: policy()).get()
        let custom = try #require(prepared.payload["custom_data"]?.objectValue)
        #expect(custom["customer_email"] == nil && custom["ref"] == nil && custom["Phone"] == nil)
        #expect(custom["items"] == .array([.string("ok")]))
        #expect(custom["coupon"] == .string("FALL") && custom["note"] == .string("call +1 650 555 1212"))
        let warnings = prepared.warnings.joined(separator: "\n")
        #expect(warnings.contains("custom_data.customer_email") && warnings.contains("custom_data.ref") && warnings.contains("custom_data.items[1]"))
        #expect(!warnings.contains("@example"))
        #expect(!prepared.payload.serialized.contains("@example"))
    }

    /// Meta hashes nothing outside `user_data`, and every field it defines besides `user_data` is
    /// stored and sent as given: `custom_data` was scrubbed, and the other free-form fields were not.
    @Test("personal data in any field sent as given is dropped, app_data.extinfo keeps its 16 slots, and no warning echoes it")
    func everyFreeFormFieldScrubbed() throws {
        var slots = ["\"i2\""] + Array(repeating: "\"\"", count: 15)
        slots[8] = "\"jane@example.com\""
        slots[9] = "\"+1 650 555 1212\""
        let json = #"""
            {"pixel_id": "12", "event_name": "Purchase", "event_id": "e-1", "event_time": \#(now), "action_source": "app",
             "user_data": {"madid": "AEBE52E7"},
             "custom_data": {"value": 1, "currency": "USD"},
             "app_data": {"advertiser_tracking_enabled": 1, "extinfo": [\#(slots.joined(separator: ","))], "Email": "x", "campaign_ids": "c1"},
             "original_event_data": {"event_name": "Purchase", "event_time": \#(now), "contact": "jane@example.com"},
             "attribution_data": {"ad_id": "6", "note": "(650) 555-1212", "nested": [{"ok": 1, "ref": "jane@example.com"}]},
             "customer_segmentation": "jane@example.com", "messaging_channel": "whatsapp"}
            """#
        let prepared = try EventPreparer.prepare(event(json), policy: policy()).get()
        let payload = prepared.payload
        let extinfo = try #require(payload["app_data"]?["extinfo"]?.arrayValue)
        #expect(extinfo.count == 16 && extinfo[0] == .string("i2") && extinfo[8] == .string("") && extinfo[9] == .string(""))
        #expect(payload["app_data"]?["Email"] == nil && payload["app_data"]?["campaign_ids"] == .string("c1"))
        #expect(payload["original_event_data"] == .object(["event_name": .string("Purchase"), "event_time": .integer(now)]))
        #expect(payload["attribution_data"] == .object(["ad_id": .string("6"), "nested": .array([.object(["ok": .integer(1)])])]))
        #expect(payload["customer_segmentation"] == nil && payload["messaging_channel"] == .string("whatsapp"))
        let named = Set(prepared.warnings.map { String($0.prefix { $0 != ":" }) })
        #expect(
            named == [
                "app_data.extinfo[8]", "app_data.extinfo[9]", "app_data.Email", "original_event_data.contact", "attribution_data.note",
                "attribution_data.nested[0].ref", "customer_segmentation",
            ]
        )
        for text in prepared.warnings + [prepared.payloadText] {
            #expect(!text.contains("@example") && !text.contains("555 1212") && !text.contains("555-1212") && !text.contains("5551212"))
        }
    }

    /// The `user_data` keys Meta takes unhashed are identifiers: an email address in one would be
    /// stored and sent as written.
    @Test("an unhashed user_data identifier holding an email address is dropped with a warning; a crawler's user agent is kept")
    func unhashedIdentifiersHoldingEmails() throws {
        let json = websitePurchase().replacingOccurrences(
            of: #""client_user_agent": "Mozilla/5.0""#,
            with:
                #""client_user_agent": "Mozilla/5.0 (compatible; ShopBot/1.0; +mailto:bots@shop.example)", "lead_id": "jane@example.com", "subscription_id": "sub for jane.doe@example.com", "fbc": "fb.1.1596403881668.jane@example.com", "madid": "AEBE52E7""#
        )
        let prepared = try EventPreparer.prepare(event(json), policy: policy()).get()
        let userData = try #require(try JSONValue(parsing: prepared.payloadText)["user_data"]?.objectValue)
        #expect(userData["lead_id"] == nil && userData["subscription_id"] == nil && userData["fbc"] == nil)
        #expect(userData["madid"] == .string("AEBE52E7"))
        #expect(userData["client_user_agent"] == .string("Mozilla/5.0 (compatible; ShopBot/1.0; +mailto:bots@shop.example)"))
        let dropped = prepared.warnings.filter { $0.contains("holds an email address") }.map { String($0.prefix { $0 != ":" }) }
        #expect(Set(dropped) == ["user_data.lead_id", "user_data.subscription_id", "user_data.fbc"])
        #expect(!prepared.warnings.joined().contains("@example"))
        #expect(!prepared.payloadText.contains("@example"))
    }

    /// A piece of an address is not an address, but after a path it reads as one
    /// (`user_data.@example.com`): the fuzzer found that in a refusal's field.
    @Test("a name a sender chose that holds an @ is shown as <redacted> in problems, normalize errors and URL warnings")
    func namesWithAtSigns() throws {
        let found = problems(websitePurchase().replacingOccurrences(of: #""fn": "Jane""#, with: #""@Example.com ph": "1""#))
        #expect(found.map(\.field) == ["user_data.<redacted>"])
        let line = NormalizationLine.respond(to: #"{"field": "@example.com", "value": "x"}"#, normalizer: Normalizer(today: vectorToday))
        #expect(line.contains(#""field":"<redacted>""#) && !line.contains("example"))
        let url = websitePurchase().replacingOccurrences(
            of: "https://shop.example/checkout",
            with: "https://shop.example/checkout?%40mail.example=jane%40mail.example"
        )
        let prepared = try EventPreparer.prepare(event(url), policy: policy()).get()
        #expect(prepared.warnings.contains("event_source_url: masked personal data (redacted)"), "\(prepared.warnings)")
        #expect(!prepared.payloadText.contains("mail.example"))
        #expect(PersonalData.shown(name: "coupon") == "coupon" && PersonalData.shown(name: "a@b") == "<redacted>")
    }

    /// `event_id` and `event_name` cannot be dropped, and they are stored, logged and sent as
    /// given: one that holds an email address is refused, naming the field and not the value.
    @Test("an event_id or event_name holding an email address is refused, naming the field, never the value")
    func identifiersHoldingEmails() throws {
        for (field, value) in [
            ("event_id", "jane.doe@example.com"), ("event_id", "order-1 for jane@example.com"), ("event_name", "Lead jane@example.com"),
            // Cut off after the domain's dot: still an address to anyone reading it.
            ("event_id", "fuzz-1e@example."), ("event_name", "Lead jane@example."),
        ] {
            let json = websitePurchase().replacingOccurrences(of: field == "event_id" ? #""order-981""# : #""Purchase""#, with: "\"\(value)\"")
            let found = problems(json)
            #expect(found.map(\.field) == [field])
            #expect(found.allSatisfy { $0.code == .invalidValue && !$0.message.contains("@example") })
        }
        // Ids that merely contain an at sign or look like numbers are kept.
        for id in ["order@2026", "2026-11-20-0001", "msg-1@", "<a1b2>"] {
            #expect(problems(websitePurchase().replacingOccurrences(of: #""order-981""#, with: "\"\(id)\"")).isEmpty)
        }
    }

    /// Past 16 members an object is searched through its name index: the same answers as a small
    /// object, for properties kept, dropped and replaced.
    @Test("a custom_data with 20,000 properties keeps all but the personal ones, which are named in warnings")
    func largeCustomData() throws {
        let properties = (0..<20_000).map { #""p\#($0)": \#($0)"# }.joined(separator: ", ")
        let json = websitePurchase().replacingOccurrences(
            of: "\"coupon\": \"FALL\"",
            with: "\"coupon\": \"FALL\", \(properties), \"customer_email\": \"x\", \"p19999_note\": \"jane@example.com\""
        )
        let prepared = try EventPreparer.prepare(event(json), policy: policy()).get()
        let custom = try #require(prepared.payload["custom_data"]?.objectValue)
        let given = try #require(try JSONValue(parsing: json)["custom_data"]?.objectValue)
        #expect(custom.count == given.count - 2)
        #expect(custom["p0"] == .integer(0) && custom["p19999"] == .integer(19_999) && custom["coupon"] == .string("FALL"))
        #expect(custom["customer_email"] == nil && custom["p19999_note"] == nil)
        #expect(prepared.warnings.filter { $0.hasPrefix("custom_data.") }.count == 2)
        let text = try #require(try JSONValue(parsing: prepared.payloadText)["custom_data"]?.objectValue)
        #expect(text == custom)
        #expect(!prepared.payloadText.contains("@example"))
    }

    @Test("unknown top-level fields are not forwarded")
    func unknownFieldsDropped() throws {
        let prepared = try EventPreparer.prepare(
            event(websitePurchase(#", "customer": {"email": "jane@example.com"}, "debug": 1"#)),
            policy: policy()
        ).get()
        #expect(prepared.payload["customer"] == nil && prepared.payload["debug"] == nil)
        #expect(prepared.warnings.contains("customer: not a Meta server-event parameter; not forwarded"))
        #expect(!prepared.payload.serialized.contains("jane@"))
    }

    @Test(
        "emails and phone numbers are masked in URL paths, fragments, queries and credentials",
        arguments: [
            ("https://shop.example/u/jane@example.com/orders", "https://shop.example/u/redacted/orders"),
            ("https://shop.example/u/jane%40example.com", "https://shop.example/u/redacted"),
            ("https://shop.example/c#email=jane@example.com&tab=2", "https://shop.example/c#email=redacted&tab=2"),
            ("https://shop.example/c#/profile/jane@example.com", "https://shop.example/c#/profile/redacted"),
            ("https://jane%40example.com:pw@shop.example/c", "https://shop.example/c"),
            ("https://shop.example/call/+1-650-555-1212", "https://shop.example/call/redacted"),
            ("https://shop.example/c?email=jane%40example.com&utm_source=fb", "https://shop.example/c?email=redacted&utm_source=fb"),
            ("https://shop.example/blog/2026-11-20/order-12345678", "https://shop.example/blog/2026-11-20/order-12345678"),
        ]
    )
    func urlMasking(url: String, expected: String) {
        #expect(URLScrubber.scrub(url).url == expected)
    }

    @Test("a URL parameter whose name is an email is masked and reported as redacted, never by name")
    func personalParameterName() throws {
        let scrubbed = URLScrubber.scrub("https://shop.example/c?jane@example.com=1&x=2")
        #expect(scrubbed.url == "https://shop.example/c?redacted&x=2")
        #expect(scrubbed.removed == ["redacted"])
        let prepared = try EventPreparer.prepare(
            event(websitePurchase().replacingOccurrences(of: "https://shop.example/checkout", with: "https://shop.example/c?jane@example.com=1")),
            policy: policy()
        ).get()
        #expect(!prepared.warnings.joined().contains("jane"))
        let line = NormalizationLine.respond(to: #"{"field":"jane@example.com","value":"x"}"#, normalizer: Normalizer(today: vectorToday))
        #expect(!line.contains("jane") && line.contains("unknown field"))
    }

    @Test("field names shaped like personal data never reach problems or warnings")
    func personalFieldNames() {
        let found = problems(websitePurchase().replacingOccurrences(of: "\"fn\": \"Jane\"", with: "\"jane@example.com\": \"x\""))
        #expect(found.contains { $0.field == "user_data.<redacted>" })
        #expect(!found.map(\.field).joined().contains("jane"))
    }

    @Test("normalize lines: invalid UTF-8, repeated keys and over-long values get an error line each")
    func normalizeLineErrors() throws {
        let normalizer = Normalizer(today: vectorToday)
        func answer(_ bytes: [UInt8]) throws -> [String: Any] {
            try #require(
                try JSONSerialization.jsonObject(with: Data(NormalizationLine.respond(to: bytes, normalizer: normalizer).utf8)) as? [String: Any]
            )
        }
        let invalid = try answer(Array(#"{"field":"fn","value":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8))
        #expect((invalid["error"] as? String)?.contains("UTF-8") == true)
        let repeated = try answer(Array(#"{"field":"em","value":"a@b.co","value":"c@d.co"}"#.utf8))
        #expect((repeated["error"] as? String)?.contains("duplicate key") == true)
        let long = try answer(Array(#"{"field":"fn","value":""#.utf8) + Array(repeating: UInt8(ascii: "a"), count: 5000) + Array(#""}"#.utf8))
        #expect((long["error"] as? String)?.contains("longer than") == true)
        let ok = try answer(Array(#"{"field":"em","value":" A@B.co "}"#.utf8))
        #expect(ok["normalized"] as? String == "a@b.co")
    }
}
