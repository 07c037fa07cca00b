import CAPICore
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Watches what arrives for drift: counts observations per stream, pixel and event name on the
/// request path (a lock and a few integer additions), closes a window after
/// `evaluate_every_events` events or `evaluate_every`, and — off the request path, as a service,
/// every few seconds — adds the closed windows to the store in one transaction and evaluates the
/// store's pending windows as the one evaluator holding the drift lock. Alarms are raised once per
/// change and cleared after a clean window.
public final class DriftMonitor: Service, Sendable {
    struct OpenWindow {
        var counters = DriftCounters()
        var openedAt: ContinuousClock.Instant
    }

    struct State {
        var open: [DriftKey: OpenWindow] = [:]
        var closed: [(DriftKey, DriftCounters)] = []
        var eventNames: [String: Set<String>] = [:]
    }

    private let state = Mutex(State())
    let store: any DriftStore & AlarmStore
    let configuration: SchemaRegistryConfiguration
    let pixels: Set<String>
    let clock: WallClock
    let logger: Logger
    /// How often closed windows are flushed and the store evaluated even without a full window.
    let tick: Duration

    /// Distinct event names kept per pixel; more are counted as `other` (names are outside input).
    public static let maximumEventNames = 64

    public init(
        store: any DriftStore & AlarmStore,
        configuration: SchemaRegistryConfiguration,
        pixels: [String],
        clock: WallClock = .system,
        tick: Duration = .seconds(5),
        logger: Logger = Logger(label: "capi.drift")
    ) {
        self.store = store
        self.configuration = configuration
        self.pixels = Set(pixels)
        self.clock = clock
        self.tick = tick
        self.logger = logger
        for pixel in pixels {
            for kind in DriftKind.allCases {
                Counter(label: "capi_schema_drift_alarms_total", dimensions: [("kind", kind.rawValue), ("pixel_id", pixel)]).increment(by: 0)
            }
        }
        Gauge(label: "capi_schema_drift_alarms_active").record(0)
    }

    /// Counts one event of `stream`. Called on the request path for every event, accepted or refused.
    public func record(_ observation: DriftObservation, stream: String, pixelID: String?, eventName: String?) {
        guard configuration.alarmsEnabled else { return }
        let pixel = pixelID.flatMap { pixels.contains($0) ? $0 : nil } ?? "unconfigured"
        let now = ContinuousClock.now
        state.withLock { state in
            let name = Self.safeEventName(eventName, pixel: pixel, known: &state.eventNames)
            let key = DriftKey(stream: stream, pixelID: pixel, eventName: name)
            var window = state.open.removeValue(forKey: key) ?? OpenWindow(openedAt: now)
            window.counters.add(observation)
            if window.counters.events >= configuration.windowEvents {
                state.closed.append((key, window.counters))
            } else {
                state.open[key] = window
            }
        }
    }

