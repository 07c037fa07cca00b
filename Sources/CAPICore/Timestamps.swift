/// ISO 8601 UTC timestamps by arithmetic: the hot path stamps every record, and formatter objects
/// (ICU underneath) cost more than the rest of the record.
public enum UTCTimestamp {
    /// `2026-11-23T20:04:45.123Z`
    public static func iso8601(milliseconds: Int64) -> String {
        let seconds = milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000
        let millis = Int(milliseconds - seconds * 1000)
        return iso8601(seconds: seconds, fraction: millis)
    }

    /// `2026-11-23T20:04:45Z`
    public static func iso8601(seconds: Int64, fraction: Int? = nil) -> String {
        let date = Normalizer.Today(unixSeconds: seconds)
        let secondOfDay = Int(((seconds % 86_400) + 86_400) % 86_400)
        var text = pad(date.year, 4) + "-" + pad(date.month, 2) + "-" + pad(date.day, 2)
        text += "T" + pad(secondOfDay / 3600, 2) + ":" + pad(secondOfDay / 60 % 60, 2) + ":" + pad(secondOfDay % 60, 2)
        if let fraction { text += "." + pad(fraction, 3) }
        return text + "Z"
    }

    static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}
