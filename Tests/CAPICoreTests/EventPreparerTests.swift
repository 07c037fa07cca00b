import Foundation
import Testing

@testable import CAPICore

let now: Int64 = 1_795_000_000

func policy(defaultCountry: String? = "us") -> EventPolicy {
    EventPolicy(now: UnixSeconds(now), maxFutureSkew: .seconds(300), defaultCountry: defaultCountry, normalizer: Normalizer(today: vectorToday))
}

func event(_ json: String) -> JSONValue {
    try! JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))
}

/// A realistic website purchase with raw personal data under friendly and canonical names.
func websitePurchase(_ overrides: String = "") -> String {
    """
    {"pixel_id": "1234567890", "event_name": "Purchase", "event_time": \(now - 60), "event_id": "order-981",
     "action_source": "website", "event_source_url": "https://shop.example/checkout",
     "user_data": {"email": "  Jane.Doe@Example.COM ", "phone": "(650) 555-1212", "fn": "Jane", "ln": "O'Doe",
                   "ct": "Menlo Park", "st": "California", "zp": "94025-1234", "country": "United States",
                   "db": "2/16/1997", "ge": "Female", "external_id": "user-42",
                   "client_ip_address": "203.0.113.9", "client_user_agent": "Mozilla/5.0", "fbp": "fb.1.1596403881668.1116446470"},
     "custom_data": {"value": 129.5, "currency": "USD", "contents": [{"id": "sku-1", "quantity": 2}], "coupon": "FALL"}\(overrides)}
    """
}

func problems(_ json: String, policy: EventPolicy = policy()) -> [EventProblem] {
    switch EventPreparer.prepare(event(json), policy: policy) {
    case .success: []
    case .failure(let rejection): rejection.problems
    }
}

