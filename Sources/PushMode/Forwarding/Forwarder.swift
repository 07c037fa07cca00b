import CAPICore
import ConnectorRuntime
import Foundation
import GraphAPI
import Logging
import Metrics
import NIOCore
import ServiceLifecycle
import Synchronization

/// Sends the outbox to Meta: per pixel, batches of up to `maxEvents`, several in flight.
///
/// Every claimed event ends forwarded (with its batch's `fbtrace_id`), rescheduled under the retry
/// policy, or dead-lettered with a reason: a batch refused as invalid is bisected until the bad
/// events are alone; events about to pass Meta's age limit are dead-lettered instead of sent to
/// fail; an auth or permission failure pauses that pixel (its events stay queued) and raises an
/// alarm. On graceful shutdown it stops claiming, finishes what is in flight and returns; anything
/// left stays in the outbox for the next start.
public struct Forwarder: Service {
    public struct Configuration: Sendable {
        public var maxEvents: Int
        public var linger: Duration
        public var maxInFlight: Int
        public var lease: Duration
        /// How long a pixel stays paused after an auth or permission failure before one retry.
        public var pauseAfterAuthFailure: Duration
        /// Dead-letter events this close to Meta's age limit rather than send them to fail.
        public var ageMargin: Duration
        /// How long claiming may wait in all, while intake is saturated, before the forwarder next
        /// catches up (``IntakeYield``); zero never waits.
        public var yieldToIntake: Duration

        /// Short, and renewed every third of it while a delivery is under way: a killed process's
        /// rows are claimed again within seconds, a slow delivery's rows never.
        public init(
            maxEvents: Int = 1000,
            linger: Duration = .milliseconds(200),
            maxInFlight: Int = 4,
            lease: Duration = .seconds(15),
            pauseAfterAuthFailure: Duration = .seconds(300),
            ageMargin: Duration = .seconds(MetaLimits.deliveryMarginSeconds),
            yieldToIntake: Duration = .zero
        ) {
            self.maxEvents = maxEvents
            self.linger = linger
            self.maxInFlight = maxInFlight
            self.lease = lease
            self.pauseAfterAuthFailure = pauseAfterAuthFailure
            self.ageMargin = ageMargin
            self.yieldToIntake = yieldToIntake
        }
    }

    let registry: any OutboxStore & AlarmStore
    let graph: GraphClient
    let pixels: [String: PixelConfiguration]
    let configuration: Configuration
    let policy: RetryPolicy
    let owner: String
    let logger: Logger
    let clock: WallClock
    /// The sidecar's intake, when it runs in the same process; `nil` for `flush --once`.
    let intakePressure: IntakePressure?
    let pauses = PixelPauses()
    let outcomes = OutcomeTally()
    /// Claims the store could not answer: one line when they start failing, one when they work again.
    let claimFailures: OutageLog
    /// Per pixel, deliveries Meta failed or throttled: one line when they start failing, a summary
    /// a minute, one line when a batch gets through again. Retries are otherwise silent, and a
    /// sidecar that cannot reach Meta would queue for the whole retry budget with nothing said.
    let deliveryFailures: [String: OutageLog]
    /// Meta's warnings and short counts on accepted batches.
    let answerNotes: MetaAnswerNotes

    public init(
        registry: any OutboxStore & AlarmStore,
        graph: GraphClient,
        pixels: [PixelConfiguration],
        configuration: Configuration,
        policy: RetryPolicy,
        logger: Logger,
        clock: WallClock = .system,
        intakePressure: IntakePressure? = nil
    ) {
        self.registry = registry
        self.graph = graph
        self.pixels = Dictionary(uniqueKeysWithValues: pixels.map { ($0.id, $0) })
        self.configuration = configuration
        self.policy = policy
        self.owner = "forwarder-" + UUID().uuidString.prefix(8).lowercased()
        self.logger = logger
        self.clock = clock
        self.intakePressure = intakePressure
        self.claimFailures = OutageLog.stateStore(
            logger: logger,
            work: "outbox claims",
            consequence: "nothing is forwarded until it answers again; accepted events stay queued"
        )
        self.deliveryFailures = Dictionary(
            uniqueKeysWithValues: pixels.map { pixel in
                (pixel.id, OutageLog(logger: logger, wording: Self.deliveryOutageWording, metadata: ["pixel_id": "\(pixel.id)"]))
            }
        )
        self.answerNotes = MetaAnswerNotes(logger: logger)
    }

