import CAPICore

/// The date-range windows one poll reads for a partition, Airbyte-style: from the stored cursor
/// (minus a lookback for late data) or the start date, in steps, up to now minus a settle lag, never
/// before Meta's 7-day read horizon.
///
/// Pure: every time is handed in, so every edge is testable.
public struct DateWindows: Sendable, Equatable {
    public struct Window: Sendable, Equatable {
        public var start: UnixSeconds
        public var end: UnixSeconds

        public init(start: UnixSeconds, end: UnixSeconds) {
            self.start = start
            self.end = end
        }
    }

    public var windows: [Window]
    /// Time between the stored cursor and Meta's horizon that can no longer be read (zero if none).
    public var gap: Duration

    public static let metaHorizon: Int64 = MetaLimits.statsHorizonSeconds

    /// - Parameters:
    ///   - step: the longest window; `granularity` aligns window edges (whole seconds count).
    ///   - lookback: how far before the cursor to read again, for late data.
    ///   - settleLag: how long before now a bucket is left alone, until Meta's counts settle.
    public init(
        cursor: UnixSeconds?,
        startDate: UnixSeconds?,
        now: UnixSeconds,
        step: Duration,
        granularity: Duration,
        lookback: Duration,
        settleLag: Duration
    ) {
        let (cursor, startDate, now) = (cursor?.rawValue, startDate?.rawValue, now.rawValue)
        let (step, lookback, settleLag) = (step.components.seconds, lookback.components.seconds, settleLag.components.seconds)
        let granularity = max(1, granularity.components.seconds)
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
            windows.append(Window(start: UnixSeconds(cursorStart), end: UnixSeconds(windowEnd)))
            cursorStart = windowEnd
        }
        self.windows = windows
        self.gap = .seconds(gap)
    }
}
