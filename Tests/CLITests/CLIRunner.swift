import Foundation
import TestSupport

/// Runs the built `capi-connector` binary the way an operator or an external check does.
struct CLIRunner {
    typealias Result = ProcessRunner.Result

    static var repositoryRoot: URL { RepositoryPaths.root }

    /// The executable sits beside the test bundle in the build folder.
    static var executable: URL {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: folder.appendingPathComponent("capi-connector").path), folder.path != "/" {
            folder.deleteLastPathComponent()
        }
        return folder.appendingPathComponent("capi-connector")
    }

    static func run(_ arguments: [String], environment: [String: String] = [:], stdin: String? = nil, directory: String? = nil) async throws -> Result
    {
        try await ProcessRunner.run(executable.path, arguments, environment: environment, stdin: stdin, directory: directory)
    }

    /// Starts the connector in the background (a server or a job the test signals); standard
    /// error to `logFile` and standard output to `outputFile`, each discarded when not given.
    static func start(
        _ arguments: [String],
        environment: [String: String] = [:],
        logTo logFile: String? = nil,
        outputTo outputFile: String? = nil
    ) throws -> Process {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = repositoryRoot
        process.environment = ProcessInfo.processInfo.environment.filter { ProcessRunner.inherited($0.key) }.merging(environment) { $1 }
        if let outputFile {
            _ = FileManager.default.createFile(atPath: outputFile, contents: nil)
            process.standardOutput = FileHandle(forWritingAtPath: outputFile)
        } else {
            process.standardOutput = FileHandle.nullDevice
        }
        if let logFile {
            _ = FileManager.default.createFile(atPath: logFile, contents: nil)
            process.standardError = FileHandle(forWritingAtPath: logFile)
        } else {
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
        return process
    }

    /// Starts one of our servers (`serve`, `sandbox`) listening on port 0 and returns the port it
    /// bound, read from its "… listening" log line: no port is guessed, so parallel runs never collide.
    static func startListening(
        _ arguments: [String],
        environment: [String: String] = [:],
        logTo logFile: String? = nil,
        timeout: Duration = hangLimit
    ) async throws -> (process: Process, port: Int) {
        let log = logFile ?? TemporaryPaths.url("server", suffix: ".log").path
        let process = try start(arguments, environment: environment, logTo: log)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let port = listeningPort(inLog: log) { return (process, port) }
            guard process.isRunning else {
                throw TestSetupError("\(arguments.first ?? "the server") exited \(process.terminationStatus) before listening")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.terminate()
        throw TimedOut("\(arguments.first ?? "the server") did not log a listening address within \(timeout)")
    }

    /// Runs `body` with `capi-connector sandbox` listening on a free loopback port (`options` added
    /// to its command line), then stops it and awaits its exit without holding a thread.
    static func withSandbox<T>(_ options: [String] = [], _ body: (Int) async throws -> T) async throws -> T {
        let (sandbox, port) = try await startListening(["sandbox", "--listen", "127.0.0.1:0"] + options)
        return try await sandbox.stopped { try await body(port) }
    }

    /// Runs `body` with `serve --sandbox` on a fresh SQLite store, given its port and the path of
    /// its log, then stops it and awaits its exit without holding a thread (as ``withSandbox(_:_:)``).
    static func withSandboxedServe<T>(
        environment: [String: String],
        name: String,
        _ body: (_ port: Int, _ log: String) async throws -> T
    ) async throws -> T {
        let state = "sqlite:" + TemporaryPaths.url(name).appendingPathComponent("state.sqlite").path
        let log = TemporaryPaths.url("\(name)-serve", suffix: ".log").path
        let (serve, port) = try await startListening(["serve", "--sandbox", "--state", state], environment: environment, logTo: log)
        return try await serve.stopped { try await body(port, log) }
    }

    /// The body of `GET url`, fetched by Python's `urllib`: a client none of this code wrote.
    static func get(_ url: String) async throws -> String {
        try await ProcessRunner.run(
            "/usr/bin/env",
            ["python3", "-c", "import urllib.request,sys; print(urllib.request.urlopen(sys.argv[1]).read().decode())", url]
        ).stdout
    }

    /// The port of the first JSON log line whose message ends in "listening".
    static func listeningPort(inLog path: String) -> Int? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                (object["message"] as? String)?.hasSuffix("listening") == true,
                let address = object["address"] as? String,
                let port = address.split(separator: ":").last.flatMap({ Int($0) })
            else { continue }
            return port
        }
        return nil
    }
}
