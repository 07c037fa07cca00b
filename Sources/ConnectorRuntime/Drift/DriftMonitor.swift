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
    let notifier: (any AlarmNotifier)?
    let logger: Logger
    /// How often closed windows are flushed and the store evaluated even without a full window.
    let tick: Duration

    /// Distinct event names kept per pixel; more are counted as `other` (names are outside input).
    public static let maximumEventNames = 64
    /// Closed windows held while the store cannot take them: hours of a busy sidecar's windows.
    static let maximumHeldWindows = 10_000
    /// Windows the store could not take or evaluate, logged as one outage.
    let storeFailures: OutageLog

    public init(
        store: any DriftStore & AlarmStore,
        configuration: SchemaRegistryConfiguration,
        pixels: [String],
        clock: WallClock = .system,
        tick: Duration = .seconds(5),
        notifier: (any AlarmNotifier)? = nil,
        logger: Logger = Logger(label: "capi.drift")
    ) {
        self.store = store
        self.configuration = configuration
        self.pixels = Set(pixels)
        self.clock = clock
        self.notifier = notifier
        self.tick = tick
        self.logger = logger
        self.storeFailures = OutageLog.stateStore(
            logger: logger,
            work: "drift windows",
            consequence: "closed windows are kept and stored when it answers again; alarms wait until then"
        )
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
            // One hash of the key for an open window (the common case), not a removal and a re-insertion.
            let index: [DriftKey: OpenWindow].Index
            if let open = state.open.index(forKey: key) {
                index = open
            } else {
                state.open[key] = OpenWindow(openedAt: now)
                index = state.open.index(forKey: key)!
            }
            state.open.values[index].counters.add(observation)
            if state.open.values[index].counters.events >= configuration.windowEvents {
                state.closed.append((key, state.open.values[index].counters))
                state.open.remove(at: index)
            }
        }
    }

    /// Adds a window counted elsewhere (a poll's pulled records) as closed: stored and judged with
    /// the next ``flushAndEvaluate()``.
    public func recordWindow(_ counters: DriftCounters, stream: String, pixelID: String, eventName: String) {
        guard configuration.alarmsEnabled, counters.events > 0 else { return }
        let pixel = pixels.contains(pixelID) ? pixelID : "unconfigured"
        state.withLock { state in
            let name = eventName == DriftKey.anyEvent ? eventName : Self.safeEventName(eventName, pixel: pixel, known: &state.eventNames)
            state.closed.append((DriftKey(stream: stream, pixelID: pixel, eventName: name), counters))
        }
    }

    /// An event name as a key: standard and custom names as sent, but never a personal-looking
    /// one, never more than ``maximumEventNames`` per pixel, and at most 64 characters.
    static func safeEventName(_ name: String?, pixel: String, known: inout [String: Set<String>]) -> String {
        guard let name, !name.isEmpty else { return "missing" }
        // A known name passed the checks below when it was first seen.
        if known[pixel]?.contains(name) == true { return name }
        guard name.utf8.count <= 64, PersonalData.isShowable(name: name) else { return "redacted" }
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
        await flushAndEvaluate(last: true)
    }

    /// Closes windows older than `evaluate_every`, adds every closed window to the store,
    /// evaluates pending windows if no other process is doing so, then hands the alarm changes to
    /// the notifier (outside the lock).
    /// - Parameter last: the process is stopping: windows the store does not take now are lost
    ///   with it, and the log says so rather than that they wait for the store.
    public func flushAndEvaluate(last: Bool = false) async {
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
        } catch {
            // Kept for the next attempt (up to a bound), so an outage of the store loses no counts.
            state.withLock { state in
                let room = max(0, Self.maximumHeldWindows - state.closed.count)
                state.closed.insert(contentsOf: closed.suffix(room), at: 0)
            }
            if Task.isCancelled {
                logger.notice("drift windows not stored: the process was cancelled", metadata: ["windows": "\(closed.count)"])
            } else if last {
                logger.warning(
                    "drift windows not stored: the state store failed as the process stops; their counts are lost, and alarms they would raise are not raised",
                    metadata: ["windows": "\(closed.count)", "error": "\(error)"]
                )
            } else {
                storeFailures.failed(error)
            }
            return
        }
        let changes = Changes()
        do {
            _ = try await store.withDriftLock { try await self.evaluatePending(changes) }
            storeFailures.succeeded()
        } catch  where Task.isCancelled {
            // Cancelled (not a graceful stop): the windows are stored; the next evaluator judges them.
        } catch {
            storeFailures.failed(error)
        }
        let made = changes.taken()
        if let notifier, !made.isEmpty { await notifier.deliver(made) }
    }

    /// The alarm changes of one evaluation, collected under the lock and delivered after it.
    final class Changes: Sendable {
        private let list = Mutex<[AlarmChange]>([])
        func append(_ change: AlarmChange) { list.withLock { $0.append(change) } }
        func taken() -> [AlarmChange] { list.withLock { $0 } }
    }

    /// Judges every pending window in order, raising and clearing alarms; baselines move only with
    /// windows whose findings are at most informational, so a lasting drop never becomes the new
    /// normal while its alarm is active (unknown fields are remembered either way: news once).
    func evaluatePending(_ changes: Changes = Changes()) async throws {
        while true {
            let pending = try await store.pendingDriftWindows(limit: 500)
            guard !pending.isEmpty else { return }
            var baselines = try await store.driftBaselines(pending.map(\.key))
            var active = Set(try await store.activeAlarms().filter { $0.kind.hasPrefix("schema_drift_") }.map(\.subject))
            var moved: [DriftKey: DriftBaseline] = [:]
            for window in pending {
                let thresholds = configuration.thresholds
                let findings = DriftEvaluator.findings(window.counters, key: window.key, baseline: baselines[window.key], thresholds: thresholds)
                try await apply(findings, window: window, active: &active, changes: changes)
                guard window.counters.events >= thresholds.minimumSample(for: window.key) else { continue }
                let next =
                    findings.allSatisfy { $0.kind.severity == .info }
                    ? DriftEvaluator.updated(baselines[window.key], with: window.counters)
                    : DriftEvaluator.learningFields(baselines[window.key], from: window.counters)
                if next != baselines[window.key] {
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
    func apply(_ findings: [DriftFinding], window: PendingDriftWindow, active: inout Set<AlarmSubject>, changes: Changes) async throws {
        let key = window.key
        func subject(_ kind: DriftKind, _ field: String) -> AlarmSubject {
            AlarmSubject(kind: kind.rawValue, pixelID: key.pixelID, stream: key.stream, eventName: key.eventName, field: field)
        }
        let raised = Set(findings.map { subject($0.kind, $0.field) })
        for finding in findings {
            let severity = finding.kind.severity
            let now = clock.now()
            let new = try await store.raiseAlarm(subject(finding.kind, finding.field), severity: severity, message: finding.detail, now: now)
            active.insert(subject(finding.kind, finding.field))
            if new {
                Counter(label: "capi_schema_drift_alarms_total", dimensions: [("kind", finding.kind.rawValue), ("pixel_id", key.pixelID)]).increment()
                changes.append(
                    AlarmChange(
                        transition: .raised,
                        subject: subject(finding.kind, finding.field),
                        severity: severity,
                        detail: finding.detail,
                        at: now
                    )
                )
                logger.log(
                    level: severity == .info ? .info : .warning,
                    "schema drift",
                    metadata: [
                        "kind": "\(finding.kind.rawValue)", "stream": "\(key.stream)", "pixel_id": "\(key.pixelID)",
                        "event_name": "\(key.eventName)", "field": "\(finding.field)", "detail": "\(finding.detail)",
                    ]
                )
            }
        }
        // A condition gone for a full window (large enough to judge) clears its alarm.
        guard window.counters.events >= configuration.thresholds.minimumSample(for: key) else { return }
        for alarm in active where !raised.contains(alarm) {
            guard alarm.pixelID == key.pixelID, alarm.stream == key.stream, alarm.eventName == key.eventName else { continue }
            active.remove(alarm)
            let now = clock.now()
            if try await store.clearAlarms(alarm, now: now) > 0 {
                let severity = DriftKind(rawValue: alarm.kind)?.severity ?? .warning
                changes.append(
                    AlarmChange(transition: .cleared, subject: alarm, severity: severity, detail: "the condition was gone for a full window", at: now)
                )
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
