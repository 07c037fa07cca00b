import Foundation
import Testing

@testable import CAPICore

@Suite("JSON objects: members in order, looked up in place or by index")
struct JSONObjectTests {
    /// Random inserts, replacements and removals on an object and on a dictionary, compared after
    /// each step. Keys come from a pool of 40, so objects cross the index threshold both ways.
    @Test("behaves as a dictionary under any sequence of changes", arguments: [UInt64(1), 2, 3, 4])
    func matchesDictionary(seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        let pool = (0..<40).map { "key_\($0)" } + ["", "é", "e\u{301}", "client_user_agent", "client_ip_address"]
        var object = JSONObject()
        var model: [String: JSONValue] = [:]
        for step in 0..<3_000 {
            let key = pool[Int.random(in: 0..<pool.count, using: &generator)]
            switch Int.random(in: 0..<10, using: &generator) {
            case 0..<6:
                let value = JSONValue.integer(Int64(step))
                #expect(object.updateValue(value, forKey: key) == model.updateValue(value, forKey: key))
            case 6..<9:
                #expect(object.removeValue(forKey: key) == model.removeValue(forKey: key))
            default:
                object[key] = nil
                model[key] = nil
            }
            #expect(object.count == model.count)
            for probe in pool where object[probe] != model[probe] {
                Issue.record(
                    "step \(step): `\(probe)` reads \(String(describing: object[probe])), expected \(String(describing: model[probe]))"
                )
            }
            if step % 100 == 0 {
                var rebuilt = JSONObject()
                for (key, value) in model { rebuilt[key] = value }
                #expect(object == rebuilt)
                #expect(object.hashValue == rebuilt.hashValue)
            }
        }
    }

    @Test("members keep the order they were given, and a replaced value keeps its place")
    func keepsOrder() {
        var object: JSONObject = ["b": .integer(1), "a": .integer(2), "c": .integer(3)]
        object["a"] = .string("replaced")
        object["d"] = .null
        #expect(object.keys == ["b", "a", "c", "d"])
        #expect(object["a"] == .string("replaced"))
        #expect(object.filter { $0.key != "a" }.keys == ["b", "c", "d"])
        #expect(object.mapValues { _ in .bool(true) }.keys == ["b", "a", "c", "d"])
    }

    @Test("equality and hashing ignore member order, as a dictionary's do")
    func orderFreeEquality() {
        var forward = JSONObject()
        var backward = JSONObject()
        for index in 0..<30 { forward["k\(index)"] = .integer(Int64(index)) }
        for index in (0..<30).reversed() { backward["k\(index)"] = .integer(Int64(index)) }
        #expect(forward.keys != backward.keys)
        #expect(forward == backward)
        #expect(forward.hashValue == backward.hashValue)
        #expect(JSONValue.object(forward).serialized == JSONValue.object(backward).serialized)
        var changed = backward
        changed["k7"] = .integer(8)
        #expect(forward != changed)
        changed["k7"] = nil
        #expect(forward != changed)
        #expect(Set([JSONValue.object(forward), .object(backward), .object(changed)]).count == 2)
    }

    /// As the dictionary did: the parser's answer to such a document does not change.
    @Test("names compare as strings: an accent composed or combined is one name")
    func namesAreStrings() throws {
        let composed = "caf\u{E9}"
        let combined = "cafe\u{301}"
        let object = try #require(try JSONValue(parsing: #"{"\#(combined)":1,"id":2}"#).objectValue)
        #expect(object[composed] == .integer(1))
        #expect(object == [composed: .integer(1), "id": .integer(2)])
        #expect(throws: JSONValue.ParseError.self) { try JSONValue(parsing: #"{"\#(composed)":1,"\#(combined)":2}"#) }
        var large = JSONObject()
        for index in 0..<40 { large["k\(index)"] = .null }
        large[combined] = .integer(3)
        #expect(large[composed] == .integer(3))
        #expect(large.updateValue(.integer(4), forKey: composed) == .integer(3))
        #expect(large.count == 41)
    }

