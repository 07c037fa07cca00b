import CAPICore

/// Why a `--since` or `--until` value was not taken, for the shapes people type by mistake: a
/// time without a zone (which zone would be a guess), Unix milliseconds, a count of days without
/// its `-` and `d`, a relative time with a fraction or the wrong unit.
enum TimeArgument {
    /// Whether `text` is a few digits, which read as Unix seconds would be a moment of January
    /// 1970: a count meant as days (`30` for `-30d`), never a time anyone asks about.
    static func isCount(_ text: String) -> Bool {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        return (1...8).contains(trimmed.count) && trimmed.allSatisfy(\.isASCIIDigit)
    }

    /// The reason, when the value has one of those shapes; `nil` otherwise.
    static func likelyMistake(_ text: String, relativeUnits: String) -> String? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if isCount(trimmed) {
            return "`\(trimmed)` is a count, not a time (Unix seconds have 10 digits): for \(trimmed) days before now write -\(trimmed)d"
        }
        if trimmed.count >= 16, CalendarDate(iso: trimmed.prefix(10)) != nil, UnixSeconds(parsing: trimmed + "Z") != nil {
            return "`\(trimmed)` has no time zone: add Z for UTC (\(trimmed)Z) or an offset (+01:00)"
        }
        let shape = trimmed.prefix(10).map { $0.isASCIIDigit ? "9" : String($0) }.joined()
        if shape == "9999-99-99", CalendarDate(iso: trimmed.prefix(10)) == nil {
            return "`\(trimmed.prefix(10))` is not a day of the calendar"
        }
        if trimmed.count == 13, trimmed.allSatisfy(\.isASCIIDigit) {
            return "`\(trimmed)` looks like Unix milliseconds: give seconds (\(trimmed.dropLast(3)))"
        }
        if trimmed.hasPrefix("-"), trimmed.count > 2, trimmed.dropFirst().first?.isASCIIDigit == true {
            return "`\(trimmed)`: a relative time is a whole number of \(relativeUnits) before now, such as -7d"
        }
        return nil
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
