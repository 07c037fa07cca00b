import CAPICore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The Marketing API's slice the connector reads: `GET /act_{id}` (time zone, currency),
/// `GET /act_{id}/insights`, and async reports (`POST /act_{id}/insights`, `GET /{run}`,
/// `GET /{run}/insights`), with Meta's shapes: every number a string, `actions` per action type
/// with attribution windows, cursor paging, the throttle header, and Meta's refusals.
extension GraphSandbox {
    /// What an insights request asks for, from the query (GET) or the form body (POST). Lists and
    /// objects arrive as compact JSON, as Meta's SDK sends them; `fields` may also be comma-joined.
    struct InsightsQuery: Sendable {
        var level: String
        var fields: [String]
        var since: CalendarDate
        var until: CalendarDate
        var daily: Bool
        var windows: [String]
        var limit: Int
        var offset: Int

        static let levels: Set<String> = ["account", "campaign", "adset", "ad"]

        static func list(_ text: String?) -> [String]? {
            guard let text, !text.isEmpty else { return nil }
            if text.hasPrefix("["), case .array(let items)? = try? JSONValue(parsing: text) { return items.compactMap(\.stringValue) }
            return text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }

        /// Meta's message for a parameter it refuses.
        struct Refusal: Error {
            var message: String
        }

        static func parse(_ parameters: [String: String], today: CalendarDate, pageSize: Int) -> Result<InsightsQuery, Refusal> {
            let level = parameters["level"] ?? "account"
            guard levels.contains(level) else { return .failure(Refusal(message: "(#100) level must be one of account, campaign, adset, ad")) }
            let fields = list(parameters["fields"]) ?? ["spend", "impressions", "clicks", "date_start", "date_stop"]
            var since = today.adding(days: -30)
            var until = today.adding(days: -1)
            if let range = parameters["time_range"] {
                guard case .object(let object)? = try? JSONValue(parsing: range),
                    let first = object["since"]?.stringValue.flatMap({ CalendarDate(iso: $0) }),
                    let last = object["until"]?.stringValue.flatMap({ CalendarDate(iso: $0) })
                else { return .failure(Refusal(message: "(#100) time_range must be {\"since\":\"YYYY-MM-DD\",\"until\":\"YYYY-MM-DD\"}")) }
                since = first
                until = last
            }
            guard since <= until else { return .failure(Refusal(message: "(#100) time_range's since must not be after until")) }
            guard since >= today.adding(days: -37 * 31) else {
                return .failure(Refusal(message: "(#3018) The start date of the time range cannot be beyond 37 months from the current date"))
            }
            let increment = parameters["time_increment"] ?? "all_days"
            guard increment == "1" || increment == "all_days" else {
                return .failure(Refusal(message: "(#100) the stand-in supports time_increment=1 or all_days"))
            }
            let windows = list(parameters["action_attribution_windows"]) ?? []
            guard windows.allSatisfy({ MetaLimits.attributionWindows.contains($0) || MetaLimits.retiredAttributionWindows.contains($0) }) else {
                return .failure(Refusal(message: "(#100) action_attribution_windows has an unknown window"))
            }
            if let time = parameters["action_report_time"], !["impression", "conversion", "mixed"].contains(time) {
                return .failure(Refusal(message: "(#100) action_report_time must be impression, conversion or mixed"))
            }
            let limit = parameters["limit"].flatMap(Int.init) ?? pageSize
            let offset = parameters["after"].flatMap { Data(base64Encoded: $0) }.flatMap { Int(String(decoding: $0, as: UTF8.self)) } ?? 0
            return .success(
                InsightsQuery(
                    level: level,
                    fields: fields,
                    since: since,
                    until: until,
                    daily: increment == "1",
                    windows: windows.filter { $0 != "default" },
                    limit: max(1, min(limit, 5_000)),
                    offset: max(0, offset)
                )
            )
        }
    }

