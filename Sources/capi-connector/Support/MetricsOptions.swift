import ArgumentParser
import ConnectorRuntime
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

/// `--metrics-listen` for the long-running jobs without an HTTP server of their own (the scheduled
/// `poll`, `flush` without `--once`): their counters would otherwise be counted and never seen.
struct MetricsOptions: ParsableArguments {
    @Option(
        name: .customLong("metrics-listen"),
        help: ArgumentHelp(
            "Serve GET /metrics (Prometheus) and GET /healthz here while running (e.g. 0.0.0.0:9464; port 0 picks one); not with --once.",
            valueName: "host:port"
        )
    )
    var metricsListen: String?

    var address: ListenAddress? { metricsListen.flatMap(ListenAddress.init(parsing:)) }

    /// Called from the command's `validate()`, which knows whether it runs once.
    func validate(once: Bool, command: String) throws {
        guard let metricsListen else { return }
        if once { throw ValidationError("--metrics-listen is for the long-running \(command): \(command) --once ends before a scrape would come") }
        if ListenAddress(parsing: metricsListen) == nil {
            throw ValidationError(
                "--metrics-listen \(ListenAddress.refusal(of: metricsListen)); expected HOST:PORT, [IPv6]:PORT or :PORT, found `\(metricsListen)`"
            )
        }
    }

    /// The Prometheus registry the process's metrics go to, when an endpoint was asked for.
    func bootstrap() -> PrometheusCollectorRegistry? {
        guard address != nil else { return nil }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }

    /// The endpoint as a service of the command's group, first, or nothing.
    func services(_ registry: PrometheusCollectorRegistry?, logger: Logger) -> [ServiceGroupConfiguration.ServiceConfiguration] {
        guard let address, let registry else { return [] }
        let endpoint = MetricsEndpoint.service(address: address, registry: registry, logger: Logger(label: "capi.http")) { bound in
            logger.notice("metrics endpoint listening", metadata: ["address": "\(bound)"])
        }
        return [.init(service: endpoint)]
    }

    /// Runs the command's services guarded as every long-running command's are
    /// (``ShutdownOptions/runGuarded(_:registry:logger:)``). An address the endpoint cannot listen
    /// on, or a store that fails to open or migrate, is one line and exit 2.
    func run(
        _ services: [ServiceGroupConfiguration.ServiceConfiguration],
        shutdown: ShutdownOptions,
        registry: any StateRegistry,
        logger: Logger
    ) async throws -> GroupEnding {
        do {
            return try await shutdown.runGuarded(services, registry: registry, logger: logger)
        } catch let error as StateError {
            throw StateOptions.storeFailure(error)
        } catch {
            if let address, let line = ListenFailure.line(error, address: address, option: "--metrics-listen") {
                StandardStreams.printError(line)
                throw ExitCode(2)
            }
            throw error
        }
    }
}
