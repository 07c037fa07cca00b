import CAPICore
import Foundation

/// The KPI report as one self-contained page: totals first, then per account and event a chart of
/// spend (bars) with forwarded, received and attributed conversions (lines) over time, pending
/// periods shaded and divergent ones marked, then the detail table (sortable by any column).
/// Inline SVG, CSS and a few lines of script; nothing is fetched; light, and readable on paper.
extension KPIReportFormat {
    public static func html(_ report: KPIReport, title: String, generatedAt: String) -> String {
        var sections: [String] = []
        let accounts = Dictionary(grouping: report.rows) { $0.accountID ?? "" }
        for key in accounts.keys.sorted() {
            let rows = accounts[key]!.sorted { $0.periodStart < $1.periodStart }
            let names = Set(rows.flatMap { $0.events.map(\.eventName) }).sorted()
            let heading =
                key.isEmpty
                ? "Pixels without an ad account (\(escape(rows.first?.pixels.joined(separator: ", ") ?? "")), UTC days)"
                : "Ad account act_\(escape(key)) (\(escape(rows.first?.timeZone ?? "")), \(escape(rows.first?.currency ?? "")))"
            var charts: [String] = []
            for name in names
            where rows.contains(where: { row in
                row.events.contains { $0.eventName == name && ($0.forwarded > 0 || ($0.attributed ?? 0) > 0 || ($0.metaReceived ?? 0) > 0) }
            }) {
                charts.append(chart(rows, event: name, withSpend: !key.isEmpty))
            }
            sections.append(
                "<section><h2>\(heading)</h2>\(charts.isEmpty ? "<p class=\"muted\">No conversions in this range.</p>" : charts.joined())</section>"
            )
        }
        let detail = lines(report).map { line -> String in
            let isTotal = line[5].isEmpty
            let status = line[20]
            let classes = [isTotal ? "total" : "", status == "divergent" ? "divergent" : "", status.contains("pending") ? "pending" : ""]
                .filter { !$0.isEmpty }.joined(separator: " ")
            return "<tr class=\"\(classes)\">" + line.map { "<td>\(escape($0))</td>" }.joined() + "</tr>"
        }.joined(separator: "\n")
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(escape(title))</title>
            <style>
            :root { --ink: #1d2430; --muted: #667085; --line: #d0d5dd; --spend: #c7d7f2; --sent: #2563eb; --received: #059669; --attributed: #d97706; --bad: #dc2626; }
            body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); margin: 2rem auto; max-width: 1100px; padding: 0 1rem; background: #fff; }
            h1 { font-size: 1.5rem; margin-bottom: .25rem; } h2 { font-size: 1.15rem; margin: 2rem 0 .5rem; } h3 { font-size: 1rem; margin: 1rem 0 .25rem; }
            .muted { color: var(--muted); }
            .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: .75rem; margin: 1rem 0; }
            .card { border: 1px solid var(--line); border-radius: 8px; padding: .6rem .8rem; }
            .card b { display: block; font-size: 1.3rem; } .card span { color: var(--muted); font-size: 12px; }
            .legend { font-size: 12px; color: var(--muted); } .legend i { display: inline-block; width: 14px; height: 10px; margin: 0 4px 0 12px; vertical-align: middle; }
            svg { display: block; max-width: 100%; height: auto; } svg text { font: 11px system-ui, sans-serif; fill: var(--muted); }
            table { border-collapse: collapse; width: 100%; font-size: 12px; margin-top: 1rem; }
            th, td { border-bottom: 1px solid var(--line); padding: 4px 6px; text-align: right; white-space: nowrap; }
            th { cursor: pointer; background: #f8fafc; position: sticky; top: 0; } th:hover { background: #eef2f7; }
            td:nth-child(-n+6), th:nth-child(-n+6) { text-align: left; }
            tr.total td { font-weight: 600; background: #f8fafc; } tr.divergent td { background: #fdecec; } tr.pending td { color: var(--muted); }
            .scroll { overflow-x: auto; }
            @media print { body { margin: 0; max-width: none; } th { position: static; } .scroll { overflow: visible; } table { font-size: 9px; } section { break-inside: avoid; } }
            </style></head><body>
            <h1>\(escape(title))</h1>
            <p class="muted">Generated \(escape(generatedAt)). Spend is per ad account and period (in the account's currency and time zone); conversions are per event.
            Pending periods (not read yet, or not over) are shaded and never called divergent; periods older than Meta's 7-day /stats horizon that were never read show received as not available.</p>
            \(totals(report))
            \(sections.joined(separator: "\n"))
            <h2>Detail</h2>
            <p class="muted">Lines without an event carry the account's spend for the period; event lines carry no spend, so the column never counts spend twice. Click a heading to sort.</p>
            <div class="scroll"><table id="detail"><thead><tr>\(columns.map { "<th>\(escape($0))</th>" }.joined())</tr></thead><tbody>
            \(detail)
            </tbody></table></div>
            <script>
            // A cell sorts as a number only when all of it is one (parseFloat read a day such as
            // 2026-11-24 as 2026, so days never sorted); numbers come before text, blank cells last.
            function sortKey(text) {
              var t = text.trim();
              if (t === '') return [2, 0, ''];
              return isFinite(Number(t)) ? [0, Number(t), ''] : [1, 0, t];
            }
            document.querySelectorAll('#detail th').forEach(function (th, column) {
              th.addEventListener('click', function () {
                var body = th.closest('table').tBodies[0], rows = Array.from(body.rows), up = th.dataset.order !== 'up';
                rows.sort(function (a, b) {
                  var x = sortKey(a.cells[column].textContent), y = sortKey(b.cells[column].textContent);
                  if (x[0] !== y[0]) return x[0] - y[0];
                  var order = (x[1] - y[1]) || x[2].localeCompare(y[2]);
                  return up ? order : -order;
                });
                th.dataset.order = up ? 'up' : 'down';
                rows.forEach(function (row) { body.appendChild(row); });
              });
            });
            </script>
            </body></html>
            """
    }

    /// Cards: spend per currency, conversions sent, received, attributed, and CPA/ROAS per event.
    static func totals(_ report: KPIReport) -> String {
        var spend: [String: Double] = [:]
        var perEvent: [String: (sent: Int64, received: Int64, attributed: Double, value: Double, spend: Double)] = [:]
        // Sent against received where Meta's counts are in, over the same hours (see `forwardedInReceivedHours`).
        var compared: (sent: Int64, received: Int64) = (0, 0)
        for row in report.rows {
            if let amount = row.spend { spend[row.currency ?? "?", default: 0] += amount }
            for event in row.events {
                if event.received == .reported {
                    compared.sent += event.forwardedInReceivedHours
                    compared.received += event.metaReceived ?? 0
                }
                var totals = perEvent[event.eventName] ?? (0, 0, 0, 0, 0)
                totals.sent += event.forwarded
                totals.received += event.metaReceived ?? 0
                totals.attributed += event.attributed ?? 0
                totals.value += event.valueAttributed ?? 0
                if event.attributed != nil { totals.spend += row.spend ?? 0 }
                perEvent[event.eventName] = totals
            }
        }
        let sent = perEvent.values.reduce(0) { $0 + $1.sent }
        let received = perEvent.values.reduce(0) { $0 + $1.received }
        let attributed = perEvent.values.reduce(0) { $0 + $1.attributed }
        var cards = spend.keys.sorted().map { "<div class=\"card\"><span>Spend (\(escape($0)))</span><b>\(text(spend[$0]))</b></div>" }
        cards.append("<div class=\"card\"><span>Conversions sent</span><b>\(sent)</b></div>")
        cards.append("<div class=\"card\"><span>Received by Meta (server)</span><b>\(received)</b></div>")
        cards.append("<div class=\"card\"><span>Attributed by Meta</span><b>\(text(attributed, places: 0))</b></div>")
        cards.append(
            "<div class=\"card\"><span>Sent vs received</span><b>\(compared.sent == 0 ? "–" : text(Double(compared.received) * 100 / Double(compared.sent), places: 1) + " %")</b></div>"
        )
        for name in perEvent.keys.sorted() where perEvent[name]!.attributed > 0 {
            let totals = perEvent[name]!
            let cpa = totals.spend / totals.attributed
            // An event without values (a Lead) has no ROAS, which is not 0.
            let roas = totals.spend > 0 && totals.value > 0 ? text(totals.value / totals.spend) : "–"
            cards.append("<div class=\"card\"><span>\(escape(name)): CPA · ROAS</span><b>\(text(cpa)) · \(roas)</b></div>")
        }
        return "<div class=\"cards\">\(cards.joined())</div>"
    }

    /// Spend bars and three conversion lines for one event over the account's periods.
    static func chart(_ rows: [KPIReport.Row], event name: String, withSpend: Bool) -> String {
        let width = 1000.0
        let height = 260.0
        let (left, right, top, bottom) = (48.0, 56.0, 16.0, 40.0)
        let plotWidth = width - left - right
        let plotHeight = height - top - bottom
        let figures = rows.map { row in row.events.first { $0.eventName == name } }
        let peakCount = figures.map { max(Double($0?.forwarded ?? 0), Double($0?.metaReceived ?? 0), $0?.attributed ?? 0) }.max() ?? 0
        let peakSpend = rows.map { $0.spend ?? 0 }.max() ?? 0
        // Four grid intervals of a round step on each axis, whole for counts: a count axis read
        // 0, 1.2, 2.5, 3.8, 5 for a peak of 5.
        let countStep = roundStep(atLeast: peakCount / 4, whole: true)
        let spendStep = roundStep(atLeast: peakSpend / 4, whole: false)
        let (countTop, spendTop) = (countStep * 4, spendStep * 4)
        let step = plotWidth / Double(max(rows.count, 1))
        func x(_ index: Int) -> Double { left + step * (Double(index) + 0.5) }
        func y(_ count: Double) -> Double { top + plotHeight - count / countTop * plotHeight }
        var parts: [String] = []
        for (index, row) in rows.enumerated() {
            let pending = row.spendStatus == .pending || figures[index]?.received == .pending
            if pending {
                parts.append(
                    "<rect x=\"\(f(left + step * Double(index)))\" y=\"\(f(top))\" width=\"\(f(step))\" height=\"\(f(plotHeight))\" fill=\"#f1f5f9\"><title>\(row.periodStart): pending</title></rect>"
                )
            }
            if withSpend, let spend = row.spend {
                let barHeight = spend / spendTop * plotHeight
                parts.append(
                    "<rect x=\"\(f(x(index) - step * 0.3))\" y=\"\(f(top + plotHeight - barHeight))\" width=\"\(f(step * 0.6))\" height=\"\(f(barHeight))\" fill=\"var(--spend)\"><title>\(row.periodStart): spend \(text(spend)) \(escape(row.currency ?? ""))</title></rect>"
                )
            }
        }
        // A line through each run of periods that have the figure, broken where one has none (a
        // line across a pending day would draw a count no one read), and a dot on every period,
        // so a figure known for one period alone still shows, with its value on hover. Meta's count
        // is a ring, so an equal attributed count inside it leaves both in sight.
        func series(_ label: String, _ value: (KPIReport.EventFigures) -> Double?, color: String, dash: String, ring: Bool = false) -> String {
            var runs: [[String]] = [[]]
            var dots: [String] = []
            for (index, figure) in figures.enumerated() {
                guard let figure, let count = value(figure) else {
                    if !(runs.last?.isEmpty ?? true) { runs.append([]) }
                    continue
                }
                runs[runs.count - 1].append("\(f(x(index))),\(f(y(count)))")
                dots.append(
                    "<circle cx=\"\(f(x(index)))\" cy=\"\(f(y(count)))\" \(ring ? "r=\"6\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"" : "r=\"3.5\" fill=\"\(color)\"")><title>\(rows[index].periodStart): \(label) \(text(count, places: count.rounded() == count ? 0 : 2))</title></circle>"
                )
            }
            let lines = runs.filter { $0.count > 1 }.map {
                "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" stroke-dasharray=\"\(dash)\" points=\"\($0.joined(separator: " "))\"/>"
            }
            return (lines + dots).joined()
        }
        parts.append(series("forwarded", { Double($0.forwarded) }, color: "var(--sent)", dash: ""))
        parts.append(
            series(
                "received by Meta",
                { $0.received == .reported ? $0.metaReceived.map(Double.init) : nil },
                color: "var(--received)",
                dash: "6 3",
                ring: true
            )
        )
        parts.append(series("attributed by Meta", { $0.attribution == .reported ? $0.attributed : nil }, color: "var(--attributed)", dash: "2 3"))
        for (index, figure) in figures.enumerated() where figure?.diverges == true {
            parts.append(
                "<path d=\"M\(f(x(index) - 6)),\(f(top + 10)) l6,-10 l6,10 z\" fill=\"var(--bad)\"><title>\(rows[index].periodStart): sent and received differ</title></path>"
            )
        }
        // Axes: counts on the left, spend on the right, period labels below (at most ~12).
        parts.append(
            "<line x1=\"\(f(left))\" y1=\"\(f(top + plotHeight))\" x2=\"\(f(width - right))\" y2=\"\(f(top + plotHeight))\" stroke=\"#98a2b3\"/>"
        )
        for tick in 0...4 {
            let share = Double(tick) / 4
            let ty = top + plotHeight - share * plotHeight
            parts.append("<line x1=\"\(f(left))\" y1=\"\(f(ty))\" x2=\"\(f(width - right))\" y2=\"\(f(ty))\" stroke=\"#eef2f6\"/>")
            parts.append("<text x=\"\(f(left - 6))\" y=\"\(f(ty + 4))\" text-anchor=\"end\">\(text(countTop * share, places: 0))</text>")
            if withSpend {
                let places = spendStep.rounded() == spendStep ? 0 : 2
                parts.append("<text x=\"\(f(width - right + 6))\" y=\"\(f(ty + 4))\">\(text(spendTop * share, places: places))</text>")
            }
        }
        let every = max(1, rows.count / 12)
        for (index, row) in rows.enumerated() where index % every == 0 {
            parts.append(
                "<text x=\"\(f(x(index)))\" y=\"\(f(height - bottom + 16))\" text-anchor=\"middle\">\(String(row.periodStart.description.dropFirst(5)))</text>"
            )
        }
        parts.append("<text x=\"\(f(left))\" y=\"\(f(height - 4))\">conversions (left)\(withSpend ? " · spend (right)" : "")</text>")
        let legend =
            (withSpend ? "<i style=\"background:var(--spend)\"></i>spend" : "")
            + "<i style=\"background:var(--sent)\"></i>forwarded<i style=\"background:var(--received)\"></i>received by Meta<i style=\"background:var(--attributed)\"></i>attributed by Meta<i style=\"background:#f1f5f9;border:1px solid #d0d5dd\"></i>pending<i style=\"background:var(--bad)\"></i>divergent"
        return """
            <h3>\(escape(name))</h3><div class="legend">\(legend)</div>
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(Int(width)) \(Int(height))" role="img" aria-label="\(escape(name)): spend and conversions over time">\(parts.joined())</svg>
            """
    }

    static func f(_ value: Double) -> String { String(format: "%.1f", value) }

    /// The smallest round step (1, 2, 2.5 or 5 times a power of ten) of at least `value`; with
    /// `whole`, never a fraction (counts). 1 when there is nothing to show.
    static func roundStep(atLeast value: Double, whole: Bool) -> Double {
        guard value.isFinite, value > 0 else { return 1 }
        if whole && value <= 1 { return 1 }
        var magnitude = 1.0
        while magnitude * 10 <= value { magnitude *= 10 }
        while magnitude > value { magnitude /= 10 }
        for factor in [1, 2, 2.5, 5, 10] {
            let step = factor * magnitude
            if step >= value && (!whole || step.rounded() == step) { return step }
        }
        return 10 * magnitude
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }
}
