import Foundation
import TestSupport
import Testing

/// Ad spend from outside: events through the sidecar into the stand-in, `poll --once` with an ad
/// account, `read ad_insights`, and Meta's own SDK reading the same days from the stand-in.
@Suite("ad_insights as processes", .serialized)
struct InsightsProcessTests {
    @Test(
        "read ad_insights equals what Meta's SDK reads (spend, attributed purchases) for the same days; a second poll changes nothing; the HTML report's title counts the account's days"
    )
    func sdkAgreesWithStoredRows() async throws {
        try await CLIRunner.withSandbox { sandboxPort in
            let graphURL = "http://127.0.0.1:\(sandboxPort)"
            let folder = TemporaryPaths.url("insights")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let state = "sqlite:" + folder.appendingPathComponent("state.sqlite").path
            var environment = ServeProcessTests.environment(graphURL: graphURL)
            environment["META_AD_ACCOUNT_ID"] = "act_1122334455"

            // Sixty purchases and leads over the last two days, signed, through the sidecar to the stand-in.
            let (serve, port) = try await CLIRunner.startListening(["serve", "--state", state], environment: environment)
            let now = Int(Date().timeIntervalSince1970)
            let events = (0..<60).map { index in
                """
                {"pixel_id":"555000111","event_name":"\(index % 2 == 0 ? "Purchase" : "Lead")","event_time":\(now - 600 - index * 2400),\
                "event_id":"ins-\(index)","action_source":"website","event_source_url":"https://shop.example/c",\
                "user_data":{"email":"buyer\(index)@example.com","client_user_agent":"Mozilla/5.0","client_ip_address":"203.0.113.9"},\
                "custom_data":{"value":\(10 + index),"currency":"USD"}}
                """
            }
            let (status, answer) = try await ServeProcessTests.post(
                #"{"data":[\#(events.joined(separator: ","))]}"#,
                to: "http://127.0.0.1:\(port)/v1/events/batch"
            )
            #expect(status == 202, "\(answer)")
            try await eventually("the stand-in received all sixty events") {
                try await ServeProcessTests.receivedCounts(sandboxPort: sandboxPort).count == 60
            }
            kill(serve.processIdentifier, SIGTERM)
            await serve.exited()

            let poll = try await CLIRunner.run(["poll", "--once", "--state", state], environment: environment)
            #expect(poll.status == 0, "\(poll.stderr)")
            let first = try await CLIRunner.run(["read", "ad_insights", "--state", state])
            let rows = first.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            let days = Set(rows.compactMap { $0["day"] as? String })
            #expect(rows.count == 56 && days.count == 28, "28 days of two campaigns: \(rows.count) rows")

            // Meta's SDK, over the same days.
            let script = CLIRunner.repositoryRoot.appendingPathComponent("Tests/CLITests/Scripts/meta_sdk_insights.py").path
            let sdk = try await ProcessRunner.run("/usr/bin/env", ["python3", script, graphURL, "1122334455", "t", days.min()!, days.max()!])
            #expect(sdk.status == 0, "\(sdk.stderr)")
            let steps = sdk.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            #expect(steps.first?["timezone_name"] as? String == "America/Los_Angeles")
            for step in steps.dropFirst() {
                let theirs = step["rows"] as? [[String: Any]] ?? []
                #expect(theirs.count == rows.count, "\(step["step"] ?? "") read \(theirs.count) rows")
                for row in theirs {
                    let key = "\(row["campaign_id"] ?? "")|\(row["date_start"] ?? "")"
                    let ours = try #require(rows.first { "\($0["level_id"] ?? "")|\($0["day"] ?? "")" == key })
                    #expect(Double(row["spend"] as? String ?? "") == ours["spend"] as? Double, "spend of \(key)")
                    let actions = row["actions"] as? [[String: Any]] ?? []
                    let purchases = actions.first { $0["action_type"] as? String == "offsite_conversion.fb_pixel_purchase" }
                    let ourPurchase = (ours["conversions"] as? [[String: Any]])?.first { $0["event_name"] as? String == "Purchase" }
                    #expect(Double(purchases?["value"] as? String ?? "0") == ourPurchase?["count"] as? Double, "purchases of \(key)")
                }
            }
            let attributed = rows.flatMap { ($0["conversions"] as? [[String: Any]]) ?? [] }.filter { $0["event_name"] as? String == "Purchase" }
                .compactMap { $0["count"] as? Double }.reduce(0, +)
            #expect(attributed > 0, "some of the thirty purchases are attributed")

            let again = try await CLIRunner.run(["poll", "--once", "--state", state], environment: environment)
            #expect(again.status == 0, "\(again.stderr)")
            let second = try await CLIRunner.run(["read", "ad_insights", "--state", state])
            func stable(_ text: String) -> [String] {
                text.split(separator: "\n").compactMap { line -> String? in
                    guard var object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
                    object["pulled_at"] = nil
                    object["run_id"] = nil
                    return (try? JSONSerialization.data(withJSONObject: object, options: .sortedKeys)).map { String(decoding: $0, as: UTF8.self) }
                }
            }
            let (before, after) = (stable(first.stdout), stable(second.stdout))
            #expect(
                after == before,
                "a second poll leaves the rows as they were: \(before.count) then \(after.count) rows; \(second.stdout.split(separator: "\n").first ?? "")"
            )

            // The HTML report's title names the days of its periods: the account's, in Los Angeles.
            let page = folder.appendingPathComponent("kpi.html").path
            let reconcile = try await CLIRunner.run([
                "reconcile", "--state", state, "--since", "-3d", "--until", "0d", "--format", "html", "--output", page,
            ])
            #expect(reconcile.status == 0, "\(reconcile.stderr)")
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = try #require(TimeZone(identifier: "America/Los_Angeles"))
            func day(_ offset: Int) throws -> String {
                let date = try #require(calendar.date(byAdding: .day, value: offset, to: Date()))
                let parts = calendar.dateComponents([.year, .month, .day], from: date)
                return String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
            }
            let html = try String(contentsOfFile: page, encoding: .utf8)
            let title = "<title>Ad spend and conversions, \(try day(-3)) to \(try day(-1)) (by day)</title>"
            #expect(html.contains(title), "\(html.prefix(300))")
            #expect(html.contains(">\(try day(-3).dropFirst(5))</text>"), "the first period on the chart is the title's first day")
        }
    }
}
