import CAPICore
import Foundation

/// Parses the durations a manifest may hold.
///
/// Two spellings are accepted because connector engineers use both: ISO 8601 (`PT10M`, `P1D`,
/// `PT1H30M`, as Airbyte's declarative cursors write `step` and `lookback_window`) and the short
/// forms operators type (`1500ms`, `1.5s`, `10m`, `1h`, `7d`, and `1h30m` as Go writes it).
/// Anything longer than ``Bounded/maximumSeconds`` (ten years), negative or not finite is
/// refused, so no later sum or conversion of a configured duration can overflow.
public enum ConfigDuration {
    public static func parse(_ text: String) -> Duration? {
        let text = text.trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty else { return nil }
        if text.first == "P" || text.first == "p" {
            return parseISO8601(text.uppercased())
        }
        return parseShortForm(Substring(text))
    }

    /// `1500ms`, `1.5s`, `10m`, or several in a row as Go writes them (`1h30m`): decimal numbers
    /// only, so `0x10ms` (hexadecimal to `Double`) or `1e3ms` is refused, not read as 16 or 1000.
    private static func parseShortForm(_ text: Substring) -> Duration? {
        var rest = text
        var seconds: Double = 0
        while !rest.isEmpty {
            let number = rest.prefix { ("0"..."9").contains($0) || $0 == "." }
            guard number.contains(where: { ("0"..."9").contains($0) }), number.filter({ $0 == "." }).count <= 1,
                let value = Double(number)
            else { return nil }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { $0.isASCII && $0.isLetter }
            rest = rest.dropFirst(unit.count)
            switch unit {
            case "ms": seconds += value / 1_000
            case "s": seconds += value
            case "m": seconds += value * 60
            case "h": seconds += value * 3_600
            case "d": seconds += value * 86_400
            default: return nil
            }
        }
        return Bounded.duration(seconds: seconds)
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
