/// `custom_data`'s numbers given as decimal text.
///
/// Shop systems and tag managers often send prices as text (`"value": "12.50"`), and Meta's SDKs
/// pass them on as given. Meta's fields are numbers, so a plain decimal text is sent as the number
/// it spells, with a warning; anything else (`"12,50"`, `"$12"`) is left for the checks to refuse.
enum CustomDataNumbers {
    /// Meta's numeric fields of `custom_data` and of a `contents[]` item, and whether each is an integer.
    private static let topLevel = [("value", false), ("predicted_ltv", false), ("net_revenue", false), ("num_items", true)]
    private static let perItem = [("item_price", false), ("quantity", true)]

    /// `custom_data` with its numeric fields' decimal texts made numbers, and the paths changed;
    /// `nil` when nothing was.
    static func coerced(_ customData: JSONValue) -> (value: JSONValue, paths: [String])? {
        guard case .object(var custom) = customData, custom.contains(where: mayHoldText) else { return nil }
        var paths: [String] = []
        for (key, integral) in topLevel {
            if let number = custom[key].flatMap({ number($0, integral: integral) }) {
                custom.updateValue(number, forKey: key)
                paths.append("custom_data.\(key)")
            }
        }
        if case .array(var items)? = custom["contents"] {
            var changed = false
            for index in items.indices {
                guard case .object(var item) = items[index] else { continue }
                for (key, integral) in perItem {
                    if let number = item[key].flatMap({ number($0, integral: integral) }) {
                        item.updateValue(number, forKey: key)
                        paths.append("custom_data.contents[\(index)].\(key)")
                        changed = true
                    }
                }
                items[index] = .object(item)
            }
            if changed { custom.updateValue(.array(items), forKey: "contents") }
        }
        return paths.isEmpty ? nil : (.object(custom), paths)
    }

    /// Whether a member of `custom_data` is a numeric field given as text, or items that may hold
    /// one: most events send numbers as numbers, and one pass over the members tells.
    private static func mayHoldText(_ member: JSONObject.Element) -> Bool {
        switch member.value {
        case .string: topLevel.contains { $0.0 == member.key }
        case .array(let items) where member.key == "contents":
            items.contains { item in
                guard case .object(let fields) = item else { return false }
                return fields.contains { field in perItem.contains { $0.0 == field.key } && field.value.stringValue != nil }
            }
        default: false
        }
    }

    /// The number a text spells: optional `-`, digits, and for a non-integral field an optional
    /// `.` and digits, with no other characters; `nil` for anything else, numbers included.
    static func number(_ value: JSONValue, integral: Bool) -> JSONValue? {
        guard case .string(let text) = value else { return nil }
        let trimmed = TextFolding.trimmed(text)
        var bytes = trimmed.utf8[...]
        if bytes.first == UInt8(ascii: "-") { bytes = bytes.dropFirst() }
        let whole = bytes.prefix { ASCIIBytes.isDigit($0) }
        let rest = bytes.dropFirst(whole.count)
        guard !whole.isEmpty, whole.count <= 15 else { return nil }
        if rest.isEmpty { return Int64(trimmed).map(JSONValue.integer) }
        guard !integral, rest.first == UInt8(ascii: "."), rest.count > 1, rest.dropFirst().allSatisfy(ASCIIBytes.isDigit) else { return nil }
        return Double(trimmed).map(JSONValue.number)
    }
}
