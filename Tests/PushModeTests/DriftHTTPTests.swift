import CAPICore
import ConnectorRuntime
import Foundation
import PushMode
import TestSupport
import Testing

/// Drift alarms from outside: events through the batch endpoint, alarms in the store.
@Suite("Schema drift through the sidecar")
struct DriftHTTPTests {
    func batch(_ range: Range<Int>, withKeys: Bool) -> [UInt8] {
        let time = Int64(Date().timeIntervalSince1970) - 30
        let events = range.map { index in
            let keys =
                withKeys
                ? #""email": "buyer\#(index)@example.com", "phone": "+1 650 555 \#(1000 + index)", "fbp": "fb.1.1700000000.\#(index)","#
                : ""
            return """
                {"pixel_id":"\(testPixel)","event_name":"Purchase","event_time":\(time),"event_id":"drift-\(index)","action_source":"website",\
                "event_source_url":"https://shop.example/checkout","user_data":{\(keys)"client_user_agent":"Mozilla/5.0","client_ip_address":"203.0.113.7"},\
                "custom_data":{"value":10,"currency":"USD"}}
                """
        }
        return Array(#"{"data":[\#(events.joined(separator: ","))]}"#.utf8)
    }

    @Test("300 events with em, ph and fbp then 300 without: coverage alarms name each key, and no value")
    func coverageFromOutside() async throws {
        try await PushStack.run { stack in
            for chunk in [0..<300, 300..<600] {
                let body = batch(chunk, withKeys: chunk.lowerBound == 0)
                let answer = try await post("\(stack.baseURL)/v1/events/batch", body: body, headers: signedHeaders(body))
                #expect(answer.status == 202 && answer.body["accepted"] == .integer(300), "\(answer.body)")
            }
            try await eventually("coverage alarms for em, ph and fbp") {
                let fields = try await stack.registry.activeAlarms().filter { $0.kind == DriftKind.coverageDrop.rawValue }.compactMap(\.subject.field)
                return Set(fields) == ["em", "ph", "fbp"]
            }
            let alarms = try await stack.registry.activeAlarms()
            for alarm in alarms {
                let text = "\(alarm.message) \(alarm.subject)"
                #expect(!text.contains("example.com") && !text.contains("650") && !text.contains("fb.1."), "a value leaked: \(text)")
            }
        }
    }
}
