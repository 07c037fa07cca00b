import NIOCore
import NIOPosix
import Synchronization

/// A bare TCP client for what HTTP clients will not do: stop halfway through headers, announce a
/// body and never send it, hold a connection open.
enum RawConnection {
    struct Outcome: Sendable {
        /// Everything the server sent.
        var received: String
        /// Whether the server closed the connection before `timeout`.
        var closedByServer: Bool
    }

    /// What the server sent so far, shared by the reading task and the timeout.
    final class Received: Sendable {
        let text = Mutex("")
    }

    /// Sends `bytes` (and each of `later` after its pause), reading until the server closes the
    /// connection or `timeout` passes. On a timeout, what arrived so far is still returned.
    ///
    /// `timeout` is a bound for a server that never closes, not a measure of how fast it closes:
    /// with every suite running at once on two cores the reading task can wait seconds for a
    /// thread, so keep it well above the deadline under test.
    static func exchange(port: Int, send bytes: String, later: [(after: Duration, bytes: String)] = [], timeout: Duration) async throws -> Outcome {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: bytes))
            let received = Received()
            return try await withThrowingTaskGroup(of: Outcome?.self) { group in
                group.addTask {
                    for try await chunk in inbound { received.text.withLock { $0 += String(buffer: chunk) } }
                    return Outcome(received: received.text.withLock { $0 }, closedByServer: true)
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                for (pause, bytes) in later {
                    try await Task.sleep(for: pause)
                    try await outbound.write(ByteBuffer(string: bytes))
                }
                let first = try await group.next()!
                group.cancelAll()
                return first ?? Outcome(received: received.text.withLock { $0 }, closedByServer: false)
            }
        }
    }

    /// Sends `head`, waits until the server has sent `awaited` (or `timeout` passes), then sends
    /// `rest` and reads until the server closes or `timeout` passes again. Returns what arrived
    /// before `rest` was sent and the whole exchange.
    static func exchange(
        port: Int,
        send head: String,
        awaiting awaited: String,
        then rest: String,
        timeout: Duration
    ) async throws -> (beforeRest: String, outcome: Outcome) {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        return try await channel.executeThenClose { inbound, outbound in
            let received = Received()
            return try await withThrowingTaskGroup(of: Outcome?.self) { group in
                group.addTask {
                    for try await chunk in inbound { received.text.withLock { $0 += String(buffer: chunk) } }
                    return Outcome(received: received.text.withLock { $0 }, closedByServer: true)
                }
                try await outbound.write(ByteBuffer(string: head))
                let waitUntil = ContinuousClock.now + timeout
                while !received.text.withLock({ $0.contains(awaited) }), ContinuousClock.now < waitUntil {
                    try await Task.sleep(for: .milliseconds(5))
                }
                let beforeRest = received.text.withLock { $0 }
                try await outbound.write(ByteBuffer(string: rest))
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                let first = try await group.next()!
                group.cancelAll()
                return (beforeRest, first ?? Outcome(received: received.text.withLock { $0 }, closedByServer: false))
            }
        }
    }
}
