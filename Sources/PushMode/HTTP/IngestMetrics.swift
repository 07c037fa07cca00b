import Metrics

/// The counters every accepted or refused event increments, and the per-request latency timer,
/// made once per configured pixel and source.
///
/// `Counter(label:dimensions:)` asks the metrics factory on every call (with Prometheus, a locked
/// registry lookup and a new handle), which the `serve` profile put at 1.4% of its CPU when done per
/// event. Handles made at start-up also declare the series at zero (see ``PushMetrics``).
/// Refusals of an unconfigured pixel get their one handle per call (``rejected(pixel:source:)``):
/// that series is not declared ahead.
struct IngestMetrics: Sendable {
    struct EventCounters: Sendable {
        let received: Counter
        let duplicates: Counter
        let rejected: Counter
        /// `409`s: the key of an accepted event with other content, a sender's bug worth an alert.
        let conflicts: Counter

        init(pixel: String, source: String) {
            let dimensions = [("pixel_id", pixel), ("source", source)]
            received = Counter(label: "capi_events_received_total", dimensions: dimensions)
            duplicates = Counter(label: "capi_duplicates_total", dimensions: dimensions)
            rejected = Counter(label: "capi_events_rejected_total", dimensions: dimensions)
            conflicts = Counter(label: "capi_events_conflicting_total", dimensions: dimensions)
        }
    }

    /// Source name, then pixel.
    private let counters: [String: [String: EventCounters]]
    private let latency: [String: Timer]

    /// - Parameter sources: the manifest's signed sources; the Graph-compatible route's source is added.
    init(pixels: [String], sources: [String]) {
        let allSources = sources + [Self.graphCompatibleSource]
        counters = Dictionary(
            allSources.map { source in (source, Dictionary(pixels.map { ($0, EventCounters(pixel: $0, source: source)) }) { first, _ in first }) }
        ) { first, _ in first }
        latency = Dictionary(allSources.map { ($0, Self.latencyTimer(source: $0)) }) { first, _ in first }
    }

    static let graphCompatibleSource = "graph_compatible"

    func events(pixel: String, source: String) -> EventCounters {
        counters[source]?[pixel] ?? EventCounters(pixel: pixel, source: source)
    }

    /// The refusals of `pixel` (`unconfigured` for a pixel the manifest does not name) and
    /// `source`. For an unconfigured pixel only this series is made: nothing else is ever counted
    /// for it, and the other three had been made (four registry lookups) for every refused event
    /// and shown at 0 for good.
    func rejected(pixel: String, source: String) -> Counter {
        counters[source]?[pixel]?.rejected ?? Counter(label: "capi_events_rejected_total", dimensions: [("pixel_id", pixel), ("source", source)])
    }

    func latency(source: String) -> Timer {
        latency[source] ?? Self.latencyTimer(source: source)
    }

    private static func latencyTimer(source: String) -> Timer {
        Timer(label: "capi_ingest_latency_seconds", dimensions: [("source", source)])
    }
}
