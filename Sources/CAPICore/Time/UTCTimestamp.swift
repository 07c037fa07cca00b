/// ISO 8601 UTC timestamps by arithmetic: the hot path stamps every record, and formatter objects
/// (ICU underneath) cost more than the rest of the record. Parsing is strict: `T25:00:00Z` or
/// `2026-02-30` are refused, never rolled over into another time.
public enum UTCTimestamp {
    /// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the range formatting and parsing accept.
    public static let earliestSeconds: Int64 = -62_135_596_800
    public static let latestSeconds: Int64 = 253_402_300_799

    /// `2026-11-23T20:04:45.123Z`
    public static func iso8601(milliseconds: Int64) -> String {
        let milliseconds = min(max(milliseconds, earliestSeconds * 1000), latestSeconds * 1000 + 999)
        let seconds = milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000
        let millis = Int(milliseconds - seconds * 1000)
        return iso8601(seconds: seconds, fraction: millis)
    }

    /// `2026-11-23T20:04:45Z`
    public static func iso8601(seconds: Int64, fraction: Int? = nil) -> String {
        let seconds = min(max(seconds, earliestSeconds), latestSeconds)
        let date = CalendarDate(unixSeconds: seconds)
        let secondOfDay = Int(((seconds % 86_400) + 86_400) % 86_400)
        var text = pad(date.year, 4) + "-" + pad(date.month, 2) + "-" + pad(date.day, 2)
        text += "T" + pad(secondOfDay / 3600, 2) + ":" + pad(secondOfDay / 60 % 60, 2) + ":" + pad(secondOfDay % 60, 2)
        if let fraction { text += "." + pad(fraction, 3) }
        return text + "Z"
    }

    static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    /// Unix seconds of a calendar date's midnight (UTC).
    public static func seconds(year: Int, month: Int, day: Int) -> Int64 {
        // Howard Hinnant's days_from_civil.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return Int64(era * 146_097 + dayOfEra - 719_468) * 86_400
    }

    /// Unix seconds from what operators and Meta write: Unix seconds (digits), a date
    /// (`2026-11-20`), or a time `2026-11-20T10:00:00` (seconds and fraction optional) with a zone `Z`,
    /// `+0000` or `+00:00`. Every field is range-checked; `nil` for anything else.
    public static func parse(_ text: some StringProtocol) -> Int64? {
        let bytes = Array(text.utf8)
        if let seconds = Bounded.digits(text, maxDigits: 12) { return seconds <= latestSeconds ? seconds : nil }
        guard bytes.count >= 10 else { return nil }
        var index = 0
        func number(_ width: Int) -> Int? {
            guard index + width <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index..<index + width] {
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            index += width
            return value
        }
        func expect(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect(UInt8(ascii: "-")), let month = number(2), expect(UInt8(ascii: "-")), let day = number(2),
            year >= 1, (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day)
        else { return nil }
        let midnight = seconds(year: year, month: month, day: day)
        if index == bytes.count { return midnight }
        guard expect(UInt8(ascii: "T")) || expect(UInt8(ascii: "t")) || expect(UInt8(ascii: " ")) else { return nil }
        // Seconds may be left out (`07:00Z`), as ISO 8601 allows.
        guard let hour = number(2), expect(UInt8(ascii: ":")), let minute = number(2) else { return nil }
        var second = 0
        if expect(UInt8(ascii: ":")) {
            guard let given = number(2) else { return nil }
            second = given
        }
        guard hour < 24, minute < 60, second < 60 else { return nil }
        if expect(UInt8(ascii: ".")) {
            let start = index
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 { index += 1 }
            guard index > start, index - start <= 9 else { return nil }
        }
        var offset = 0
        if expect(UInt8(ascii: "Z")) || expect(UInt8(ascii: "z")) {
            offset = 0
        } else if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            index += 1
            guard let hours = number(2) else { return nil }
            _ = expect(UInt8(ascii: ":"))
            guard let minutes = number(2), hours <= 23, minutes < 60 else { return nil }
            offset = sign * (hours * 3600 + minutes * 60)
        } else {
            return nil
        }
        guard index == bytes.count else { return nil }
        let result = midnight + Int64(hour * 3600 + minute * 60 + second - offset)
        return (earliestSeconds...latestSeconds).contains(result) ? result : nil
    }

    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
