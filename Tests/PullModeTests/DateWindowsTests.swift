import CAPICore
import PullMode
import Testing

@Suite("Date-range windows")
struct DateWindowsTests {
    let hour: Duration = .seconds(3600)
    let day: Duration = .seconds(86_400)
    let now = UnixSeconds(1_795_000_000)  // 2026-11-18T09:46:40Z

    /// The hour an instant falls in.
    func hourOf(_ time: UnixSeconds) -> UnixSeconds { UnixSeconds(time.rawValue / 3600 * 3600) }

    @Test("without a cursor: from Meta's 7-day horizon, daily steps, up to now minus the settle lag, hour-aligned")
    func fromHorizon() {
        let plan = DateWindows(cursor: nil, startDate: nil, now: now, step: day, granularity: hour, lookback: hour * 6, settleLag: .seconds(600))
        #expect(plan.windows.last?.end == hourOf(now - .seconds(600)))
        #expect(plan.windows.first!.start >= now - day * 7)
        #expect(plan.windows.first!.start.rawValue % 3600 == 0)
        #expect(plan.windows.dropLast().allSatisfy { $0.end - $0.start == day })
        #expect(zip(plan.windows, plan.windows.dropFirst()).allSatisfy { $0.end == $1.start }, "windows must not leave gaps")
        #expect(plan.gap == .zero)
    }

    @Test("with a cursor: starts a lookback before it; a current cursor reads only the lookback")
    func fromCursor() {
        let cursor = hourOf(now - .seconds(600))
        let plan = DateWindows(cursor: cursor, startDate: nil, now: now, step: day, granularity: hour, lookback: hour * 6, settleLag: .seconds(600))
        #expect(plan.windows == [.init(start: cursor - hour * 6, end: cursor)])
    }

    @Test("a cursor older than the horizon starts at the horizon and records the gap")
    func gap() {
        let plan = DateWindows(cursor: now - day * 10, startDate: nil, now: now, step: day, granularity: hour, lookback: .zero, settleLag: .zero)
        #expect(plan.windows.first!.start >= now - day * 7)
        #expect(plan.gap >= day * 3 - hour)
    }

    @Test("a start date inside the horizon is honoured; nothing to read yields no window")
    func startDate() {
        let plan = DateWindows(cursor: nil, startDate: now - day * 2, now: now, step: day, granularity: hour, lookback: .zero, settleLag: .zero)
        #expect(plan.windows.first?.start == hourOf(now - day * 2))
        #expect(
            DateWindows(cursor: now, startDate: nil, now: now, step: day, granularity: hour, lookback: .zero, settleLag: .seconds(600)).windows
                .isEmpty
        )
    }
}
