import ArgumentParser
import ConnectorRuntime
import GraphSandbox
import Logging
import ServiceLifecycle

struct SandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Run the local Graph API stand-in (for tests, demos and benchmarks; never Meta).",
        discussion: """
            Serves POST /{version}/{pixel}/events (JSON or form, Meta's validation and answers), \
            GET /{version}/{pixel}/stats, GET /{version}/dataset_quality, GET /{version}/oauth/access_token, \
            and GET /_sandbox/events?pixel_id=P listing what arrived with per-event_id counts.

            The Marketing API for one ad account, act_1122334455 (America/Los_Angeles, USD, two campaigns): \
            GET /{version}/act_1122334455 (timezone_name, currency), GET and POST (async) .../insights, \
            GET /{version}/{report_run_id} and .../insights. Spend is seeded per campaign and local day; \
            conversions are attributed from the events received (a seeded share, reported 0-3 days later).

            Faults: --faults rate=0.3,kinds=5xx+throttle+timeout+reset+invalid (seeded by --seed); also \
            reshape (read answers in a changed shape), reduce_data (insights refused with Meta's \
            "Please reduce the amount of data" error), warning (accepted batches answered with a message), \
            short_count (accepted batches answered with events_received one short) and slow (the real \
            answer, 3 s late: past the send timeout, within poll's read timeout). Without kinds \
            the rate applies to 5xx, throttle, timeout and reset; `--faults 0.3` is short for rate=0.3. \
            Point the connector at it with CAPI_GRAPH_URL=http://HOST:PORT.
            """
    )

    @Option(help: ArgumentHelp("Address to listen on.", valueName: "host:port"))
    var listen: String = "127.0.0.1:8089"

    @Option(help: ArgumentHelp("Fault plan, e.g. rate=0.3,kinds=5xx+throttle+timeout+reset+invalid.", valueName: "spec"))
    var faults: String?

    @Option(parsing: .unconditional, help: "Seed for fault injection and trace ids.")
    var seed: UInt64 = 1

    @Option(name: .customLong("access-token"), help: ArgumentHelp("Accept only this token (repeatable); default accepts any.", valueName: "token"))
    var accessTokens: [String] = []

    @Option(parsing: .unconditional, help: "Hour buckets per stats page (small, so paging is exercised).")
    var statsPageSize: Int = 24

    func validate() throws {
        guard ListenAddress(parsing: listen) != nil else {
            throw ValidationError(
                "--listen \(ListenAddress.refusal(of: listen)); expected HOST:PORT, e.g. 127.0.0.1:8089, [::1]:8089 or :8089 (every IPv4 interface; [::]:8089 for IPv6 too), found `\(listen)`"
            )
        }
        if let faults {
            do { _ = try FaultPlan(parsing: faults) } catch { throw ValidationError("--faults: \(error)") }
        }
        guard statsPageSize > 0 else { throw ValidationError("--stats-page-size must be positive") }
    }

    func run() async throws {
        JSONLogHandler.bootstrap(command: "sandbox")
        let address = ListenAddress(parsing: listen)!
        let plan = try faults.map { spec throws(FaultPlan.ParseError) in try FaultPlan(parsing: spec) } ?? .none
        let sandbox = GraphSandbox(
            configuration: .init(
                host: address.host,
                port: address.port,
                faults: plan,
                seed: seed,
                accessTokens: Set(accessTokens),
                statsPageSize: statsPageSize
            )
        )
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: sandbox)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: Logger(label: "capi.sandbox")
            )
        )
        do { try await group.run() } catch {
            guard let line = ListenFailure.line(error, address: address, option: "--listen") else { throw error }
            StandardStreams.printError(line)
            throw ExitCode(2)
        }
    }
}
