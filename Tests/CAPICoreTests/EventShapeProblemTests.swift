import Foundation
import Testing

@testable import CAPICore

/// Each wrong shape a sender can give a field the checker reads, one at a time: refused with one
/// problem that names the field (with its index inside a list) and says what kind of wrong it is,
/// and never quotes the value.
@Suite("Event shape problems")
struct EventShapeProblemTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var replace: String
        var with: String
        var field: String
        var code: EventProblem.Code
        var testDescription: String { "\(field) \(code.rawValue)" }
    }

    private static let long = String(repeating: "x", count: Checker.maxStringBytes + 1)
    private static let secret = "tell-no-one"

    static let cases: [Case] = [
        Case(replace: #""event_name": "Purchase""#, with: #""event_name": "  ""#, field: "event_name", code: .missing),
        Case(replace: #""event_name": "Purchase""#, with: #""event_name": 7"#, field: "event_name", code: .invalidType),
        Case(
            replace: #"{"value": 129.5, "currency": "USD", "contents": [{"id": "sku-1", "quantity": 2}], "coupon": "FALL"}"#,
            with: "5",
            field: "custom_data",
            code: .invalidType
        ),
        Case(
            replace: #""contents": [{"id": "sku-1", "quantity": 2}]"#,
            with: #""contents": "sku-1""#,
            field: "custom_data.contents",
            code: .invalidType
        ),
        Case(
            replace: #""contents": [{"id": "sku-1", "quantity": 2}]"#,
            with: #""contents": [{"id": "sku-1"}, "sku-2"]"#,
            field: "custom_data.contents[1]",
            code: .invalidType
        ),
        Case(
            replace: #"{"id": "sku-1", "quantity": 2}"#,
            with: #"{"id": "sku-1", "title": "\#(long)"}"#,
            field: "custom_data.contents[0].title",
            code: .tooLong
        ),
        Case(
            replace: #""coupon": "FALL""#,
            with: #""coupon": "FALL", "tags": ["a", "\#(long)"]"#,
            field: "custom_data.tags[1]",
            code: .tooLong
        ),
        Case(
            replace: #""action_source": "website""#,
            with: #""action_source": "website", "data_processing_options": ["LDU"], "data_processing_options_country": 2"#,
            field: "data_processing_options_country",
            code: .invalidValue
        ),
        Case(
            replace: #""action_source": "website""#,
            with: #""action_source": "website", "data_processing_options": ["LDU"], "data_processing_options_country": "1""#,
            field: "data_processing_options_country",
            code: .invalidValue
        ),
        Case(
            replace: #""external_id": "user-42""#,
            with: #""external_id": ["user-42", "\#(long)"]"#,
            field: "user_data.external_id[1]",
            code: .tooLong
        ),
        Case(
            replace: #""external_id": "user-42""#,
            with: #""external_id": ["user-42", {"id": "\#(secret)"}]"#,
            field: "user_data.external_id[1]",
            code: .invalidType
        ),
    ]

    @Test("one wrong shape is one problem naming its field", arguments: cases)
    func shape(_ shape: Case) throws {
        let json = websitePurchase()
        try #require(json.contains(shape.replace), "the base event has \(shape.replace)")
        let found = problems(json.replacingOccurrences(of: shape.replace, with: shape.with))
        #expect(found.map(\.field) == [shape.field], "\(found)")
        #expect(found.map(\.code) == [shape.code], "\(found)")
        #expect(!found.description.contains(Self.secret) && !found.description.contains("xxxxxxxx"))
    }

    @Test("user_data that is no object is refused naming user_data")
    func userDataNotObject() {
        let found = problems(
            #"{"pixel_id": "12", "event_name": "Lead", "event_id": "e", "event_time": \#(now), "action_source": "email", "user_data": ["a@b.co"]}"#
        )
        #expect(found.contains { $0.field == "user_data" && $0.code == .invalidType }, "\(found)")
        #expect(!found.description.contains("a@b.co"))
    }

    @Test(
        "a personal value sent as a number with a fraction or exponent is refused naming its field; a whole number is taken",
        arguments: [("16505551212.0", false), ("1.6505551212e10", false), ("16505551212", true)]
    )
    func fractionalNumbers(number: String, taken: Bool) throws {
        // Parsed as the routes parse bodies (Codable would read `16505551212.0` as a whole number).
        let json = try JSONValue(
            parsing:
                #"{"pixel_id": "12", "event_name": "Lead", "event_id": "e", "event_time": \#(now), "action_source": "email", "user_data": {"ph": \#(number), "zp": [\#(number)]}}"#
        )
        let found: [EventProblem] =
            switch EventPreparer.prepare(json, policy: policy()) {
            case .success: []
            case .failure(let rejection): rejection.problems
            }
        if taken {
            #expect(found.isEmpty, "\(found)")
        } else {
            #expect(found.map(\.field) == ["user_data.ph", "user_data.zp[0]"], "\(found)")
            #expect(found.allSatisfy { $0.code == .invalidType && $0.message.contains("a number with a fraction or an exponent") }, "\(found)")
        }
    }

    @Test("app events: app_data that is no object, extinfo left out, an unknown platform in extinfo[0]")
    func appData() {
        let base =
            #"{"pixel_id": "12", "event_name": "Install", "event_id": "e", "event_time": \#(now), "action_source": "app", "user_data": {"madid": "AEBE52E7"}"#
        let notObject = problems(base + #", "app_data": [1]}"#)
        #expect(notObject.map(\.field) == ["app_data"] && notObject.map(\.code) == [.invalidType], "\(notObject)")
        let noExtinfo = problems(base + #", "app_data": {"advertiser_tracking_enabled": true}}"#)
        #expect(noExtinfo.map(\.field) == ["app_data.extinfo"] && noExtinfo.map(\.code) == [.missing], "\(noExtinfo)")
        let slots = (["\"w9\""] + Array(repeating: "\"\"", count: 15)).joined(separator: ",")
        let platform = problems(base + #", "app_data": {"advertiser_tracking_enabled": false, "extinfo": [\#(slots)]}}"#)
        #expect(platform.map(\.field) == ["app_data.extinfo[0]"] && platform.map(\.code) == [.invalidValue], "\(platform)")
    }

    @Test("a Limited Data Use country or state without LDU is taken with a warning: Meta ignores it")
    func limitedDataUseWithoutLDU() throws {
        for extra in [#", "data_processing_options_country": 1"#, #", "data_processing_options_state": 1000"#] {
            let json = websitePurchase().replacingOccurrences(of: #""action_source": "website""#, with: #""action_source": "website""# + extra)
            let prepared = try EventPreparer.prepare(event(json), policy: policy()).get()
            #expect(prepared.warnings.contains { $0.contains("without data_processing_options") }, "\(prepared.warnings)")
        }
    }

    @Test("a malformed fbc is dropped with a warning naming the key, never the value")
    func malformedClickID() throws {
        let json = websitePurchase().replacingOccurrences(of: #""fbp": "fb.1.1596403881668.1116446470""#, with: #""fbc": "fb.1.\#(Self.secret)""#)
        let prepared = try EventPreparer.prepare(event(json), policy: policy()).get()
        #expect(prepared.payload["user_data"]?["fbc"] == nil)
        #expect(prepared.warnings.contains { $0.hasPrefix("user_data.fbc:") }, "\(prepared.warnings)")
        #expect(!prepared.warnings.joined().contains(Self.secret))
    }
}