    static let deliveryOutageWording = OutageLog.Wording(
        started: "deliveries to Meta fail; the events stay queued and are retried with backoff",
        ongoing: "deliveries to Meta still fail",
        ended: "deliveries to Meta succeed again",
        startLevel: .warning
    )

    /// Claims and sends continuously: whenever one of the `max_in_flight` slots is free it claims
    /// a batch and sends it, so a slow batch never holds up the others. While intake is saturated
    /// it holds off claiming, for a bounded time (``IntakeYield``).
    public func run() async throws {
        let stopping = Mutex(false)
        let window = DeliveryWindow(limit: configuration.maxInFlight)
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                var lastGauges = ContinuousClock.now - .seconds(10)
                var gaugeInterval = Self.gaugeInterval(after: .zero)
                var yield = IntakeYield(limit: configuration.yieldToIntake)
                var heldOffSince: ContinuousClock.Instant?
                while !stopping.withLock({ $0 }) && !Task.isCancelled {
                    await window.waitForFreeSlot()
                    if stopping.withLock({ $0 }) { break }
                    // Kept up to date while forwarding holds off too: the depth is what to watch then.
                    if ContinuousClock.now - lastGauges > gaugeInterval {
                        let started = ContinuousClock.now
                        await updateGauges()
                        lastGauges = .now
                        gaugeInterval = Self.gaugeInterval(after: lastGauges - started)
                    }
                    if let intakePressure {
                        let now = ContinuousClock.now
                        if yield.shouldWait(intakeSaturated: intakePressure.isSaturated(within: Self.pressureWindow), now: now) {
                            if heldOffSince == nil {
                                heldOffSince = now
                                logger.info("intake is saturated; forwarding holds off", metadata: ["at_most": "\(configuration.yieldToIntake)"])
                            }
                            try? await Task.sleep(for: Self.pressureWindow / 2)
                            continue
                        }
                        if let since = heldOffSince {
                            heldOffSince = nil
                            logger.info("forwarding resumes", metadata: ["held_off": "\(now - since)"])
                        }
                    }
                    var claimed: [OutboxEntry] = []
                    do {
                        claimed = try await claimBatch()
                        claimFailures.succeeded()
                    } catch {
                        if Task.isCancelled { break }
                        claimFailures.failed(error)
                    }
                    if !claimed.isEmpty {
                        let batches = batches(of: claimed)
                        let held = window.take(upTo: batches.count)
                        group.addTask { await self.deliver(batches, window: window, slotsHeld: held) }
                    }
                    if claimed.count < configuration.maxEvents {
                        yield.caughtUp()
                        // A partial claim: let the next batch fill for up to the linger time.
                        try? await Task.sleep(for: configuration.linger)
                    }
                }
            }
        } onGracefulShutdown: {
            stopping.withLock { $0 = true }
        }
        await updateGauges()
    }

    /// How recent a saturated intake commit must be for claiming to wait.
    static let pressureWindow = Duration.milliseconds(100)

    /// The forwarder of a manifest's push section: its batching and retry policy, its pixels.
    ///
    /// - Parameter intakePressure: the sidecar's intake in the same process, which claiming leaves
    ///   the machine to during a burst (`push.batching.yield_to_intake`).
    public static func configured(
        manifest: Manifest,
        push: PushConfiguration,
        registry: any OutboxStore & AlarmStore,
        graph: GraphClient.Configuration,
        intakePressure: IntakePressure? = nil,
        logger: Logger = Logger(label: "capi.forwarder")
    ) -> Forwarder {
        Forwarder(
            registry: registry,
            graph: GraphClient(configuration: graph),
            pixels: manifest.pixels,
            configuration: .init(
                maxEvents: push.batching.maxEvents,
                linger: push.batching.linger,
                maxInFlight: push.batching.maxInFlight,
                yieldToIntake: push.batching.yieldToIntake
            ),
            policy: RetryPolicy(maxAttempts: push.retry.maxAttempts, initialBackoff: push.retry.initialBackoff, maxBackoff: push.retry.maxBackoff),
            logger: logger,
            intakePressure: intakePressure
        )
    }

    /// What a ``flushDue(startingBefore:)`` did, and what it left.
    public struct FlushReport: Sendable, Equatable {
        public var forwarded = 0
        public var rescheduled = 0
        public var deadLettered = 0
        /// Rows still in the outbox: rescheduled, not due yet, or leased by another live process.
        public var remaining = 0
        /// A graceful shutdown came while rows remained: the batches in flight were sent and
        /// recorded, and no new round started.
        public var stopped = false
    }

    /// Outcomes this forwarder (and its copies) recorded since it was made; `remaining` is not
    /// counted here. Cheaper to watch than the outbox: counting a large outbox is a scan.
    public var recorded: FlushReport { outcomes.current }

    /// Sends everything due when it starts, batch after batch, each row at most once, and returns:
    /// rows rescheduled for later, not due yet or leased by another process are counted in the
    /// report, never waited for. (A row it reschedules may be due again within milliseconds under
    /// full jitter; it waits for the next run, so one run never spends a row's attempts back to back.)
    ///
    /// A graceful shutdown (`Task.isShuttingDownGracefully`: `flush --once` on SIGTERM) is
    /// honoured between rounds, so a stopped container leaves no batch sent but unrecorded.
    ///
    /// - Parameter cutoff: no new round of batches starts after this instant (a Lambda forwards
    ///   within its invocation's remaining time; what is left waits for the next one or `flush`).
    public func flushDue(startingBefore cutoff: ContinuousClock.Instant? = nil) async throws(StateError) -> FlushReport {
        let before = outcomes.current
        let start = clock.now()
        var stopped = false
        while cutoff.map({ ContinuousClock.now < $0 }) ?? true {
            if Task.isShuttingDownGracefully {
                stopped = true
                break
            }
            guard try await forwardOnce(dueBy: start) > 0 else { break }
        }
        var report = outcomes.current
        report.forwarded -= before.forwarded
        report.rescheduled -= before.rescheduled
        report.deadLettered -= before.deadLettered
        report.remaining = try await registry.outboxDepth()
        // A shutdown that came once the outbox was empty cut nothing short.
        report.stopped = stopped && report.remaining > 0
        await updateGauges()
        return report
    }

    /// Claims what is due by `dueBy` (now when `nil`; a batch for every slot of the window, one
    /// claim each), delivers it and returns how many rows were claimed.
    @discardableResult
    public func forwardOnce(dueBy: UnixMillis? = nil) async throws(StateError) -> Int {
        var claimed: [OutboxEntry] = []
        for _ in 0..<configuration.maxInFlight {
            let batch: [OutboxEntry]
            do {
                batch = try await claimBatch(dueBy: dueBy)
            } catch {
                // Rows already leased are delivered now, not after their lease; the next run sees the error.
                if claimed.isEmpty { throw error }
                break
            }
            claimed += batch
            if batch.count < configuration.maxEvents { break }
        }
        guard !claimed.isEmpty else { return 0 }
        let window = DeliveryWindow(limit: configuration.maxInFlight)
        let batches = batches(of: claimed)
        await deliver(batches, window: window, slotsHeld: window.take(upTo: batches.count))
        return claimed.count
    }

    /// Leases up to one batch (`maxEvents`) of due rows to this forwarder.
    ///
    /// Never more in one statement: PostgreSQL keeps the rows a claim returns, payloads included,
    /// in memory up to `work_mem` (4 MB by default) and writes the rest to a temporary file. Claims
    /// of up to 4,000 rows of 1.2 KB wrote 5 to 16 such files (up to 41 MB) in each
    /// `bench ingest` forwarder stage; 1,000 rows stay in memory.
    func claimBatch(dueBy: UnixMillis? = nil) async throws(StateError) -> [OutboxEntry] {
        let now = clock.now()
        let claimed = try await registry.claimOutbox(
            limit: configuration.maxEvents,
            owner: owner,
            lease: configuration.lease,
            now: now,
            dueBy: dueBy ?? now,
            pixelID: nil
        )
        // At least once: a row claimed again without an outcome was held by a process that died
        // mid-send, and Meta may have it already (it de-duplicates on event_id + event_name).
        let resent = claimed.count(where: { $0.claims > 1 })
        if resent > 0 {
            Counter(label: "capi_events_resent_total").increment(by: resent)
            logger.notice("re-sending events whose earlier claimer stopped before recording an outcome", metadata: ["events": "\(resent)"])
        }
        return claimed
    }

    /// One Graph request's worth of rows per pixel and request test code (a request carries one
    /// `test_event_code`), in claim order.
    func batches(of claimed: [OutboxEntry]) -> [(pixel: String, entries: [OutboxEntry])] {
        struct Group: Hashable {
            var pixel: String
            var testEventCode: String?
        }
        var byGroup: [Group: [OutboxEntry]] = [:]
        var order: [Group] = []
        for entry in claimed {
            let group = Group(pixel: entry.key.pixelID, testEventCode: entry.testEventCode)
            if byGroup[group] == nil { order.append(group) }
            byGroup[group, default: []].append(entry)
        }
        return order.flatMap { group in
            let entries = byGroup[group]!
            return stride(from: 0, to: entries.count, by: configuration.maxEvents).map { start in
                (group.pixel, Array(entries[start..<min(start + configuration.maxEvents, entries.count)]))
            }
        }
    }

    /// Delivers one claim's batches, each in a slot of `window` (the first `slotsHeld` are already
    /// taken; the rest wait for one), while the claim's leases are renewed.
    func deliver(_ batches: [(pixel: String, entries: [OutboxEntry])], window: DeliveryWindow, slotsHeld: Int) async {
        let claimed = batches.flatMap(\.entries)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.renewLeases(claimed, every: self.configuration.lease / 3) }
            await withDiscardingTaskGroup { deliveries in
                for (index, batch) in batches.enumerated() {
                    if index >= slotsHeld { await window.acquire() }
                    deliveries.addTask {
                        await self.deliver(pixel: batch.pixel, entries: batch.entries)
                        window.release()
                    }
                }
            }
            group.cancelAll()
        }
    }

    /// Keeps the lease of rows still in delivery alive until cancelled.
    func renewLeases(_ entries: [OutboxEntry], every interval: Duration) async {
        while true {
            do { try await Task.sleep(for: interval) } catch { return }
            do {
                try await registry.extendLease(entries, owner: owner, until: clock.now() + configuration.lease)
            } catch {
                if Task.isCancelled { return }
                logger.warning("cannot renew outbox leases", metadata: ["error": "\(error)"])
            }
        }
    }

    func deliver(pixel pixelID: String, entries: [OutboxEntry]) async {
        let current = clock.now()
        do {
            guard let pixel = pixels[pixelID] else {
                try await deadLetter(
                    entries,
                    reason: DeadLetterReason(errorClass: .configuration, message: "pixel \(pixelID) is not in the manifest")
                )
                return
            }
            if let until = await pauses.pausedUntil(pixelID, now: current) {
                try await registry.reschedule(
                    entries,
                    nextAttemptAt: until,
                    lastError: "pixel paused: Meta refused its token, its permissions or the API version",
                    spendingAttempt: false
                )
                outcomes.add(rescheduled: entries.count)
                return
            }
            // An event Meta would refuse by the time it arrives fails the whole batch: dead-letter it now.
            let deadline = current + configuration.ageMargin
            let stale = entries.filter { $0.expiresAt <= deadline }
            let sendable = entries.filter { $0.expiresAt > deadline }
            if !stale.isEmpty {
                try await deadLetter(
                    stale,
                    reason: DeadLetterReason(errorClass: .tooOld, message: "event_time would pass Meta's age limit before delivery")
                )
            }
            if !sendable.isEmpty { try await send(sendable, pixel: pixel) }
        } catch {
            if Task.isCancelled {
                // Nothing is lost: the rows stay leased, then are sent again.
                logger.notice(
                    "forwarder stopped before recording a delivery outcome; the batch is sent again when its lease ends",
                    metadata: ["pixel_id": "\(pixelID)"]
                )
            } else {
                logger.error("forwarder cannot record a delivery outcome", metadata: ["pixel_id": "\(pixelID)", "error": "\(error)"])
            }
        }
    }

    /// Sends one batch and records its outcome; an invalid batch is split until the bad events are alone.
    func send(_ entries: [OutboxEntry], pixel: PixelConfiguration) async throws(StateError) {
        Recorder(label: "capi_forward_batch_size", dimensions: [("pixel_id", pixel.id)]).record(entries.count)
        let receipt: SendEventsReceipt
        do throws(GraphError) {
            receipt = try await graph.sendEvents(
                pixelID: pixel.id,
                accessToken: pixel.accessToken,
                encodedEvents: entries.map { ByteBuffer(string: $0.payload) },
                // One code per batch (``batches(of:)``): the request's own, else the pixel's.
                testEventCode: entries.first?.testEventCode ?? pixel.testEventCode
            )
        } catch {
            // Stopped mid-call (a shutdown that ran out of time): Meta gave no answer, so no attempt
            // is counted; the rows keep their lease and are claimed again when it ends, as after a crash.
            if Task.isCancelled {
                logger.notice(
                    "forwarder stopped mid-delivery; the batch is sent again when its lease ends",
                    metadata: ["pixel_id": "\(pixel.id)", "events": "\(entries.count)"]
                )
                return
            }
            try await handle(error, entries: entries, pixel: pixel)
            return
        }
        try await registry.markForwarded(entries, fbtraceID: receipt.fbtraceID, now: clock.now())
        deliveryFailures[pixel.id]?.succeeded()
        answerNotes.record(pixelID: pixel.id, sent: entries.count, receipt: receipt)
        outcomes.add(forwarded: entries.count)
        Counter(label: "capi_events_forwarded_total", dimensions: [("pixel_id", pixel.id)]).increment(by: entries.count)
        if await pauses.recovered(pixel.id) {
            for errorClass in Self.pausingClasses {
                try await registry.clearAlarms(AlarmSubject(kind: Self.pauseAlarmKind(errorClass), pixelID: pixel.id), now: clock.now())
            }
            logger.notice("pixel delivers again; its pause alarm is cleared", metadata: ["pixel_id": "\(pixel.id)"])
        }
        logger.debug(
            "batch forwarded",
            metadata: ["pixel_id": "\(pixel.id)", "events": "\(entries.count)", "fbtrace_id": "\(receipt.fbtraceID ?? "")"]
        )
    }

    /// Retries are counted per event: each event's own attempts decide whether it waits for another
    /// try or is dead-lettered, so a batch's fate never spends another event's budget.
    func handle(_ error: GraphError, entries: [OutboxEntry], pixel: PixelConfiguration) async throws(StateError) {
        let current = clock.now()
        switch policy.decide(error, attempt: 1) {
        case .isolateInvalid:
            if entries.count == 1 {
                try await deadLetter(entries, error: error, message: error.explanation)
            } else {
                let middle = entries.count / 2
                try await send(Array(entries[..<middle]), pixel: pixel)
                try await send(Array(entries[middle...]), pixel: pixel)
            }
        case .pause(let errorClass):
            let until = current + configuration.pauseAfterAuthFailure
            await pauses.pause(pixel.id, until: until)
            logger.error(
                "pixel paused: Meta refused its token, its permissions or the API version; its events stay queued",
                metadata: [
                    "pixel_id": "\(pixel.id)", "class": "\(errorClass.rawValue)", "code": "\(error.code ?? 0)",
                    "fbtrace_id": "\(error.fbtraceID ?? "")", "error": "\(error.description)",
                    "retry_at": "\(until.iso8601)",
                ]
            )
            try await registry.raiseAlarm(
                AlarmSubject(kind: Self.pauseAlarmKind(errorClass), pixelID: pixel.id),
                severity: .critical,
                message: error.description,
                now: current
            )
            // Meta refused the pixel, not these events: their retry budget is kept for the
            // transient errors they may meet once it delivers again.
            try await registry.reschedule(entries, nextAttemptAt: until, lastError: error.description, spendingAttempt: false)
            outcomes.add(rescheduled: entries.count)
        case .retry, .giveUp:
            Counter(label: "capi_retries_total", dimensions: [("pixel_id", pixel.id), ("class", error.errorClass.rawValue)]).increment()
            var firstRetry: Duration?
            var waiting = 0
            for (attempts, group) in Dictionary(grouping: entries, by: \.attempts).sorted(by: { $0.key < $1.key }) {
                switch policy.decide(error, attempt: attempts + 1) {
                case .retry(let delay):
                    try await registry.reschedule(group, nextAttemptAt: current + delay, lastError: error.description)
                    outcomes.add(rescheduled: group.count)
                    firstRetry = min(firstRetry ?? delay, delay)
                    waiting += group.count
                default:
                    try await deadLetter(group, error: error, message: "retries exhausted after \(attempts + 1) attempts: \(error.explanation)")
                }
            }
            // Events out of attempts have had their own line; the outage is about those that wait.
            if let firstRetry {
                deliveryFailures[pixel.id]?.failed(error, details: ["events": "\(waiting)", "next_attempt_in": "\(OutageLog.seconds(firstRetry))"])
            }
        }
    }

    /// The wait before the next refresh of the outbox and dead-letter gauges, given how long the
    /// last one took: every 5 s, or less often when counting is slow. Counting the outbox is a scan,
    /// slow behind a large backlog, and it holds up claims, so it takes at most 2% of the time.
    static func gaugeInterval(after refreshTook: Duration) -> Duration {
        max(.seconds(5), refreshTook * 50)
    }

    /// Error classes that pause a pixel, and the alarm each raises.
    static let pausingClasses: [GraphErrorClass] = [.auth, .permission, .deprecated]
    static func pauseAlarmKind(_ errorClass: GraphErrorClass) -> String { "pixel_paused_\(errorClass.rawValue)" }

    func deadLetter(_ entries: [OutboxEntry], error: GraphError, message: String) async throws(StateError) {
        try await deadLetter(
            entries,
            reason: DeadLetterReason(
                errorClass: DeadLetterClass(error.errorClass),
                code: error.code,
                subcode: error.subcode,
                message: message,
                fbtraceID: error.fbtraceID
            )
        )
    }

    /// Every dead letter, whatever its reason, is recorded, counted and logged here: events of a
    /// pixel taken out of the manifest, and events too old to send, were recorded with their
    /// reason but neither logged nor (for the pixel) counted, so they left without a trace
    /// outside `dlq list`.
    func deadLetter(_ entries: [OutboxEntry], reason: DeadLetterReason) async throws(StateError) {
        try await registry.deadLetter(entries, reason: reason, now: clock.now())
        outcomes.add(deadLettered: entries.count)
        let pixelID = entries.first?.key.pixelID ?? ""
        Counter(label: "capi_events_dead_lettered_total", dimensions: [("pixel_id", pixelID), ("class", reason.errorClass.rawValue)])
            .increment(by: entries.count)
        logger.warning(
            "events dead-lettered",
            metadata: [
                "pixel_id": "\(pixelID)", "events": "\(entries.count)", "class": "\(reason.errorClass.rawValue)",
                "code": "\(reason.code ?? 0)", "subcode": "\(reason.subcode ?? 0)", "fbtrace_id": "\(reason.fbtraceID ?? "")",
                "reason": "\(reason.message)",
            ]
        )
    }

    func updateGauges() async {
        guard let depth = try? await registry.outboxDepth(), let letters = try? await registry.deadLetterCount() else { return }
        Gauge(label: "capi_outbox_depth").record(depth)
        Gauge(label: "capi_dlq_events").record(letters)
    }
}

/// Outcomes recorded by one forwarder, for ``Forwarder/flushDue()``'s report.
final class OutcomeTally: Sendable {
    private let counts = Mutex(Forwarder.FlushReport())

    var current: Forwarder.FlushReport { counts.withLock { $0 } }

    func add(forwarded: Int = 0, rescheduled: Int = 0, deadLettered: Int = 0) {
        counts.withLock {
            $0.forwarded += forwarded
            $0.rescheduled += rescheduled
            $0.deadLettered += deadLettered
        }
    }
}
