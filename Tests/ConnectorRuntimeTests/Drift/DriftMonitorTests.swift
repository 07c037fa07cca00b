import CAPICore
import ConnectorRuntime
import Logging
import Synchronization
import TestSupport
import Testing

@Suite("Drift monitor on the store")
struct DriftMonitorTests {
    func configuration() -> SchemaRegistryConfiguration {
        var configuration = SchemaRegistryConfiguration()
        configuration.windowEvents = 100
        configuration.windowDuration = .seconds(3600)
        return configuration
    }

    func feed(_ monitor: DriftMonitor, _ count: Int, _ event: JSONValue, pixel: String = "111") {
        for _ in 0..<count {
            monitor.record(
                DriftObservation.observe(event, problems: nil),
                stream: "delivered_events",
                pixelID: pixel,
                eventName: event["event_name"]?.stringValue
            )
        }
    }

    @Test("300 events with em, ph and fbp, then 300 without: a coverage alarm per key; clean windows clear it", arguments: TestStore.enabled)
    func coverageAlarmAndClearing(store: TestStore) async throws {
        try await store.withRegistry { registry in
            let monitor = DriftMonitor(store: registry, configuration: configuration(), pixels: ["111"])
            feed(monitor, 300, purchase())
            await monitor.flushAndEvaluate()
            #expect(try await registry.activeAlarms().isEmpty)
            feed(monitor, 300, purchase(keys: []))
            await monitor.flushAndEvaluate()
            let alarms = try await registry.activeAlarms()
            #expect(Set(alarms.filter { $0.kind == DriftKind.coverageDrop.rawValue }.compactMap(\.subject.field)) == ["em", "ph", "fbp"])
            let em = try #require(alarms.first { $0.subject.field == "em" })
            #expect(em.subject.eventName == "Purchase" && em.subject.stream == "delivered_events" && em.pixelID == "111")
            #expect(em.severity == .warning && em.occurrences == 3, "one alarm, seen in each of the three windows")
            #expect(alarms.allSatisfy { !$0.message.contains("jane") && !$0.message.contains("example.com") })
            // The baseline stayed frozen while the alarm was active: the keys coming back is clean at once.
            feed(monitor, 100, purchase())
            await monitor.flushAndEvaluate()
            #expect(try await registry.activeAlarms().isEmpty)
            #expect(try await registry.alarms(activeOnly: false).filter { $0.clearedAt != nil }.count == 3)
        }
    }

    @Test("windows the store cannot take are kept and stored when it can: the alarm they carry is raised then", arguments: TestStore.enabled)
    func windowsKeptThroughAnOutage(store: TestStore) async throws {
        let (location, schema) = try store.location()
        try await withStateRegistry(location, schema: schema, logger: Logger(label: "test")) { registry in
            let monitor = DriftMonitor(store: registry, configuration: configuration(), pixels: ["111"])
            feed(monitor, 300, purchase())
            await monitor.flushAndEvaluate()
            // The store refuses every window, as one that is down does.
            let refuse: [String] =
                switch store {
                case .sqlite: ["CREATE TRIGGER refuse BEFORE INSERT ON drift_windows BEGIN SELECT RAISE(ABORT, 'refused'); END"]
                case .postgres:
                    [
                        "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql",
                        "CREATE TRIGGER refuse BEFORE INSERT ON drift_windows FOR EACH ROW EXECUTE FUNCTION refuse()",
                    ]
                }
            try await TestStore.rawSQL(location, schema: schema, refuse)
            feed(monitor, 300, purchase(keys: []))
            await monitor.flushAndEvaluate()
            #expect(try await registry.activeAlarms().isEmpty)
            // Back: the three windows without the keys were kept, and now raise their alarms.
            try await TestStore.rawSQL(location, schema: schema, ["DROP TRIGGER refuse" + (store == .postgres ? " ON drift_windows" : "")])
            await monitor.flushAndEvaluate()
            let alarms = try await registry.activeAlarms()
            #expect(Set(alarms.filter { $0.kind == DriftKind.coverageDrop.rawValue }.compactMap(\.subject.field)) == ["em", "ph", "fbp"])
        }
    }

