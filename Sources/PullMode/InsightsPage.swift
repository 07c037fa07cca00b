import CAPICore
import ConnectorRuntime

/// One page of `GET /act_{id}/insights` (`time_increment=1`) as `ad_insights` records.
///
/// Every number arrives as a string. `actions` and `action_values` hold one entry per action type,
/// and the purchase types overlap (`offsite_conversion.fb_pixel_purchase`, `purchase`,
/// `omni_purchase` count the same conversions), so each event name takes exactly the one type the
/// manifest maps it to. A row without `actions` is read as conversion metrics withheld: its counts
/// are "not reported" (`nil`), never 0 (Meta also leaves the list out when nothing was attributed,
/// so an unknown is never reported as a zero); a row whose `actions` lack the mapped type
/// attributed none (0).
public struct InsightsPage: Sendable {
    public var accountID: String
    public var level: String
    public var currency: String
    public var timeZone: String?
    public var pixels: [String]?
    /// Event name → action type.
    public var actionTypes: [String: String]

    public init(accountID: String, level: String, currency: String, timeZone: String? = nil, pixels: [String]? = nil, actionTypes: [String: String]) {
        self.accountID = accountID
        self.level = level
        self.currency = currency
        self.timeZone = timeZone
        self.pixels = pixels
        self.actionTypes = actionTypes
    }

    /// The fields asked for at `level`.
    public static func fields(level: String) -> [String] {
        var fields = ["account_id", "account_currency", "spend", "impressions", "clicks", "actions", "action_values", "date_start", "date_stop"]
        if level != "account" { fields += ["\(level)_id", "\(level)_name"] }
        return fields
    }

    public func records(from body: JSONValue) throws(AnswerShapeProblem) -> [AdInsightsRecord] {
        guard case .array(let rows)? = body["data"] else { throw problem("data", "an array") }
        return try rows.map { row throws(AnswerShapeProblem) in try record(row) }
    }

    func record(_ row: JSONValue) throws(AnswerShapeProblem) -> AdInsightsRecord {
        guard let start = row["date_start"]?.stringValue.flatMap({ CalendarDate(iso: $0) }) else {
            throw problem("data[].date_start", "a YYYY-MM-DD date")
        }
        guard row["date_stop"]?.stringValue.flatMap({ CalendarDate(iso: $0) }) == start else {
            throw problem("data[].date_stop", "the same day as date_start (time_increment=1)")
        }
        let levelID: String
        if level == "account" {
            levelID = accountID
        } else {
            guard let id = row["\(level)_id"]?.stringValue, !id.isEmpty else { throw problem("data[].\(level)_id", "a non-empty string") }
            levelID = id
        }
        let actions = try entries(row["actions"], field: "actions")
        let values = try entries(row["action_values"], field: "action_values")
        let conversions = actionTypes.keys.sorted().map { eventName -> AdConversion in
            let type = actionTypes[eventName]!
            guard let actions else {
                return AdConversion(eventName: eventName, actionType: type, count: nil, value: nil, windows: [:], valueWindows: [:])
            }
            let counted = actions[type]
            let valued = values?[type]
            return AdConversion(
                eventName: eventName,
                actionType: type,
                count: counted?.value ?? 0,
                value: values == nil ? nil : (valued?.value ?? 0),
                windows: counted?.windows ?? [:],
                valueWindows: valued?.windows ?? [:]
            )
        }
        return AdInsightsRecord(
            accountID: accountID,
            level: level,
            levelID: levelID,
            levelName: level == "account" ? nil : row["\(level)_name"]?.stringValue,
            day: start,
            currency: row["account_currency"]?.stringValue ?? currency,
            timeZone: timeZone,
            pixels: pixels,
            spend: try number(row["spend"], field: "data[].spend"),
            impressions: try count(row["impressions"], field: "data[].impressions"),
            clicks: try count(row["clicks"], field: "data[].clicks"),
            conversions: conversions
        )
    }

    struct Entry {
        var value: Double
        var windows: [String: Double]
    }

    /// `[{action_type, value, <window>: …}]` by action type; `nil` when the field is absent.
    func entries(_ value: JSONValue?, field: String) throws(AnswerShapeProblem) -> [String: Entry]? {
        switch value {
        case nil, .null?: return nil
        case .array(let items)?:
            var byType: [String: Entry] = [:]
            for item in items {
                guard let type = item["action_type"]?.stringValue else { throw problem("data[].\(field)[].action_type", "a string") }
                guard let total = try number(item["value"], field: "data[].\(field)[].value") else {
                    throw problem("data[].\(field)[].value", "a number")
                }
                var windows: [String: Double] = [:]
                for (key, figure) in item.objectValue ?? [:] where key != "action_type" && key != "value" {
                    if let count = try number(figure, field: "data[].\(field)[].\(key)") { windows[key] = count }
                }
                byType[type] = Entry(value: total, windows: windows)
            }
            return byType
        default:
            throw problem("data[].\(field)", "an array")
        }
    }

    /// A figure as Meta sends it (a string, sometimes a number); absent is `nil`.
    func number(_ value: JSONValue?, field: String) throws(AnswerShapeProblem) -> Double? {
        let figure: Double? =
            switch value {
            case nil, .null?: nil
            case .string(let text)?: Double(text).flatMap { $0.isFinite ? $0 : nil }
            case .integer(let number)?: Double(number)
            case .number(let number)?: number.isFinite ? number : nil
            default: .nan
            }
        if let figure, figure.isNaN || figure < 0 { throw problem(field, "a non-negative number") }
        if value != nil, value != .null, figure == nil { throw problem(field, "a number") }
        return figure
    }

    /// A whole count, rounded: Meta sends counts as strings, sometimes with a fraction. One beyond
    /// `Int64` is a shape problem, not a trap.
    func count(_ value: JSONValue?, field: String) throws(AnswerShapeProblem) -> Int64? {
        guard let figure = try number(value, field: field) else { return nil }
        guard let count = Bounded.int64(figure.rounded()) else { throw problem(field, "a count within 64-bit range") }
        return count
    }

    func problem(_ field: String, _ expectation: String) -> AnswerShapeProblem {
        AnswerShapeProblem(answer: "insights", field: field, expectation: expectation)
    }
}