    /// An event name as a key: standard and custom names as sent, but never a personal-looking
    /// one, never more than ``maximumEventNames`` per pixel, and at most 64 characters.
    static func safeEventName(_ name: String?, pixel: String, known: inout [String: Set<String>]) -> String {
        guard let name, !name.isEmpty else { return "missing" }
        guard name.utf8.count <= 64, !PersonalData.looksPersonal(name) else { return "redacted" }
        if known[pixel, default: []].contains(name) { return name }
        guard known[pixel, default: []].count < maximumEventNames else { return "other" }
        known[pixel, default: []].insert(name)
        return name
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { [tick] in try await Task.sleep(for: tick) }
            await flushAndEvaluate()
        }
        // What was counted before shutdown still reaches the store; the open windows are added as
        // they are (the next evaluator judges them, with the minimum sample as for any window).
        state.withLock { state in
            for (key, window) in state.open { state.closed.append((key, window.counters)) }
            state.open = [:]
        }
        await flushAndEvaluate()
    }

    /// Closes windows older than `evaluate_every`, adds every closed window to the store, and
    /// evaluates pending windows if no other process is doing so.
    public func flushAndEvaluate() async {
        let now = ContinuousClock.now
        let closed = state.withLock { state -> [(DriftKey, DriftCounters)] in
            for (key, window) in state.open where now - window.openedAt >= configuration.windowDuration {
                state.closed.append((key, window.counters))
                state.open[key] = nil
            }
            defer { state.closed = [] }
            return state.closed
        }
        do {
            try await store.appendDriftWindows(closed.map { (key: $0.0, counters: $0.1) }, closedAt: clock.now())
            _ = try await store.withDriftLock { try await self.evaluatePending() }
        } catch {
            logger.error("drift windows cannot be stored or evaluated", metadata: ["error": "\(error)"])
        }
    }

    /// Judges every pending window in order, raising and clearing alarms; baselines move only with
    /// clean windows, so a lasting drop never becomes the new normal while its alarm is active.
    func evaluatePending() async throws {
        while true {
            let pending = try await store.pendingDriftWindows(limit: 500)
            guard !pending.isEmpty else { return }
            var baselines = try await store.driftBaselines(pending.map(\.key))
            var active = Set(try await store.activeAlarms().filter { $0.kind.hasPrefix("schema_drift_") }.map(\.subject))
            var moved: [DriftKey: DriftBaseline] = [:]
            for window in pending {
                let findings = DriftEvaluator.findings(window.counters, baseline: baselines[window.key], thresholds: configuration.thresholds)
                try await apply(findings, window: window, active: &active)
                if findings.isEmpty, window.counters.events >= configuration.thresholds.minimumSample {
                    let next = DriftEvaluator.updated(baselines[window.key], with: window.counters)
                    baselines[window.key] = next
                    moved[window.key] = next
                }
            }
            try await store.completeDriftWindows(pending.map(\.id), baselines: moved, now: clock.now())
            Gauge(label: "capi_schema_drift_alarms_active").record(active.count)
        }
    }

    /// Raises what `findings` show and clears what the window no longer shows; `active` is the set
    /// of active drift alarms, kept current so a batch of windows reads it once.
    func apply(_ findings: [DriftFinding], window: PendingDriftWindow, active: inout Set<AlarmSubject>) async throws {
        let key = window.key
        func subject(_ kind: DriftKind, _ field: String) -> AlarmSubject {
            AlarmSubject(kind: kind.rawValue, pixelID: key.pixelID, stream: key.stream, eventName: key.eventName, field: field)
        }
        let raised = Set(findings.map { subject($0.kind, $0.field) })
        for finding in findings {
            let severity: AlarmSeverity =
                switch finding.kind {
                case .missingField, .refusalSpike: .critical
                case .coverageDrop, .formatChange: .warning
                }
            let new = try await store.raiseAlarm(subject(finding.kind, finding.field), severity: severity, message: finding.detail, now: clock.now())
            active.insert(subject(finding.kind, finding.field))
            if new {
                Counter(label: "capi_schema_drift_alarms_total", dimensions: [("kind", finding.kind.rawValue), ("pixel_id", key.pixelID)]).increment()
                logger.warning(
                    "schema drift",
                    metadata: [
                        "kind": "\(finding.kind.rawValue)", "stream": "\(key.stream)", "pixel_id": "\(key.pixelID)",
                        "event_name": "\(key.eventName)", "field": "\(finding.field)", "detail": "\(finding.detail)",
                    ]
                )
            }
        }
        // A condition gone for a full window (large enough to judge) clears its alarm.
        guard window.counters.events >= configuration.thresholds.minimumSample else { return }
        for alarm in active where !raised.contains(alarm) {
            guard alarm.pixelID == key.pixelID, alarm.stream == key.stream, alarm.eventName == key.eventName else { continue }
            active.remove(alarm)
            if try await store.clearAlarms(alarm, now: clock.now()) > 0 {
                logger.notice(
                    "schema drift cleared",
                    metadata: [
                        "kind": "\(alarm.kind)", "pixel_id": "\(key.pixelID)", "event_name": "\(key.eventName)", "field": "\(alarm.field ?? "")",
                    ]
                )
            }
        }
    }
}
