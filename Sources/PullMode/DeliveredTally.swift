import CAPICore
import ConnectorRuntime

/// `delivered_events` folded to what the KPI report uses of them: per pixel, local day (in each
/// time zone the report groups that pixel by) and event name, the count per outcome and the value
/// sent per currency.
///
/// Built page by page as the stream is read, so a report holds its rows, never the stream: the
/// whole stream in one array was 4 GB for a million events, beyond a 1 GB scheduled task long
/// before a busy pixel's month.
public struct DeliveredTally: Sendable {
    struct Key: Hashable, Sendable {
        var pixelID: String
        var zone: String
        var day: CalendarDate
        var eventName: String
    }

    struct Figures: Sendable, Equatable {
        var forwarded: Int64 = 0
        /// Forwarded events whose UTC hour starts on this day: what Meta's hourly counts assigned to
        /// the day are compared with. Equal to `forwarded`'s total, day by day, in whole-hour zones.
        var forwardedInReceivedHours: Int64 = 0
        var deadLettered: Int64 = 0
        var queued: Int64 = 0
        var valueSent: [String: Double] = [:]
    }

    /// Per pixel, the zones of the accounts that claim it; a pixel none claims is counted in UTC days.
    let zonesByPixel: [String: [AccountTimeZone]]
    private(set) var figures: [Key: Figures] = [:]
    /// Every pixel an event was seen for.
    public private(set) var pixels: Set<String> = []

    public init(accounts: [KPIReport.Account]) {
        var zones: [String: [AccountTimeZone]] = [:]
        for account in accounts {
            for pixel in account.pixels where !(zones[pixel] ?? []).contains(account.timeZone) { zones[pixel, default: []].append(account.timeZone) }
        }
        self.zonesByPixel = zones
    }

    public init(accounts: [KPIReport.Account], events: [DeliveredEvent]) {
        self.init(accounts: accounts)
        add(events)
    }

    public mutating func add(_ events: [DeliveredEvent]) {
        for event in events { add(event) }
    }

    public mutating func add(_ event: DeliveredEvent) {
        pixels.insert(event.key.pixelID)
        guard let record = try? JSONValue(parsing: event.record), let name = record["event_name"]?.stringValue else { return }
        var change = Figures()
        switch event.outcome {
        case .forwarded:
            change.forwarded = 1
            let value: Double? =
                switch record["value"] {
                case .integer(let number)?: Double(number)
                case .number(let number)?: number
                case .string(let text)?: Double(text)
                default: nil
                }
            if let value, let currency = record["currency"]?.stringValue { change.valueSent[currency] = value }
        case .deadLettered: change.deadLettered = 1
        case .pending: change.queued = 1
        }
        for zone in zonesByPixel[event.key.pixelID] ?? [.utc] {
            let days = zone.days(of: event.key.eventTime)
            let key = Key(pixelID: event.key.pixelID, zone: zone.identifier, day: days.local, eventName: name)
            // A forwarded event is counted again on the day Meta's count of its hour falls on: the
            // same day, but in a zone a part of an hour off UTC.
            var here = change
            if change.forwarded > 0, days.hourlyCount == days.local { here.forwardedInReceivedHours = 1 }
            figures[key, default: Figures()].add(here)
            if change.forwarded > 0, days.hourlyCount != days.local {
                var counted = key
                counted.day = days.hourlyCount
                figures[counted, default: Figures()].forwardedInReceivedHours += 1
            }
        }
    }
}

extension DeliveredTally.Figures {
    mutating func add(_ other: Self) {
        forwarded += other.forwarded
        forwardedInReceivedHours += other.forwardedInReceivedHours
        deadLettered += other.deadLettered
        queued += other.queued
        for (currency, value) in other.valueSent { valueSent[currency, default: 0] += value }
    }
}
