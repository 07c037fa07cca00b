import CAPICore
import ConnectorRuntime
import Testing

@testable import PullMode

/// The `delivered_events` stream as the KPI report counts it, folded page by page.
@Suite("Delivered events tallied for the KPI report")
struct DeliveredTallyTests {
    static func event(_ id: String, pixel: String, at iso: String, outcome: DeliveryOutcome = .forwarded, record: JSONValue) -> DeliveredEvent {
        DeliveredEvent(
            key: EventKey(pixelID: pixel, eventID: id, eventTime: UnixSeconds(parsing: iso)!),
            receivedAt: UnixMillis(0),
            outcome: outcome,
            record: record.serialized,
            fbtraceID: nil,
            deadLetterReason: nil
        )
    }

    static func purchase(_ value: JSONValue?, currency: String? = "USD") -> JSONValue {
        var object: JSONObject = ["event_name": .string("Purchase")]
        if let value { object["value"] = value }
        if let currency { object["currency"] = .string(currency) }
        return .object(object)
    }

    static let losAngeles = AccountTimeZone(identifier: "America/Los_Angeles")!
    static let tokyo = AccountTimeZone(identifier: "Asia/Tokyo")!
    static let accounts = [
        KPIReport.Account(id: "1", pixels: ["p1"], timeZone: losAngeles, currency: "USD", events: []),
        KPIReport.Account(id: "2", pixels: ["p1"], timeZone: tokyo, currency: "JPY", events: []),
    ]

    static let events = [
        // 03:00 UTC on 20 November: the 19th in Los Angeles, the 20th in Tokyo and in UTC.
        event("a", pixel: "p1", at: "2026-11-20T03:00:00Z", record: purchase(.number(10))),
        event("b", pixel: "p1", at: "2026-11-20T04:00:00Z", record: purchase(.integer(5))),
        event("c", pixel: "p1", at: "2026-11-20T05:00:00Z", record: purchase(.string("2.5"), currency: "EUR")),
        event("d", pixel: "p1", at: "2026-11-20T06:00:00Z", outcome: .deadLettered, record: purchase(.number(99))),
        event("e", pixel: "p1", at: "2026-11-20T07:00:00Z", outcome: .pending, record: purchase(nil)),
        event("f", pixel: "p9", at: "2026-11-20T03:00:00Z", record: purchase(.number(1))),
        event("g", pixel: "p9", at: "2026-11-20T03:00:00Z", record: .object(["value": .number(1)])),
    ]

    @Test("each pixel's events land on the local days of every zone that claims it, UTC for the others, with counts and values per currency")
    func zonesAndFigures() {
        let tally = DeliveredTally(accounts: Self.accounts, events: Self.events)
        #expect(tally.pixels == ["p1", "p9"], "a record without an event name still names its pixel")
        // Whole-hour zones: every forwarded event is also counted in the hours Meta assigns its day.
        let expected = DeliveredTally.Figures(
            forwarded: 3,
            forwardedInReceivedHours: 3,
            deadLettered: 1,
            queued: 1,
            valueSent: ["USD": 15, "EUR": 2.5]
        )
        let la = DeliveredTally.Key(
            pixelID: "p1",
            zone: Self.losAngeles.identifier,
            day: CalendarDate(year: 2026, month: 11, day: 19),
            eventName: "Purchase"
        )
        let jp = DeliveredTally.Key(
            pixelID: "p1",
            zone: Self.tokyo.identifier,
            day: CalendarDate(year: 2026, month: 11, day: 20),
            eventName: "Purchase"
        )
        let utc = DeliveredTally.Key(pixelID: "p9", zone: "UTC", day: CalendarDate(year: 2026, month: 11, day: 20), eventName: "Purchase")
        #expect(
            tally.figures == [
                la: expected, jp: expected, utc: DeliveredTally.Figures(forwarded: 1, forwardedInReceivedHours: 1, valueSent: ["USD": 1]),
            ]
        )
    }

    @Test("tallied a page at a time or all at once, the figures are the same")
    func pagesAddUp() {
        var paged = DeliveredTally(accounts: Self.accounts)
        for start in stride(from: 0, to: Self.events.count, by: 2) { paged.add(Array(Self.events[start..<min(start + 2, Self.events.count)])) }
        let whole = DeliveredTally(accounts: Self.accounts, events: Self.events)
        #expect(paged.figures == whole.figures && paged.pixels == whole.pixels)
    }
}
