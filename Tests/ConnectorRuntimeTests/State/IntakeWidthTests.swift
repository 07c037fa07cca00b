import CAPICore
import ConnectorRuntime
import Foundation
import Logging
import TestSupport
import Testing

/// Intake takes each key of a batch once, in an order that cannot deadlock. Done in SQL with a
/// sort over unnested rows, the payloads of a full batch of large events (carts with many items)
/// passed `work_mem` and went to temporary files three times over. The statement now streams its
/// arrays and the keys are chosen and ordered in Swift. The role here may write no temporary file,
/// so a statement that spills fails instead of being slow; and since each value travels in its own
/// array, every one of them is checked to be stored beside its own key.
@Suite("intake of wide events", .enabled(if: TestPostgres.enabled))
struct IntakeWidthTests {
    /// A full batch-endpoint request: 1,000 events of about 5 KB, 5 MB in all, past the default
    /// 4 MB `work_mem`.
    static let events = 1_000
    static let distinct = 950

    @Test("a batch of 1,000 events of 5 KB commits without a temporary file, each value beside its own key")
    func wideBatch() async throws {
        let schema = TestPostgres.uniqueName("intake_width")
        try await TestPostgres.withRole(settings: [("temp_file_limit", "0"), ("work_mem", "'4MB'")]) { target in
            try await withStateRegistry(.postgres(target), schema: schema, logger: Logger(label: "test")) { registry in
                // Out of key order, and every nineteenth key given again later with other content.
                var generator = SeededGenerator(seed: 14)
                let items = (0..<Self.distinct).map { Self.wide($0) }.shuffled(using: &generator)
                let repeats = stride(from: 0, to: Self.distinct, by: 19).prefix(Self.events - Self.distinct).map { Self.wide($0, content: "B") }
                #expect(items.count + repeats.count == Self.events)

                let outcomes = try await registry.commitIntake(items + repeats)
                #expect(outcomes == Array(repeating: .accepted, count: items.count) + Array(repeating: .conflict, count: repeats.count))
                #expect(try await registry.outboxDepth() == Self.distinct)

                // The outbox row of each key holds that key's payload, receipt time and expiry.
                // Mismatches are listed by event id: a wrong pairing would print 5 KB per row.
                let byID = Dictionary(uniqueKeysWithValues: items.map { ($0.key.eventID, $0) })
                var claimed = 0
                var misplaced: [String] = []
                while true {
                    let entries = try await registry.claimOutbox(limit: 250, owner: "w", lease: .seconds(30), now: Self.now, pixelID: nil)
                    if entries.isEmpty { break }
                    for entry in entries {
                        let item = byID[entry.key.eventID]
                        if item?.key != entry.key || item?.payload != entry.payload || item?.receivedAt != entry.createdAt
                            || item?.expiresAt != entry.expiresAt
                        {
                            misplaced.append("outbox \(entry.key.eventID)")
                        }
                    }
                    claimed += entries.count
                }
                #expect(claimed == Self.distinct)

                // The stream record and receipt time of each key are its own.
                let delivered = try await registry.deliveredEvents(since: nil)
                #expect(delivered.count == Self.distinct)
                for event in delivered {
                    let item = byID[event.key.eventID]
                    if item?.deliveredRecord != event.record || item?.receivedAt != event.receivedAt {
                        misplaced.append("delivered_events \(event.key.eventID)")
                    }
                }
                #expect(misplaced.count == 0, "rows holding another key's values, first: \(misplaced.prefix(5))")

                // So are its content hash and answer: the same events again are duplicates, each
                // answered with its own first answer.
                let again = try await registry.commitIntake(items)
                #expect(again == items.map { .duplicate(answer: $0.answer) })
            }
        }
    }

    static let now = UnixMillis(1_795_000_100_000)

    /// An event of about 5 KB whose every value names its index, so a value stored beside another
    /// key shows.
    static func wide(_ index: Int, content: String = "A") -> IntakeItem {
        let id = "wide-\(index)"
        let time = UnixSeconds(1_795_000_000)
        let item = String(repeating: #"{"id":"sku-\#(index)","quantity":1},"#, count: 5_000 / 30)
        return IntakeItem(
            key: EventKey(pixelID: "111", eventID: id, eventTime: time),
            contentHash: SHA256Hex.digest(content + id),
            payload: #"{"event_id":"\#(id)","custom_data":{"contents":[\#(item.dropLast())]},"content":"\#(content)"}"#,
            answer: #"{"status":"accepted","event_id":"\#(id)"}"#,
            deliveredRecord: #"{"event_id":"\#(id)","items":"\#(String(repeating: "\(index % 10)", count: 500))"}"#,
            receivedAt: UnixMillis(1_795_000_000_000 + Int64(index)),
            expiresAt: UnixMillis(1_795_600_000_000 + Int64(index) * 7)
        )
    }
}
