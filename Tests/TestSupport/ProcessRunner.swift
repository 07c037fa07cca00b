import Foundation

/// Runs programs the way an operator or an external check does: the connector's binary, python3
/// for Meta's SDK and the reference libraries, curl.
public enum ProcessRunner {
    /// Variables a child process keeps from the test's environment, the rest being the test's to
    /// give: the program search path, the home directory, and where an instrumented build writes
    /// its coverage profile (so a coverage run counts the command line's processes too).
    public static func inherited(_ name: String) -> Bool {
        name == "PATH" || name == "HOME" || name == "LLVM_PROFILE_FILE"
    }

    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs any program to completion (python3 for Meta's SDK, curl, …).
    ///
    /// The waiting happens on a thread of its own (``onThreadOfItsOwn(_:)``), never on a thread
    /// Swift's tasks run on.
    /// - Parameter directory: the working directory; the repository's root unless given.
    public static func run(
        _ path: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        stdin: String? = nil,
        directory: String? = nil
    ) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            onThreadOfItsOwn {
                continuation.resume(
                    with: Swift.Result { try runBlocking(path, arguments, environment: environment, stdin: stdin, directory: directory) }
                )
            }
        }
    }

    /// Blocks the calling thread until the child ends: call it from a thread of its own (as
    /// ``run(_:_:environment:stdin:directory:)`` does) or before any test runs, never from a
    /// test's task. Foundation's `Process` hears that a child ended when a socket the child holds
    /// closes, and children started meanwhile inherit it, so the wait can last as long as they do.
    public static func runBlocking(
        _ path: String,
        _ arguments: [String],
        environment: [String: String],
        stdin: String?,
        directory: String? = nil
    ) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.currentDirectoryURL = directory.map { URL(fileURLWithPath: $0) } ?? RepositoryPaths.root
        process.environment = ProcessInfo.processInfo.environment.filter { Self.inherited($0.key) || $0.key.hasPrefix("PYTHON") }
            .merging(environment) { $1 }
        let out = Pipe()
        let err = Pipe()
        let input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        // Write standard input while the output is read, as a real consumer does: a child that
        // answers as it reads would otherwise fill its output pipe and stop reading.
        let group = DispatchGroup()
        let writing = input.fileHandleForWriting
        group.enter()
        onThreadOfItsOwn {
            if let stdin { writeAll(writing.fileDescriptor, Array(stdin.utf8)) }
            try? writing.close()
            group.leave()
        }
        // Read both pipes at once (a full pipe would block the child), retrying on EINTR: child
        // processes exiting send SIGCHLD, and FileHandle's reads trap when interrupted.
        nonisolated(unsafe) var stderrData = Data()
        group.enter()
        onThreadOfItsOwn {
            stderrData = readAll(err.fileHandleForReading.fileDescriptor)
            group.leave()
        }
        let stdoutData = readAll(out.fileHandleForReading.fileDescriptor)
        group.wait()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            stdout: String(decoding: stdoutData, as: UTF8.self),
            stderr: String(decoding: stderrData, as: UTF8.self)
        )
    }

    /// Runs blocking work on a new thread. On Linux, Swift's tasks run on Dispatch's global
    /// threads, the same ones `DispatchQueue.global()` uses, and Dispatch adds threads only slowly
    /// when they block: with 40 blocked work items a 100 ms `Task.sleep` took 18 s, so a test run
    /// that waited there on child processes stalled every test (PostgreSQL tests then missed the
    /// store's 10 s limit to answer).
    static func onThreadOfItsOwn(_ work: @escaping @Sendable () -> Void) {
        Thread(block: work).start()
    }

    static func writeAll(_ descriptor: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress!, $0.count) }
            if written > 0 { offset += written } else if written < 0 && errno == EINTR { continue } else { return }
        }
    }

    static func readAll(_ descriptor: Int32) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            if count > 0 {
                data.append(contentsOf: buffer[0..<count])
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                return data
            }
        }
    }

    /// Waits until something accepts TCP connections on the loopback port.
    public static func waitForPort(_ port: Int, timeout: Duration = hangLimit) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let result = try? await run(
                "/usr/bin/env",
                ["python3", "-c", "import socket; socket.create_connection(('127.0.0.1', \(port)), 0.5)"]
            ), result.status == 0 {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TimedOut("nothing listened on 127.0.0.1:\(port) within \(timeout)")
    }
}

extension Process {
    /// Whether the process has ended, also before Foundation says so: it hears of a child's end
    /// when a socket the child holds closes, and a child another test starts at that moment can
    /// inherit the socket and hold it for as long as it runs (a SIGTERM test read 23 s for an exit
    /// that took less than one). The kernel's state, a zombie until reaped, says at once.
    public var hasEnded: Bool {
        guard isRunning else { return true }
        guard let stat = try? String(contentsOfFile: "/proc/\(processIdentifier)/stat", encoding: .utf8),
            let name = stat.lastIndex(of: ")")
        else { return false }
        return stat[stat.index(after: name)...].drop { $0 == " " }.first == "Z"
    }

    /// Waits for the process to end without holding a thread: `waitUntilExit()` blocks one of the
    /// threads Swift's tasks share (two here) for a whole graceful shutdown, which slows every
    /// other test running at the same time.
    ///
    /// - Returns: when the kernel saw it end (``hasEnded``), which is what a test that times a
    ///   shutdown measures: Foundation may learn of it much later.
    @discardableResult
    public func exited() async -> ContinuousClock.Instant {
        while !hasEnded, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(20))
        }
        let ended = ContinuousClock.now
        while isRunning, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(20))
        }
        waitUntilExit()
        return ended
    }

    /// Waits for `ready`, sends SIGTERM and answers how long the process took to end from then
    /// (SIGKILL follows only if `ready` or `meanwhile` failed and the process still runs). Between
    /// SIGTERM and the exit, `meanwhile` runs: what the test does while the process stops.
    public func timedStop(
        after ready: () async throws -> Void,
        meanwhile: () async throws -> Void = {}
    ) async throws -> Duration {
        let signalled: ContinuousClock.Instant
        do {
            try await ready()
            signalled = .now
            kill(processIdentifier, SIGTERM)
            try await meanwhile()
        } catch {
            // Not signalled after the process was reaped, whose number may be another's by then.
            if !hasEnded { kill(processIdentifier, SIGKILL) }
            await exited()
            throw error
        }
        return await exited() - signalled
    }

    /// Runs `body` while the process runs, then sends it `signal` and awaits its exit (``exited()``),
    /// whatever `body` did: what a `defer { kill(…); waitUntilExit() }` means, without blocking.
    public func stopped<T>(with signal: Int32 = SIGTERM, after body: () async throws -> T) async throws -> T {
        let result: Swift.Result<T, any Error>
        do { result = .success(try await body()) } catch { result = .failure(error) }
        // Not sent to a process already ended: once reaped, its number may be another's.
        if !hasEnded { kill(processIdentifier, signal) }
        await exited()
        return try result.get()
    }
}
