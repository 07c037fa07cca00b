import CoreMetrics
import Foundation
import LambdaRunner
import Testing

@Suite("CloudWatch Embedded Metric Format")
struct EmbeddedMetricFormatTests {
    static func objects(_ lines: [String]) throws -> [[String: Any]] {
        try lines.map { try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    @Test("a flush renders what changed since the last one, one line per dimension set, with the EMF directive")
    func flushesDeltas() throws {
        let metrics = EmbeddedMetricFormat(namespace: "test")
        let received = metrics.makeCounter(label: "capi_events_received_total", dimensions: [("source", "default"), ("pixel_id", "1")])
        let refused = metrics.makeCounter(label: "capi_requests_refused_total", dimensions: [("reason", "ip_not_allowed")])
        let depth = metrics.makeRecorder(label: "capi_outbox_depth", dimensions: [], aggregate: false)
        let latency = metrics.makeTimer(label: "capi_ingest_seconds", dimensions: [])
        received.increment(by: 2)
        received.increment(by: 1)
        depth.record(Int64(7))
        depth.record(Int64(3))
        latency.recordNanoseconds(1_500_000)
        latency.recordNanoseconds(2_000_000)
        _ = refused

        let lines = try Self.objects(metrics.flush(timestamp: 1_700_000_000_000))
        #expect(lines.count == 2)
        let plain = try #require(lines.first { $0["pixel_id"] == nil })
        #expect(plain["capi_outbox_depth"] as? Double == 3)
        #expect(plain["capi_ingest_seconds"] as? [Double] == [1.5, 2.0])
        let labelled = try #require(lines.first { $0["pixel_id"] as? String == "1" })
        #expect(labelled["capi_events_received_total"] as? Double == 3 && labelled["source"] as? String == "default")
        let aws = try #require(labelled["_aws"] as? [String: Any])
        #expect(aws["Timestamp"] as? Int == 1_700_000_000_000)
        let directive = try #require((aws["CloudWatchMetrics"] as? [[String: Any]])?.first)
        #expect(directive["Namespace"] as? String == "test")
        #expect(directive["Dimensions"] as? [[String]] == [["pixel_id", "source"]])
        #expect(directive["Metrics"] as? [[String: String]] == [["Name": "capi_events_received_total", "Unit": "Count"]])

        // Nothing new: nothing printed; a later increment is a delta, not the total.
        #expect(metrics.flush(timestamp: 1).isEmpty)
        received.increment(by: 1)
        let next = try Self.objects(metrics.flush(timestamp: 2))
        #expect(next.count == 1 && next.first?["capi_events_received_total"] as? Double == 1)
    }

    @Test("more than 100 values of one metric continue on further lines, none dropped")
    func chunksValues() throws {
        let metrics = EmbeddedMetricFormat()
        let timer = metrics.makeTimer(label: "t", dimensions: [])
        for index in 0..<250 { timer.recordNanoseconds(Int64(index) * 1_000_000) }
        let lines = try Self.objects(metrics.flush(timestamp: 0))
        let values = lines.flatMap { ($0["t"] as? [Double]) ?? [] }
        #expect(lines.count == 3 && values.count == 250 && values.last == 249)
    }
}
