import CAPICore
import ConnectorRuntime
import Foundation
import Logging
import NIOCore
import PushMode

/// The custom runtime's event loop: take an invocation, answer it through the push routes, then
/// use what is left of the invocation's time to forward the outbox, and ask for the next one.
///
/// Answering comes first, so the caller's latency never includes Meta's; forwarding stops
/// starting new batches once the remaining time could not cover one more Graph request, leaving
/// the rest for the next invocation or for a scheduled `flush`.
public struct LambdaLoop: Sendable {
    public struct Configuration: Sendable {
        /// No new forwarding round starts later than this before the invocation's deadline (one
        /// Graph request's timeout plus a margin, so the invocation is never cut off mid-send).
        public var forwardingMargin: Duration
        /// After this long without an invocation the store connection is checked (and re-opened)
        /// before handling: a frozen environment's connections may have been closed meanwhile.
        public var reconnectAfterIdle: Duration

        public init(forwardingMargin: Duration, reconnectAfterIdle: Duration = .seconds(1)) {
            self.forwardingMargin = forwardingMargin
            self.reconnectAfterIdle = reconnectAfterIdle
        }
    }

    let runtime: RuntimeAPIClient
    let handler: PushHandler
    let forwarder: Forwarder?
    let store: any StateRegistry
    let metrics: EmbeddedMetricFormat?
    let configuration: Configuration
    let emit: @Sendable (String) -> Void
    let clock: WallClock
    let logger: Logger

    public init(
        runtime: RuntimeAPIClient,
        handler: PushHandler,
        forwarder: Forwarder?,
        store: any StateRegistry,
        metrics: EmbeddedMetricFormat?,
        configuration: Configuration,
        emit: @escaping @Sendable (String) -> Void = { print($0) },
        clock: WallClock = .system,
        logger: Logger = Logger(label: "capi.lambda")
    ) {
        self.clock = clock
        self.runtime = runtime
        self.handler = handler
        self.forwarder = forwarder
        self.store = store
        self.metrics = metrics
        self.configuration = configuration
        self.emit = emit
        self.logger = logger
    }

    /// Handles invocations until the task is cancelled; a Runtime API failure ends the loop (and
    /// the process: Lambda starts a new one).
    public func run(onFirstAnswer: @Sendable () -> Void = {}) async throws(RuntimeAPIClient.Failure) {
        var lastInvocation = ContinuousClock.now
        var answered = false
        while !Task.isCancelled {
            let invocation = try await runtime.next()
            if ContinuousClock.now - lastInvocation >= configuration.reconnectAfterIdle { await reconnectIfNeeded() }
            // Every line logged for an invocation carries its request id as `run_id`.
            let handled: Result<Void, RuntimeAPIClient.Failure> = await RunIdentity.$current.withValue(invocation.requestID) {
                do throws(RuntimeAPIClient.Failure) {
                    return .success(try await handle(invocation))
                } catch {
                    return .failure(error)
                }
            }
            try handled.get()
            if !answered {
                answered = true
                onFirstAnswer()
            }
            publishMetrics()
            await forward(before: invocation.deadlineMillis)
            lastInvocation = ContinuousClock.now
        }
    }

    /// Answers one invocation: a proxy response, or an invocation error for an event that is no
    /// API Gateway proxy event (the caller then sees API Gateway's 502).
    func handle(_ invocation: RuntimeAPIClient.Invocation) async throws(RuntimeAPIClient.Failure) {
        let event: ProxyEvent
        do {
            event = try ProxyEvent(decoding: invocation.event)
        } catch .invalidBase64(let version) {
            try await runtime.respond(
                to: invocation.requestID,
                body: ProxyResponse.badRequest(ProxyEvent.Failure.invalidBase64(version).description, version: version)
            )
            return
        } catch {
            logger.error("invocation refused", metadata: ["request_id": "\(invocation.requestID)", "reason": "\(error)"])
            try await runtime.fail(invocation.requestID, type: "InvalidEvent", message: error.description)
            return
        }
        let output = await handler.handle(event.request)
        try await runtime.respond(to: invocation.requestID, body: ProxyResponse.encode(output, version: event.version))
    }

    /// A ping; when it fails the pool drops the dead connection and the second ping opens a new one.
    /// Each waits at most ``pingLimit``: with the store down, the pool would hold a ping for a
    /// minute, past API Gateway's 29 s, and the invocation is answered 503 in seconds anyway.
    func reconnectIfNeeded() async {
        let store = store
        do {
            try await withStateDeadline(Self.pingLimit, "ping") { try await store.ping() }
        } catch {
            logger.notice("state store connection lost while frozen; reconnecting")
            _ = try? await withStateDeadline(Self.pingLimit, "ping") { try await store.ping() }
        }
    }

    static let pingLimit: Duration = .seconds(2)

    func publishMetrics() {
        guard let metrics else { return }
        for line in metrics.flush(timestamp: clock.now().rawValue) { emit(line) }
    }

    /// Forwards what is due while the invocation's remaining time allows another round.
    func forward(before deadlineMillis: Int64) async {
        guard let forwarder else { return }
        let remaining = Duration.milliseconds(deadlineMillis - clock.now().rawValue)
        guard remaining > configuration.forwardingMargin else { return }
        do {
            let report = try await forwarder.flushDue(startingBefore: ContinuousClock.now + remaining - configuration.forwardingMargin)
            if report.forwarded + report.rescheduled + report.deadLettered > 0 {
                logger.info(
                    "forwarded within the invocation",
                    metadata: [
                        "forwarded": "\(report.forwarded)", "rescheduled": "\(report.rescheduled)",
                        "dead_lettered": "\(report.deadLettered)", "remaining": "\(report.remaining)",
                    ]
                )
            }
        } catch {
            logger.warning("forwarding within the invocation failed; the outbox keeps the events", metadata: ["error": "\(error)"])
        }
        publishMetrics()
    }
}
