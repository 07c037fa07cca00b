import CAPICore
import ConnectorRuntime
import Foundation
import Logging
import TestSupport
import Testing

@Suite("Postgres per-event statements, prepared and unnamed", .enabled(if: TestPostgres.enabled))
struct PostgresStatementModeTests {
    @Test("intake, claims with and without a pixel, and forwarded acknowledgements agree in both modes", arguments: [true, false])
    func sameOutcomes(prepared: Bool) async throws {
        var target = try TestPostgres.target()
        target.preparedStatements = prepared
        let schema = TestPostgres.uniqueName("t")
        try await withStateRegistry(.postgres(target), schema: schema, logger: Logger(label: "test")) { registry in
            // Three rounds, so a prepared statement also runs on connections that already hold it.
            for round in 1...3 {
                let first = "a\(round)"
                let second = "b\(round)"
                let outcomes = try await registry.commitIntake([intake(first), intake(second, pixel: "222"), intake(first)])
                #expect(outcomes == [.accepted, .accepted, .duplicate(answer: #"{"status":"accepted","event_id":"\#(first)"}"#)])

                let fromPixel = try await registry.claimOutbox(limit: 10, owner: "o", lease: .seconds(30), now: now, pixelID: "222")
                #expect(fromPixel.map(\.key.eventID) == [second])
                let fromAny = try await registry.claimOutbox(limit: 10, owner: "o", lease: .seconds(30), now: now, pixelID: nil)
                #expect(fromAny.map(\.key.eventID) == [first])
                #expect(fromAny.first?.payload == intake(first).payload)

                try await registry.markForwarded(fromPixel, fbtraceID: "trace-\(round)", now: now)
                try await registry.markForwarded(fromAny, fbtraceID: nil, now: now)
                #expect(try await registry.outboxDepth() == 0)
            }
            let delivered = try await registry.deliveredEvents(since: nil)
            #expect(delivered.count == 6)
            #expect(delivered.allSatisfy { $0.outcome == .forwarded })
            #expect(Set(delivered.compactMap(\.fbtraceID)) == ["trace-1", "trace-2", "trace-3"])
        }
    }
}

@Suite("Postgres page layout", .enabled(if: TestPostgres.enabled))
struct PostgresPageLayoutTests {
    /// The forwarder's lease and outcome updates should not move rows off their page: a row that
    /// moves adds an entry to every index of its table and writes its whole new version to the
    /// WAL. Each statement updates every row of a page at once, so the page must have room for a
    /// second version of each of them.
    @Test("a claim and an acknowledgement of hundreds of sidecar-sized rows leave nearly every row on its page")
    func updatesStayOnTheirPage() async throws {
        let target = try TestPostgres.target()
        let schema = TestPostgres.uniqueName("t")
        let count = 400
        // Sizes as the sidecar writes them: a payload of about 1 KB, a stream record of about 600 B.
        let items = (0..<count).map { index in
            let id = "page-\(index)"
            var item = intake(id)
            item.payload = #"{"event_id":"\#(id)","event_name":"Purchase","user_data":{"em":["\#(String(repeating: "a", count: 960))"]}}"#
            item.deliveredRecord = #"{"event_id":"\#(id)","user_data_keys":"\#(String(repeating: "b", count: 560))"}"#
            return item
        }
        let stayed = try await withStateRegistry(.postgres(target), schema: schema, logger: Logger(label: "test")) { registry in
            #expect(try await registry.commitIntake(items).allSatisfy { $0 == .accepted })
            let outboxBefore = try await pages(of: "outbox", schema: schema)
            let deliveredBefore = try await pages(of: "delivered_events", schema: schema)

            let claimed = try await registry.claimOutbox(limit: count, owner: "o", lease: .seconds(60), now: now, pixelID: nil)
            #expect(claimed.count == count)
            let outboxAfter = try await pages(of: "outbox", schema: schema)
            try await registry.markForwarded(claimed, fbtraceID: "trace", now: now)
            let deliveredAfter = try await pages(of: "delivered_events", schema: schema)
            #expect(deliveredAfter.count == count)
            #expect(try await registry.deliveredEvents(since: nil).allSatisfy { $0.outcome == .forwarded })
            return (
                outbox: outboxBefore.filter { outboxAfter[$0.key] == $0.value }.count,
                delivered: deliveredBefore.filter { deliveredAfter[$0.key] == $0.value }.count
            )
        }
        // With a fifth of each page free (schema version 9), 160 and 100 of the 400 rows stayed.
        #expect(stayed.outbox >= count * 9 / 10, "outbox rows still on their page after the claim: \(stayed.outbox) of \(count)")
        #expect(stayed.delivered >= count * 9 / 10, "delivered_events rows still on their page after the outcome: \(stayed.delivered) of \(count)")
    }

    /// Each row's page, by event id.
    private func pages(of table: String, schema: String) async throws -> [String: Int] {
        try await TestPostgres.withClient(searchPath: schema) { client in
            let rows = try await client.query("SELECT event_id, ((ctid::text)::point)[0]::int8 FROM \(unescaped: table)")
            var pages: [String: Int] = [:]
            for try await (id, page) in rows.decode((String, Int64).self) { pages[id] = Int(page) }
            return pages
        }
    }
}
