import CAPICore
import Foundation

/// Meta's rate-limit headers: `X-App-Usage`, `X-Business-Use-Case-Usage` and, on Ads Insights,
/// `x-fb-ads-insights-throttle` (`app_id_util_pct`, `acc_id_util_pct`), whose values are
/// percentages of the budget and may arrive as numbers or strings.
public struct UsageHeaders: Sendable, Equatable {
    /// The highest percentage across every counter in both headers (0 when absent).
    public var maxPercent: Double
    /// Minutes until access returns, from `estimated_time_to_regain_access` (0 when not throttled).
    public var regainAccessMinutes: Double

    public init(maxPercent: Double = 0, regainAccessMinutes: Double = 0) {
        self.maxPercent = maxPercent
        self.regainAccessMinutes = regainAccessMinutes
    }

    public init(appUsage: String?, businessUseCaseUsage: String?, insightsThrottle: String? = nil) {
        var percent = 0.0
        var regain = 0.0
        if let object = insightsThrottle.flatMap(Self.object) {
            for key in ["app_id_util_pct", "acc_id_util_pct"] { percent = max(percent, Self.number(object[key]) ?? 0) }
        }
        if let object = appUsage.flatMap(Self.object) {
            for key in ["call_count", "total_time", "total_cputime"] {
                percent = max(percent, Self.number(object[key]) ?? 0)
            }
        }
        if let object = businessUseCaseUsage.flatMap(Self.object) {
            for case let entries as [[String: Any]] in object.values {
                for entry in entries {
                    for key in ["call_count", "total_time", "total_cputime"] {
                        percent = max(percent, Self.number(entry[key]) ?? 0)
                    }
                    regain = max(regain, Self.number(entry["estimated_time_to_regain_access"]) ?? 0)
                }
            }
        }
        self.init(maxPercent: percent, regainAccessMinutes: regain)
    }

    /// Time to wait before the next call: the regain time when throttled, a proportional pause when
    /// usage passes `slowDownAt` percent, else none. Slowing down early keeps us from ever hitting 100.
    public func pacingDelay(slowDownAt: Double = 75, maximumPause: Duration = .seconds(60)) -> Duration {
        if regainAccessMinutes > 0 {
            return Bounded.duration(seconds: regainAccessMinutes * 60, maximum: RetryAfter.maximumSeconds) ?? .seconds(RetryAfter.maximumSeconds)
        }
        guard maxPercent >= slowDownAt else { return .zero }
        let share = min(1, (maxPercent - slowDownAt) / max(1, 100 - slowDownAt))
        return Bounded.duration(seconds: max(0.05, share) * maximumPause.inSeconds) ?? maximumPause
    }

    static func object(_ text: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    }

    /// A usage figure, kept to a sane range: percentages and minutes are never negative, NaN or
    /// infinite, and anything past a week reads as a week.
    static func number(_ value: Any?) -> Double? {
        let number: Double? =
            switch value {
            case let number as NSNumber: number.doubleValue
            case let text as String: Double(text.trimmingCharacters(in: .whitespaces))
            default: nil
            }
        guard let number, number.isFinite else { return nil }
        return min(max(number, 0), 10_080)
    }
}
