import Foundation

/// Runs programs the way an operator or an external check does: the connector's binary, python3
/// for Meta's SDK and the reference libraries, curl.
public enum ProcessRunner {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs any program to completion (python3 for Meta's SDK, curl, …).
    ///
    /// The waiting happens on a Dispatch thread: blocking one of the cooperative pool's few threads
    /// (two on this machine) would starve every other test's async work.
    /// - Parameter directory: the working directory; the repository's root unless given.
    public static func run(
        _ path: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        stdin: String? = nil,
        directory: String? = nil
    ) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(
                    with: Swift.Result { try runBlocking(path, arguments, environment: environment, stdin: stdin, directory: directory) }
                )
            }
        }
    }

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
        process.environment = ProcessInfo.processInfo.environment.filter { $0.key == "PATH" || $0.key == "HOME" || $0.key.hasPrefix("PYTHON") }
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
        DispatchQueue.global().async {
            if let stdin { writeAll(writing.fileDescriptor, Array(stdin.utf8)) }
            try? writing.close()
            group.leave()
        }
        // Read both pipes at once (a full pipe would block the child), retrying on EINTR: child
        // processes exiting send SIGCHLD, and FileHandle's reads trap when interrupted.
        nonisolated(unsafe) var stderrData = Data()
        group.enter()
        DispatchQueue.global().async {
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
    /// Waits for the process to end without holding a thread: `waitUntilExit()` blocks one of the
    /// cooperative pool's two threads here for a whole graceful shutdown, which slows every other
    /// test running at the same time.
    public func exited() async {
        while isRunning, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(20))
        }
        waitUntilExit()
    }
}
