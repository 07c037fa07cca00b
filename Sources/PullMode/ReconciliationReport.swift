import CAPICore
import Foundation

/// Renders a ``Reconciliation`` for people (table, HTML with an inline SVG chart) and for tools
/// (CSV, JSON). Pure string building; the HTML needs no external assets.
public enum ReconciliationReport {
    static let header = [
        "pixel_id", "event_name", "period_start", "forwarded", "dead_lettered", "pending", "meta_received", "difference", "difference_pct",
        "diverges",
    ]

    static func cells(_ row: Reconciliation.Row) -> [String] {
        [
            row.pixelID, row.eventName, row.periodStart.iso8601, String(row.forwarded), String(row.deadLettered),
            String(row.pending), String(row.metaReceived), String(row.difference), row.differencePercent.map { String(format: "%.1f", $0) } ?? "",
            row.diverges ? "yes" : "no",
        ]
    }

    public static func table(_ report: Reconciliation) -> String {
        let lines = [header] + report.rows.map(cells)
        let widths = header.indices.map { column in lines.map { $0[column].count }.max() ?? 0 }
        return lines.map { line in
            line.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    public static func csv(_ report: Reconciliation) -> String {
        func quoted(_ field: String) -> String {
            field.contains { ",\"\n".contains($0) } ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
        }
        return ([header] + report.rows.map(cells)).map { $0.map(quoted).joined(separator: ",") }.joined(separator: "\n")
    }

    public static func json(_ report: Reconciliation) -> String {
        JSONValue.array(
            report.rows.map { row in
                .object([
                    "pixel_id": .string(row.pixelID), "event_name": .string(row.eventName),
                    "period_start": .string(row.periodStart.iso8601),
                    "forwarded": .integer(row.forwarded), "dead_lettered": .integer(row.deadLettered), "pending": .integer(row.pending),
                    "meta_received": .integer(row.metaReceived), "difference": .integer(row.difference),
                    "difference_pct": row.differencePercent.map { .number(($0 * 10).rounded() / 10) } ?? .null, "diverges": .bool(row.diverges),
                ])
            }
        ).serialized
    }

    public static func html(_ report: Reconciliation, title: String) -> String {
        var totals: [UnixSeconds: (sent: Int64, received: Int64)] = [:]
        for row in report.rows {
            totals[row.periodStart, default: (0, 0)].sent += row.forwarded
            totals[row.periodStart, default: (0, 0)].received += row.metaReceived
        }
        let periods = totals.keys.sorted()
        let width = 760.0
        let height = 260.0
        let margin = 40.0
        let peak = Double(max(1, totals.values.map { max($0.sent, $0.received) }.max() ?? 1))
        func x(_ index: Int) -> Double {
            margin + (periods.count > 1 ? Double(index) * (width - 2 * margin) / Double(periods.count - 1) : (width - 2 * margin) / 2)
        }
        func y(_ value: Int64) -> Double { height - margin - Double(value) / peak * (height - 2 * margin) }
        func line(_ value: (Int64, Int64) -> Int64) -> String {
            periods.enumerated().map { index, period in
                String(format: "%.1f,%.1f", x(index), y(value(totals[period]!.sent, totals[period]!.received)))
            }.joined(separator: " ")
        }
        let sentPoints = line { sent, _ in sent }
        let receivedPoints = line { _, received in received }
        let labels = periods.enumerated().filter { $0.offset % max(1, periods.count / 6) == 0 }.map { index, period in
            "<text x=\"\(String(format: "%.1f", x(index)))\" y=\"\(height - 12)\" font-size=\"10\" text-anchor=\"middle\">\(escape(String(period.iso8601.prefix(16))))</text>"
        }.joined()
        let rows = report.rows.map { row in
            "<tr class=\"\(row.diverges ? "diverges" : "")\">" + cells(row).map { "<td>\(escape($0))</td>" }.joined() + "</tr>"
        }.joined(separator: "\n")
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
            <style>
            body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
            table { border-collapse: collapse; font-size: 13px; } th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
            td:nth-child(-n+3), th:nth-child(-n+3) { text-align: left; } tr.diverges td { background: #fde2e1; }
            .legend span { display: inline-block; width: 12px; height: 3px; margin: 0 4px 3px 12px; }
            </style></head><body>
            <h1>\(escape(title))</h1>
            <p>Events the connector forwarded vs events Meta reports receiving from servers, per period. Rows beyond the threshold are highlighted.</p>
            <div class="legend"><span style="background:#1f77b4"></span>forwarded<span style="background:#d62728"></span>received by Meta (server)</div>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" role="img" aria-label="forwarded vs received over time">
            <line x1="\(margin)" y1="\(height - margin)" x2="\(width - margin)" y2="\(height - margin)" stroke="#999"/>
            <line x1="\(margin)" y1="\(margin)" x2="\(margin)" y2="\(height - margin)" stroke="#999"/>
            <text x="4" y="\(margin)" font-size="10">\(Int(peak))</text>
            <polyline fill="none" stroke="#1f77b4" stroke-width="2" points="\(sentPoints)"/>
            <polyline fill="none" stroke="#d62728" stroke-width="2" stroke-dasharray="5 3" points="\(receivedPoints)"/>
            \(labels)
            </svg>
            <table><thead><tr>\(header.map { "<th>\($0)</th>" }.joined())</tr></thead><tbody>
            \(rows)
            </tbody></table>
            </body></html>
            """
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }
}
