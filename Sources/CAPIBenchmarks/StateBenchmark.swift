import CAPICore
import ConnectorRuntime
import Foundation
import Logging

/// Ledger + outbox (+ delivered_events) insert throughput: one event per transaction, batches of
/// 500, and many concurrent single-event callers sharing transactions through ``GroupCommitter``.
public enum StateBenchmark {
    /// - Parameters:
    ///   - prepareWriteAheadLog: on PostgreSQL, have the server create the WAL files the run will
    ///     fill first (``WriteAheadLogPreparation``).
    ///   - payloadBytes: grow each payload to at least this size with a cart of `contents`, as
    ///     large orders are; `nil` keeps the usual website purchase of about 700 bytes.
    public static func run(
        location: StateLocation,
        events: Int,
        prepareWriteAheadLog: Bool = false,
        payloadBytes: Int? = nil,
        emit: @escaping @Sendable (String) -> Void
    ) async throws {
        var logger = Logger(label: "bench.state")
        logger.logLevel = .error
        let runID = UUID().uuidString.prefix(8)
        try await withStateRegistry(location, logger: logger) { registry in
            let report = BenchmarkReport(title: "state: ledger + outbox + delivered_events commits on \(location) (\(registry.backend))", emit: emit)
            let singles = min(events, 2_000)
            let concurrent = min(events, 20_000)
            let modes = registry.concurrentIntakeCommits > 1 ? [1, registry.concurrentIntakeCommits] : [1]
            let cart = payloadBytes.map { cartPadding(toReach: $0) } ?? ""
            func item(_ id: String) -> IntakeItem { StateBenchmark.item(id, cart: cart) }
            if prepareWriteAheadLog {
                let committed = singles + events * 2 + concurrent * modes.count * 2
                try await WriteAheadLogPreparation.prepare(registry, events: committed, extraBytesPerEvent: cart.utf8.count, report: report)
            }
            report.add("payload", "\(item("\(runID)-size").payload.utf8.count) bytes per event")
            let clock = ContinuousClock()

            var start = clock.now
            for index in 0..<singles {
                _ = try await registry.commitIntake([item("\(runID)-s\(index)")])
            }
            report.add("batch of 1", rate(singles, clock.now - start))

            start = clock.now
            for batch in stride(from: 0, to: events, by: 500) {
                _ = try await registry.commitIntake((batch..<min(batch + 500, events)).map { item("\(runID)-b\($0)") })
            }
            report.add("batches of 500", rate(events, clock.now - start))

            // The same with several writers at once (Postgres spreads them over pooled connections).
            let writers = 4
            start = clock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        for batch in stride(from: writer * 500, to: events, by: 500 * writers) {
                            _ = try await registry.commitIntake((batch..<min(batch + 500, events)).map { item("\(runID)-p\($0)") })
                        }
                    }
                }
                try await group.waitForAll()
            }
            report.add("batches of 500, \(writers) writers", rate(events, clock.now - start))

            // Group commit as the sidecar runs it (the store's number of commits in flight), and
            // one commit at a time for comparison, alternating so both see the same machine.
            for round in 0..<2 {
                for inFlight in modes {
                    let elapsed = try await groupCommit(
                        registry,
                        maxInFlight: inFlight,
                        ids: (0..<concurrent).map { "\(runID)-g\(round)-\(inFlight)-\($0)" },
                        cart: cart
                    )
                    report.add("group commit, 64 callers, \(inFlight) in flight", rate(concurrent, elapsed))
                }
            }
            report.add("outbox depth after", "\(try await registry.outboxDepth())")
        }
    }

    /// 64 callers committing one event each, through a ``GroupCommitter``; the time for all of them.
    static func groupCommit(_ registry: any StateRegistry, maxInFlight: Int, ids: [String], cart: String) async throws -> Duration {
        let committer = GroupCommitter(registry: registry, maxBatch: 1000, maxInFlight: maxInFlight)
        let clock = ContinuousClock()
        let start = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await committer.run() }
            try await withThrowingTaskGroup(of: Void.self) { callers in
                for worker in 0..<64 {
                    callers.addTask {
                        for index in stride(from: worker, to: ids.count, by: 64) {
                            _ = try await committer.commit([item(ids[index], cart: cart)])
                        }
                    }
                }
                try await callers.waitForAll()
            }
            group.cancelAll()
        }
        return clock.now - start
    }

    static func rate(_ count: Int, _ elapsed: Duration) -> String {
        "\(Format.rate(Double(count) / elapsed.inSeconds)) (\(count) events in \(String(format: "%.2f", elapsed.inSeconds)) s)"
    }

    /// `custom_data.contents` items (``CartPadding``) that bring the usual payload to at least
    /// `bytes`.
    static func cartPadding(toReach bytes: Int) -> String {
        CartPadding.contents(bytes: bytes - item("").payload.utf8.count)
    }

    /// A realistic hashed event: ~700 bytes of payload, ~300 of stream record; `cart` goes into
    /// its `custom_data`.
    static func item(_ id: String, cart: String = "") -> IntakeItem {
        let digest = SHA256Hex.digest(id)
        let time = WallClock.system.seconds().rawValue
        let payload = """
            {"action_source":"website","custom_data":{"currency":"USD","value":129.5\(cart)},"event_id":"\(id)","event_name":"Purchase",\
            "event_source_url":"https://shop.example/checkout","event_time":\(time),"user_data":{"client_ip_address":"203.0.113.9",\
            "client_user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64)","em":["\(digest)"],"ph":["\(digest)"],"fn":["\(digest)"],\
            "ln":["\(digest)"],"zp":["\(digest)"],"country":["\(digest)"]}}
            """
        return IntakeItem(
            key: EventKey(pixelID: "1234567890", eventID: id, eventTime: UnixSeconds(time)),
            contentHash: SHA256Hex.digest(payload),
            payload: payload,
            answer: #"{"duplicate":false,"event_id":"\#(id)","status":"accepted","warnings":[]}"#,
            deliveredRecord:
                #"{"pixel_id":"1234567890","event_id":"\#(id)","event_time":\#(time),"event_name":"Purchase","match_keys":["em","ph"],"mirror_ids":{"em":"\#(digest)"}}"#,
            receivedAt: UnixSeconds(time).milliseconds
        )
    }
}
