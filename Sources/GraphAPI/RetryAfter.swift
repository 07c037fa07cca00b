import CAPICore
import Foundation

/// The HTTP `Retry-After` header: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
///
/// Whatever a server sends, the wait is a finite duration between zero and a day: a huge, negative
/// or unparsable value must neither trap nor park the forwarder for years.
public enum RetryAfter {
    /// The longest wait any server hint may impose.
    public static let maximumSeconds: Int64 = 86_400

    /// - Parameter now: for the HTTP-date form.
    public static func parse(_ header: String, now: UnixSeconds = WallClock.system.seconds()) -> Duration? {
        let text = header.trimmingCharacters(in: .whitespaces)
        if let seconds = Bounded.digits(text, maxDigits: 12) {
            return .seconds(min(seconds, maximumSeconds))
        }
        guard let date = httpDate(text) else { return nil }
        return .seconds(min(max(0, Bounded.difference(date, now.rawValue)), maximumSeconds))
    }

    /// IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`, the only form senders may generate.
    static func httpDate(_ text: String) -> Int64? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[0].hasSuffix(","), parts[5] == "GMT",
            let day = Bounded.digits(parts[1], maxDigits: 2),
            let month = months.firstIndex(of: String(parts[2])),
            let year = Bounded.digits(parts[3], maxDigits: 4)
        else { return nil }
        let clock = parts[4].split(separator: ":")
        guard clock.count == 3, let hour = Bounded.digits(clock[0], maxDigits: 2), let minute = Bounded.digits(clock[1], maxDigits: 2),
            let second = Bounded.digits(clock[2], maxDigits: 2), hour < 24, minute < 60, second < 61
        else { return nil }
        guard year >= 1, (1...UTCTimestamp.daysIn(month: month + 1, year: Int(year))).contains(Int(day)) else { return nil }
        return UTCTimestamp.seconds(year: Int(year), month: month + 1, day: Int(day)) + hour * 3600 + minute * 60 + min(second, 59)
    }

    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
}
