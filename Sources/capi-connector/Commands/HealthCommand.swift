import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore

struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Check a running sidecar's health endpoint (a container health check).",
        discussion: """
            GETs the URL and exits 0 when it answers 2xx within the timeout, 1 otherwise, with one line on \
            standard error saying why. For the ECS task definition's healthCheck (the image declares no \
            HEALTHCHECK because the same image also runs one-shot jobs):
              ["CMD", "/usr/local/bin/capi-connector", "health", "--url", "http://127.0.0.1:8088/readyz"]

            /healthz says the process answers; /readyz also that the state store does.
            """
    )

    @Option(help: ArgumentHelp("The endpoint to check.", valueName: "url"))
    var url = "http://127.0.0.1:8088/readyz"

    @Option(parsing: .unconditional, help: ArgumentHelp("How long to wait for the answer, in seconds.", valueName: "seconds"))
    var timeout: Double = 3

    func validate() throws {
        guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
            throw ValidationError("--url must be an http:// or https:// URL, e.g. http://127.0.0.1:8088/readyz")
        }
        guard timeout > 0, timeout <= 300 else { throw ValidationError("--timeout must be more than 0 and at most 300 seconds") }
    }

    func run() async throws {
        let status: UInt
        do {
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .milliseconds(Int64(timeout * 1000)))
            status = response.status.code
            _ = try? await response.body.collect(upTo: 1_048_576)
        } catch {
            StandardStreams.printError("unhealthy: \(url) \(failure(error))")
            throw ExitCode(1)
        }
        guard (200..<300).contains(status) else {
            StandardStreams.printError("unhealthy: \(url) answered \(status)")
            throw ExitCode(1)
        }
        StandardStreams.printError("healthy: \(url) answered \(status)")
    }

    /// What went wrong, in words an operator acts on: silence (a stuck process) and a refused
    /// connection (nothing listening: a crashed process, a wrong port) are different faults.
    func failure(_ error: any Error) -> String {
        if let error = error as? HTTPClientError, [.deadlineExceeded, .readTimeout, .connectTimeout].contains(error) {
            return "did not answer within \(timeout) s"
        }
        if let io = error as? IOError { return "could not be reached: \(String(cString: strerror(io.errnoCode)))" }
        return "could not be reached: \(String(describing: error))"
    }
}
