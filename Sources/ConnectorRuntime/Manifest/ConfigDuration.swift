import CAPICore
import Foundation

/// Parses the durations a manifest may hold.
///
/// Two spellings are accepted because connector engineers use both: ISO 8601 (`PT10M`, `P1D`,
/// `PT1H30M`, as Airbyte's declarative cursors write `step` and `lookback_window`) and the short
/// forms operators type (`1500ms`, `1.5s`, `10m`, `1h`, `7d`). Anything longer than
/// ``Bounded/maximumSeconds`` (ten years), negative or not finite is refused, so no later sum or
/// conversion of a configured duration can overflow.
public enum ConfigDuration {
    public static func parse(_ text: String) -> Duration? {
        let text = text.trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty else { return nil }
        if text.first == "P" || text.first == "p" {
            return parseISO8601(text.uppercased())
        }
        let units: [(suffix: String, seconds: Double)] = [
            ("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400),
        ]
        for unit in units where text.hasSuffix(unit.suffix) {
            let number = text.dropLast(unit.suffix.count)
            guard let value = Double(number) else { return nil }
            return Bounded.duration(seconds: value * unit.seconds)
        }
        return nil
    }

    /// `duration` in the largest short form that writes it exactly (`1d`, `10m`, `1500ms`), for
    /// messages that name a limit as the manifest would write it, not as `86400.0 seconds`.
    public static func written(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1_000 + duration.components.attoseconds / 1_000_000_000_000_000
        guard milliseconds != 0 else { return "0s" }
        for (suffix, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)] where milliseconds % size == 0 {
            return "\(milliseconds / size)\(suffix)"
        }
        return "\(milliseconds)ms"
    }

    private static func parseISO8601(_ text: String) -> Duration? {
        var rest = Substring(text.dropFirst())
        var seconds: Double = 0
        var inTime = false
        var sawComponent = false
        while !rest.isEmpty {
            if rest.first == "T" {
                guard !inTime else { return nil }
                inTime = true
                rest = rest.dropFirst()
                continue
            }
            let digits = rest.prefix { $0.isNumber || $0 == "." }
            guard !digits.isEmpty, let value = Double(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            guard let designator = rest.first else { return nil }
            rest = rest.dropFirst()
            switch (inTime, designator) {
            case (false, "W"): seconds += value * 604_800
            case (false, "D"): seconds += value * 86_400
            case (true, "H"): seconds += value * 3_600
            case (true, "M"): seconds += value * 60
            case (true, "S"): seconds += value
            default: return nil
            }
            sawComponent = true
        }
        guard sawComponent else { return nil }
        return Bounded.duration(seconds: seconds)
    }
}
