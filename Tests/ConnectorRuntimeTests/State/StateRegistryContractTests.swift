import CAPICore
import ConnectorRuntime
import Foundation
import Logging
import TestSupport
import Testing

@Suite("State registry contract")
struct StateRegistryContractTests {
    @Test("migrations twice, and from two processes at once, are harmless", arguments: TestStore.enabled)
    func migrationsIdempotent(backend: TestStore) async throws {
        try await backend.withTwoRegistries { first, second in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await first.migrate() }
                group.addTask { try await second.migrate() }
                try await group.waitForAll()
            }
            try await first.migrate()
            let summary = try await first.summary()
            #expect(summary.schemaVersion == currentSchemaVersion)
            #expect(summary.outboxDepth == 0)
        }
    }

    @Test("storage: every table of the connector is measured, and the ones events go to grow with them", arguments: TestStore.enabled)
    func storageGrowsWithEvents(backend: TestStore) async throws {
        try await backend.withRegistry { registry in
            let empty = try await registry.storage(perTable: true)
            #expect(
                Set((empty.tables ?? []).map(\.name)) == [
                    "cursors", "runs", "outbox", "dead_letters", "delivered_events", "delivery_statuses", "match_quality", "schema_versions",
                    "alarms", "drift_windows", "drift_baselines", "ad_insights", "webhook_deliveries",
                ]
            )
            for start in stride(from: 0, to: 3_000, by: 500) {
                _ = try await registry.commitIntake((start..<start + 500).map { intake("grow-\($0)") })
            }
            let grown = try await registry.storage(perTable: true)
            func bytes(_ storage: StoreStorage, _ table: String) -> Int64 { storage.tables?.first { $0.name == table }?.bytes ?? -1 }
            for table in ["delivered_events", "outbox"] {
                #expect(bytes(grown, table) > bytes(empty, table) + 200_000, "\(table): \(bytes(empty, table)) → \(bytes(grown, table))")
            }
            #expect(bytes(grown, "alarms") == bytes(empty, "alarms"))
            let sizes = (grown.tables ?? []).map(\.bytes)
            #expect(sizes == sizes.sorted(by: >), "largest first")
            #expect(grown.bytes >= sizes.reduce(0, +), "the whole store holds its tables")
            #expect(try await registry.storage(perTable: false).tables == nil, "tables are measured only when asked for")
            #expect((grown.freeBytes != nil) == (backend == .sqlite) && (grown.incrementalVacuum != nil) == (backend == .sqlite))
        }
    }

    @Test("intake: new, duplicate with the original answer, conflict, and repeats inside one batch", arguments: TestStore.enabled)
    func intakeOutcomes(backend: TestStore) async throws {
        try await backend.withRegistry { registry in
            let first = try await registry.commitIntake([intake("e1"), intake("e2")])
            #expect(first == [.accepted, .accepted])
            let again = try await registry.commitIntake([
                intake("e1"), intake("e2", content: "B"), intake("e3"), intake("e3"), intake("e4"), intake("e4", content: "B"),
            ])
            #expect(
                again == [
                    .duplicate(answer: #"{"status":"accepted","event_id":"e1"}"#), .conflict, .accepted,
                    .duplicate(answer: #"{"status":"accepted","event_id":"e3"}"#), .accepted, .conflict,
                ]
            )
            #expect(try await registry.outboxDepth() == 4)
            let delivered = try await registry.deliveredEvents(since: nil)
            #expect(delivered.count == 4)
            #expect(delivered.allSatisfy { $0.outcome == .pending })
            // The same event id at another event_time is another event.
            #expect(try await registry.commitIntake([intake("e1", time: UnixSeconds(1_795_000_001))]) == [.accepted])
        }
    }

    /// Meta and both stores compare event ids byte for byte; Swift's `String ==` holds canonically
    /// equivalent spellings equal, which once answered the second of two stored events `conflict`.
    @Test("event ids that differ only in Unicode normalization are two events", arguments: TestStore.enabled)
    func eventIDsCompareAsBytes(backend: TestStore) async throws {
        let composed = "caf\u{E9}-1"
        let decomposed = "cafe\u{301}-1"
        #expect(composed == decomposed && Array(composed.utf8) != Array(decomposed.utf8))
        #expect(
            EventKey(pixelID: "111", eventID: composed, eventTime: UnixSeconds(1))
                != EventKey(pixelID: "111", eventID: decomposed, eventTime: UnixSeconds(1))
        )
        try await backend.withRegistry { registry in
            let first = try await registry.commitIntake([intake(composed), intake(decomposed)])
            #expect(first == [.accepted, .accepted])
            let depth = try await registry.outboxDepth()
            #expect(depth == 2)
            let again = try await registry.commitIntake([intake(decomposed), intake(composed)])
            #expect(
                again == [
                    .duplicate(answer: #"{"status":"accepted","event_id":"\#(decomposed)"}"#),
                    .duplicate(answer: #"{"status":"accepted","event_id":"\#(composed)"}"#),
                ]
            )
            let delivered = try await registry.deliveredEvents(since: nil)
            #expect(Set(delivered.map { Array($0.key.eventID.utf8) }) == [Array(composed.utf8), Array(decomposed.utf8)])
        }
    }

    @Test("a request's test_event_code stays with its events through claim, dead letter and replay", arguments: TestStore.enabled)
    func testEventCodeKept(backend: TestStore) async throws {
        try await backend.withRegistry { registry in
            var coded = intake("coded")
            coded.testEventCode = "TEST42"
            #expect(try await registry.commitIntake([coded, intake("plain")]) == [.accepted, .accepted])
            func claim() async throws -> [String: String?] {
                let rows = try await registry.claimOutbox(limit: 10, owner: "t", lease: .seconds(30), now: now, dueBy: now, pixelID: nil)
                return Dictionary(uniqueKeysWithValues: rows.map { ($0.key.eventID, $0.testEventCode) })
            }
            let first = try await registry.claimOutbox(limit: 10, owner: "t", lease: .seconds(30), now: now, dueBy: now, pixelID: nil)
            #expect(Dictionary(uniqueKeysWithValues: first.map { ($0.key.eventID, $0.testEventCode) }) == ["coded": "TEST42", "plain": nil])
            try await registry.deadLetter(first, reason: DeadLetterReason(errorClass: .invalid, message: "refused"), now: now)
            let letters = try await registry.deadLetters(limit: 10)
            #expect(Dictionary(uniqueKeysWithValues: letters.map { ($0.key.eventID, $0.testEventCode) }) == ["coded": "TEST42", "plain": nil])
            #expect(try await registry.replayDeadLetters(ids: nil, now: now) == 2)
            #expect(try await claim() == ["coded": "TEST42", "plain": nil])
        }
    }

    @Test("dead letters are listed, counted, replayed and purged by id, class and pixel, every filter given narrowing", arguments: TestStore.enabled)
    func deadLetterSelections(backend: TestStore) async throws {
        try await backend.withRegistry { registry in
            // a1, a2: pixel 111; b1: pixel 222; a1 and b1 transient, a2 invalid.
            _ = try await registry.commitIntake([intake("a1"), intake("a2"), intake("b1", pixel: "222")])
            let claimed = try await registry.claimOutbox(limit: 10, owner: "t", lease: .seconds(30), now: now, dueBy: now, pixelID: nil)
            let byID = Dictionary(uniqueKeysWithValues: claimed.map { ($0.key.eventID, $0) })
            let transient = DeadLetterReason(errorClass: .transient, message: "retries exhausted")
            try await registry.deadLetter([byID["a1"]!, byID["b1"]!], reason: transient, now: now)
            try await registry.deadLetter([byID["a2"]!], reason: DeadLetterReason(errorClass: .invalid, message: "refused"), now: now)
            let letterIDs = Dictionary(uniqueKeysWithValues: try await registry.deadLetters(limit: 10).map { ($0.key.eventID, $0.id) })

            func listed(_ selection: DeadLetterSelection) async throws -> Set<String> {
                let letters = try await registry.deadLetters(selection, limit: 10)
                #expect(try await registry.deadLetterCount(selection) == letters.count)
                return Set(letters.map(\.key.eventID))
            }
            #expect(try await listed(.all) == ["a1", "a2", "b1"])
            #expect(try await listed(DeadLetterSelection(classes: [.transient])) == ["a1", "b1"])
            #expect(try await listed(DeadLetterSelection(classes: [.transient, .invalid])) == ["a1", "a2", "b1"])
            #expect(try await listed(DeadLetterSelection(pixelIDs: ["111"])) == ["a1", "a2"])
            #expect(try await listed(DeadLetterSelection(classes: [.transient], pixelIDs: ["111"])) == ["a1"])
            #expect(try await listed(DeadLetterSelection(ids: [letterIDs["a2"]!], classes: [.transient])).isEmpty)
            #expect(try await listed(DeadLetterSelection(classes: [.throttled])).isEmpty)
            #expect(try await listed(DeadLetterSelection(classes: [])).isEmpty, "an empty list selects nothing")
            #expect(try await registry.deadLetters(DeadLetterSelection(classes: [.transient]), limit: 1).map(\.key.eventID) == ["a1"])

            // After an outage: the transient ones of pixel 111 go back; the invalid one stays.
            #expect(try await registry.replayDeadLetters(DeadLetterSelection(classes: [.transient], pixelIDs: ["111"]), now: now) == 1)
            #expect(try await listed(.all) == ["a2", "b1"])
            #expect(try await registry.outboxDepth() == 1)
            #expect(try await registry.purgeDeadLetters(DeadLetterSelection(classes: [.invalid])) == 1)
            #expect(try await listed(.all) == ["b1"])
        }
    }

    @Test("a replay or purge of more dead letters than one transaction takes moves every selected one, and only those", arguments: TestStore.enabled)
    func deadLettersInManyTransactions(backend: TestStore) async throws {
        let (location, schema) = try backend.location()
        try await withStateRegistry(location, schema: schema, logger: Logger(label: "test")) { registry in
            // 30,000 dead letters of pixel 111, every sixth invalid, each with its ledger row.
            let numbers =
                backend == .sqlite
                ? "(WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 29999) SELECT i FROM n) AS s"
                : "generate_series(0, 29999) AS s(i)"
            let reason = String(
                decoding: try JSONEncoder().encode(DeadLetterReason(errorClass: .transient, message: "retries exhausted")),
                as: UTF8.self
            )
            try await TestStore.rawSQL(
                location,
                schema: schema,
                [
                    """
                    INSERT INTO dead_letters (pixel_id, event_id, event_time, payload, error_class, code, message, attempts, created_at)
                    SELECT '111', 'dl-' || i, 1796000000, '{"event_name":"Lead"}', CASE WHEN i % 6 = 5 THEN 'invalid' ELSE 'transient' END,
                      503, 'retries exhausted', 3, 1000 + i FROM \(numbers)
                    """,
                    """
                    INSERT INTO delivered_events (pixel_id, event_id, event_time, received_at, outcome, dead_letter_reason, record, updated_at)
                    SELECT '111', 'dl-' || i, 1796000000, 1000 + i, 'dead_lettered', '\(reason)', '{}', 1000 FROM \(numbers)
                    """,
                ]
            )
            #expect(try await registry.replayDeadLetters(DeadLetterSelection(classes: [.transient]), now: now) == 25_000)
            #expect(try await registry.outboxDepth() == 25_000)
            #expect(try await registry.deadLetterCount(.all) == 5_000)
            #expect(try await registry.deadLetterCount(DeadLetterSelection(classes: [.invalid])) == 5_000)
            var outcomes: [DeliveryOutcome: Int] = [:]
            var after: DeliveredEventPosition?
            while true {
                let page = try await registry.deliveredEvents(since: nil, after: after, limit: 10_000)
                for event in page { outcomes[event.outcome, default: 0] += 1 }
                guard let last = page.last else { break }
                after = DeliveredEventPosition(after: last)
            }
            #expect(outcomes == [.pending: 25_000, .deadLettered: 5_000])
            #expect(try await registry.purgeDeadLetters(.all) == 5_000)
            #expect(try await registry.deadLetterCount(.all) == 0)
        }
    }

    @Test("delivered_events read in pages: every record once, in receipt order, ties broken by key, from any page size", arguments: TestStore.enabled)
    func deliveredEventsPages(backend: TestStore) async throws {
        try await backend.withRegistry { registry in
            // Three receipt instants, seven events on each, over two pixels and two event times:
            // every page boundary falls between records that share their receipt time.
            var items: [IntakeItem] = []
            for instant in 0..<3 {
                for index in 0..<7 {
                    var item = intake("e\(index)", pixel: index % 2 == 0 ? "111" : "222", time: UnixSeconds(1_795_000_000 + Int64(instant)))
                    item.receivedAt = UnixMillis(1_795_000_000_000 + Int64(instant) * 1_000)
                    items.append(item)
                }
            }
            _ = try await registry.commitIntake(items)
            let expected = items.sorted {
                ($0.receivedAt.rawValue, $0.key.pixelID, $0.key.eventID, $0.key.eventTime.rawValue)
                    < ($1.receivedAt.rawValue, $1.key.pixelID, $1.key.eventID, $1.key.eventTime.rawValue)
            }.map(\.key)
            for pageSize in [1, 2, 5, 7, 21, 100] {
                var keys: [EventKey] = []
                var pages = 0
                try await registry.forEachDeliveredEventsPage(since: nil, pageSize: pageSize) { page in
                    #expect(page.count <= pageSize)
                    pages += 1
                    keys += page.map(\.key)
                }
                #expect(keys == expected, "page size \(pageSize)")
                #expect(pages == (21 + pageSize - 1) / pageSize, "no empty page is handed on")
            }
            var fromSecond: [EventKey] = []
            try await registry.forEachDeliveredEventsPage(since: UnixMillis(1_795_000_001_000), pageSize: 4) { fromSecond += $0.map(\.key) }
            #expect(fromSecond == Array(expected.dropFirst(7)), "since: received at or after")
            // until: received before, whatever page the boundary falls in.
            for pageSize in [3, 7, 100] {
                var window: [EventKey] = []
                try await registry.forEachDeliveredEventsPage(
                    since: UnixMillis(1_795_000_001_000),
                    until: UnixMillis(1_795_000_002_000),
                    pageSize: pageSize
                ) { window += $0.map(\.key) }
                #expect(window == Array(expected[7..<14]), "page size \(pageSize)")
            }
            var beforeSecond = 0
            try await registry.forEachPage(of: .deliveredEvents, since: nil, until: UnixMillis(1_795_000_001_000)) { beforeSecond += $0.count }
            #expect(beforeSecond == 7)
            #expect(try await registry.deliveredEvents(since: nil).map(\.key) == expected)
        }
    }

    @Test("the summary says per pixel what waits in the outbox, since when, and the latest failure", arguments: TestStore.enabled)
    func outboxSummary(backend: TestStore) async throws {
        try await backend.withRegistry { registry in
            #expect(try await registry.summary().outbox.isEmpty)
            var items = [intake("a1"), intake("a2"), intake("b1", pixel: "222")]
            for index in items.indices { items[index].receivedAt = UnixMillis(1_795_000_000_000 + Int64(index) * 1_000) }
            _ = try await registry.commitIntake(items)
            let claimed = try await registry.claimOutbox(limit: 10, owner: "t", lease: .seconds(30), now: now, dueBy: now, pixelID: "111")
            let first = try #require(claimed.first { $0.key.eventID == "a1" })
            let second = try #require(claimed.first { $0.key.eventID == "a2" })
            try await registry.reschedule([first], nextAttemptAt: now + .seconds(60), lastError: "transient: http 503: older")
            try await registry.reschedule([second], nextAttemptAt: now + .seconds(90), lastError: "transient: http 503: latest")
            let summary = try await registry.summary().outbox
            #expect(summary.map(\.pixelID) == ["111", "222"])
            #expect(summary.first?.queued == 2 && summary.first?.retrying == 2)
            #expect(summary.first?.nextAttemptAt == now + .seconds(60))
            #expect(summary.first?.lastError == "transient: http 503: latest")
            #expect(summary.last?.queued == 1 && summary.last?.retrying == 0 && summary.last?.lastError == nil)
            #expect(summary.last?.oldestQueuedAt == items[2].receivedAt)
        }
    }

    @Test("a failure between ledger and outbox leaves neither", arguments: TestStore.enabled)
    func intakeIsAtomic(backend: TestStore) async throws {
        let (location, schema) = try backend.location()
        try await withStateRegistry(location, schema: schema, logger: Logger(label: "test")) { registry in
            // Make the outbox refuse one event after the ledger row for it (and its batch mates) went in.
            let trigger: [String] =
                switch backend {
                case .sqlite: ["CREATE TRIGGER refuse BEFORE INSERT ON outbox WHEN NEW.event_id = 'boom' BEGIN SELECT RAISE(ABORT, 'refused'); END"]
                case .postgres:
                    [
                        "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN IF NEW.event_id = 'boom' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
                        "CREATE TRIGGER refuse BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION refuse()",
                    ]
                }
            try await TestStore.rawSQL(location, schema: schema, trigger)
            await #expect(throws: StateError.self) { try await registry.commitIntake([intake("ok"), intake("boom")]) }
            #expect(try await registry.outboxDepth() == 0)
            #expect(try await registry.deliveredEvents(since: nil).isEmpty)
            // Nothing half-written: the ledger took neither, so both are new on the next try.
            try await TestStore.rawSQL(location, schema: schema, ["DROP TRIGGER refuse" + (backend == .postgres ? " ON outbox" : "")])
            #expect(try await registry.commitIntake([intake("ok"), intake("boom")]) == [.accepted, .accepted])
        }
    }

    /// The group committer runs intake commits side by side (two on PostgreSQL). Over shared keys
    /// they must neither deadlock, whatever order each was given its keys in, nor both take a key.
    @Test("intake commits at once over the same keys in opposite orders take each key once", arguments: TestStore.enabled)
    func concurrentIntakeCommits(backend: TestStore) async throws {
        try await backend.withRegistry { registry in
            let perRound = 200
            for round in 0..<10 {
                let items = (0..<perRound).map { intake("o\(round)-\($0)") }
                async let forward = registry.commitIntake(items)
                async let backward = registry.commitIntake(items.reversed())
                let (first, second) = try await (forward, Array(backward.reversed()))
                for (index, item) in items.enumerated() {
                    let outcomes = [first[index], second[index]]
                    #expect(outcomes.filter { $0 == .accepted }.count == 1, "round \(round): \(outcomes)")
                    #expect(outcomes.contains(.duplicate(answer: item.answer)), "round \(round): \(outcomes)")
                }
            }
            #expect(try await registry.outboxDepth() == 10 * perRound)
        }
    }

    @Test("concurrent claimers never get the same outbox row", arguments: TestStore.enabled)
    func concurrentClaims(backend: TestStore) async throws {
        try await backend.withTwoRegistries { first, second in
            _ = try await first.commitIntake((0..<300).map { intake("c\($0)") })
            let claimed = ClaimLog()
            try await raceClaimers(first, second) { registry, owner in
                let batch = try await registry.claimOutbox(limit: 7, owner: owner, lease: .seconds(60), now: now, pixelID: nil)
                await claimed.add(batch.map(\.id))
                return !batch.isEmpty
            }
            let ids = await claimed.ids
            #expect(ids.count == 300)
            #expect(Set(ids).count == 300, "a row was leased twice")
        }
    }

    /// Claims lock rows and then update them by address; a row rescheduled or renewed by another
    /// transaction in between must be skipped or re-read, never handed to a second holder.
    @Test("claims racing with reschedules and lease renewals never give one row to two holders", arguments: TestStore.enabled)
    func claimsRacingOutcomes(backend: TestStore) async throws {
        try await backend.withTwoRegistries { first, second in
            _ = try await first.commitIntake((0..<200).map { intake("r\($0)") })
            let holders = HolderLog()
            try await raceClaimers(first, second) { registry, owner in
                let batch = try await registry.claimOutbox(limit: 5, owner: owner, lease: .seconds(60), now: now, pixelID: nil)
                if batch.isEmpty { return false }
                await holders.take(batch.map(\.id), by: owner)
                // Each row is sent back twice (due at once, so others race for it), then forwarded;
                // a batch whose first row has an even id has its lease renewed first.
                let done = batch.filter { $0.attempts >= 2 }
                let again = batch.filter { $0.attempts < 2 }
                if batch[0].id % 2 == 0 { try await registry.extendLease(again, owner: owner, until: now + .seconds(120)) }
                await holders.release(batch.map(\.id))
                try await registry.reschedule(again, nextAttemptAt: now, lastError: "transient")
                try await registry.markForwarded(done, fbtraceID: nil, now: now)
                await holders.forwarded(done.map(\.id))
                return true
            }
            let conflicts = await holders.conflicts
            let forwarded = await holders.forwardedIDs
            #expect(conflicts.isEmpty, "rows held twice at once: \(conflicts.prefix(5))")
            #expect(forwarded.count == 200 && Set(forwarded).count == 200)
            #expect(await holders.claims == 600, "each row is claimed three times: twice sent back, once forwarded")
            #expect(try await first.outboxDepth() == 0)
        }
    }

    @Test("an expired lease is claimable again; a live one is not", arguments: TestStore.enabled)
    func leases(backend: TestStore) async throws {
        try await backend.withRegistry { registry in
            _ = try await registry.commitIntake([intake("l1"), intake("l2", pixel: "222")])
            let leased = try await registry.claimOutbox(limit: 10, owner: "a", lease: .seconds(1), now: now, pixelID: "111")
            #expect(leased.map(\.key.eventID) == ["l1"])
            #expect(try await registry.claimOutbox(limit: 10, owner: "b", lease: .seconds(1), now: now + .milliseconds(500), pixelID: "111").isEmpty)
            let reclaimed = try await registry.claimOutbox(limit: 10, owner: "b", lease: .seconds(1), now: now + .milliseconds(1_000), pixelID: "111")
            #expect(reclaimed.map(\.id) == leased.map(\.id))
        }
    }

    @Test("a claim takes rows due by its cutoff, and leases them from now", arguments: TestStore.enabled)
    func dueByCutoff(backend: TestStore) async throws {
        try await backend.withRegistry { registry in
            _ = try await registry.commitIntake([intake("d1")])
            let first = try await registry.claimOutbox(limit: 10, owner: "a", lease: .seconds(1), now: now, pixelID: nil)
            try await registry.reschedule(first, nextAttemptAt: now + .milliseconds(10), lastError: "transient")
            // Due again at +10 ms, but a run that started at `now` does not take it back.
            let later = now + .milliseconds(50)
            #expect(try await registry.claimOutbox(limit: 10, owner: "a", lease: .seconds(1), now: later, dueBy: now, pixelID: nil).isEmpty)
            let taken = try await registry.claimOutbox(limit: 10, owner: "b", lease: .seconds(1), now: later, dueBy: later, pixelID: nil)
            #expect(taken.map(\.key.eventID) == ["d1"])
            // The lease runs from the claim, not from the cutoff: not claimable again until later + 1 s.
            #expect(
                try await registry.claimOutbox(limit: 10, owner: "c", lease: .seconds(1), now: later + .milliseconds(999), pixelID: nil).isEmpty
            )
        }
    }

    @Test("a row claimed again without an outcome is marked as a possible re-send; a renewed lease is not claimable", arguments: TestStore.enabled)
    func reclaimsAndRenewals(backend: TestStore) async throws {
        try await backend.withRegistry { registry in
            _ = try await registry.commitIntake([intake("r1"), intake("r2")])
            let first = try await registry.claimOutbox(limit: 1, owner: "a", lease: .seconds(1), now: now, pixelID: nil)
            #expect(first.map(\.claims) == [1])
            // The owner renews: at the old expiry nobody else may take the row.
            try await registry.extendLease(first, owner: "a", until: now + .milliseconds(5_000))
            #expect(
                try await registry.claimOutbox(limit: 10, owner: "b", lease: .seconds(1), now: now + .milliseconds(1_000), pixelID: nil).map(
                    \.key.eventID
                )
                    == ["r2"]
            )
            // A renewal by someone who no longer holds the row changes nothing.
            try await registry.extendLease(first, owner: "b", until: now + .milliseconds(60_000))
            let taken = try await registry.claimOutbox(limit: 10, owner: "c", lease: .seconds(1), now: now + .milliseconds(5_000), pixelID: nil)
            // Both rows were left by owners that stopped without an outcome (r1's renewal ran out, b never finished r2).
            #expect(taken.map(\.key.eventID) == ["r1", "r2"])
            #expect(taken.map(\.claims) == [2, 2], "claimed after its owner stopped without an outcome: Meta may have it")
            try await registry.reschedule(taken, nextAttemptAt: now + .milliseconds(6_000), lastError: "transient")
            let retried = try await registry.claimOutbox(limit: 10, owner: "c", lease: .seconds(1), now: now + .milliseconds(6_000), pixelID: nil)
            #expect(retried.first { $0.key.eventID == "r1" }?.claims == 1, "a recorded outcome resets the count")
            #expect(retried.first { $0.key.eventID == "r1" }?.attempts == 1)
        }
    }

    @Test("rows queued before the expiry column get Meta's limit for their action source when the store migrates", arguments: TestStore.enabled)
    func expiryMigration(backend: TestStore) async throws {
        let (location, schema) = try backend.location()
        try await withStateRegistry(location, schema: schema, logger: Logger(label: "test")) { _ in }
        // Back to the version-2 layout, with two rows waiting as an older build wrote them.
        try await TestStore.rawSQL(
            location,
            schema: schema,
            [
                "DELETE FROM schema_migrations WHERE version >= 3",
                "ALTER TABLE outbox DROP COLUMN expires_at", "ALTER TABLE dead_letters DROP COLUMN expires_at",
            ] + beforeRequestTestCodes + [
                "DROP TABLE schema_versions", "DROP TABLE drift_windows", "DROP TABLE drift_baselines",
            ] + ["stream", "event_name", "field", "severity", "last_seen", "occurrences"].map { "ALTER TABLE alarms DROP COLUMN \($0)" }
                + Self.ledgerLayout + [

                    #"INSERT INTO outbox (pixel_id, event_id, event_time, payload, attempts, next_attempt_at, created_at) VALUES ('1', 'web', 1000, '{"action_source":"website"}', 0, 0, 0)"#,
                    #"INSERT INTO outbox (pixel_id, event_id, event_time, payload, attempts, next_attempt_at, created_at) VALUES ('1', 'store', 1000, '{"action_source":"physical_store"}', 0, 0, 0)"#,
                ]
        )
        try await withStateRegistry(location, schema: schema, logger: Logger(label: "test")) { registry in
            let claimed = try await registry.claimOutbox(limit: 10, owner: "a", lease: .seconds(1), now: UnixMillis(1), pixelID: nil)
            let expiry = Dictionary(uniqueKeysWithValues: claimed.map { ($0.key.eventID, $0.expiresAt) })
            let web = UnixMillis((1000 + 7 * 86_400) * 1000)
            let store = UnixMillis((1000 + 62 * 86_400) * 1000)
            #expect(expiry["web"] == web)
            #expect(expiry["store"] == store)
            // The expiry travels with a dead letter and back on replay.
            try await registry.deadLetter(
                claimed.filter { $0.key.eventID == "store" },
                reason: DeadLetterReason(errorClass: .configuration, message: "x"),
                now: UnixMillis(2)
            )
            #expect(try await registry.replayDeadLetters(ids: nil, now: UnixMillis(3)) == 1)
            let replayed = try await registry.claimOutbox(limit: 10, owner: "b", lease: .seconds(1), now: UnixMillis(5_000), pixelID: nil)
            #expect(replayed.first { $0.key.eventID == "store" }?.expiresAt == store)
        }
    }

    /// Back to the two-table intake layout of versions 1-7: the ledger table, no hash or answer in `delivered_events`.
    static let ledgerLayout = [
        "ALTER TABLE delivered_events DROP COLUMN content_hash", "ALTER TABLE delivered_events DROP COLUMN answer",
        """
        CREATE TABLE ledger (pixel_id TEXT NOT NULL, event_id TEXT NOT NULL, event_time BIGINT NOT NULL,
          content_hash TEXT NOT NULL, answer TEXT NOT NULL, created_at BIGINT NOT NULL, PRIMARY KEY (pixel_id, event_id, event_time))
        """,
    ]

    @Test(
        "a store in the ledger layout moves to one row per event without losing an event, a duplicate or a waiting row",
        arguments: TestStore.enabled
    )
    func ledgerMerge(backend: TestStore) async throws {
        let (location, schema) = try backend.location()
        try await withStateRegistry(location, schema: schema, logger: Logger(label: "test")) { _ in }
        // Version 7, as an older build left it: a forwarded event, one waiting in the outbox, one
        // dead-lettered, and a ledger key whose record was deleted by hand (still waiting).
        func ledger(_ id: String) -> String {
            #"INSERT INTO ledger VALUES ('111', '\#(id)', 1795000000, '\#(SHA256Hex.digest("A" + id))', '{"status":"accepted","event_id":"\#(id)"}', 5)"#
        }
        func record(_ id: String, _ outcome: String) -> String {
            #"INSERT INTO delivered_events (pixel_id, event_id, event_time, received_at, outcome, record, updated_at) VALUES ('111', '\#(id)', 1795000000, 5, '\#(outcome)', '{"event_id":"\#(id)"}', 6)"#
        }
        func outbox(_ id: String) -> String {
            #"INSERT INTO outbox (pixel_id, event_id, event_time, payload, attempts, next_attempt_at, created_at, expires_at) VALUES ('111', '\#(id)', 1795000000, '{"event_id":"\#(id)"}', 0, 0, 5, 9999999999999)"#
        }
        try await TestStore.rawSQL(
            location,
            schema: schema,
            ["DELETE FROM schema_migrations WHERE version >= 8"] + beforeRequestTestCodes + Self.ledgerLayout + [
                ledger("sent"), record("sent", "forwarded"),
                ledger("waiting"), record("waiting", "pending"), outbox("waiting"),
                ledger("lettered"), record("lettered", "dead_lettered"),
                #"INSERT INTO dead_letters (pixel_id, event_id, event_time, payload, error_class, message, attempts, created_at) VALUES ('111', 'lettered', 1795000000, '{}', 'invalid', 'x', 1, 5)"#,
                ledger("orphan"), outbox("orphan"),
            ]
        )
        try await withStateRegistry(location, schema: schema, logger: Logger(label: "test")) { registry in
            #expect(try await registry.summary().schemaVersion == currentSchemaVersion)
            // Every old key is still known: the same content is a duplicate with its stored answer,
            // other content a conflict; nothing is queued twice.
            let again = try await registry.commitIntake(
                ["sent", "waiting", "lettered", "orphan"].map { intake($0, time: UnixSeconds(1_795_000_000)) }
            )
            #expect(again == ["sent", "waiting", "lettered", "orphan"].map { .duplicate(answer: #"{"status":"accepted","event_id":"\#($0)"}"#) })
            #expect(try await registry.commitIntake([intake("sent", time: UnixSeconds(1_795_000_000), content: "B")]) == [.conflict])
            #expect(try await registry.outboxDepth() == 2)
            let outcomes = Dictionary(uniqueKeysWithValues: try await registry.deliveredEvents(since: nil).map { ($0.key.eventID, $0.outcome) })
            #expect(outcomes == ["sent": .forwarded, "waiting": .pending, "lettered": .deadLettered, "orphan": .pending])
            // The waiting rows still forward and their records follow.
            let claimed = try await registry.claimOutbox(limit: 10, owner: "a", lease: .seconds(60), now: UnixMillis(10), pixelID: nil)
            #expect(Set(claimed.map(\.key.eventID)) == ["waiting", "orphan"])
            try await registry.markForwarded(claimed, fbtraceID: "AMerged", now: UnixMillis(11))
            let after = try await registry.deliveredEvents(since: nil)
            #expect(after.filter { $0.outcome == .forwarded }.count == 3)
            #expect(try await registry.outboxDepth() == 0)
        }
    }

    @Test("an alarm is raised once while active, listed until cleared, and raised again after", arguments: TestStore.enabled)
    func alarms(backend: TestStore) async throws {
        try await backend.withRegistry { registry in
            func paused(_ pixel: String) -> AlarmSubject { AlarmSubject(kind: "pixel_paused_auth", pixelID: pixel) }
            #expect(try await registry.raiseAlarm(paused("111"), severity: .critical, message: "auth: code 190", now: UnixMillis(1)))
            #expect(try await !registry.raiseAlarm(paused("111"), severity: .critical, message: "auth: code 190 again", now: UnixMillis(2)))
            try await registry.raiseAlarm(paused("222"), severity: .critical, message: "auth", now: UnixMillis(3))
            let active = try await registry.activeAlarms()
            #expect(active.map(\.pixelID) == ["111", "222"])
            #expect(active.first?.occurrences == 2 && active.first?.lastSeen == UnixMillis(2) && active.first?.message == "auth: code 190 again")
            #expect(try await registry.clearAlarms(paused("111"), now: UnixMillis(4)) == 1)
            #expect(try await registry.activeAlarms().map(\.pixelID) == ["222"])
            try await registry.raiseAlarm(paused("111"), severity: .critical, message: "auth", now: UnixMillis(5))
            #expect(try await registry.activeAlarms().map(\.raisedAt) == [UnixMillis(3), UnixMillis(5)])
            // A drift alarm is about a stream, event and field too; the same kind for another field is another alarm.
            let coverage = AlarmSubject(kind: "schema_drift_coverage", pixelID: "111", stream: "delivered_events", eventName: "Purchase", field: "em")
            try await registry.raiseAlarm(coverage, severity: .warning, message: "em coverage fell", now: UnixMillis(6))
            var other = coverage
            other.field = "ph"
            try await registry.raiseAlarm(other, severity: .warning, message: "ph coverage fell", now: UnixMillis(6))
            #expect(try await registry.activeAlarms().filter { $0.kind == "schema_drift_coverage" }.map(\.subject.field) == ["em", "ph"])
            #expect(try await registry.clearAlarms(coverage, now: UnixMillis(7)) == 1)
            let all = try await registry.alarms(activeOnly: false)
            #expect(all.count == 5 && all.filter { $0.clearedAt != nil }.count == 2)
            #expect(all.first { $0.subject == coverage }?.severity == .warning)
        }
    }

    @Test("a store from a newer build, or with a table changed by hand, is refused at migration", arguments: TestStore.enabled)
    func unusableSchemas(backend: TestStore) async throws {
        let (location, schema) = try backend.location()
        try await withStateRegistry(location, schema: schema, logger: Logger(label: "test")) { _ in }
        try await TestStore.rawSQL(location, schema: schema, ["ALTER TABLE outbox RENAME COLUMN payload TO body"])
        await #expect(throws: StateError.self) { try await withStateRegistry(location, schema: schema, logger: Logger(label: "test")) { _ in } }
        let (newer, newerSchema) = try backend.location()
        try await withStateRegistry(newer, schema: newerSchema, logger: Logger(label: "test")) { _ in }
        try await TestStore.rawSQL(newer, schema: newerSchema, ["INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)"])
        do {
            try await withStateRegistry(newer, schema: newerSchema, logger: Logger(label: "test")) { _ in }
            Issue.record("a store at schema version 99 was opened")
        } catch let error as StateError {
            #expect(error.message.contains("version 99"))
        }
    }

    @Test("forwarded, rescheduled and dead-lettered rows end where they should", arguments: TestStore.enabled)
    func outcomes(backend: TestStore) async throws {
        try await backend.withRegistry { registry in
            _ = try await registry.commitIntake(["f1", "f2", "f3"].map { intake($0) })
            let batch = try await registry.claimOutbox(limit: 10, owner: "a", lease: .seconds(60), now: now, pixelID: nil)
            try await registry.markForwarded([batch[0]], fbtraceID: "TRACE1", now: now)
            try await registry.reschedule([batch[1]], nextAttemptAt: now + .milliseconds(5_000), lastError: "transient: http 503")
            try await registry.deadLetter(
                [batch[2]],
                reason: DeadLetterReason(errorClass: .invalid, code: 100, subcode: 2_804_003, message: "too old", fbtraceID: "TRACE2"),
                now: now
            )

            #expect(try await registry.outboxDepth() == 1)
            #expect(try await registry.claimOutbox(limit: 10, owner: "b", lease: .seconds(60), now: now + .milliseconds(4_999), pixelID: nil).isEmpty)
            let retried = try await registry.claimOutbox(limit: 10, owner: "b", lease: .seconds(60), now: now + .milliseconds(5_000), pixelID: nil)
            #expect(retried.map(\.key.eventID) == ["f2"])
            #expect(retried.first?.attempts == 1)

            let letters = try await registry.deadLetters(limit: 10)
            #expect(letters.map(\.key.eventID) == ["f3"])
            #expect(
                letters.first?.reason
                    == DeadLetterReason(errorClass: .invalid, code: 100, subcode: 2_804_003, message: "too old", fbtraceID: "TRACE2")
            )

            let stream = Dictionary(uniqueKeysWithValues: try await registry.deliveredEvents(since: nil).map { ($0.key.eventID, $0) })
            #expect(stream["f1"]?.outcome == .forwarded && stream["f1"]?.fbtraceID == "TRACE1")
            #expect(stream["f2"]?.outcome == .pending)
            #expect(stream["f3"]?.outcome == .deadLettered)
            #expect(stream["f3"]?.deadLetterReason?.subcode == 2_804_003)
            #expect(stream["f3"]?.deadLetterReason?.errorClass == .invalid)

            #expect(try await registry.replayDeadLetters(ids: nil, now: now) == 1)
            #expect(try await registry.deadLetters(limit: 10).isEmpty)
            #expect(try await registry.outboxDepth() == 2)
            _ = try await registry.claimOutbox(limit: 10, owner: "c", lease: .seconds(60), now: now + .milliseconds(10_000), pixelID: nil)
            let again = try await registry.claimOutbox(limit: 10, owner: "c", lease: .milliseconds(1), now: now + .milliseconds(70_000), pixelID: nil)
            try await registry.deadLetter(again, reason: DeadLetterReason(errorClass: .transient, message: "retries exhausted"), now: now)
            #expect(try await registry.purgeDeadLetters(ids: nil) == 2)
        }
    }

    @Test("a window's records and its cursor commit together; re-reading never duplicates", arguments: TestStore.enabled)
    func windows(backend: TestStore) async throws {
        try await backend.withRegistry { registry in
            let key = CursorKey(connector: "conn::x", stream: "delivery_statuses", partition: "111")
            let run = RunRecord(runID: "run-1", mode: .pull, startedAt: now)
            #expect(try await registry.cursor(key) == nil)
            let hour = UnixSeconds(1_794_988_800)
            let window = hour..<hour + .seconds(3600)
            let records = [
                DeliveryStatusRecord(pixelID: "111", bucketStart: hour, eventName: "Purchase", eventSource: "all", count: 5),
                DeliveryStatusRecord(pixelID: "111", bucketStart: hour, eventName: "Purchase", eventSource: "server", count: 4),
            ]
            try await registry.commitWindow(
                records,
                replacing: window,
                cursor: key,
                position: UnixSeconds(1_794_993_600),
                run: run,
                now: now
            )
            var updated = records
            updated[0].count = 7
            try await registry.commitWindow(
                updated,
                replacing: window,
                cursor: key,
                position: UnixSeconds(1_794_997_200),
                run: run,
                now: now
            )
            let stored = try await registry.deliveryStatuses(since: nil)
            #expect(stored.count == 2)
            #expect(stored.map(\.status.count) == [7, 4])
            #expect(stored.first?.status.bucketStart.iso8601 == "2026-11-18T08:00:00Z")
            #expect(stored.first?.runID == "run-1")
            // Only the hours asked for: the hour's start is in the range, its end is not.
            #expect(try await registry.deliveryStatuses(since: nil, buckets: hour..<hour + .seconds(1)).count == 2)
            #expect(try await registry.deliveryStatuses(since: nil, buckets: hour + .seconds(1)..<hour + .seconds(7200)).isEmpty)
            #expect(try await registry.deliveryStatuses(since: nil, buckets: hour - .seconds(3600)..<hour).isEmpty)
            #expect(try await registry.cursor(key)?.position == UnixSeconds(1_794_997_200))

            // A cursor never passes the start of the run that writes it; records stay inside their window and partition.
            await #expect(throws: StateError.self) {
                try await registry.commitWindow([], replacing: window, cursor: key, position: now.seconds + .seconds(1), run: run, now: now)
            }
            await #expect(throws: StateError.self) {
                var outside = records[0]
                outside.bucketStart = hour + .seconds(3600)
                try await registry.commitWindow([outside], replacing: window, cursor: key, position: hour, run: run, now: now)
            }
            #expect(try await registry.cursor(key)?.position == UnixSeconds(1_794_997_200))
            // An hour Meta no longer reports disappears when its window is read again.
            try await registry.commitWindow(
                [updated[1]],
                replacing: window,
                cursor: key,
                position: UnixSeconds(1_794_997_200),
                run: run,
                now: now
            )
            #expect(try await registry.deliveryStatuses(since: nil).map(\.status.eventSource) == ["server"])
            #expect(try await registry.resetCursor(stream: "delivery_statuses", partition: "111") == 1)
            #expect(try await registry.cursor(key) == nil)
        }
    }

    @Test(
        "ad_insights read for a report's days: those days, and each account's latest day for what it was last pulled as",
        arguments: TestStore.enabled
    )
    func adInsightsDays(backend: TestStore) async throws {
        try await backend.withRegistry { registry in
            let run = RunRecord(runID: "run-1", mode: .pull, startedAt: now)
            let start = CalendarDate(year: 2026, month: 10, day: 1)
            func rows(_ account: String, days: Int, campaigns: Int) -> [AdInsightsRecord] {
                (0..<days).flatMap { offset in
                    (0..<campaigns).map { campaign in
                        AdInsightsRecord(
                            accountID: account,
                            level: "campaign",
                            levelID: "c\(campaign)",
                            day: start.adding(days: offset),
                            currency: "USD",
                            timeZone: "America/Los_Angeles",
                            pixels: ["111"],
                            spend: Double(offset),
                            impressions: 1,
                            clicks: 1,
                            conversions: []
                        )
                    }
                }
            }
            for (account, days) in [("1", 40), ("2", 10)] {
                let written = rows(account, days: days, campaigns: 2)
                try await registry.commitInsightsWindow(
                    written,
                    account: account,
                    level: "campaign",
                    days: start...start.adding(days: days - 1),
                    cursor: CursorKey(connector: "conn::x", stream: "ad_insights", partition: "act_\(account)"),
                    position: UnixSeconds(1_794_988_800),
                    run: run,
                    now: now
                )
            }
            #expect(try await registry.adInsights(since: nil).count == 100)
            let october20 = start.adding(days: 19)
            let read = try await registry.adInsights(since: nil, days: october20...october20.adding(days: 2)).map(\.insights)
            // Account 1: its three days (two campaigns each) and its latest day, November 9; account 2,
            // whose last day is October 10, only that day.
            #expect(
                read.filter { $0.accountID == "1" }.map(\.day.description)
                    == ["2026-10-20", "2026-10-21", "2026-10-22", "2026-11-09"].flatMap { [$0, $0] }
            )
            #expect(read.filter { $0.accountID == "2" }.map(\.day.description) == ["2026-10-10", "2026-10-10"])
            #expect(try await registry.adInsights(since: nil, days: start.adding(days: -30)...start.adding(days: -1)).count == 4)
        }
    }

    @Test("the pulled streams read in pages: every row once, in key order, from any page size; since and until filter", arguments: TestStore.enabled)
    func pulledStreamPages(backend: TestStore) async throws {
        try await backend.withRegistry { registry in
            let run = RunRecord(runID: "run-1", mode: .pull, startedAt: now)
            let hour = UnixSeconds(1_794_988_800)
            // Two pixels, three hours, two names, two sources: keys that tie in every column but one.
            for pixel in ["111", "112"] {
                let records = (0..<3).flatMap { offset in
                    ["Lead", "Purchase"].flatMap { name in
                        ["all", "server"].map { source in
                            DeliveryStatusRecord(
                                pixelID: pixel,
                                bucketStart: hour + .seconds(3600 * offset),
                                eventName: name,
                                eventSource: source,
                                count: 1
                            )
                        }
                    }
                }
                try await registry.commitWindow(
                    records,
                    replacing: hour..<hour + .seconds(3 * 3600),
                    cursor: CursorKey(connector: "conn::x", stream: "delivery_statuses", partition: pixel),
                    position: hour,
                    run: run,
                    now: pixel == "111" ? now : now + .seconds(5)
                )
            }
            let start = CalendarDate(year: 2026, month: 10, day: 1)
            let insights = (0..<5).flatMap { day in
                ["c1", "c10", "c2"].map { campaign in
                    AdInsightsRecord(
                        accountID: "1",
                        level: "campaign",
                        levelID: campaign,
                        day: start.adding(days: day),
                        currency: "USD",
                        spend: 1,
                        impressions: 1,
                        clicks: 1,
                        conversions: []
                    )
                }
            }
            try await registry.commitInsightsWindow(
                insights,
                account: "1",
                level: "campaign",
                days: start...start.adding(days: 4),
                cursor: CursorKey(connector: "conn::x", stream: "ad_insights", partition: "act_1"),
                position: hour,
                run: run,
                now: now
            )
            let wholeStatuses = try await registry.deliveryStatuses(since: nil)
            let wholeInsights = try await registry.adInsights(since: nil)
            #expect(wholeStatuses.count == 24 && wholeInsights.count == 15)
            for pageSize in [1, 5, 24, 100] {
                var statuses: [StoredDeliveryStatus] = []
                var rows: [StoredAdInsights] = []
                try await registry.forEachPage(of: .deliveryStatuses, since: nil, until: nil, pageSize: pageSize) {
                    if case .deliveryStatuses(let page) = $0 { statuses += page }
                }
                try await registry.forEachPage(of: .adInsights, since: nil, until: nil, pageSize: pageSize) {
                    if case .adInsights(let page) = $0 { rows += page }
                }
                #expect(statuses == wholeStatuses, "page size \(pageSize)")
                // Key order: column by column (`c1` before `c10` before `c2`), then the day.
                let keys = rows.map { [$0.insights.levelID, $0.insights.day.description] }
                let ordered = keys.sorted { $0[0] != $1[0] ? $0[0].utf8.lexicographicallyPrecedes($1[0].utf8) : $0[1] < $1[1] }
                #expect(keys == ordered, "key order, page size \(pageSize)")
                #expect(Set(keys).count == 15)
            }
            // since and until read the time a row was written: pixel 112's rows were pulled 5 s later.
            var later = 0
            try await registry.forEachPage(of: .deliveryStatuses, since: (now + .seconds(5)), until: nil, pageSize: 5) { later += $0.count }
            #expect(later == 12)
            var earlier = 0
            try await registry.forEachPage(of: .deliveryStatuses, since: nil, until: now + .seconds(5), pageSize: 5) { earlier += $0.count }
            #expect(earlier == 12)
        }
    }

    @Test(
        "prune takes old records of each stream, and keeps what the idempotency ledger may still need and what is not forwarded",
        arguments: TestStore.enabled
    )
    func prune(backend: TestStore) async throws {
        try await backend.withRegistry { registry in
            // Events received at `now`'s receipt times (intake's helper), some with event times older
            // than the ledger's 63 days, some within it; forwarded, queued and dead-lettered.
            let old = UnixSeconds(now.seconds.rawValue - 70 * 86_400)
            let recent = UnixSeconds(now.seconds.rawValue - 2 * 86_400)
            let items = [
                intake("old-sent", time: old), intake("old-queued", time: old), intake("old-dead", time: old), intake("new-sent", time: recent),
                intake("old-purged", time: old),
            ]
            _ = try await registry.commitIntake(items)
            let claimed = try await registry.claimOutbox(limit: 10, owner: "a", lease: .seconds(60), now: now, pixelID: nil)
            let byID = Dictionary(uniqueKeysWithValues: claimed.map { ($0.key.eventID, $0) })
            try await registry.markForwarded([byID["old-sent"]!, byID["new-sent"]!], fbtraceID: "T", now: now)
            try await registry.reschedule([byID["old-queued"]!], nextAttemptAt: now, lastError: "transient")
            try await registry.deadLetter(
                [byID["old-dead"]!, byID["old-purged"]!],
                reason: DeadLetterReason(errorClass: .invalid, message: "x"),
                now: now
            )
            // One dead letter is purged: its event can never be sent again.
            let purged = try #require(try await registry.deadLetters(limit: 10).first { $0.key.eventID == "old-purged" })
            #expect(try await registry.purgeDeadLetters(ids: [purged.id]) == 1)
            // Pulled rows: statuses of two hours, insights of two days.
            let hour = UnixSeconds(1_794_988_800)
            let run = RunRecord(runID: "run-1", mode: .pull, startedAt: now)
            try await registry.commitWindow(
                [
                    DeliveryStatusRecord(pixelID: "111", bucketStart: hour, eventName: "Purchase", eventSource: "server", count: 1),
                    DeliveryStatusRecord(pixelID: "111", bucketStart: hour + .seconds(3600), eventName: "Purchase", eventSource: "server", count: 1),
                ],
                replacing: hour..<hour + .seconds(7200),
                cursor: CursorKey(connector: "conn::x", stream: "delivery_statuses", partition: "111"),
                position: hour,
                run: run,
                now: now
            )
            let day = AccountTimeZone.utc.day(of: hour)
            try await registry.commitInsightsWindow(
                [day.adding(days: -1), day].map {
                    AdInsightsRecord(
                        accountID: "1",
                        level: "account",
                        levelID: "1",
                        day: $0,
                        currency: "USD",
                        spend: 1,
                        impressions: 1,
                        clicks: 1,
                        conversions: []
                    )
                },
                account: "1",
                level: "account",
                days: day.adding(days: -1)...day,
                cursor: CursorKey(connector: "conn::x", stream: "ad_insights", partition: "act_1"),
                position: hour,
                run: run,
                now: now
            )

            let cutoff = (hour + .seconds(3600)).milliseconds
            func prune(_ stream: StateStream, before: UnixMillis, delete: Bool) async throws -> Int {
                try await registry.prune(StreamPrune(stream: stream, before: before, now: now), delete: delete)
            }
            // Every event was received before `now + 1 s`; past the ledger's days, the forwarded one
            // and the one whose dead letter was purged go.
            #expect(try await prune(.deliveredEvents, before: now + .milliseconds(1_000), delete: false) == 2)
            #expect(try await registry.deliveredEvents(since: nil).count == 5, "counting deletes nothing")
            #expect(try await prune(.deliveredEvents, before: now + .milliseconds(1_000), delete: true) == 2)
            #expect(Set(try await registry.deliveredEvents(since: nil).map(\.key.eventID)) == ["old-queued", "old-dead", "new-sent"])
            #expect(try await prune(.deliveredEvents, before: now - .milliseconds(200_000), delete: true) == 0, "received after the cutoff")
            // The queued event still forwards, and its dead-lettered neighbour still replays.
            #expect(try await registry.replayDeadLetters(ids: nil, now: now) == 1)
            #expect(try await registry.outboxDepth() == 2)

            #expect(try await prune(.deliveryStatuses, before: cutoff, delete: true) == 1)
            #expect(try await registry.deliveryStatuses(since: nil).map(\.status.bucketStart) == [hour + .seconds(3600)])
            #expect(try await prune(.adInsights, before: cutoff, delete: true) == 1)
            #expect(try await registry.adInsights(since: nil).map(\.insights.day) == [day])
            #expect(try await prune(.matchQuality, before: cutoff, delete: true) == 0)
        }
    }

    @Test("run history and the state summary", arguments: TestStore.enabled)
    func runs(backend: TestStore) async throws {
        try await backend.withRegistry { registry in
            try await registry.recordRun(RunRecord(runID: "r1", mode: .pull, startedAt: now))
            try await registry.recordRun(
                RunRecord(runID: "r1", mode: .pull, startedAt: now, endedAt: now + .milliseconds(10), status: .ok, counts: #"{"records":3}"#)
            )
            try await registry.recordRun(
                RunRecord(runID: "r2", mode: .pull, startedAt: now + .milliseconds(20), status: .authFailed, errorClass: .auth)
            )
            let runs = try await registry.recentRuns(limit: 10)
            #expect(runs.map(\.runID) == ["r2", "r1"])
            #expect(runs.first?.status == .authFailed && runs.first?.errorClass == .auth)
            #expect(runs.last?.status == .ok && runs.last?.counts == #"{"records":3}"# && runs.last?.endedAt == now + .milliseconds(10))
            _ = try await registry.commitIntake([intake("s1")])
            let summary = try await registry.summary()
            #expect(summary.outboxDepth == 1 && summary.deadLetters == 0 && summary.recentRuns.count == 2)
        }
    }

    @Test("a row a reader cannot make sense of is an error naming the column, never a silent empty value", arguments: TestStore.enabled)
    func badColumns(backend: TestStore) async throws {
        let (location, schema) = try backend.location()
        try await withStateRegistry(location, schema: schema, logger: Logger(label: "test")) { registry in
            _ = try await registry.commitIntake([intake("b1")])
            try await TestStore.rawSQL(location, schema: schema, ["UPDATE delivered_events SET outcome = 'lost'"])
            do {
                _ = try await registry.deliveredEvents(since: nil)
                Issue.record("an unknown outcome was read as a value")
            } catch let error as StateError {
                #expect(error.message.contains("outcome"))
            }
            if backend == .sqlite {
                // SQLite keeps whatever is written; a text where a number belongs must not read as 0.
                try await TestStore.rawSQL(location, schema: schema, ["UPDATE outbox SET attempts = 'three'"])
                do {
                    _ = try await registry.claimOutbox(limit: 10, owner: "a", lease: .seconds(1), now: now, pixelID: nil)
                    Issue.record("a text attempts count was read as a number")
                } catch let error as StateError {
                    #expect(error.message.contains("attempts"))
                }
            }
        }
    }

    @Test("only one poll holds the lock", arguments: TestStore.enabled)
    func pollLock(backend: TestStore) async throws {
        try await backend.withTwoRegistries { first, second in
            let inner = try await first.withPollLock { () async throws -> Bool? in
                try await second.withPollLock { true }
            }
            #expect(inner == .some(nil), "a second poll took the lock")
            #expect(try await second.withPollLock { true } == true, "the lock was not released")
        }
    }
}