    @Test("a store failing the last flush as the process stops is logged as counts lost, not as windows that wait for it")
    func lastFlushFails() async throws {
        let (location, schema) = try TestStore.sqlite.location()
        try await withStateRegistry(location, schema: schema, logger: Logger(label: "test")) { registry in
            let log = CapturedLog()
            let monitor = DriftMonitor(store: registry, configuration: configuration(), pixels: ["111"], logger: log.logger)
            try await TestStore.rawSQL(
                location,
                schema: schema,
                ["CREATE TRIGGER refuse BEFORE INSERT ON drift_windows BEGIN SELECT RAISE(ABORT, 'refused'); END"]
            )
            feed(monitor, 300, purchase())
            await monitor.flushAndEvaluate()
            #expect(log.all.contains { $0.message.contains("closed windows are kept and stored when it answers again") }, "\(log.all)")
            #expect(!log.all.contains { $0.message.contains("counts are lost") })
            await monitor.flushAndEvaluate(last: true)
            let last = try #require(log.all.last)
            #expect(last.level == .warning && last.message.contains("their counts are lost"), "\(last)")
            #expect(last.metadata["windows"] == "3", "\(last)")
        }
    }

    @Test("unconfigured pixels and odd event names are bucketed, never used raw", arguments: [TestStore.sqlite])
    func keyHygiene(store: TestStore) async throws {
        try await store.withRegistry { registry in
            var configuration = configuration()
            configuration.thresholds.minimumSample = 1
            configuration.windowEvents = 1
            let monitor = DriftMonitor(store: registry, configuration: configuration, pixels: ["111"])
            monitor.record(
                DriftObservation.observe(.object([:]), problems: nil),
                stream: "delivered_events",
                pixelID: "999",
                eventName: "jane.doe@example.com"
            )
            await monitor.flushAndEvaluate()
            let alarms = try await registry.activeAlarms()
            #expect(!alarms.isEmpty)
            #expect(alarms.allSatisfy { $0.pixelID == "unconfigured" && $0.subject.eventName == "redacted" })
        }
    }

    /// Keeps what it is handed: the receiving end of the notifier boundary (the webhook itself is
    /// tested against a real server in AlarmWebhooksTests).
    final class KeptChanges: AlarmNotifier {
        let kept = Mutex<[AlarmChange]>([])
        func deliver(_ changes: [AlarmChange]) async { kept.withLock { $0 += changes } }
        var transitions: [String] { kept.withLock { $0.map { "\($0.transition.rawValue) \($0.subject.kind)" } } }
    }

    @Test("pulled quality snapshots: a drop raises, a recovery clears, the notifier gets both after the evaluation", arguments: TestStore.enabled)
    func qualityDropAndNotification(store: TestStore) async throws {
        try await store.withRegistry { registry in
            let notifier = KeptChanges()
            let monitor = DriftMonitor(store: registry, configuration: configuration(), pixels: ["111"], notifier: notifier)
            func snapshot(_ score: Double) async {
                var counters = DriftCounters()
                counters.addPulled(qualityScore: score)
                monitor.recordWindow(counters, stream: "match_quality", pixelID: "111", eventName: "Purchase")
                await monitor.flushAndEvaluate()
            }
            await snapshot(7.5)
            await snapshot(7.3)
            #expect(try await registry.activeAlarms().isEmpty)
            await snapshot(5.0)
            let alarm = try #require(try await registry.activeAlarms().first)
            #expect(alarm.kind == "schema_drift_match_quality" && alarm.subject.eventName == "Purchase" && alarm.severity == .warning)
            await snapshot(5.1)
            #expect(try await registry.activeAlarms().count == 1, "the baseline stays frozen: a lasting drop is still a drop")
            await snapshot(7.2)
            #expect(try await registry.activeAlarms().isEmpty)
            #expect(notifier.transitions == ["raised schema_drift_match_quality", "cleared schema_drift_match_quality"])
        }
    }

    @Test("a new unknown field is an informational alarm once; the next window knows it and clears it", arguments: [TestStore.sqlite])
    func unknownFieldOnce(store: TestStore) async throws {
        try await store.withRegistry { registry in
            let monitor = DriftMonitor(store: registry, configuration: configuration(), pixels: ["111"])
            feed(monitor, 100, purchase())
            await monitor.flushAndEvaluate()
            var event = purchase().objectValue!
            event["loyalty_tier"] = .string("gold")
            feed(monitor, 100, .object(event))
            await monitor.flushAndEvaluate()
            let alarm = try #require(try await registry.activeAlarms().first)
            #expect(alarm.kind == "schema_drift_unknown_field" && alarm.severity == .info)
            #expect(alarm.subject.field?.hasPrefix("event.loya…#") == true)
            feed(monitor, 100, .object(event))
            await monitor.flushAndEvaluate()
            #expect(try await registry.activeAlarms().isEmpty)
            let baselines = try await registry.driftBaselines([DriftKey(stream: "delivered_events", pixelID: "111", eventName: "Purchase")])
            #expect(baselines.values.first?.unknownFields.count == 1)
        }
    }
}
