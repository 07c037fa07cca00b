import Foundation

/// A day of the Gregorian calendar in UTC: what "today" means for birth-date checks, and the
/// date half of a timestamp. A value, not a clock: callers read the clock once at the edge.
public struct CalendarDate: Sendable, Hashable, Comparable {
    public var year: Int
    public var month: Int
    public var day: Int

    public init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day) }

    /// Today's date in UTC, read once by callers at the edge (commands, services), never in rules.
    public static func utcNow(_ now: Date = Date()) -> Self {
        Self(unixSeconds: Int64(now.timeIntervalSince1970))
    }

    /// The UTC calendar date of a Unix time, by arithmetic (no Calendar on the hot path). Times
    /// outside years 1–9999 are clamped to them, so no outside value can overflow the arithmetic.
    public init(_ instant: UnixSeconds) { self.init(unixSeconds: instant.rawValue) }

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