/// Six claimers at once, alternating between two registries on one store, each named `w0`…`w5`
/// and calling `round` until it returns `false`.
private func raceClaimers(
    _ first: any StateRegistry,
    _ second: any StateRegistry,
    round: @escaping @Sendable (any StateRegistry, String) async throws -> Bool
) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for worker in 0..<6 {
            let registry = worker % 2 == 0 ? first : second
            group.addTask { while try await round(registry, "w\(worker)") {} }
        }
        try await group.waitForAll()
    }
}

/// Which claimer holds each outbox row right now, and every time two held one at once.
actor HolderLog {
    private var holder: [Int64: String] = [:]
    private(set) var conflicts: [Int64] = []
    private(set) var forwardedIDs: [Int64] = []
    private(set) var claims = 0

    func take(_ ids: [Int64], by owner: String) {
        claims += ids.count
        for id in ids {
            if holder[id] != nil { conflicts.append(id) }
            holder[id] = owner
        }
    }

    /// Called before the outcome is written: once it is, another claimer may rightly take the row.
    func release(_ ids: [Int64]) { for id in ids { holder[id] = nil } }
    func forwarded(_ ids: [Int64]) { forwardedIDs += ids }
}

/// Every outbox id any claimer received.
actor ClaimLog {
    private(set) var ids: [Int64] = []
    func add(_ more: [Int64]) { ids += more }
}
