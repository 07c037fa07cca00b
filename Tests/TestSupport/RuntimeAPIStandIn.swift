import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// A stand-in for the Lambda Runtime API (`AWS_LAMBDA_RUNTIME_API`), as the Lambda service
/// speaks it: `next` long-polls until the test queues an invocation, and whatever the runtime
/// posts back (`response`, `error`, `init/error`) is handed to the test that is waiting for it.
public final class RuntimeAPIStandIn: Sendable {
    /// What the runtime posted for an invocation (or for its initialization).
    public enum Outcome: Sendable {
        case response(ByteBuffer)
        case error(type: String?, body: ByteBuffer)

        /// The posted JSON (a proxy response, or an error object).
        public var json: [String: Any] {
            let buffer: ByteBuffer
            switch self {
            case .response(let body), .error(_, let body): buffer = body
            }
            return (try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView))) as? [String: Any] ?? [:]
        }
    }

    struct Pending {
        var id: String
        var deadline: Int64
        var event: ByteBuffer
    }

    struct State {
        var queue: [Pending] = []
        var pollers: [CheckedContinuation<Pending, Never>] = []
        var outcomes: [String: Outcome] = [:]
        var waiters: [String: [CheckedContinuation<Outcome?, Never>]] = [:]
        var polls = 0
        /// Set when the server starts shutting down: a poll that reaches the handler after that
        /// is answered at once, or the graceful shutdown would wait for it forever.
        var closing = false
    }

    private let state = Mutex(State())
    public static let initializationID = "init"

    public init() {}

    /// Queues an event; returns its request id. `deadline` is the invocation's remaining time.
    @discardableResult
    public func enqueue(_ event: [UInt8], deadline: Duration = .seconds(30), id: String = UUID().uuidString.lowercased()) -> String {
        let deadlineMillis =
            Int64(Date().timeIntervalSince1970 * 1000) + deadline.components.seconds * 1000
            + deadline.components.attoseconds / 1_000_000_000_000_000
        let pending = Pending(id: id, deadline: deadlineMillis, event: ByteBuffer(bytes: event))
        let poller = state.withLock { state -> CheckedContinuation<Pending, Never>? in
            if state.pollers.isEmpty {
                state.queue.append(pending)
                return nil
            }
            return state.pollers.removeFirst()
        }
        poller?.resume(returning: pending)
        return id
    }

    /// Queues an event and waits for what the runtime posts for it.
    public func invoke(_ event: [UInt8], deadline: Duration = .seconds(30), timeout: Duration = hangLimit) async throws -> Outcome {
        try await outcome(of: enqueue(event, deadline: deadline), timeout: timeout)
    }

    /// Waits for what the runtime posts for `id` (``initializationID`` for `init/error`).
    public func outcome(of id: String, timeout: Duration = hangLimit) async throws -> Outcome {
        try await withThrowingTaskGroup(of: Outcome?.self) { group in
            group.addTask {
                // Cancelled when the timeout wins: the wait must end then, or the group (and the
                // test) would wait for it forever instead of failing.
                await withTaskCancellationHandler {
                    await withCheckedContinuation { (continuation: CheckedContinuation<Outcome?, Never>) in
                        let ready = self.state.withLock { state -> Outcome?? in
                            if let outcome = state.outcomes[id] { return .some(outcome) }
                            if Task.isCancelled { return .some(nil) }
                            state.waiters[id, default: []].append(continuation)
                            return nil
                        }
                        if let ready { continuation.resume(returning: ready) }
                    }
                } onCancel: {
                    let waiting = self.state.withLock { $0.waiters.removeValue(forKey: id) ?? [] }
                    for waiter in waiting { waiter.resume(returning: nil) }
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            guard let first else { throw TimedOut("the runtime posted nothing for invocation \(id)") }
            return first
        }
    }

    /// How many times the runtime has asked for the next invocation.
    public var polls: Int { state.withLock { $0.polls } }

    func record(_ outcome: Outcome, for id: String) {
        let waiters = state.withLock { state -> [CheckedContinuation<Outcome?, Never>] in
            state.outcomes[id] = outcome
            return state.waiters.removeValue(forKey: id) ?? []
        }
        for waiter in waiters { waiter.resume(returning: outcome) }
    }

    func nextPending() async -> Pending {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Pending? in
                state.polls += 1
                if !state.queue.isEmpty { return state.queue.removeFirst() }
                if state.closing { return Self.shutdownAnswer }
                state.pollers.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    private static var shutdownAnswer: Pending { Pending(id: "shutdown", deadline: 0, event: ByteBuffer(string: "{}")) }

    /// Runs the stand-in on a loopback port for the duration of `body`, which gets `host:port`.
    public func withRunning<T: Sendable>(_ body: @Sendable (String) async throws -> T) async throws -> T {
        let router = Router()
        let prefix = "/2018-06-01/runtime"
        router.get("\(prefix)/invocation/next") { _, _ -> Response in
            let pending = await self.nextPending()
            return Response(
                status: .ok,
                headers: [
                    HTTPField.Name("Lambda-Runtime-Aws-Request-Id")!: pending.id,
                    HTTPField.Name("Lambda-Runtime-Deadline-Ms")!: String(pending.deadline),
                    HTTPField.Name("Lambda-Runtime-Invoked-Function-Arn")!: "arn:aws:lambda:eu-west-1:123456789012:function:capi-webhook",
                    HTTPField.Name("Lambda-Runtime-Trace-Id")!: "Root=1-00000000-000000000000000000000000",
                    .contentType: "application/json",
                ],
                body: .init(byteBuffer: pending.event)
            )
        }
        router.post("\(prefix)/invocation/:id/response") { request, context -> HTTPResponse.Status in
            let body = try await request.body.collect(upTo: 8 * 1_048_576)
            self.record(.response(body), for: context.parameters.get("id") ?? "")
            return .accepted
        }
        router.post("\(prefix)/invocation/:id/error") { request, context -> HTTPResponse.Status in
            let body = try await request.body.collect(upTo: 1_048_576)
            let type = request.headers[HTTPField.Name("Lambda-Runtime-Function-Error-Type")!]
            self.record(.error(type: type, body: body), for: context.parameters.get("id") ?? "")
            return .accepted
        }
        router.post("\(prefix)/init/error") { request, _ -> HTTPResponse.Status in
            let body = try await request.body.collect(upTo: 1_048_576)
            let type = request.headers[HTTPField.Name("Lambda-Runtime-Function-Error-Type")!]
            self.record(.error(type: type, body: body), for: Self.initializationID)
            return .accepted
        }
        // A runtime still long-polling would hold the graceful shutdown: answer it with nothing.
        let releasePollers: @Sendable () -> Void = {
            let pollers = self.state.withLock { state in
                state.closing = true
                defer { state.pollers.removeAll() }
                return state.pollers
            }
            for poller in pollers { poller.resume(returning: Self.shutdownAnswer) }
        }
        let withEndpoint: @Sendable (Int) async throws -> T = { port in try await body("127.0.0.1:\(port)") }
        return try await withLoopbackServer(router, label: "test.runtime-api", beforeShutdown: releasePollers, withEndpoint)
    }
}
