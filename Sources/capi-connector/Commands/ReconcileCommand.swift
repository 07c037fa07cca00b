import ArgumentParser
import CAPICore
import ConnectorRuntime
import Foundation
import PullMode

struct ReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Compare what was forwarded and dead-lettered with what Meta reports receiving, per pixel, event and period.",
        discussion: """
            Reads delivered_events (push) and delivery_statuses (pull, server-only counts) from the state
            registry. Periods whose difference exceeds --threshold percent are flagged. --format html
            writes a self-contained report with a chart (to --output, or standard output).

            Example: capi-connector reconcile --since 2026-11-16 --until 2026-11-23 --by day --format table
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case table, csv, json, html }

    @OptionGroup var state: StateOptions
    @Option(help: ArgumentHelp("Start (ISO 8601 time, date or Unix seconds).", valueName: "time")) var since: String
    @Option(help: ArgumentHelp("End, exclusive (ISO 8601 time, date or Unix seconds).", valueName: "time")) var until: String
    @Option(help: "Period: hour or day.") var by: String = "hour"
    @Option(help: "Output format: table, csv, json or html.") var format: Format = .table
    @Option(help: "Flag periods whose difference exceeds this percentage.") var threshold: Double = 5
    @Option(help: ArgumentHelp("Write the report here instead of standard output.", valueName: "path")) var output: String?

    func validate() throws {
        guard let from = UnixSeconds(parsing: since), let to = UnixSeconds(parsing: until) else {
            throw ValidationError("--since and --until take an ISO 8601 time, a date (2026-11-20) or Unix seconds")
        }
        guard Reconciliation.Granularity(rawValue: by) != nil else { throw ValidationError("--by must be hour or day") }
        guard threshold.isFinite, (0...1_000_000).contains(threshold) else {
            throw ValidationError("--threshold must be a percentage from 0 upwards, such as 5")
        }
        guard from < to else { throw ValidationError("--since must be before --until") }
    }

    func run() async throws {
        let (delivered, statuses) = try await state.withRegistry { registry in
            (try await registry.deliveredEvents(since: nil), try await registry.deliveryStatuses(since: nil))
        }
        let report = Reconciliation(
            delivered: delivered,
            statuses: statuses,
            since: UnixSeconds(parsing: since)!,
            until: UnixSeconds(parsing: until)!,
            by: Reconciliation.Granularity(rawValue: by)!,
            threshold: threshold
        )
        let text =
            switch format {
            case .table: ReconciliationReport.table(report)
            case .csv: ReconciliationReport.csv(report)
            case .json: ReconciliationReport.json(report)
            case .html: ReconciliationReport.html(report, title: "capi-connector reconciliation \(since) – \(until)")
            }
        if let output {
            try text.write(toFile: output, atomically: true, encoding: .utf8)
            StandardStreams.printError("wrote \(output) (\(report.rows.count) rows, \(report.rows.filter(\.diverges).count) diverging)")
        } else {
            StandardStreams.printOutput(text)
        }
    }
}
