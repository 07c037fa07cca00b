import CAPICore
import ConnectorRuntime
import Foundation
import GraphAPI
import GraphSandbox
import NIOCore
import PullMode
import TestSupport
import Testing

/// The pull side of the drift alarms: Meta's answers changing shape, Meta's match quality falling.
@Suite("Poll job drift alarms")
struct PollDriftTests {
    func monitor(_ registry: any StateRegistry) -> DriftMonitor {
        DriftMonitor(store: registry, configuration: SchemaRegistryConfiguration(), pixels: [pixelID])
    }

    @Test("a stats answer whose entries lost `value` fails the window and raises an answer-shape alarm; a clean poll clears it")
    func answerShape() async throws {
        try await withSeededSandbox { url, _, _ in
            try await TestStore.sqlite.withRegistry { registry in
                let manifest = try manifest()
                let drift = monitor(registry)
                #expect(try await poll(manifest, registry: registry, graphURL: url, drift: drift).result == .ok)
                #expect(try await registry.activeAlarms().isEmpty)

                let reshaped = GraphSandbox.Configuration(faults: FaultPlan(rate: 1, kinds: [.reshape]))
                let report = try await withSeededSandbox(reshaped) { reshapedURL, _, _ in
                    try await poll(manifest, registry: registry, graphURL: reshapedURL, drift: drift)
                }
                #expect(report.result == .partial, "an answer that cannot be read fails its window")
                let alarm = try #require(try await registry.activeAlarms().first)
                #expect(alarm.kind == DriftKind.answerShape.rawValue && alarm.severity == .critical)
                #expect(alarm.subject.stream == "delivery_statuses" && alarm.subject.field == "data[].data[].value" && alarm.pixelID == pixelID)

                #expect(try await poll(manifest, registry: registry, graphURL: url, drift: drift).result == .ok)
                #expect(try await registry.activeAlarms().isEmpty, "a poll that reads the answers again clears the alarm")
                #expect(try await registry.alarms(activeOnly: false).first?.clearedAt != nil)
            }
        }
    }

    @Test("Meta's match quality for Purchase falling by more than the threshold raises an alarm for Purchase only")
    func qualityDrop() async throws {
        try await withSeededSandbox { url, _, _ in
            try await TestStore.sqlite.withRegistry { registry in
                let manifest = try manifest()
                let drift = monitor(registry)
                #expect(try await poll(manifest, registry: registry, graphURL: url, drift: drift).result == .ok)
                let before = try await registry.matchQualitySnapshots(since: nil)
                #expect(Set(before.map(\.quality.eventName)) == ["Purchase", "Lead", "AddToCart"])

                // A hundred Purchases reach Meta without an email: the email's coverage collapses.
                let client = GraphClient(configuration: .init(baseURL: url, version: "v26.0", timeout: hangLimit))
                let now = Int64(Date().timeIntervalSince1970) - 60
                let events = (0..<100).map { index in
                    ByteBuffer(
                        string:
                            #"{"event_name":"Purchase","event_time":\#(now),"event_id":"thin-\#(index)","action_source":"website","event_source_url":"https://shop.example/c","user_data":{"client_ip_address":"203.0.113.\#(index)","client_user_agent":"Mozilla/5.0"},"custom_data":{"value":5,"currency":"EUR"}}"#
                    )
                }
                _ = try await client.sendEvents(pixelID: pixelID, accessToken: Secret(seedToken), encodedEvents: events)
                #expect(try await poll(manifest, registry: registry, graphURL: url, drift: drift).result == .ok)
                let alarms = try await registry.activeAlarms()
                #expect(alarms.map(\.kind) == [DriftKind.qualityDrop.rawValue], "\(alarms.map(\.message))")
                #expect(alarms.first?.subject.eventName == "Purchase" && alarms.first?.subject.stream == "match_quality")
                #expect(alarms.first?.message.hasPrefix("Meta's match quality fell from 3.0 to ") == true, "\(alarms.first?.message ?? "")")
            }
        }
    }

    @Test(
        "dataset_quality rows: a score of another type is stored and reported, a row without an event name is reported, a `web` of another shape fails"
    )
    func qualityAnswerShapes() throws {
        let body = try JSONValue(
            parsing: #"""
                {"web": [
                  {"event_name": "Purchase", "event_match_quality": {"composite_score": "6.2"}},
                  {"event_name": "Lead", "event_match_quality": {"composite_score": 7.1}},
                  {"event_name": "AddToCart"},
                  {"event_match_quality": {"composite_score": 5}}
                ]}
                """#
        )
        let reading = try QualityAnswer.read(body, pixelID: "1", snapshotAt: UnixMillis(1_795_000_000_000), runID: "r")
        #expect(reading.rows.map(\.record.eventName) == ["Purchase", "Lead", "AddToCart"])
        #expect(reading.rows.map(\.score) == [nil, 7.1, nil])
        #expect(reading.rows[0].problems.map(\.driftKey) == ["web[].event_match_quality.composite_score: a number from 0 to 10"])
        #expect(reading.rows[2].problems.isEmpty, "no score yet is not a shape change")
        #expect(reading.problems.map(\.field) == ["web[].event_name"])
        #expect(throws: AnswerShapeProblem(answer: "dataset_quality", field: "web", expectation: "an array")) {
            try QualityAnswer.read(try JSONValue(parsing: #"{"web": {"rows": []}}"#), pixelID: "1", snapshotAt: UnixMillis(0), runID: "r")
        }
    }
}
