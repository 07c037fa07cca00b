import CAPICore
import ConnectorRuntime
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
        #expect(DriftEvaluator.findings(good, baseline: nil, thresholds: thresholds).isEmpty)
        let baseline = DriftEvaluator.updated(nil, with: good)
        #expect(baseline.coverage[WatchedField.em.rawValue] == 1)

        let noKeys = window(100) { purchase(keys: []) }
        let coverage = DriftEvaluator.findings(noKeys, baseline: baseline, thresholds: thresholds)
        #expect(Set(coverage.filter { $0.kind == .coverageDrop }.map(\.field)) == ["em", "ph", "fbp"])
        #expect(coverage.allSatisfy { !$0.detail.contains("jane") })
        // Without a baseline a coverage drop cannot be told from a pixel that never sent the key.
        #expect(DriftEvaluator.findings(noKeys, baseline: nil, thresholds: thresholds).isEmpty)

        let noCurrency = window(100) { purchase(currency: "null") }
        #expect(DriftEvaluator.findings(noCurrency, baseline: baseline, thresholds: thresholds).map(\.kind) == [.missingField])

        let refused = window(
            100,
            { purchase(time: 1_795_000_000_000) },
            problems: [EventProblem(field: "event_time", code: .millisecondsTimestamp, message: "x")]
        )
        let spike = DriftEvaluator.findings(refused, baseline: baseline, thresholds: thresholds)
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
        #expect(DriftEvaluator.findings(window(10) { purchase(keys: []) }, baseline: baseline, thresholds: thresholds).isEmpty)
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
