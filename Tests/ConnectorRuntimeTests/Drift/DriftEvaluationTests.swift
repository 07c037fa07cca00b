import CAPICore
import ConnectorRuntime
import Foundation
import Testing

func purchase(
    keys: [String] = ["email", "phone", "fbp"],
    time: Int64 = 1_795_000_000,
    value: String = "42.5",
    currency: String = "\"USD\""
) -> JSONValue {
    let user = (keys.map { key in #""\#(key)": "\#(key == "email" ? "jane.doe@example.com" : "v-\(key)")""# } + [#""client_user_agent": "UA""#])
        .joined(separator: ",")
    return try! JSONValue(
        parsing: """
            {"event_name": "Purchase", "event_time": \(time), "event_id": "e1", "action_source": "website",
             "event_source_url": "https://shop.example/c", "user_data": {\(user)},
             "custom_data": {"value": \(value), "currency": \(currency)}}
            """
    )
}

@Suite("Drift: observation and evaluation")
struct DriftEvaluationTests {
    @Test("observation: aliases count as the match key, scopes decide what applies, shapes are flagged")
    func observation() {
        let full = DriftObservation.observe(purchase(), problems: nil)
        #expect(full.has(.em) && full.has(.ph) && full.has(.fbp) && !full.has(.fbc) && full.has(.clientUserAgent))
        #expect(full.applies(.currency) && full.applies(.eventSourceURL) && full.formats == 0 && full.refusal == nil)
        let lead = DriftObservation.observe(
            try! JSONValue(parsing: #"{"event_name": "Lead", "action_source": "email", "user_data": {"em": ["x"]}}"#),
            problems: nil
        )
        #expect(!lead.applies(.currency) && !lead.applies(.eventSourceURL) && lead.has(.em) && !lead.has(.eventTime))
        let odd = DriftObservation.observe(
            purchase(time: 1_795_000_000_000, value: "\"42.50\"", currency: "\"$\""),
            problems: [EventProblem(field: "user_data.em[2]", code: .invalidValue, message: "x")]
        )
        #expect(odd.flagged(.eventTimeMilliseconds) && odd.flagged(.valueAsString) && odd.flagged(.currencyShape))
        #expect(odd.refusal == "invalid_value:user_data.em")
    }

    @Test("counters cap distinct refusal keys")
    func refusalCap() {
        var counters = DriftCounters()
        for index in 0..<100 {
            var observation = DriftObservation()
            observation.refusal = "missing:field_\(index)"
            counters.add(observation)
        }
        #expect(counters.refused == 100 && counters.refusals.count == DriftCounters.maximumRefusalKeys + 1)
        #expect(counters.refusals["other"] == 100 - DriftCounters.maximumRefusalKeys)
    }

    func window(_ count: Int, _ event: () -> JSONValue, problems: [EventProblem]? = nil) -> DriftCounters {
        var counters = DriftCounters()
        for _ in 0..<count { counters.add(DriftObservation.observe(event(), problems: problems)) }
        return counters
    }

    @Test("each kind: coverage drop against the baseline, a missing required field, a refusal spike, a format change")
    func kinds() {
        let thresholds = DriftThresholds(minimumSample: 50)
        let good = window(100) { purchase() }
        #expect(DriftEvaluator.findings(good, key: Self.key, baseline: nil, thresholds: thresholds).isEmpty)
        let baseline = DriftEvaluator.updated(nil, with: good)
        #expect(baseline.coverage[WatchedField.em.rawValue] == 1)

        let noKeys = window(100) { purchase(keys: []) }
        let coverage = DriftEvaluator.findings(noKeys, key: Self.key, baseline: baseline, thresholds: thresholds)
        #expect(Set(coverage.filter { $0.kind == .coverageDrop }.map(\.field)) == ["em", "ph", "fbp"])
        #expect(coverage.allSatisfy { !$0.detail.contains("jane") })
        // Without a baseline a coverage drop cannot be told from a pixel that never sent the key.
        #expect(DriftEvaluator.findings(noKeys, key: Self.key, baseline: nil, thresholds: thresholds).isEmpty)

        let noCurrency = window(100) { purchase(currency: "null") }
        #expect(DriftEvaluator.findings(noCurrency, key: Self.key, baseline: baseline, thresholds: thresholds).map(\.kind) == [.missingField])

        let refused = window(
            100,
            { purchase(time: 1_795_000_000_000) },
            problems: [EventProblem(field: "event_time", code: .millisecondsTimestamp, message: "x")]
        )
        let spike = DriftEvaluator.findings(refused, key: Self.key, baseline: baseline, thresholds: thresholds)
        #expect(
            spike.contains(
                DriftFinding(
                    kind: .refusalSpike,
                    field: "milliseconds_timestamp:event_time",
                    detail: "refusals rose to 100% of 100 events; most often milliseconds_timestamp:event_time"
                )
            )
        )
        #expect(spike.contains { $0.kind == .formatChange && $0.field == "event_time_milliseconds" })

        // Too few events: nothing is judged.
        #expect(DriftEvaluator.findings(window(10) { purchase(keys: []) }, key: Self.key, baseline: baseline, thresholds: thresholds).isEmpty)
    }

    static let key = DriftKey(stream: "delivered_events", pixelID: "111", eventName: "Purchase")
    static let quality = DriftKey(stream: "match_quality", pixelID: "111", eventName: "Purchase")

    func withExtra(_ fields: String, user: String = "") -> JSONValue {
        var event = purchase().objectValue!
        for (name, value) in try! JSONValue(parsing: "{\(fields)}").objectValue! { event[name] = value }
        if !user.isEmpty {
            var data = event["user_data"]!.objectValue!
            for (name, value) in try! JSONValue(parsing: "{\(user)}").objectValue! { data[name] = value }
            event["user_data"] = .object(data)
        }
        return .object(event)
    }

    @Test("unknown fields are labelled by container, safe prefix and digest: never by a personal-looking name")
    func unknownFieldLabels() {
        let observation = DriftObservation.observe(
            withExtra(#""loyalty_tier": "gold""#, user: #""jane.doe@example.com": "x", "emial": "y""#),
            problems: [EventProblem(field: "user_data.emial", code: .unknownField, message: "x")]
        )
        #expect(
            Set(observation.unknownFields) == [
                "event.loya…#\(SHA256Hex.digest("loyalty_tier").prefix(8))",
                "user_data.…#\(SHA256Hex.digest("jane.doe@example.com").prefix(8))",
                "user_data.emia…#\(SHA256Hex.digest("emial").prefix(8))",
            ]
        )
        #expect(observation.refusal == "unknown_field:user_data", "the refusal key names the container, not the field")
        #expect(!observation.unknownFields.joined().contains("jane"))
        let many = DriftObservation.observe(withExtra((0..<20).map { #""x\#($0)": 1"# }.joined(separator: ",")), problems: nil)
        #expect(many.unknownFields.count == DriftObservation.maximumUnknownFields)
        #expect(DriftObservation.observe(purchase(), problems: nil).unknownFields.isEmpty)
    }

    @Test("a new unknown field is informational, reported once: the baseline remembers it even while frozen")
    func unknownFieldFinding() {
        let thresholds = DriftThresholds(minimumSample: 50)
        let baseline = DriftEvaluator.updated(nil, with: window(100) { purchase() })
        let tier = window(100) { withExtra(#""loyalty_tier": "gold""#) }
        let findings = DriftEvaluator.findings(tier, key: Self.key, baseline: baseline, thresholds: thresholds)
        #expect(findings.map(\.kind) == [.unknownField] && findings.allSatisfy { $0.kind.severity == .info })
        #expect(findings.first?.field.hasPrefix("event.loya…#") == true)
        let learnt = DriftEvaluator.learningFields(baseline, from: tier)
        #expect(learnt.coverage == baseline.coverage && learnt.windows == baseline.windows, "only the field is learnt")
        #expect(DriftEvaluator.findings(tier, key: Self.key, baseline: learnt, thresholds: thresholds).isEmpty)
    }

    @Test("pulled windows: a quality drop against the baseline, an answer-shape problem at once, one record is a sample")
    func pulledKinds() {
        let thresholds = DriftThresholds(minimumSample: 50, qualityDropPoints: 1)
        func snapshot(_ score: Double?, problems: [String] = []) -> DriftCounters {
            var counters = DriftCounters()
            counters.addPulled(qualityScore: score, shapeProblems: problems)
            return counters
        }
        #expect(DriftEvaluator.findings(snapshot(7.5), key: Self.quality, baseline: nil, thresholds: thresholds).isEmpty)
        let baseline = DriftEvaluator.updated(nil, with: snapshot(7.5))
        #expect(baseline.quality == 7.5)
        #expect(DriftEvaluator.findings(snapshot(6.8), key: Self.quality, baseline: baseline, thresholds: thresholds).isEmpty, "0.7 is within 1")
        let drop = DriftEvaluator.findings(snapshot(5.2), key: Self.quality, baseline: baseline, thresholds: thresholds)
        #expect(drop == [DriftFinding(kind: .qualityDrop, field: "event_match_quality", detail: "Meta's match quality fell from 7.5 to 5.2 of 10")])
        let shape = DriftEvaluator.findings(
            snapshot(nil, problems: ["web[].event_match_quality.composite_score: a number from 0 to 10"]),
            key: Self.quality,
            baseline: baseline,
            thresholds: thresholds
        )
        #expect(shape.map(\.kind) == [.answerShape] && shape.first?.field == "web[].event_match_quality.composite_score")
        #expect(shape.first?.kind.severity == .critical)
        // The same single record on the push stream is far below the minimum sample.
        #expect(DriftEvaluator.findings(snapshot(5.2), key: Self.key, baseline: baseline, thresholds: thresholds).isEmpty)
    }

    @Test("windows and baselines stored before unknown fields, quality and shapes were counted still decode")
    func olderRowsDecode() throws {
        let window = #"{"events":100,"refused":2,"applicable":[1,2,3],"present":[1,2],"formats":[0,1,0],"refusals":{"missing:currency":2}}"#
        let counters = try JSONDecoder().decode(DriftCounters.self, from: Data(window.utf8))
        #expect(counters.events == 100 && counters.unknownFields.isEmpty && counters.quality == nil)
        #expect(counters.applicable.count == WatchedField.allCases.count && counters.applicable.prefix(3) == [1, 2, 3])
        let baseline = #"{"windows":3,"coverage":[1,null],"refusalRate":0.01,"formatShares":[0,0,0]}"#
        let decoded = try JSONDecoder().decode(DriftBaseline.self, from: Data(baseline.utf8))
        #expect(decoded.windows == 3 && decoded.quality == nil && decoded.unknownFields.isEmpty)
        #expect(decoded.coverage.count == WatchedField.allCases.count)
        let roundTrip = try JSONDecoder().decode(DriftCounters.self, from: try JSONEncoder().encode(counters))
        #expect(roundTrip == counters)
    }

    @Test("the baseline is a running mean that learns a lasting change only over several windows")
    func baselineLearning() {
        var baseline = DriftEvaluator.updated(nil, with: window(100) { purchase() })
        for _ in 0..<3 { baseline = DriftEvaluator.updated(baseline, with: window(100) { purchase() }) }
        baseline = DriftEvaluator.updated(baseline, with: window(100) { purchase(keys: []) })
        let em = baseline.coverage[WatchedField.em.rawValue] ?? 0
        #expect(em > 0.7 && em < 0.9, "one window moved the baseline to \(em)")
    }
}
