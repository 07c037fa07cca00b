import CAPICore
import Foundation

/// A ``KPIReport`` for tools (JSON, CSV with stable column names) and for people (a table, and a
/// self-contained HTML page with inline SVG charts and CSS, readable when printed). Pure.
public enum KPIReportFormat {
    // MARK: JSON

    /// One object per account (or unclaimed pixels) and period; spend on it, never on its events.
    public static func json(_ report: KPIReport) -> String {
        JSONValue.array(report.rows.map(object)).serialized
    }

    static func number(_ value: Double?, places: Int = 2) -> JSONValue {
        guard let value, value.isFinite else { return .null }
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        return .number((value * scale).rounded() / scale)
    }

    static func object(_ row: KPIReport.Row) -> JSONValue {
        .object([
            "account_id": row.accountID.map(JSONValue.string) ?? .null,
            "pixels": .array(row.pixels.map(JSONValue.string)),
            "time_zone": .string(row.timeZone),
            "currency": row.currency.map(JSONValue.string) ?? .null,
            "period_start": .string(row.periodStart.description),
            "period_end": .string(row.periodEnd.description),
            "spend": number(row.spend),
            "impressions": row.impressions.map(JSONValue.integer) ?? .null,
            "clicks": row.clicks.map(JSONValue.integer) ?? .null,
            "spend_status": .string(row.spendStatus.rawValue),
            "events": .array(
                row.events.map { event in
                    .object([
                        "event_name": .string(event.eventName),
                        "forwarded": .integer(event.forwarded),
                        "forwarded_in_received_hours": .integer(event.forwardedInReceivedHours),
                        "dead_lettered": .integer(event.deadLettered),
                        "queued": .integer(event.queued),
                        "value_sent": .object(JSONObject(event.valueSent.mapValues { number($0) })),
                        "meta_received": event.metaReceived.map(JSONValue.integer) ?? .null,
                        "received_status": .string(event.received.rawValue),
                        "attributed": number(event.attributed),
                        "attributed_windows": .object(JSONObject(event.attributedWindows.mapValues { number($0) })),
                        "value_attributed": number(event.valueAttributed),
                        "attribution_status": .string(event.attribution.rawValue),
                        "cpa": number(event.cpa),
                        "cost_per_forwarded": number(event.costPerForwarded),
                        "roas": number(event.roas, places: 4),
                        "loss_forwarded_to_received_pct": number(event.lossForwardedToReceived, places: 1),
                        "loss_received_to_attributed_pct": number(event.lossReceivedToAttributed, places: 1),
                        "diverges": .bool(event.diverges),
                    ])
                }
            ),
        ])
    }

    // MARK: CSV and table

    /// Stable column names. A line with `event_name` empty carries the account's spend for the
    /// period; event lines leave spend empty, so summing the column never counts spend twice.
    public static let columns = [
        "account_id", "period_start", "period_end", "time_zone", "currency", "event_name", "spend", "impressions", "clicks", "forwarded",
        "dead_lettered", "meta_received", "attributed", "value_sent", "value_attributed", "cpa", "cost_per_forwarded", "roas",
        "loss_forwarded_to_received_pct", "loss_received_to_attributed_pct", "status",
    ]

    static func text(_ value: Double?, places: Int = 2) -> String {
        guard let value, value.isFinite else { return "" }
        return String(format: "%.\(places)f", value)
    }

    static func lines(_ report: KPIReport) -> [[String]] {
        var lines: [[String]] = []
        for row in report.rows {
            let base = [row.accountID ?? "", row.periodStart.description, row.periodEnd.description, row.timeZone, row.currency ?? ""]
            lines.append(
                base + [
                    "", text(row.spend), row.impressions.map(String.init) ?? "", row.clicks.map(String.init) ?? "", "", "", "", "", "", "", "", "",
                    "",
                    "", "", row.spendStatus.rawValue,
                ]
            )
            for event in row.events {
                let sent = event.valueSent.keys.sorted().map { "\(text(event.valueSent[$0])) \($0)" }.joined(separator: "; ")
                let status: String =
                    event.diverges
                    ? "divergent"
                    : event.received == .reported && event.attribution == .reported
                        ? "reported" : "received \(event.received.rawValue), attributed \(event.attribution.rawValue)"
                lines.append(
                    base + [
                        event.eventName, "", "", "", String(event.forwarded), String(event.deadLettered), event.metaReceived.map(String.init) ?? "",
                        text(event.attributed, places: 0), sent, text(event.valueAttributed), text(event.cpa), text(event.costPerForwarded),
                        text(event.roas, places: 4), text(event.lossForwardedToReceived, places: 1), text(event.lossReceivedToAttributed, places: 1),
                        status,
                    ]
                )
            }
        }
        return lines
    }

    public static func csv(_ report: KPIReport) -> String {
        ([columns] + lines(report)).map { $0.map(csvCell).joined(separator: ",") }.joined(separator: "\n")
    }

    /// A field as RFC 4180 writes it. Text a spreadsheet would run as a formula (starting with `=`,
    /// `+`, `-` or `@`, and not a number) gets a leading `'`, as OWASP advises for CSV: event names
    /// come from the apps that send events, and this file is opened in spreadsheets. The JSON
    /// format keeps every name as sent.
    static func csvCell(_ field: String) -> String {
        var text = field
        if let first = text.first, "=+-@".contains(first), Double(text) == nil { text = "'" + text }
        // Bytes, not Characters: "\r\n" is one Character, equal to neither "\r" nor "\n".
        let needsQuotes = text.utf8.contains { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 0x0A || $0 == 0x0D }
        return needsQuotes ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
    }

    public static func table(_ report: KPIReport) -> String {
        let shown = [0, 1, 4, 5, 6, 9, 10, 11, 12, 15, 17, 20]
        let all = [columns] + lines(report)
        let picked = all.map { line in shown.map { line[$0] } }
        let widths = shown.indices.map { column in picked.map { $0[column].count }.max() ?? 0 }
        // The last column is not padded: no line ends in blanks.
        return picked.map { line in
            line.enumerated().map {
                $0.offset == line.count - 1 ? $0.element : $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0)
            }
            .joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
