/// `app_data.extinfo`: sixteen device facts by position, which Meta documents as strings with
/// `""` for an unknown one.
///
/// Meta's own SDK (26.0.3) sends the screen size, core count and disk sizes as numbers and every
/// fact not set as `null`, so an app using it had its app events refused here. Those slots are
/// taken and sent in the documented form: a number as its decimal text, `null` as `""`.
public enum AppExtendedInfo {
    /// A slot this connector takes: a string, a finite number or `null`.
    static func isSlot(_ value: JSONValue) -> Bool {
        switch value {
        case .string, .integer, .null: true
        case .number(let number): number.isFinite
        default: false
        }
    }

    /// `app_data` with its `extinfo` slots as strings; the same value when they already are.
    static func canonical(_ appData: JSONValue) -> JSONValue {
        guard case .object(var app) = appData, case .array(let slots)? = app["extinfo"],
            slots.contains(where: { $0.stringValue == nil })
        else { return appData }
        app["extinfo"] = .array(
            slots.map { slot in
                switch slot {
                case .integer(let number): .string(String(number))
                case .number(let number): .string(String(number))
                case .null: .string("")
                default: slot
                }
            }
        )
        return .object(app)
    }
}
