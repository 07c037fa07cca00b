import ArgumentParser
import CAPICore
import ConnectorRuntime
import Foundation
import GraphAPI
import LambdaRunner
import Logging
import Metrics
import PushMode

struct LambdaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lambda",
        abstract: "Run the push routes as an AWS Lambda custom runtime behind API Gateway.",
        discussion: """
            Entered automatically when the binary runs as `bootstrap` with AWS_LAMBDA_RUNTIME_API set \
            (the provided.al2023 runtime). Each invocation is an API Gateway proxy event, REST API \
            (payload 1.0) or HTTP API / function URL (2.0), base64 bodies included; it goes through the \
            same routes, signature check, validation, hashing and idempotent commit as `serve`, and the \
            answer is the proxy response. Then, within the invocation's remaining time, the outbox is \
            forwarded to Meta; what is left waits for the next invocation or a scheduled `flush --once`.

            State must be PostgreSQL (CAPI_STATE_URL=postgres://…, through RDS Proxy): a Lambda's disk \
            is not durable and execution environments share nothing, so the webhook replay ledger \
            lives in PostgreSQL too. A synchronous invocation carries at most 6 MB, so bodies above \
            \(LambdaLimits.maximumBodyBytes) bytes (what fits once base64-encoded) are refused with 413. \
            Metrics are CloudWatch Embedded Metric Format lines on standard output; logs are JSON \
            lines on standard error.

            A failure before the first invocation (manifest, state) is reported to the Runtime API's \
            init/error and the process exits 1.
            """
    )

    @OptionGroup var manifestOptions: ManifestOptions

    /// Where the runtime stands when it runs as `bootstrap`: Lambda starts it with no arguments.
    static var isLambdaBootstrap: Bool {
        let name = (CommandLine.arguments.first ?? "").split(separator: "/").last.map(String.init)
        return name == "bootstrap" && ProcessInfo.processInfo.environment["AWS_LAMBDA_RUNTIME_API"].map { !$0.isEmpty } == true
    }

    func run() async throws {
        let started = ContinuousClock.now
        JSONLogHandler.bootstrap(command: "lambda")
        let metrics = EmbeddedMetricFormat()
        MetricsSystem.bootstrap(metrics)
        let logger = Logger(label: "capi.lambda")
        guard let endpoint = ProcessInfo.processInfo.environment["AWS_LAMBDA_RUNTIME_API"], !endpoint.isEmpty else {
            StandardStreams.printError("capi-connector lambda: AWS_LAMBDA_RUNTIME_API is not set; Lambda sets it (use `serve` outside Lambda)")
            throw ExitCode(2)
        }
        let runtime = RuntimeAPIClient(endpoint: endpoint)
        // The zip's manifest and schemas are relative to the function's root (/var/task).
        if let root = ProcessInfo.processInfo.environment["LAMBDA_TASK_ROOT"], !root.isEmpty {
            _ = FileManager.default.changeCurrentDirectoryPath(root)
        }

        /// Reports a start-up failure to Lambda (which shows it to the caller) and exits 1.
        func initializationFailed(_ type: String, _ message: String) async throws -> Never {
            logger.critical("initialization failed", metadata: ["error_type": "\(type)", "reason": "\(message)"])
            do { try await runtime.failInitialization(type: type, message: message) } catch {
                logger.error("could not report the initialization failure", metadata: ["reason": "\(error)"])
            }
            throw ExitCode(1)
        }

        let manifest: Manifest
        do { manifest = try await ManifestOptions.load(path: manifestOptions.manifest) } catch {
            try await initializationFailed("Manifest", error.problems.map(\.description).joined(separator: "; "))
        }
        guard var push = manifest.push else { try await initializationFailed("Manifest", "\(manifestOptions.manifest): has no push section") }
        let location: StateLocation
        do {
            location = StateOptions.withPassword(
                try StateLocation(parsing: manifest.state.url.revealed, environment: ProcessInfo.processInfo.environment)
            )
        } catch {
            try await initializationFailed("State", "state.url: \(error)")
        }
        guard case .postgres = location else {
            try await initializationFailed(
                "State",
                "state.url is \(location), but a Lambda's disk is not durable and its instances share nothing: set CAPI_STATE_URL to a postgres:// URL (through RDS Proxy)"
            )
        }
        let graph: GraphClient.Configuration
        do { graph = try GraphClient.Configuration.resolve(manifest: manifest) } catch { try await initializationFailed("GraphAPI", error.reason) }
        // Instances share nothing in memory: the replay ledger lives in the store. Bodies are
        // capped at what one invocation can carry.
        push.replayLedger = .state
        push.bodyLimitBytes = min(push.bodyLimitBytes, LambdaLimits.maximumBodyBytes)

        let registry: any StateRegistryService
        do { registry = try await openStateRegistry(location, logger: Logger(label: "capi.state")) } catch {
            try await initializationFailed("State", "\(error)")
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await registry.run() }
            defer { group.cancelAll() }
            let storeStarted = ContinuousClock.now
            do { try await registry.migrate(within: connectTimeout, describing: location) } catch {
                try await initializationFailed("State", "\(error)")
            }
            let storeReady = ContinuousClock.now
            // Registration only records versions (problems are logged, never fatal): the first
            // invocation need not wait for it.
            group.addTask { await SchemaRegistry.registerAtStartup(manifest.schemaRegistry, store: registry, logger: Logger(label: "capi.schemas")) }
            let sidecar = PushSidecar(manifest: manifest, push: push, registry: registry, graph: graph, logger: logger)
            group.addTask { try await sidecar.committer.run() }
            if let drift = sidecar.drift { group.addTask { try await drift.run() } }
            let loop = LambdaLoop(
                runtime: runtime,
                handler: PushHandler(server: sidecar.server, logger: logger),
                forwarder: sidecar.forwarder,
                store: registry,
                metrics: metrics,
                configuration: .init(forwardingMargin: graph.timeout + .milliseconds(250)),
                emit: { StandardStreams.printOutput($0) },
                logger: logger
            )
            logger.notice(
                "lambda runtime ready",
                metadata: [
                    "init_ms": "\(Self.milliseconds(ContinuousClock.now - started))",
                    "store_ms": "\(Self.milliseconds(storeReady - storeStarted))",
                    "graph_url": "\(GraphEndpoint.describe(graph.baseURL))",
                ]
            )
            do {
                try await loop.run {
                    logger.notice("first invocation answered", metadata: ["since_start_ms": "\(Self.milliseconds(ContinuousClock.now - started))"])
                }
            } catch {
                logger.critical("the Lambda Runtime API failed; exiting", metadata: ["reason": "\(error)"])
                throw ExitCode(1)
            }
        }
    }

    static func milliseconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        return String(format: "%.1f", Double(seconds) * 1000 + Double(attoseconds) / 1e15)
    }
}