    func adAccount(_ node: String) -> SandboxAdAccount? {
        guard node.hasPrefix("act_") else { return nil }
        return configuration.adAccounts.first { $0.id == String(node.dropFirst(4)) }
    }

    /// Parameters of a GET (query) or a POST (query and form body).
    func parameters(_ request: Request) async throws -> [String: String] {
        var parameters = query(request)
        if request.method == .post {
            let body = try await request.body.collect(upTo: 1 << 20)
            let text = String(buffer: body)
            if let json = try? JSONValue(parsing: text), case .object(let object) = json {
                for (name, value) in object { parameters[name] = value.stringValue ?? value.serialized }
            } else {
                for (name, value) in URLEncodedForm.pairs(text) { parameters[name] = value }
            }
        }
        return parameters
    }

    /// Refuses a token without `ads_read` the way Meta does (a permission error, not an invalid token).
    func authorizedInsights(_ request: Request, parameters: [String: String]) async -> Response? {
        if let refused = await authorizedRead(request, parameters: parameters) { return refused }
        guard let allowed = configuration.adsReadTokens else { return nil }
        let bearer = bearerToken(request)
        guard let token = bearer ?? parameters["access_token"], allowed.contains(token) else {
            return await metaError(
                status: .forbidden,
                code: 200,
                subcode: nil,
                type: "OAuthException",
                message: "(#200) Ad account owner has NOT grant ads_management or ads_read permission"
            )
        }
        return nil
    }

    // MARK: GET /{version}/{node}

    func node(_ request: Request, context: SandboxRequestContext) async throws -> Response {
        let node = context.parameters.get("node") ?? ""
        let parameters = try await parameters(request)
        if let refused = await authorizedInsights(request, parameters: parameters) { return refused }
        if let account = adAccount(node) {
            return await json(
                .object([
                    "id": .string("act_\(account.id)"), "account_id": .string(account.id), "timezone_name": .string(account.timeZone),
                    "currency": .string(account.currency), "name": .string("Sandbox account \(account.id)"),
                ])
            )
        }
        guard let job = await store.pollJob(node) else { return await unknownObject(node) }
        return await json(
            .object([
                "id": .string(node), "account_id": .string(job.accountID), "async_status": .string(job.status),
                "async_percent_completion": .integer(Int64(job.percent)), "date_start": .string(job.query.since.description),
                "date_stop": .string(job.query.until.description),
            ])
        )
    }

    /// Graph's answer for an object it cannot load, or a request the object does not take.
    func unknownObject(_ node: String, method: HTTPRequest.Method = .get) async -> Response {
        await metaError(
            status: .badRequest,
            code: 100,
            subcode: 33,
            type: "GraphMethodException",
            message:
                "Unsupported \(method.rawValue.lowercased()) request. Object with ID '\(node)' does not exist, cannot be loaded due to missing permissions, or does not support this operation"
        )
    }

    // MARK: GET /{version}/{node}/insights, POST /{version}/act_{id}/insights

