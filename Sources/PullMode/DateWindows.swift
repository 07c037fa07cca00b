import CAPICore

/// The date-range windows one poll reads for a partition, Airbyte-style: from the stored cursor
/// (minus a lookback for late data) or the start date, in steps, up to now minus a settle lag, never
/// before Meta's 7-day read horizon.
///
/// Pure: all times are Unix seconds handed in, so every edge is testable.
public struct DateWindows: Sendable, Equatable {
    public struct Window: Sendable, Equatable {
        public var start: Int64
        public var end: Int64

        public init(start: Int64, end: Int64) {
            self.start = start
            self.end = end
        }
    }

    public var windows: [Window]
    /// Seconds between the stored cursor and Meta's horizon that can no longer be read (0 if none).
    public var gapSeconds: Int64

    public static let metaHorizon: Int64 = MetaLimits.statsHorizonSeconds

    public init(cursor: Int64?, startDate: Int64?, now: Int64, step: Int64, granularity: Int64, lookback: Int64, settleLag: Int64) {
        let granularity = max(1, granularity)
        func floorAligned(_ time: Int64) -> Int64 { time - ((time % granularity) + granularity) % granularity }
        func ceilAligned(_ time: Int64) -> Int64 {
            let down = floorAligned(time)
            return down == time ? time : down + granularity
        }

        let horizon = ceilAligned(now - Self.metaHorizon)
        let end = floorAligned(now - settleLag)
        var start: Int64
        var gap: Int64 = 0
        if let cursor {
            start = floorAligned(cursor - lookback)
            if cursor < horizon { gap = horizon - cursor }
        } else {
            start = floorAligned(startDate ?? horizon)
        }
        start = max(start, horizon)
        var windows: [Window] = []
        var cursorStart = start
        let stride = max(granularity, step)
        while cursorStart < end {
            let windowEnd = min(cursorStart + stride, end)
            windows.append(Window(start: cursorStart, end: windowEnd))
            cursorStart = windowEnd
        }
        self.windows = windows
        self.gapSeconds = gap
    }
}
