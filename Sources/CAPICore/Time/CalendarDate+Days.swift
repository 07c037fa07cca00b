import Foundation

extension CalendarDate: CustomStringConvertible {
    /// Days since 1970-01-01: day arithmetic without a `Calendar` (Howard Hinnant's days_from_civil).
    public var dayNumber: Int64 {
        let year = Int64(month <= 2 ? self.year - 1 : self.year)
        let era = (year >= 0 ? year : year - 399) / 400
        let yearOfEra = year - era * 400
        let shiftedMonth = Int64(month > 2 ? month - 3 : month + 9)
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    public init(dayNumber: Int64) { self.init(unixSeconds: dayNumber * 86_400) }

    public func adding(days: Int) -> CalendarDate { CalendarDate(dayNumber: dayNumber + Int64(days)) }

    /// Days from `self` to `other` (positive when `other` is later).
    public func days(to other: CalendarDate) -> Int { Int(other.dayNumber - dayNumber) }

    /// `YYYY-MM-DD`, the form Meta's date fields and `time_range` use.
    public var description: String {
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    /// Parses `YYYY-MM-DD` exactly (a real day of the Gregorian calendar, years 1–9999).
    public init?(iso text: some StringProtocol) {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in bytes[range] {
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), year >= 1, (1...12).contains(month), day >= 1
        else { return nil }
        let candidate = CalendarDate(year: year, month: month, day: day)
        // A day past the month's end normalizes to another date: refuse it.
        guard CalendarDate(dayNumber: candidate.dayNumber) == candidate else { return nil }
        self = candidate
    }
}

/// Days as an ad account counts them: Meta reports insights per day in the account's time zone,
/// so a UTC day would split one local day's spend across two rows.
public struct AccountTimeZone: Sendable, Equatable {
    public let identifier: String
    let zone: TimeZone

    /// `nil` for an identifier the system's time-zone database does not know.
    public init?(identifier: String) {
        guard let zone = TimeZone(identifier: identifier) else { return nil }
        self.identifier = identifier
        self.zone = zone
    }

    public static let utc = AccountTimeZone(identifier: "UTC")!

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.identifier == rhs.identifier }

    /// The local day an instant falls on.
    public func day(of instant: UnixSeconds) -> CalendarDate {
        let offset = zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant.rawValue)))
        return CalendarDate(unixSeconds: instant.rawValue + Int64(offset))
    }

    /// The local day of `instant`, and the local day Meta's hourly count holding it belongs to:
    /// the day its UTC hour starts on. They differ only in a zone a part of an hour off UTC: in
    /// Asia/Kolkata (+5:30) the hour from 23:30 to 00:30 starts on the earlier day, so that day's
    /// counts run from 00:30 to 00:30. The offset is read once (a report tallies a million events).
    public func days(of instant: UnixSeconds) -> (local: CalendarDate, hourlyCount: CalendarDate) {
        let offset = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant.rawValue))))
        let local = CalendarDate(unixSeconds: instant.rawValue + offset)
        guard offset % 3600 != 0 else { return (local, local) }
        return (local, day(of: UnixSeconds(instant.rawValue - ((instant.rawValue % 3600) + 3600) % 3600)))
    }

    /// Whether the zone is a part of an hour off UTC at `instant` (India, Nepal, Iran,
    /// Newfoundland, South Australia…): its days then split Meta's hourly counts.
    public func isPartHourOffUTC(at instant: UnixSeconds) -> Bool {
        zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant.rawValue))) % 3600 != 0
    }

    /// The instant a local day begins (daylight-saving days are 23 or 25 hours long).
    public func start(of day: CalendarDate) -> UnixSeconds {
        let midnightUTC = day.dayNumber * 86_400
        // The offset at local midnight: take the offset near that instant, then correct once.
        var offset = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(midnightUTC))))
        offset = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(midnightUTC - offset))))
        return UnixSeconds(midnightUTC - offset)
    }
}

extension CalendarDate: Codable {
    /// As `YYYY-MM-DD`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let date = CalendarDate(iso: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a YYYY-MM-DD date")
        }
        self = date
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