    @Test("a later duplicate in a literal replaces the earlier value")
    func literalDuplicates() {
        let object: JSONObject = ["a": .integer(1), "b": .integer(2), "a": .integer(3)]  // swift-format-ignore
        #expect(object.keys == ["a", "b"])
        #expect(object["a"] == .integer(3))
    }

    /// Past 16 members lookups and the parser's duplicate check go through the name index.
    @Test("a large object is parsed, searched and refused for a duplicate key through its index")
    func largeObjects() throws {
        let names = (0..<50_000).map { "member_\($0)" }
        let text = "{" + names.map { "\"\($0)\":1" }.joined(separator: ",") + "}"
        let object = try #require(try JSONValue(parsing: text).objectValue)
        #expect(object.count == names.count)
        #expect(object["member_49999"] == .integer(1))
        #expect(object["member_50000"] == nil)
        #expect(object.keys == names)
        let duplicated = String(text.dropLast()) + ",\"member_17\":2}"
        #expect(throws: JSONValue.ParseError.self) { try JSONValue(parsing: duplicated) }
    }

    @Test("Codable reads and writes an object as a JSON object")
    func codable() throws {
        let text = #"{"b":[1,{"c":null}],"a":"x"}"#
        let decoded = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(decoded == (try JSONValue(parsing: text)))
        let encoded = try JSONEncoder().encode(decoded)
        #expect(try JSONValue(parsing: encoded) == decoded)
    }
}

@Suite("Field name tables: fixed names found without hashing")
struct FieldNameTableTests {
    @Test("every user_data name and alias resolves to its key, and near misses resolve to none")
    func userDataNames() {
        for key in UserDataKey.all { #expect(UserDataKey(name: key.rawValue) == key) }
        for (alias, key) in UserDataKey.aliases { #expect(UserDataKey(name: alias) == key) }
        for key in UserDataKey.all {
            let name = key.rawValue
            let misses = [
                name.uppercased(), name + "_", String(name.dropLast()), "_" + name, name + "\u{0}",
                String(name.dropLast()) + String(UnicodeScalar(name.utf8.last! ^ 1)),
            ]
            for miss in misses where miss != name { #expect(UserDataKey(name: miss) == nil, "\(miss)") }
        }
        #expect(UserDataKey(name: "") == nil)
        #expect(UserDataKey(name: String(repeating: "e", count: 40)) == nil)
        #expect(UserDataKey(name: "ém") == nil)
    }

    @Test("the server-event fields are known and nothing else is")
    func eventFields() {
        for name in EventPreparer.knownFields { #expect(EventPreparer.isKnownField(name)) }
        for name in ["event", "Event_name", "event_names", "pixel", "user_data ", "custom_data\u{0}", "data_processing_options_countr"] {
            #expect(!EventPreparer.isKnownField(name), "\(name)")
        }
    }

    @Test(
        "personal names match after folding, at every length the table holds",
        arguments: [
            ("E-Mail", true), ("customer_email", true), ("Shipping.Address", true), ("date of birth", true), ("FN", true),
            ("emails", false), ("e", false), ("currency", false), ("value", false),
            ("\u{212A}", false), ("Ph\u{0130}", false), ("shipping_address_________________x", false),
        ]
    )
    func personalNames(name: String, personal: Bool) {
        #expect(PersonalData.isPersonalName(name) == personal)
    }

    @Test("names in the table are at most 32 bytes; lookups compare every byte")
    func packing() {
        let long = String(repeating: "a", count: 31) + "b"
        let table = FieldNameTable([("a", 1), (long, 2), ("ab", 3), ("ba", 4)])
        #expect(table.value(for: "a") == 1)
        #expect(table.value(for: long) == 2)
        #expect(table.value(for: String(repeating: "a", count: 32)) == nil)
        #expect(table.value(for: long + "c") == nil)
        #expect(table.value(for: "ab") == 3)
        #expect(table.value(for: "ba") == 4)
        #expect(table.value(for: "aa") == nil)
        #expect(table.value(for: "a\u{0}") == nil)
    }
}