    func insights(_ request: Request, context: SandboxRequestContext) async throws -> Response {
        let node = context.parameters.get("node") ?? ""
        var parameters = try await parameters(request)
        if let refused = await authorizedInsights(request, parameters: parameters) { return refused }
        let account: SandboxAdAccount
        if let direct = adAccount(node) {
            account = direct
        } else if let job = await store.job(node), job.status == "Job Completed", let owner = adAccount("act_\(job.accountID)") {
            // An async report's result: the job's query, paged with this request's cursor.
            account = owner
            for (name, value) in job.parameters where parameters[name] == nil { parameters[name] = value }
        } else {
            return await unknownObject(node)
        }
        guard let zone = AccountTimeZone(identifier: account.timeZone) else { return await unknownObject(node) }
        let today = zone.day(of: configuration.clock.seconds())
        let query: InsightsQuery
        switch InsightsQuery.parse(parameters, today: today, pageSize: configuration.insightsPageSize) {
        case .success(let parsed): query = parsed
        case .failure(let refusal):
            return await metaError(status: .badRequest, code: 100, subcode: nil, type: "OAuthException", message: refusal.message)
        }
        if request.method == .post {
            let id = await store.startJob(accountID: account.id, query: query, parameters: parameters, maxDays: configuration.asyncMaxDays)
            return await json(.object(["report_run_id": .string(id)]))
        }
        let entities = query.level == "account" ? 1 : account.campaigns.count
        let days = query.daily ? query.since.days(to: min(query.until, today)) + 1 : 1
        let heavyPage = configuration.insightsMaxPageSize.map { query.limit > $0 } ?? false
        if adAccount(node) != nil, days * entities > configuration.insightsRowLimit || heavyPage {
            return await metaError(
                status: .badRequest,
                code: 1,
                subcode: nil,
                type: "OAuthException",
                message: "Please reduce the amount of data you're asking for, then retry your request"
            )
        }
        let rows = await insightRows(account: account, zone: zone, today: today, query: query)
        let page = Array(rows.dropFirst(query.offset).prefix(query.limit))
        var paging: JSONObject = [
            "cursors": .object([
                "before": .string(Data(String(query.offset).utf8).base64EncodedString()),
                "after": .string(Data(String(query.offset + page.count).utf8).base64EncodedString()),
            ])
        ]
        if query.offset + page.count < rows.count {
            let kept = parameters.filter { $0.key != "after" && $0.key != "access_token" }.sorted { $0.key < $1.key }.map {
                (name: $0.key, value: $0.value)
            }
            let after = (name: "after", value: Data(String(query.offset + page.count).utf8).base64EncodedString())
            paging["next"] = .string(
                pagingLinkOrigin(request) + request.uri.path + "?"
                    + URLEncodedForm.encoded(kept + linkToken(request, parameters: parameters) + [after])
            )
        }
        var response = await readAnswer(.object(["data": .array(page), "paging": .object(paging)]))
        let utilization = Int(configuration.insightsUtilization.rounded())
        response.headers[HTTPField.Name("x-fb-ads-insights-throttle")!] =
            #"{"app_id_util_pct":\#(utilization),"acc_id_util_pct":\#(utilization),"ads_api_access_tier":"standard_access"}"#
        return response
    }

    /// Every row of a query, in Meta's order (day, then entity); a day without spend or
    /// conversions has no row, a day after today has none either.
    func insightRows(account: SandboxAdAccount, zone: AccountTimeZone, today: CalendarDate, query: InsightsQuery) async -> [JSONValue] {
        let last = min(query.until, today)
        guard query.since <= last else { return [] }
        var attributions: [SandboxAdAccount.Attribution] = []
        let pixels = account.pixels.isEmpty ? await store.pixels() : account.pixels
        for pixel in pixels {
            for received in await store.received(pixelID: pixel) {
                if let attribution = account.attribution(
                    of: received.eventID,
                    name: received.eventName,
                    time: received.eventTime,
                    event: received.event,
                    seed: configuration.seed,
                    zone: zone
                ), attribution.visibleFrom <= today {
                    attributions.append(attribution)
                }
            }
        }
        let periods: [(CalendarDate, CalendarDate)] =
            query.daily
            ? (0...query.since.days(to: last)).map { (query.since.adding(days: $0), query.since.adding(days: $0)) } : [(query.since, last)]
        let groups: [[SandboxAdAccount.Campaign]] = query.level == "account" ? [account.campaigns] : account.campaigns.map { [$0] }
        var rows: [JSONValue] = []
        for (start, stop) in periods {
            for group in groups {
                let ids = Set(group.map(\.id))
                var cents: Int64 = 0
                var day = start
                while day <= stop {
                    for campaign in group { cents += account.spendCents(campaign: campaign, day: day, seed: configuration.seed) }
                    day = day.adding(days: 1)
                }
                let credited = attributions.filter { ids.contains($0.campaign.id) && $0.day >= start && $0.day <= stop }
                rows.append(
                    row(account: account, group: group, level: query.level, start: start, stop: stop, cents: cents, credited: credited, query: query)
                )
            }
        }
        return rows
    }

