import Foundation

extension Normalizer.Today {
    /// Today's date in UTC, read once by callers at the edge (commands, services), never in rules.
    public static func utcNow(_ now: Date = Date()) -> Self {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day], from: now)
        return .init(year: parts.year!, month: parts.month!, day: parts.day!)
    }
}

extension Normalizer.Today {
    /// The UTC calendar date of a Unix time, by arithmetic (no Calendar on the hot path). Times
    /// outside years 1–9999 are clamped to them, so no outside value can overflow the arithmetic.
    public init(unixSeconds: Int64) {
        let unixSeconds = min(max(unixSeconds, UTCTimestamp.earliestSeconds), UTCTimestamp.latestSeconds)
        // Howard Hinnant's civil_from_days.
        let days = Int(unixSeconds >= 0 ? unixSeconds / 86_400 : (unixSeconds - 86_399) / 86_400) + 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let dayOfEra = days - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        self.init(year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month: month, day: day)
    }
}
