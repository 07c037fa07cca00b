import Foundation

extension Normalizer.Today {
    /// Today's date in UTC, read once by callers at the edge (commands, services), never in rules.
    public static func utcNow(_ now: Date = Date()) -> Self {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day], from: now)
        return .init(year: parts.year!, month: parts.month!, day: parts.day!)
    }
}