@Suite("Event validation and payload")
struct EventPreparerTests {
    @Test(
        "an event name that is nearly one of Meta's standard ones is sent as given, with a warning naming the standard one",
        arguments: [
            ("purchase", "Purchase"), ("PURCHASE", "Purchase"), ("add_to_cart", "AddToCart"), ("Add To Cart", "AddToCart"),
            ("initiate-checkout", "InitiateCheckout"), ("Purchase", nil), ("AddToCart", nil), ("OrderShipped", nil), ("Purchased", nil),
        ] as [(String, String?)]
    )
    func standardEventNearMiss(name: String, standard: String?) throws {
        let prepared = try EventPreparer.prepare(
            event(websitePurchase().replacingOccurrences(of: #""Purchase""#, with: "\"\(name)\"")),
            policy: policy()
        ).get()
        #expect(prepared.eventName == name)
        if let standard {
            #expect(prepared.warnings.count == 1)
            #expect(
                prepared.warnings.first?.hasPrefix("event_name: is sent as given, which Meta takes as a custom event, not its standard \(standard) ")
                    == true
            )
        } else {
            #expect(prepared.warnings.isEmpty, "\(prepared.warnings)")
        }
    }

    @Test(
        "an unknown user_data key is refused with the accepted name it is near, if any; an unknown event field's warning too",
        arguments: [("EM", "; did you mean `em`?"), ("emial", "; did you mean `email`?"), ("firstname", "; did you mean `first_name`?"), ("xx", "")]
    )
    func unknownNamesSuggested(name: String, suggestion: String) throws {
        let json = websitePurchase().replacingOccurrences(of: #""fn": "Jane""#, with: "\"\(name)\": \"Jane\"")
        #expect(
            problems(json).map { "\($0.field): \($0.message)" } == ["user_data.\(name): is not a Meta customer-information parameter\(suggestion)"]
        )
        let prepared = try EventPreparer.prepare(event(websitePurchase(#", "Event_Name": "x", "zzz": 1"#)), policy: policy()).get()
        #expect(
            prepared.warnings == [
                "Event_Name: not a Meta server-event parameter; not forwarded (did you mean `event_name`?)",
                "zzz: not a Meta server-event parameter; not forwarded",
            ]
        )
    }

    @Test("an action source in another case is refused naming the value Meta takes; another word only lists them")
    func actionSourceCase() {
        let listed = "must be one of email, website, app, phone_call, chat, physical_store, system_generated, business_messaging, other"
        #expect(
            problems(websitePurchase(#", "action_source": "Website""#).replacingOccurrences(of: #""action_source": "website", "#, with: "")).map(
                \.message
            ) == [listed + "; values are lowercase: `website`"]
        )
        #expect(
            problems(websitePurchase(#", "action_source": "web""#).replacingOccurrences(of: #""action_source": "website", "#, with: "")).map(
                \.message
            ) == [listed]
        )
    }

    @Test("a realistic purchase becomes Meta's event with every personal value hashed")
    func realisticPurchase() throws {
        let prepared = try EventPreparer.prepare(event(websitePurchase()), policy: policy()).get()
        #expect(prepared.key == EventKey(pixelID: "1234567890", eventID: "order-981", eventTime: UnixSeconds(now - 60)))
        #expect(prepared.warnings.isEmpty)
        let payload = try #require(prepared.payload.objectValue)
        #expect(payload["pixel_id"] == nil)
        #expect(payload["event_time"] == .integer(now - 60))
        let user = try #require(payload["user_data"]?.objectValue)
        #expect(user["em"] == .array([.string(SHA256Hex.digest("jane.doe@example.com"))]))
        #expect(user["ph"] == .array([.string(SHA256Hex.digest("16505551212"))]))
        #expect(user["ln"] == .array([.string(SHA256Hex.digest("odoe"))]))
        #expect(user["ct"] == .array([.string(SHA256Hex.digest("menlopark"))]))
        #expect(user["st"] == .array([.string(SHA256Hex.digest("ca"))]))
        #expect(user["zp"] == .array([.string(SHA256Hex.digest("94025"))]))
        #expect(user["country"] == .array([.string(SHA256Hex.digest("us"))]))
        #expect(user["db"] == .array([.string(SHA256Hex.digest("19970216"))]))
        #expect(user["ge"] == .array([.string(SHA256Hex.digest("f"))]))
        #expect(user["external_id"] == .array([.string(SHA256Hex.digest("user-42"))]))
        #expect(user["client_ip_address"] == .string("203.0.113.9"))
        #expect(user["fbp"] == .string("fb.1.1596403881668.1116446470"))
        #expect(user["email"] == nil && user["phone"] == nil)
        #expect(
            prepared.matchKeys == [
                "em", "ph", "fn", "ln", "ct", "st", "zp", "country", "db", "ge", "external_id", "client_ip_address", "client_user_agent", "fbp",
            ]
        )
        // Custom properties reach Meta untouched.
        #expect(payload["custom_data"]?["coupon"] == .string("FALL"))
        #expect(prepared.userData.firstValue(of: .email) == SHA256Hex.digest("jane.doe@example.com"))
        #expect(prepared.userData.firstValue(of: .clientIPAddress) == "203.0.113.9")
        #expect(prepared.userData.firstValue(of: .fbc) == nil)
        // user_data travels as text, never in the tree beside it, and the two make the canonical text.
        #expect(prepared.fields["user_data"] == nil)
        #expect(prepared.payloadText == prepared.payload.serialized)
        // No raw personal value survives anywhere in what is stored and sent.
        let wire = prepared.payloadText.lowercased()
        for raw in ["jane", "doe@", "650", "555-1212", "menlo", "california", "1997", "user-42"] {
            #expect(!wire.contains(raw), "raw value \(raw) in payload")
        }
    }

    @Test("the phone's country comes from user_data.country, else the pixel default")
    func phoneCountry() throws {
        let japanese = websitePurchase().replacingOccurrences(of: #""phone": "(650) 555-1212""#, with: #""phone": "090-1234-5678""#)
            .replacingOccurrences(of: #""country": "United States""#, with: #""country": "JP""#)
        let user = try EventPreparer.prepare(event(japanese), policy: policy()).get().payload["user_data"]
        #expect(user?["ph"] == .array([.string(SHA256Hex.digest("819012345678"))]))
        let noCountry = websitePurchase().replacingOccurrences(of: #", "country": "United States""#, with: "")
        let german = try EventPreparer.prepare(
            event(noCountry.replacingOccurrences(of: "(650) 555-1212", with: "030 123456")),
            policy: policy(defaultCountry: "de")
        ).get()
        #expect(german.payload["user_data"]?["ph"] == .array([.string(SHA256Hex.digest("4930123456"))]))
    }

    @Test(
        "the phone's country is the first country value's code when it has one, else the pixel default",
        arguments: [
            (#""Österreich""#, "43", ["at"]),
            (#"["  JAPAN ", "us"]"#, "81", ["jp", "us"]),
            (#"["Atlantis", "jp"]"#, "49", ["jp"]),
            (#""Atlantis""#, "49", []),
            ("\"\(SHA256Hex.digest("jp").uppercased())\"", "49", ["jp"]),
            ("null", "49", []),
        ] as [(String, String, [String])]
    )
    func phoneCountryFromFirstValue(country: String, callingCode: String, countriesSent: [String]) throws {
        let json = websitePurchase()
            .replacingOccurrences(of: #""phone": "(650) 555-1212""#, with: #""phone": "0301 234567""#)
            .replacingOccurrences(of: #""country": "United States""#, with: #""country": \#(country)"#)
        let prepared = try EventPreparer.prepare(event(json), policy: policy(defaultCountry: "de")).get()
        let user = try #require(prepared.payload["user_data"]?.objectValue)
        #expect(user["ph"] == .array([.string(SHA256Hex.digest(callingCode + "301234567"))]))
        #expect(user["country"] == (countriesSent.isEmpty ? nil : .array(countriesSent.map { .string(SHA256Hex.digest($0)) })))
        // An unreadable country is reported once, though it was read before every other key.
        let countryWarnings = prepared.warnings.filter { $0.hasPrefix("user_data.country") }
        #expect(countryWarnings.count == (country.contains("Atlantis") ? 1 : 0))
    }

    @Test("an event_time in milliseconds gets its own error naming event_time")
    func milliseconds() {
        let found = problems(websitePurchase().replacingOccurrences(of: "\"event_time\": \(now - 60)", with: "\"event_time\": \((now - 60) * 1000)"))
        #expect(
            found == [
                EventProblem(
                    field: "event_time",
                    code: .millisecondsTimestamp,
                    message: "looks like milliseconds; Meta expects Unix seconds (divide by 1000)"
                )
            ]
        )
    }

    @Test("event_time window: 7 days back, 62 for store sales, 5 minutes ahead")
    func timeWindow() throws {
        let eightDays = websitePurchase().replacingOccurrences(of: "\(now - 60)", with: "\(now - 8 * 86_400)")
        #expect(problems(eightDays).map(\.code) == [.tooOld])
        let store = eightDays.replacingOccurrences(of: #""action_source": "website""#, with: #""action_source": "physical_store""#)
        #expect(problems(store).isEmpty)
        let ahead = websitePurchase().replacingOccurrences(of: "\(now - 60)", with: "\(now + 301)")
        #expect(problems(ahead).map(\.code) == [.inFuture])
        let justAhead = websitePurchase().replacingOccurrences(of: "\(now - 60)", with: "\(now + 300)")
        #expect(problems(justAhead).isEmpty)
        #expect(problems(websitePurchase().replacingOccurrences(of: "\(now - 60)", with: "\"soon\"")).map(\.field) == ["event_time"])
    }

    @Test("an event too close to Meta's age limit to reach Meta in time is refused; with the margin left, it is taken")
    func ageLimitMargin() throws {
        let limit: Int64 = 7 * 86_400
        let margin = MetaLimits.deliveryMarginSeconds
        let tooLate = websitePurchase().replacingOccurrences(of: "\(now - 60)", with: "\(now - limit + margin - 1)")
        let found = problems(tooLate)
        #expect(found.map(\.code) == [.tooOld])
        #expect(found.first?.message.contains("too late to reach Meta") == true)
        #expect(problems(websitePurchase().replacingOccurrences(of: "\(now - 60)", with: "\(now - limit + margin)")).isEmpty)
        // Store sales: the same margin before their 62 days.
        let store = websitePurchase().replacingOccurrences(of: #""action_source": "website""#, with: #""action_source": "physical_store""#)
        #expect(problems(store.replacingOccurrences(of: "\(now - 60)", with: "\(now - 62 * 86_400 + margin - 1)")).map(\.code) == [.tooOld])
        #expect(problems(store.replacingOccurrences(of: "\(now - 60)", with: "\(now - 62 * 86_400 + margin)")).isEmpty)
    }

    @Test("every missing requirement is reported at once")
    func missingRequirements() {
        let found = problems(#"{"pixel_id": "12", "event_time": \#(now), "action_source": "website", "user_data": {"em": "a@b.co"}}"#)
        #expect(Set(found.map(\.field)) == ["event_name", "event_id", "event_source_url", "user_data.client_user_agent"])
    }

    @Test("a user agent given and refused is one problem on its key, not also \"is required\"", arguments: ["client_user_agent", "user_agent"])
    func refusedUserAgentOnce(key: String) {
        let base =
            #"{"pixel_id": "12", "event_name": "Lead", "event_id": "e", "event_time": \#(now), "action_source": "website", "#
            + #""event_source_url": "https://shop.example/", "user_data": {"em": "a@b.co", "\#(key)": "#
        let several = problems(base + #"["UA1", "UA2"]}}"#)
        #expect(several.map(\.field) == ["user_data.client_user_agent"], "\(several)")
        #expect(several.map(\.code) == [.invalidValue])
        let number = problems(base + #"true}}"#)
        #expect(number.map(\.field) == ["user_data.\(key)"], "\(number)")
        // Absent, it is still required.
        #expect(problems(base.replacingOccurrences(of: #", "\#(key)": "#, with: "") + "}}").map(\.field) == ["user_data.client_user_agent"])
    }

    @Test("app events need app_data with tracking flag and 16 extinfo slots")
    func appEvents() {
        let base =
            #"{"pixel_id": "12", "event_name": "Install", "event_id": "e", "event_time": \#(now), "action_source": "app", "user_data": {"madid": "AEBE52E7"}"#
        #expect(problems(base + "}").map(\.field) == ["app_data"])
        #expect(
            Set(problems(base + #", "app_data": {"extinfo": ["a2"]}}"#).map(\.field)) == ["app_data.advertiser_tracking_enabled", "app_data.extinfo"]
        )
        let slots = (["\"i2\""] + Array(repeating: "\"\"", count: 15)).joined(separator: ",")
        #expect(problems(base + #", "app_data": {"advertiser_tracking_enabled": 1, "extinfo": [\#(slots)]}}"#).isEmpty)
    }

    @Test("extinfo as Meta's SDK sends it (numbers for sizes and counts, null for facts not set) is taken and sent as strings")
    func extinfoFromTheSDK() throws {
        let base =
            #"{"pixel_id": "12", "event_name": "Install", "event_id": "e", "event_time": \#(now), "action_source": "app", "user_data": {"madid": "AEBE52E7"}"#
        // ExtendedDeviceInfo(ext_info_version="i2", …, screen_width=1170, …, cpu_core_count=6, total_disk_space_gb=128, …).normalize()
        let fromSDK =
            #"["i2", "com.example", "1.0", "1.0.1", "17.0", "iPhone", "en_US", "PST", null, 1170, 2532, "3.0", 6, 128, 64.5, "America/Los_Angeles"]"#
        let prepared = try EventPreparer.prepare(
            event(base + #", "app_data": {"advertiser_tracking_enabled": true, "extinfo": \#(fromSDK)}}"#),
            policy: policy()
        ).get()
        let sent = try #require(prepared.payload["app_data"]?["extinfo"]?.arrayValue)
        #expect(
            sent.map(\.stringValue) == [
                "i2", "com.example", "1.0", "1.0.1", "17.0", "iPhone", "en_US", "PST", "", "1170", "2532", "3.0", "6", "128", "64.5",
                "America/Los_Angeles",
            ]
        )
        // What is not a device fact still is refused, naming the field.
        for slot in ["true", "{}", "[]"] {
            let slots = (["\"i2\""] + Array(repeating: "\"\"", count: 14) + [slot]).joined(separator: ",")
            #expect(
                problems(base + #", "app_data": {"advertiser_tracking_enabled": 1, "extinfo": [\#(slots)]}}"#).map(\.field) == ["app_data.extinfo"]
            )
        }
    }

    @Test("custom_data: ISO 4217, value with currency, Purchase needs both, contents need ids")
    func customData() {
        #expect(
            problems(websitePurchase().replacingOccurrences(of: #""currency": "USD""#, with: #""currency": "XYZ""#)).map(\.field) == [
                "custom_data.currency"
            ]
        )
        #expect(problems(websitePurchase().replacingOccurrences(of: #", "currency": "USD""#, with: "")).map(\.field) == ["custom_data.currency"])
        #expect(
            problems(websitePurchase().replacingOccurrences(of: #""value": 129.5"#, with: #""value": "129,5""#)).map(\.field) == ["custom_data.value"]
        )
        #expect(
            problems(websitePurchase().replacingOccurrences(of: #""value": 129.5, "currency": "USD", "#, with: "")).map(\.field) == [
                "custom_data.currency", "custom_data.value",
            ]
        )
        #expect(
            problems(websitePurchase().replacingOccurrences(of: #"{"id": "sku-1", "quantity": 2}"#, with: #"{"quantity": 1.5}"#)).map(\.field) == [
                "custom_data.contents[0].id", "custom_data.contents[0].quantity",
            ]
        )
        #expect(problems(websitePurchase().replacingOccurrences(of: #""currency": "USD""#, with: #""currency": "eur""#)).isEmpty)
        // Meta's other typed fields: numbers, an item count, and its three delivery categories.
        let typed = #""coupon": "FALL", "predicted_ltv": "high", "net_revenue": [1], "num_items": 1.5, "delivery_category": "drone""#
        #expect(
            problems(websitePurchase().replacingOccurrences(of: #""coupon": "FALL""#, with: typed)).map(\.field) == [
                "custom_data.delivery_category", "custom_data.net_revenue", "custom_data.num_items", "custom_data.predicted_ltv",
            ]
        )
        let accepted = #""coupon": "FALL", "predicted_ltv": 80.5, "net_revenue": 12, "num_items": 2, "delivery_category": "HOME_DELIVERY""#
        #expect(problems(websitePurchase().replacingOccurrences(of: #""coupon": "FALL""#, with: accepted)).isEmpty)
        #expect(
            problems(websitePurchase().replacingOccurrences(of: #""quantity": 2}"#, with: #""quantity": 2, "delivery_category": "pickup"}"#))
                .map(\.field) == ["custom_data.contents[0].delivery_category"]
        )
    }

    @Test("numbers in custom_data given as decimal text, as shop systems send prices, are sent as numbers with a warning")
    func numbersGivenAsText() throws {
        let json = websitePurchase().replacingOccurrences(
            of: #""value": 129.5, "currency": "USD", "contents": [{"id": "sku-1", "quantity": 2}]"#,
            with:
                #""value": " 129.50", "currency": "USD", "num_items": "2", "predicted_ltv": "-3", "contents": [{"id": "sku-1", "quantity": "2", "item_price": "64.75"}]"#
        )
        let prepared = try EventPreparer.prepare(event(json), policy: policy()).get()
        let custom = try #require(prepared.payload.objectValue?["custom_data"]?.objectValue)
        #expect(custom["value"] == .number(129.5))
        #expect(custom["num_items"] == .integer(2))
        #expect(custom["predicted_ltv"] == .integer(-3))
        #expect(custom["contents"] == .array([.object(["id": .string("sku-1"), "quantity": .integer(2), "item_price": .number(64.75)])]))
        #expect(custom["coupon"] == .string("FALL"))
        #expect(prepared.payloadText.contains(#""value":129.5"#))
        #expect(
            prepared.warnings == [
                "custom_data.contents[0].item_price: a number given as text; sent as a number",
                "custom_data.contents[0].quantity: a number given as text; sent as a number",
                "custom_data.num_items: a number given as text; sent as a number",
                "custom_data.predicted_ltv: a number given as text; sent as a number",
                "custom_data.value: a number given as text; sent as a number",
            ]
        )
        // Text that is no plain decimal is left as given, and refused where a number is checked.
        for text in ["12,50", "$12", "1e3", "12.", ".5", "", "--1", "0x10"] {
            let refused = problems(websitePurchase().replacingOccurrences(of: #""value": 129.5"#, with: #""value": "\#(text)""#))
            #expect(refused.map(\.field) == ["custom_data.value"], "\(text)")
            #expect(refused.first?.message == #"must be a number such as 12.5 (or the text "12.50"), found other text"#, "never the value")
        }
        let halfItem = problems(websitePurchase().replacingOccurrences(of: #""quantity": 2"#, with: #""quantity": "1.5""#))
        #expect(halfItem.map(\.field) == ["custom_data.contents[0].quantity"])
    }

    @Test("Limited Data Use fields take only Meta's codes")
    func limitedDataUse() {
        #expect(
            problems(
                websitePurchase(#", "data_processing_options": ["LDU"], "data_processing_options_country": 1, "data_processing_options_state": 1000"#)
            ).isEmpty
        )
        #expect(
            problems(
                websitePurchase(#", "data_processing_options": ["LDU"], "data_processing_options_country": 1, "data_processing_options_state": 1200"#)
            ).map(\.field) == ["data_processing_options_state"]
        )
        #expect(problems(websitePurchase(#", "data_processing_options": ["GDPR"]"#)).map(\.field) == ["data_processing_options"])
    }

    @Test("an unusable personal value is dropped with a warning naming the key, not the value")
    func droppedValues() throws {
        let json = websitePurchase().replacingOccurrences(of: "  Jane.Doe@Example.COM ", with: "not-an-email")
            .replacingOccurrences(of: "203.0.113.9", with: "999.1.1.1")
        let prepared = try EventPreparer.prepare(event(json), policy: policy()).get()
        #expect(prepared.payload["user_data"]?["em"] == nil)
        #expect(prepared.payload["user_data"]?["client_ip_address"] == nil)
        #expect(prepared.warnings.count == 2)
        #expect(prepared.warnings.contains { $0.hasPrefix("user_data.em:") })
        #expect(prepared.warnings.contains { $0.hasPrefix("user_data.client_ip_address:") })
        #expect(!prepared.warnings.joined().contains("not-an-email") && !prepared.warnings.joined().contains("999.1"))
    }

    @Test("unknown user_data keys and wrong types are named; user_data with nothing usable is refused")
    func userDataProblems() {
        #expect(
            problems(websitePurchase().replacingOccurrences(of: #""fn": "Jane""#, with: #""favourite_colour": "blue""#)).map(\.field) == [
                "user_data.favourite_colour"
            ]
        )
        #expect(problems(websitePurchase().replacingOccurrences(of: #""fn": "Jane""#, with: #""fn": {"x": 1}"#)).map(\.field) == ["user_data.fn"])
        let empty =
            #"{"pixel_id": "12", "event_name": "Lead", "event_id": "e", "event_time": \#(now), "action_source": "email", "user_data": {"em": "nope"}}"#
        #expect(problems(empty).map(\.code) == [.noCustomerInformation])
    }

    @Test(
        "event_id and event_name with a control character are refused naming the field: stores cannot key them",
        arguments: [
            (#""event_id": "order-981""#, #""event_id": "order\u0000981""#, "event_id"),
            (#""event_id": "order-981""#, #""event_id": "order\n981""#, "event_id"),
            (#""event_name": "Purchase""#, #""event_name": "Pur\u0000chase""#, "event_name"),
            (#""event_name": "Purchase""#, #""event_name": "Purchase\u007f""#, "event_name"),
        ]
    )
    func controlCharactersInKeys(original: String, replacement: String, field: String) {
        let found = problems(websitePurchase().replacingOccurrences(of: original, with: replacement))
        #expect(found.map(\.field) == [field])
        #expect(found.first?.message == "holds a control character (U+0000 to U+001F or U+007F)")
        #expect(problems(websitePurchase()).isEmpty)
    }

    @Test("an IP address with a NUL and more after it is no address: the C parser stopped reading at the NUL")
    func addressWithNUL() throws {
        let json = websitePurchase().replacingOccurrences(of: #""203.0.113.9""#, with: #""203.0.113.9\u0000<script>""#)
        let prepared = try EventPreparer.prepare(event(json), policy: policy()).get()
        #expect(prepared.userData.firstValue(of: .clientIPAddress) == nil)
        #expect(prepared.warnings.contains("user_data.client_ip_address: is not an IPv4 or IPv6 address; dropped"))
        #expect(NetworkAddress.isValid("203.0.113.9") && !NetworkAddress.isValid("203.0.113.9\u{0}x"))
        #expect(NetworkAddress.bytes(of: "2001:db8::1\u{0}") == nil && NetworkAddress.bytes(of: "2001:db8::1")?.count == 16)
    }

    @Test("a refusal for no customer information says which values were dropped and why, never what they were")
    func noCustomerInformationExplainsItself() throws {
        let json = #"""
            {"pixel_id": "12", "event_name": "Lead", "event_id": "e", "event_time": \#(now), "action_source": "email",
             "user_data": {"email": 5, "ph": "12", "country": "Atlantis"}, "opt_out": "x"}
            """#
        guard case .failure(let rejection) = EventPreparer.prepare(event(json), policy: policy()) else {
            Issue.record("accepted an event with no usable customer information")
            return
        }
        let refusal = try #require(rejection.problems.first { $0.code == .noCustomerInformation })
        // The alias is named as the key it stands for; each dropped value's reason is the normalizer's.
        #expect(refusal.message.hasPrefix("has no usable customer information after normalization; dropped user_data."))
        for key in ["user_data.em:", "user_data.ph:", "user_data.country:"] { #expect(refusal.message.contains(key), "\(key)") }
        for value in ["Atlantis", ": 5", "12"] { #expect(!refusal.message.contains(value), "\(value)") }
        // The rejection carries the warnings acceptance would have answered with, and the other problems.
        #expect(rejection.warnings.count == 3 && rejection.warnings.allSatisfy { $0.hasSuffix("; dropped") })
        #expect(rejection.problems.map(\.field) == ["opt_out", "user_data"])
    }

    /// Intake hashes an event's values two at a time; each must still be the digest of its own
    /// value. Every subset of nine keys gives odd and even counts (the last value hashed alone),
    /// pairs of one- and two-block messages (a 70-byte email), names in two-byte UTF-8, a digest
    /// given as such among them, and keys Meta takes unhashed in between.
    @Test("every value of every subset of keys is its own digest when an event's values are hashed in pairs")
    func pairedHashing() throws {
        let values: [(key: UserDataKey, value: String)] = [
            (.email, "  A.Very.Long.Local.Part.For.Two.Blocks.\(String(repeating: "x", count: 20))@Example.COM "), (.phone, "(650) 555-1212"),
            (.firstName, "Zoë"), (.lastName, "O'Brien"), (.city, "São Paulo"), (.dateOfBirth, "2/16/1997"), (.gender, "Female"),
            (.externalID, SHA256Hex.digest("user-42").uppercased()), (.state, "N.Y."),
        ]
        let normalizer = policy().normalizer
        for subset in 1..<(1 << values.count) {
            let chosen = values.indices.filter { subset & (1 << $0) != 0 }.map { values[$0] }
            var user: [String: JSONValue] = ["client_user_agent": .string("Mozilla/5.0"), "client_ip_address": .string("203.0.113.9")]
            for (key, value) in chosen { user[key.rawValue] = .string(value) }
            let raw: JSONValue = .object([
                "pixel_id": .string("1234567890"), "event_name": .string("Purchase"), "event_time": .integer(now - 60),
                "event_id": .string("order-\(subset)"), "action_source": .string("website"),
                "event_source_url": .string("https://shop.example/checkout"), "user_data": .object(JSONObject(user)),
                "custom_data": .object(["value": .number(1.5), "currency": .string("USD")]),
            ])
            let prepared = try EventPreparer.prepare(raw, policy: policy()).get()
            let sent = try #require(prepared.payload["user_data"]?.objectValue)
            for (key, value) in chosen {
                let expected: String =
                    switch normalizer.normalize(key, value, country: "us") {
                    case .success(.hashed(_, let digest)), .success(.digest(let digest)): digest.hex
                    default: "not hashed"
                    }
                let got = key.isMultiValued ? sent[key.rawValue]?.arrayValue?.first : sent[key.rawValue]
                #expect(got == .string(expected), "\(key.rawValue) in subset \(subset)")
                #expect(prepared.userData.firstValue(of: key) == expected, "\(key.rawValue) in subset \(subset)")
            }
            #expect(sent["client_ip_address"] == .string("203.0.113.9"))
            // No normalized value is kept unhashed in the prepared event, even in memory.
            #expect(!prepared.userData.firstValues.contains { if case .unhashed = $0 { true } else { false } }, "subset \(subset)")
        }
    }

    @Test("digests pass through, duplicates after normalization collapse, aliases merge with canonical names")
    func digestsAndDuplicates() throws {
        let digest = SHA256Hex.digest("jane.doe@example.com")
        let json = websitePurchase().replacingOccurrences(
            of: #""email": "  Jane.Doe@Example.COM ""#,
            with: #""email": ["JANE.DOE@example.com", "\#(digest.uppercased())"], "em": "other@example.com""#
        )
        let prepared = try EventPreparer.prepare(event(json), policy: policy()).get()
        #expect(prepared.payload["user_data"]?["em"] == .array([.string(SHA256Hex.digest("other@example.com")), .string(digest)]))
        // With a key of two values, each key's first value is still found by its place.
        #expect(prepared.userData.firstValue(of: .email) == SHA256Hex.digest("other@example.com"))
        #expect(prepared.userData.firstValue(of: .phone) == SHA256Hex.digest("16505551212"))
        #expect(prepared.userData.firstValue(of: .fbp) == "fb.1.1596403881668.1116446470")
        #expect(prepared.matchKeys.first == "em" && prepared.matchKeys.count == Set(prepared.matchKeys).count)
    }

    @Test("Meta's messaging identifiers (page-scoped user, Instagram account and click ids) are sent as given, not hashed")
    func messagingIdentifiers() throws {
        let json = websitePurchase().replacingOccurrences(
            of: #""fbp": "fb.1.1596403881668.1116446470""#,
            with:
                #""fbp": "fb.1.1596403881668.1116446470", "page_id": "1029", "page_scoped_user_id": " 7730 ", "ig_account_id": "17841400", "ig_sid": "AbC-12""#
        )
        let prepared = try EventPreparer.prepare(event(json), policy: policy()).get()
        let user = try #require(prepared.payload["user_data"])
        #expect(user["page_scoped_user_id"] == .string("7730") && user["ig_account_id"] == .string("17841400") && user["ig_sid"] == .string("AbC-12"))
        #expect(prepared.matchKeys.contains("ig_sid"))
        // Single values, as Meta takes them.
        let two = websitePurchase().replacingOccurrences(of: #""fbp": "fb.1.1596403881668.1116446470""#, with: #""ig_sid": ["a", "b"]"#)
        #expect(problems(two).map(\.field) == ["user_data.ig_sid"])
    }

    @Test("a single-valued key given as a list: one value is sent as a string, two are refused")
    func singleValuedKeyAsList() throws {
        let one = websitePurchase().replacingOccurrences(of: #""client_ip_address": "203.0.113.9""#, with: #""ip": [" 203.0.113.9 ", null]"#)
        let prepared = try EventPreparer.prepare(event(one), policy: policy()).get()
        #expect(prepared.payload["user_data"]?["client_ip_address"] == .string("203.0.113.9"))
        #expect(prepared.matchKeys.contains("client_ip_address"))

        let two = websitePurchase().replacingOccurrences(
            of: #""client_ip_address": "203.0.113.9""#,
            with: #""client_ip_address": "203.0.113.9", "ip": "198.51.100.1""#
        )
        #expect(problems(two).map(\.field) == ["user_data.client_ip_address"])
        #expect(problems(two).map(\.code) == [.invalidValue])
    }

    /// Meta's SDK 26.0.3 holds one value of each and writes it as a string; the sidecar sent them
    /// as one-element arrays, a shape Meta's SDKs never send.
    @Test("the name and birth-date parts (f5first, f5last, fi, dobd, dobm, doby) are hashed and sent as single strings, as Meta's SDK sends them")
    func namePartsAreSingleStrings() throws {
        let parts = #""f5first": "Jane", "f5last": ["ODoe"], "fi": " J ", "dobd": "16", "dobm": ["02"], "doby": "1997""#
        let json = websitePurchase().replacingOccurrences(of: #""fbp": "fb.1.1596403881668.1116446470""#, with: parts)
        let prepared = try EventPreparer.prepare(event(json), policy: policy()).get()
        let user = try #require(prepared.payload["user_data"]?.objectValue)
        let expected = ["f5first": "jane", "f5last": "odoe", "fi": "j", "dobd": "16", "dobm": "02", "doby": "1997"]
        for (key, canonical) in expected {
            #expect(user[key] == .string(SHA256Hex.digest(canonical)), "\(key)")
        }
        #expect(Set(expected.keys).isSubset(of: Set(prepared.matchKeys)))
        // The keys that stay lists.
        #expect(user["em"]?.arrayValue?.count == 1 && user["ge"]?.arrayValue?.count == 1 && user["external_id"]?.arrayValue?.count == 1)

        let two = websitePurchase().replacingOccurrences(of: #""fbp": "fb.1.1596403881668.1116446470""#, with: #""f5first": ["jane", "janet"]"#)
        #expect(problems(two).map(\.field) == ["user_data.f5first"])
        #expect(problems(two).map(\.code) == [.invalidValue])
    }

    @Test("an empty list or a list of nulls counts as an absent key, and an alias alone keeps its one value")
    func emptyListsAndLoneAliases() throws {
        let json = websitePurchase()
            .replacingOccurrences(of: #""phone": "(650) 555-1212""#, with: #""ph": [null, null], "fn": []"#)
            .replacingOccurrences(of: #""fn": "Jane", "#, with: "")
        let prepared = try EventPreparer.prepare(event(json), policy: policy()).get()
        let user = try #require(prepared.payload["user_data"]?.objectValue)
        #expect(user["ph"] == nil && user["fn"] == nil)
        #expect(!prepared.matchKeys.contains("ph") && !prepared.matchKeys.contains("fn"))
        #expect(user["em"] == .array([.string(SHA256Hex.digest("jane.doe@example.com"))]))
        #expect(prepared.warnings.isEmpty)
    }

    @Test("advanced_measurement_table, an event field of Meta's SDK, is forwarded as given; a value that is no string is refused")
    func advancedMeasurementTable() throws {
        let prepared = try EventPreparer.prepare(event(websitePurchase(#", "advanced_measurement_table": "conversions_q4""#)), policy: policy()).get()
        #expect(prepared.payload["advanced_measurement_table"] == .string("conversions_q4"))
        #expect(prepared.warnings.isEmpty, "not reported as an unknown field: \(prepared.warnings)")
        #expect(problems(websitePurchase(#", "advanced_measurement_table": 7"#)).map(\.field) == ["advanced_measurement_table"])
    }

    @Test("a mirrored event's test_event_code is kept beside the payload, never in it; a malformed one is a problem naming the field")
    func eventTestCode() throws {
        let prepared = try EventPreparer.prepare(event(websitePurchase(#", "test_event_code": "TEST555""#)), policy: policy()).get()
        #expect(prepared.testEventCode == "TEST555")
        #expect(prepared.payload["test_event_code"] == nil && !prepared.payloadText.contains("TEST555"))
        #expect(prepared.warnings.isEmpty, "not reported as an unknown field: \(prepared.warnings)")
        // Without one, or empty or null, there is none; the content hash is the same either way.
        let plain = try EventPreparer.prepare(event(websitePurchase()), policy: policy()).get()
        #expect(plain.testEventCode == nil && plain.payloadText == prepared.payloadText)
        for none in [#", "test_event_code": """#, #", "test_event_code": null"#] {
            #expect(try EventPreparer.prepare(event(websitePurchase(none)), policy: policy()).get().testEventCode == nil)
        }
        for bad in [#", "test_event_code": 12345"#, #", "test_event_code": "TEST 1""#, #", "test_event_code": "jane@example.com""#] {
            let found = problems(websitePurchase(bad))
            #expect(found.map(\.field) == ["test_event_code"], "\(bad)")
            #expect(found.allSatisfy { !$0.message.contains("jane") })
        }
    }

    @Test("every user_data key and every server-event field has a slot in the checker's fixed-size tables")
    func everyKeyHasASlot() {
        #expect(Checker.keySlotCount == UserDataKey.all.count)
        #expect(EventFields.slotCount == EventField.allCases.count)
        // `PreparedUserData` keeps a bit per key in a `UInt32`.
        #expect(UserDataKey.all.count <= UInt32.bitWidth)
    }

    @Test("each known field is read from its own slot, and unknown ones are reported")
    func fieldSlots() {
        var object = JSONObject()
        for field in EventField.allCases { object[field.name] = .integer(Int64(field.rawValue)) }
        object["unknown_one"] = .null
        let (fields, payload) = EventFields.read(object)
        for field in EventField.allCases { #expect(fields[field] == .integer(Int64(field.rawValue)), "\(field.name)") }
        #expect(fields.hasUnknownFields)
        #expect(payload.keys == EventField.allCases.filter(\.isSentAsGiven).map(\.name))
        let (alone, _) = EventFields.read(["event_name": .string("Lead")])
        #expect(!alone.hasUnknownFields)
        #expect(alone[.eventName] == .string("Lead"))
        #expect(EventField.allCases.filter { alone[$0] != nil } == [.eventName])
    }

    @Test("the pixel in a Graph-compatible path wins and must agree with the body")
    func pixelFromPath() throws {
        let prepared = try EventPreparer.prepare(event(websitePurchase()), pixelID: "1234567890", policy: policy()).get()
        #expect(prepared.pixelID == "1234567890")
        let mismatch = EventPreparer.prepare(event(websitePurchase()), pixelID: "999", policy: policy())
        #expect((try? mismatch.get()) == nil)
    }

    @Test(
        "problems never echo values",
        arguments: [
            #"{"pixel_id": "secret-pixel", "event_name": 5, "event_time": "secret-time", "event_id": ["secret"], "action_source": "secret-source", "user_data": {"secretkey": "secret"}}"#
        ]
    )
    func problemsHideValues(json: String) {
        let found = problems(json)
        #expect(found.count >= 5)
        #expect(!found.map(\.message).joined().contains("secret"))
    }
}

@Suite("Click identifiers")
struct ClickIdentifierTests {
    @Test(
        "fbc and fbp shapes",
        arguments: [
            ("fb.1.1554763741205.AbCdEf", true, true), ("fb.1.1733000000000.IwZXh0bg.AQIDAQ", true, true),
            ("fb.1.1596403881668.1116446470", true, true), ("fb.2.1596403881668.1.2", true, true), ("fb.2.1596403881668.1.2.3", true, false),
            ("fb.1.1596403881668.", false, false), ("fb.x.1596403881668.1", false, false), ("fb.1..1", false, false),
            ("xx.1.1596403881668.1", false, false), ("fb.1.1596403881668", false, false),
            ("fb.1.1596403881668..x", true, false), ("fb.1.1596403881668.x.", true, false), ("FB.1.1596403881668.1", false, false),
            ("fb.", false, false), ("", false, false), ("fb.1.2.x", true, true), ("fb.12", false, false), ("fb.1.2", false, false),
        ]
    )
    func shapes(value: String, fbc: Bool, fbp: Bool) {
        #expect(ClickIdentifiers.isValidFBC(value) == fbc)
        #expect(ClickIdentifiers.isValidFBP(value) == fbp)
    }
}

@Suite("URL scrubbing")
struct URLScrubberTests {
    @Test(
        "personal query parameters are masked, the rest kept byte for byte",
        arguments: [
            (
                "https://shop.example/checkout?email=jane%40example.com&utm_source=fb", "https://shop.example/checkout?email=redacted&utm_source=fb",
                ["email"]
            ),
            ("https://shop.example/c?ref=x&contact=jane@example.com#top", "https://shop.example/c?ref=x&contact=redacted#top", ["contact"]),
            ("https://shop.example/c?phone=%2B1%20650%20555%201212", "https://shop.example/c?phone=redacted", ["phone"]),
            ("https://shop.example/c?fbclid=IwAR2F4&sku=12345678", "https://shop.example/c?fbclid=IwAR2F4&sku=12345678", []),
            ("https://shop.example/c?callback=(650)%20555-1212&x=1", "https://shop.example/c?callback=redacted&x=1", ["callback"]),
            ("https://shop.example/c", "https://shop.example/c", []),
            // An address as written, though not once decoded (found by `Fuzz/run misc`).
            ("https://shop.example/u/s@%20./c?k=j@%20.", "https://shop.example/u/redacted/c?k=redacted", ["path", "k"]),
        ]
    )
    func scrub(url: String, expected: String, removed: [String]) {
        let result = URLScrubber.scrub(url)
        #expect(result.url == expected)
        #expect(result.removed == removed)
    }

    /// What is kept as a scheme is not looked at, so only a scheme may stand before `://`. Found
    /// by coverage-guided fuzzing (`Fuzz/run misc`): `s@x.://` was kept whole.
    @Test(
        "text before :// that is no scheme is checked as the rest of the URL is",
        arguments: [
            ("jane.doe@example.com://shop.example/c", "redacted//shop.example/c"),
            ("x:jane.doe@example.com://", "redacted//"),
            ("https://shop.example/c?a=1", "https://shop.example/c?a=1"),
            ("svn+ssh://jane.doe@example.com@host/p", "svn+ssh://host/p"),
        ]
    )
    func notAScheme(url: String, expected: String) {
        #expect(URLScrubber.scrub(url).url == expected)
        #expect(!PersonalData.containsEmail(URLScrubber.scrub(url).url))
    }

    @Test("an event whose URL need not be http(s) never carries an email written where a scheme goes")
    func storeEventURLBeforeScheme() throws {
        let json = websitePurchase()
            .replacingOccurrences(of: #""action_source": "website""#, with: #""action_source": "physical_store""#)
            .replacingOccurrences(of: "https://shop.example/checkout", with: "jane.doe@example.com://shop.example/checkout")
        let prepared = try EventPreparer.prepare(event(json), policy: policy()).get()
        #expect(prepared.payload["event_source_url"] == .string("redacted//shop.example/checkout"))
        #expect(!prepared.payloadText.contains("jane.doe"))
    }

    @Test("the prepared event never carries the email from its URL")
    func preparedEventIsScrubbed() throws {
        let json = websitePurchase().replacingOccurrences(
            of: "https://shop.example/checkout",
            with: "https://shop.example/checkout?email=jane.doe%40example.com&step=2"
        )
        let prepared = try EventPreparer.prepare(event(json), policy: policy()).get()
        #expect(prepared.payload["event_source_url"] == .string("https://shop.example/checkout?email=redacted&step=2"))
        #expect(prepared.warnings == ["event_source_url: masked personal data (email)"])
    }
}
