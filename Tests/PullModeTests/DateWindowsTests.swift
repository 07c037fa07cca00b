import PullMode
import Testing

@Suite("Date-range windows")
struct DateWindowsTests {
    let hour: Int64 = 3600
    let day: Int64 = 86_400
    let now: Int64 = 1_795_000_000  // 2026-11-18T09:46:40Z

    @Test("without a cursor: from Meta's 7-day horizon, daily steps, up to now minus the settle lag, hour-aligned")
    func fromHorizon() {
        let plan = DateWindows(cursor: nil, startDate: nil, now: now, step: day, granularity: hour, lookback: 6 * hour, settleLag: 600)
        let end = (now - 600) / hour * hour
        #expect(plan.windows.last?.end == end)
        #expect(plan.windows.first!.start >= now - 7 * day)
        #expect(plan.windows.first!.start % hour == 0)
        #expect(plan.windows.dropLast().allSatisfy { $0.end - $0.start == day })
        #expect(zip(plan.windows, plan.windows.dropFirst()).allSatisfy { $0.end == $1.start }, "windows must not leave gaps")
        #expect(plan.gapSeconds == 0)
    }

    @Test("with a cursor: starts a lookback before it; a current cursor reads only the lookback")
    func fromCursor() {
        let cursor = (now - 600) / hour * hour
        let plan = DateWindows(cursor: cursor, startDate: nil, now: now, step: day, granularity: hour, lookback: 6 * hour, settleLag: 600)
        #expect(plan.windows == [.init(start: cursor - 6 * hour, end: cursor)])
    }

    @Test("a cursor older than the horizon starts at the horizon and records the gap")
    func gap() {
        let plan = DateWindows(cursor: now - 10 * day, startDate: nil, now: now, step: day, granularity: hour, lookback: 0, settleLag: 0)
        #expect(plan.windows.first!.start >= now - 7 * day)
        #expect(plan.gapSeconds >= 3 * day - hour)
    }

    @Test("a start date inside the horizon is honoured; nothing to read yields no window")
    func startDate() {
        let plan = DateWindows(cursor: nil, startDate: now - 2 * day, now: now, step: day, granularity: hour, lookback: 0, settleLag: 0)
        #expect(plan.windows.first?.start == (now - 2 * day) / hour * hour)
        #expect(DateWindows(cursor: now, startDate: nil, now: now, step: day, granularity: hour, lookback: 0, settleLag: 600).windows.isEmpty)
    }
}
