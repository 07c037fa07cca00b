extension Checker {
    /// `custom_data`: value and currency together (Purchase needs both), ISO 4217, contents with ids.
    mutating func customData(_ value: JSONValue?, eventName: String?) {
        let isPurchase = eventName == "Purchase"
        guard let value, value != .null else {
            if isPurchase { problem("custom_data", .missing, "is required for Purchase (value and currency)") }
            return
        }
        guard case .object(let custom) = value else {
            problem("custom_data", .invalidType, "must be an object, found \(value.typeName)")
            return
        }
        let amount = custom["value"].flatMap { $0 == .null ? nil : $0 }
        let currency = custom["currency"].flatMap { $0 == .null ? nil : $0 }
        if let amount {
            switch amount {
            case .integer, .number: break
            case .string: problem("custom_data.value", .invalidType, "must be a number such as 12.5 (or the text \"12.50\"), found other text")
            default: problem("custom_data.value", .invalidType, "must be a number, found \(amount.typeName)")
            }
        }
        if let currency, !(currency.stringValue.map { $0.utf8.count == 3 && CurrencyCodes.isValid($0.uppercased()) } ?? false) {
            problem("custom_data.currency", .invalidValue, "must be an ISO 4217 currency code such as USD")
        }
        switch (amount, currency) {
        case (.some, nil): problem("custom_data.currency", .missing, "is required with value")
        case (nil, .some): problem("custom_data.value", .missing, "is required with currency")
        case (nil, nil) where isPurchase:
            problem("custom_data.value", .missing, "is required for Purchase")
            problem("custom_data.currency", .missing, "is required for Purchase")
        default: break
        }
        // Meta's other typed fields, found in one pass over the members.
        for member in custom {
            switch member.key {
            case "predicted_ltv": number(member.value, "custom_data.predicted_ltv")
            case "net_revenue": number(member.value, "custom_data.net_revenue")
            case "num_items":
                switch member.value {
                case .null, .integer: break
                default: problem("custom_data.num_items", .invalidType, "must be an integer")
                }
            case "delivery_category": deliveryCategory(member.value, "custom_data.delivery_category")
            default: break
            }
        }
        if let contents = custom["contents"], contents != .null {
            guard case .array(let items) = contents else {
                problem("custom_data.contents", .invalidType, "must be an array, found \(contents.typeName)")
                return
            }
            for (index, item) in items.enumerated() {
                let field = "custom_data.contents[\(index)]"
                guard case .object(let object) = item else {
                    problem(field, .invalidType, "must be an object, found \(item.typeName)")
                    continue
                }
                switch object["id"] {
                case .string(let id)? where !TextFolding.trimmed(id).isEmpty: break
                case .integer?: break
                case nil, .null?: problem("\(field).id", .missing, "is required")
                default: problem("\(field).id", .invalidValue, "must be a non-empty string")
                }
                switch object["quantity"] {
                case nil, .null?, .integer?: break
                default: problem("\(field).quantity", .invalidType, "must be an integer")
                }
                switch object["item_price"] {
                case nil, .null?, .integer?, .number?: break
                default: problem("\(field).item_price", .invalidType, "must be a number")
                }
                deliveryCategory(object["delivery_category"], "\(field).delivery_category")
            }
        }
    }

    private mutating func number(_ value: JSONValue?, _ field: String) {
        switch value {
        case nil, .null?, .integer?, .number?: break
        default: problem(field, .invalidType, "must be a number")
        }
    }

    /// Meta's three ways an order reaches its buyer; Meta's SDKs send them in lowercase.
    static let deliveryCategories: Set<String> = ["in_store", "curbside", "home_delivery"]

    private mutating func deliveryCategory(_ value: JSONValue?, _ field: String) {
        guard let value, value != .null else { return }
        guard let text = value.stringValue, Self.deliveryCategories.contains(text.lowercased()) else {
            problem(field, .invalidValue, "must be one of in_store, curbside, home_delivery")
            return
        }
    }

    /// Limited Data Use: `data_processing_options: ["LDU"]` with country 1 (US) or 0 (geolocate)
    /// and state 0 (geolocate) or 1000–1013 (California and the other US states Meta lists).
    mutating func privacy(_ fields: EventFields) {
        var limitedDataUse = false
        if let options = fields[.dataProcessingOptions], options != .null {
            guard case .array(let entries) = options, entries.allSatisfy({ $0.stringValue != nil }) else {
                problem("data_processing_options", .invalidType, "must be an array of strings")
                return
            }
            for entry in entries {
                guard entry.stringValue?.uppercased() == "LDU" else {
                    problem("data_processing_options", .invalidValue, "may only contain LDU")
                    return
                }
                limitedDataUse = true
            }
        }
        let country = fields[.dataProcessingOptionsCountry].flatMap { $0 == .null ? nil : $0 }
        let state = fields[.dataProcessingOptionsState].flatMap { $0 == .null ? nil : $0 }
        if let country {
            guard case .integer(let code) = country, code == 0 || code == 1 else {
                problem("data_processing_options_country", .invalidValue, "must be 1 (United States) or 0 (geolocate)")
                return
            }
        }
        if let state {
            guard case .integer(let code) = state, code == 0 || (1000...1013).contains(code) else {
                problem("data_processing_options_state", .invalidValue, "must be 0 (geolocate) or a state code from 1000 (California) to 1013")
                return
            }
        }
        if !limitedDataUse, country != nil || state != nil {
            warnings.append("data_processing_options_country: sent without data_processing_options [\"LDU\"]; Meta ignores it")
        }
    }
}