    func row(
        account: SandboxAdAccount,
        group: [SandboxAdAccount.Campaign],
        level: String,
        start: CalendarDate,
        stop: CalendarDate,
        cents: Int64,
        credited: [SandboxAdAccount.Attribution],
        query: InsightsQuery
    ) -> JSONValue {
        var fields: JSONObject = ["date_start": .string(start.description), "date_stop": .string(stop.description)]
        let impressions = cents / 4
        let wanted = Set(query.fields)
        func put(_ name: String, _ value: @autoclosure () -> JSONValue) { if wanted.contains(name) { fields[name] = value() } }
        put("account_id", .string(account.id))
        put("account_name", .string("Sandbox account \(account.id)"))
        put("account_currency", .string(account.currency))
        put("spend", .string(Self.money(Double(cents) / 100)))
        put("impressions", .string(String(impressions)))
        put("clicks", .string(String(impressions / 60)))
        if level != "account", let campaign = group.first {
            put("campaign_id", .string(campaign.id))
            put("campaign_name", .string(campaign.name))
            if level == "adset" || level == "ad" {
                put("adset_id", .string(campaign.id + "1"))
                put("adset_name", .string(campaign.name + " · all"))
            }
            if level == "ad" {
                put("ad_id", .string(campaign.id + "11"))
                put("ad_name", .string(campaign.name + " · ad"))
            }
        }
        // Conversion metrics withheld (privacy thresholds) leave `actions` out; reported ones are a
        // list, empty when nothing was attributed. The connector reads a missing list as "not
        // reported", never as zero.
        let withheld =
            Double(SandboxAdAccount.hash("withhold|\(group.map(\.id).joined())|\(start)", seed: configuration.seed) % 10_000) / 10_000
            < configuration.withheldShare
        if !withheld {
            put("actions", actionList(credited, query: query, values: false))
            put("action_values", actionList(credited.filter { $0.value != nil }, query: query, values: true))
        }
        return .object(fields)
    }

    /// `[{action_type, value, <window>: …}]` per action type of every credited event name.
    func actionList(_ credited: [SandboxAdAccount.Attribution], query: InsightsQuery, values: Bool) -> JSONValue {
        var items: [JSONValue] = []
        for name in Set(credited.map(\.eventName)).sorted() {
            let events = credited.filter { $0.eventName == name }
            func total(_ included: (SandboxAdAccount.Attribution) -> Bool) -> String {
                let chosen = events.filter(included)
                return values ? Self.money(chosen.reduce(0) { $0 + ($1.value ?? 0) }) : String(chosen.count)
            }
            let windows: [String: (SandboxAdAccount.Attribution) -> Bool] = [
                "1d_click": { $0.byClick && $0.withinOneDay }, "7d_click": { $0.byClick }, "28d_click": { $0.byClick },
                "1d_view": { !$0.byClick && $0.withinOneDay }, "7d_view": { !$0.byClick }, "1d_ev": { _ in false },
            ]
            for type in SandboxAdAccount.actionTypes[name] ?? [] {
                // The account's default attribution: 7-day click or 1-day view.
                var item: JSONObject = [
                    "action_type": .string(type), "value": .string(total { $0.byClick || $0.withinOneDay }),
                ]
                for window in query.windows { item[window] = .string(total(windows[window] ?? { _ in false })) }
                items.append(.object(item))
            }
        }
        return .array(items)
    }

    static func money(_ amount: Double) -> String {
        let cents = Int64((amount * 100).rounded())
        let fraction = abs(cents % 100)
        return "\(cents / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
