import CoreMetrics
import Foundation
import Synchronization

/// swift-metrics written as CloudWatch Embedded Metric Format log lines, since nothing can scrape
/// a Lambda: CloudWatch Logs turns each line into metric data points.
///
/// Series accumulate in memory; ``flush(timestamp:)`` renders what changed since the last flush
/// (counter increments, the latest gauge value, recorded values and timings) as one JSON line per
/// dimension set, and the runner prints them after each invocation.
public final class EmbeddedMetricFormat: MetricsFactory {
    /// CloudWatch takes at most 100 values per metric in one line and 100 metrics per directive.
    static let maximumValues = 100
    static let maximumMetrics = 100

    public let namespace: String
    private let series = Mutex<[SeriesKey: Series]>([:])

    public init(namespace: String = "capi-connector") {
        self.namespace = namespace
    }

    struct SeriesKey: Hashable {
        var label: String
        var dimensions: [String]

        init(label: String, dimensions: [(String, String)]) {
            self.label = label
            self.dimensions = dimensions.sorted { $0.0 < $1.0 }.flatMap { [$0.0, $0.1] }
        }

        /// `[name, value, name, value…]` back into pairs.
        static func pairs(_ flat: [String]) -> [(String, String)] { stride(from: 0, to: flat.count, by: 2).map { (flat[$0], flat[$0 + 1]) } }
    }

    enum Unit: String {
        case count = "Count"
        case none = "None"
        case milliseconds = "Milliseconds"
    }

    /// One series' figures since the last flush.
    final class Series: Sendable {
        struct Pending {
            var increments: Int64 = 0
            var values: [Double] = []
        }
        let unit: Unit
        let pending = Mutex(Pending())

        init(unit: Unit) { self.unit = unit }

        func add(_ amount: Int64) { pending.withLock { $0.increments &+= amount } }
        func record(_ value: Double, keepLast: Bool) {
            pending.withLock { pending in
                if keepLast { pending.values = [value] } else { pending.values.append(value) }
            }
        }
        func drain() -> Pending {
            pending.withLock { pending in
                defer { pending = Pending() }
                return pending
            }
        }
    }

    func series(_ label: String, _ dimensions: [(String, String)], unit: Unit) -> Series {
        let key = SeriesKey(label: label, dimensions: dimensions)
        return series.withLock { all in
            if let existing = all[key] { return existing }
            let created = Series(unit: unit)
            all[key] = created
            return created
        }
    }

    /// The EMF lines for everything recorded since the last flush, oldest state cleared.
    public func flush(timestamp: Int64) -> [String] {
        let snapshot = series.withLock { $0 }
        var groups: [[String]: [(name: String, unit: Unit, values: [Double])]] = [:]
        for (key, series) in snapshot {
            let pending = series.drain()
            var values = pending.values
            if pending.increments != 0 { values = [Double(pending.increments)] }
            guard !values.isEmpty else { continue }
            groups[key.dimensions, default: []].append((key.label, series.unit, values))
        }
        var lines: [String] = []
        for (dimensions, metrics) in groups.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            let pairs = SeriesKey.pairs(dimensions)
            let sorted = metrics.sorted { $0.name < $1.name }
            for batch in stride(from: 0, to: sorted.count, by: Self.maximumMetrics).map({
                Array(sorted[$0..<min($0 + Self.maximumMetrics, sorted.count)])
            }) {
                // A series with more values than one line holds continues on the next line.
                var chunk = 0
                while true {
                    let start = chunk * Self.maximumValues
                    let present = batch.filter { $0.values.count > start }
                    if present.isEmpty { break }
                    lines.append(line(timestamp: timestamp, dimensions: pairs, metrics: present, from: start))
                    chunk += 1
                }
            }
        }
        return lines
    }

    private func line(
        timestamp: Int64,
        dimensions: [(String, String)],
        metrics: [(name: String, unit: Unit, values: [Double])],
        from start: Int
    )
        -> String
    {
        var root: [String: Any] = [:]
        for (name, value) in dimensions { root[name] = value }
        var definitions: [[String: String]] = []
        for metric in metrics {
            let values = Array(metric.values[start..<min(start + Self.maximumValues, metric.values.count)])
            root[metric.name] = values.count == 1 ? values[0] as Any : values as Any
            definitions.append(["Name": metric.name, "Unit": metric.unit.rawValue])
        }
        root["_aws"] =
            [
                "Timestamp": timestamp,
                "CloudWatchMetrics": [["Namespace": namespace, "Dimensions": [dimensions.map(\.0)], "Metrics": definitions] as [String: Any]],
            ] as [String: Any]
        let data = (try? JSONSerialization.data(withJSONObject: root, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    // MARK: MetricsFactory

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        CounterSeries(series: series(label, dimensions, unit: .count))
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        RecorderSeries(series: series(label, dimensions, unit: .none), keepLast: !aggregate)
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        TimerSeries(series: series(label, dimensions, unit: .milliseconds))
    }

    public func destroyCounter(_ handler: any CounterHandler) {}
    public func destroyRecorder(_ handler: any RecorderHandler) {}
    public func destroyTimer(_ handler: any TimerHandler) {}
}

private final class CounterSeries: CounterHandler {
    let series: EmbeddedMetricFormat.Series
    init(series: EmbeddedMetricFormat.Series) { self.series = series }
    func increment(by amount: Int64) { series.add(amount) }
    func reset() {}
}

private final class RecorderSeries: RecorderHandler {
    let series: EmbeddedMetricFormat.Series
    let keepLast: Bool
    init(series: EmbeddedMetricFormat.Series, keepLast: Bool) {
        self.series = series
        self.keepLast = keepLast
    }
    func record(_ value: Int64) { series.record(Double(value), keepLast: keepLast) }
    func record(_ value: Double) { series.record(value, keepLast: keepLast) }
}

private final class TimerSeries: TimerHandler {
    let series: EmbeddedMetricFormat.Series
    init(series: EmbeddedMetricFormat.Series) { self.series = series }
    func recordNanoseconds(_ duration: Int64) { series.record(Double(duration) / 1_000_000, keepLast: false) }
}
