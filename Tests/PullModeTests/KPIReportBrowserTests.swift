import Foundation
import PullMode
import TestSupport
import Testing

/// Headless Chromium, to run the HTML report's script as a reader's browser does.
///
/// CI installs Debian's `chromium` and sets `CAPI_TEST_BROWSER=1`; there the test must run.
/// Elsewhere it runs when `/usr/bin/chromium` exists.
enum Browser {
    static let path = "/usr/bin/chromium"
    static let required = ProcessInfo.processInfo.environment["CAPI_TEST_BROWSER"] == "1"
    static let available = FileManager.default.isExecutableFile(atPath: path)
    static var enabled: Bool { required || available }

    /// The page's DOM after its scripts ran.
    static func renderedDOM(of html: String) async throws -> String {
        let file = try TemporaryPaths.folder("browser").appendingPathComponent("page.html")
        try html.write(to: file, atomically: true, encoding: .utf8)
        let result = try await ProcessRunner.run(
            "/usr/bin/timeout",
            [
                "60", path, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(file.deletingLastPathComponent().path)/profile",
                "--dump-dom", file.absoluteString,
            ]
        )
        guard result.status == 0 else { throw TestSetupError("chromium exited \(result.status): \(result.stderr.suffix(400))") }
        return result.stdout
    }
}

extension KPIReportTests {
    @Test(
        "in a browser, the detail table sorts a column of days both ways, and numbers before blank cells either way",
        .enabled(if: Browser.enabled),
        .timeLimit(.minutes(2))
    )
    func detailSortsInBrowser() async throws {
        #expect(Browser.available, "chromium is not installed (apt-get install chromium)")
        // Clicks headings as a reader would, then writes each column's order where the DOM shows it.
        let probe = """
            <pre id="probe"></pre><script>
            var headings = Array.from(document.querySelectorAll('#detail th'));
            function click(name) { headings.find(function (th) { return th.textContent === name; }).click(); }
            function column(name) {
              var index = headings.findIndex(function (th) { return th.textContent === name; });
              return Array.from(document.querySelectorAll('#detail tbody tr')).map(function (row) { return row.cells[index].textContent; }).join('|');
            }
            var seen = [];
            click('period_start'); seen.push(column('period_start'));
            click('period_start'); seen.push(column('period_start'));
            click('cpa'); seen.push(column('cpa'));
            click('cpa'); seen.push(column('cpa'));
            document.getElementById('probe').textContent = seen.join('\\n');
            </script></body>
            """
        let page = KPIReportFormat.html(report(), title: "t", generatedAt: "now").replacingOccurrences(of: "</body>", with: probe)
        let dom = try await Browser.renderedDOM(of: page)
        let shown = try #require(dom.range(of: #"<pre id="probe">"#).map { dom[$0.upperBound...] }?.prefix { $0 != "<" })
        let orders = shown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(orders.count == 4, "\(shown)")
        guard orders.count == 4 else { return }
        let days = ["2026-11-24", "2026-11-24", "2026-11-25", "2026-11-25", "2026-11-26", "2026-11-26"]
        #expect(orders[0] == days.joined(separator: "|"))
        #expect(orders[1] == days.reversed().joined(separator: "|"), "a second click sorts the days the other way")
        #expect(orders[2] == "25.00|||||" && orders[3] == "25.00|||||", "blank cells last, whichever way")
    }
}
