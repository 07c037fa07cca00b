import ArgumentParser
import AsyncHTTPClient
import ConnectorRuntime
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

    @Option(
        help: ArgumentHelp(
            "The endpoint to check (default: http://127.0.0.1:8088/readyz, or the port of CAPI_LISTEN when set, as the shipped manifest listens there).",
            valueName: "url"
        )
    )
    var url: String?

    /// `--url`, else the sidecar's `/readyz` where the shipped manifest has it listen: a container
    /// that moves the port with `CAPI_LISTEN` need not repeat it in its health check.
    var target: String { url ?? Self.defaultURL(listen: ProcessInfo.processInfo.environment["CAPI_LISTEN"]) }

    /// `/readyz` on the loopback address of `listen` (`HOST:PORT`); an address of every interface
    /// (`0.0.0.0`, `::`, `:PORT`) is reached on the loopback of its family.
    static func defaultURL(listen: String?) -> String {
        guard let listen, !listen.isEmpty, let address = ListenAddress(parsing: listen) else { return "http://127.0.0.1:8088/readyz" }
        let host =
            switch address.host {
            case "0.0.0.0": "127.0.0.1"
            case "::": "[::1]"
            case let host where host.contains(":"): "[\(host)]"
            case let host: host
            }
        return "http://\(host):\(address.port)/readyz"
    }

    @Option(parsing: .unconditional, help: ArgumentHelp("How long to wait for the answer, in seconds.", valueName: "seconds"))
    var timeout: Double = 3

    func validate() throws {
        guard let parsed = URL(string: target), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
            throw ValidationError("--url must be an http:// or https:// URL, e.g. http://127.0.0.1:8088/readyz")
        }
        guard timeout > 0, timeout <= 300 else { throw ValidationError("--timeout must be more than 0 and at most 300 seconds") }
    }

    func run() async throws {
        let status: UInt
        do {
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: target), timeout: .milliseconds(Int64(timeout * 1000)))
            status = response.status.code
            _ = try? await response.body.collect(upTo: 1_048_576)
        } catch {
            StandardStreams.printError("unhealthy: \(target) \(failure(error))")
            throw ExitCode(1)
        }
        guard (200..<300).contains(status) else {
            StandardStreams.printError("unhealthy: \(target) answered \(status)")
            throw ExitCode(1)
        }
        StandardStreams.printError("healthy: \(target) answered \(status)")
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
