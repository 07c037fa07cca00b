import Foundation
import TestSupport
import Testing

/// Drift alarms the way an operator meets them: `serve` on the embedded store, signed batches from
/// a client we did not write, `schema alarms`, `/metrics` and the log.
@Suite("Drift alarms from outside")
struct DriftProcessTests {
    static func batch(_ range: Range<Int>, withKeys: Bool) -> String {
        let time = Int(Date().timeIntervalSince1970) - 30
        let events = range.map { index in
            let keys =
                withKeys ? #""email": "buyer\#(index)@example.com", "phone": "+1 650 555 \#(1000 + index)", "fbp": "fb.1.1700000000.\#(index)","# : ""
            // A sender's mistake: a personal value as a field name (an unknown field, forwarded to nobody).
            let mistake = withKeys ? "" : #""jane.doe@example.com": true,"#
            return """
                {"pixel_id":"555000111","event_name":"Purchase","event_time":\(time),"event_id":"drift-\(index)","action_source":"website",\(mistake)\
                "event_source_url":"https://shop.example/checkout","user_data":{\(keys)"client_user_agent":"Mozilla/5.0","client_ip_address":"203.0.113.7"},\
                "custom_data":{"value":10,"currency":"USD"}}
                """
        }
        return #"{"data":[\#(events.joined(separator: ","))]}"#
    }

    @Test("300 events with em, ph and fbp then 300 without: coverage and unknown-field alarms; no value in alarms, metrics, log or store")
    func coverageAlarmsWithoutValues() async throws {
        let folder = TemporaryPaths.url("drift")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let state = "sqlite:" + folder.appendingPathComponent("state.sqlite").path
        let log = folder.appendingPathComponent("serve.log").path
        let (serve, port) = try await CLIRunner.startListening(
            ["serve", "--sandbox", "--state", state],
            environment: ServeProcessTests.environment(),
            logTo: log
        )
        // On an early failure; the test's own end awaits the exit.
        defer { if serve.isRunning { serve.terminate() } }
        for range in [0..<300, 300..<600] {
            let (status, answer) = try await ServeProcessTests.post(
                Self.batch(range, withKeys: range.lowerBound == 0),
                to: "http://127.0.0.1:\(port)/v1/events/batch"
            )
            #expect(status == 202 && answer.contains(#""accepted":300"#), "\(answer)")
        }
        var alarms: [[String: Any]] = []
        try await eventually("coverage alarms for em, ph and fbp, and the unknown field") {
            // Cleared ones too: the unknown field is news in one window and known (cleared) in the next.
            let result = try await CLIRunner.run(["schema", "alarms", "--state", state])
            alarms = result.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            let active = alarms.filter { $0["cleared_at"] == nil || $0["cleared_at"] is NSNull }
            let coverage = Set(active.filter { $0["kind"] as? String == "schema_drift_coverage" }.compactMap { $0["field"] as? String })
            return coverage == ["em", "ph", "fbp"] && alarms.contains { $0["kind"] as? String == "schema_drift_unknown_field" }
        }
        let unknown = try #require(alarms.first { $0["kind"] as? String == "schema_drift_unknown_field" })
        #expect((unknown["field"] as? String)?.hasPrefix("event.…#") == true, "a personal-looking name keeps no prefix: \(unknown)")
        #expect(unknown["severity"] as? String == "info")

        let metrics = try await CLIRunner.get("http://127.0.0.1:\(port)/metrics")
        #expect(
            metrics.contains(#"capi_schema_drift_alarms_total{kind="schema_drift_coverage",pixel_id="555000111"} 3"#),
            "\(metrics.prefix(400))"
        )
        kill(serve.processIdentifier, SIGTERM)
        await serve.exited()

        let alarmText = try await CLIRunner.run(["schema", "alarms", "--state", state, "--all"]).stdout
        let logText = try String(contentsOfFile: log, encoding: .utf8)
        #expect(logText.contains("schema drift"), "the alarm was logged")
        let stored = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix("state.sqlite") }
            .map { try Data(contentsOf: folder.appendingPathComponent($0)) }
        for (name, text) in [("alarms", alarmText), ("metrics", metrics), ("log", logText)] {
            for value in ["example.com", "650 555", "jane", "fb.1.1700000000"] {
                #expect(!text.contains(value), "\(value) reached the \(name)")
            }
        }
        for bytes in stored {
            #expect(bytes.range(of: Data("example.com".utf8)) == nil && bytes.range(of: Data("jane".utf8)) == nil, "a raw value reached the store")
        }
    }
}
