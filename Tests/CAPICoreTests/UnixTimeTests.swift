import CAPICore
import Testing

@Suite("Unix time types")
struct UnixTimeTests {
    @Test("milliseconds fall in the second that contains them, before 1970 too")
    func flooring() {
        #expect(UnixMillis(1_999).seconds == UnixSeconds(1))
        #expect(UnixMillis(0).seconds == UnixSeconds(0))
        #expect(UnixMillis(-1).seconds == UnixSeconds(-1))
        #expect(UnixMillis(-1_000).seconds == UnixSeconds(-1))
        #expect(UnixSeconds(1_795_000_000).milliseconds == UnixMillis(1_795_000_000_000))
    }

    @Test("arithmetic with durations saturates instead of trapping")
    func saturation() {
        #expect(UnixSeconds(.max) + .seconds(10) == UnixSeconds(.max))
        #expect(UnixMillis(.min) - .seconds(10) == UnixMillis(.min))
        #expect(UnixSeconds(.max).milliseconds == UnixMillis(.max))
        #expect(UnixMillis(5_000) - UnixMillis(2_000) == .seconds(3))
        #expect(UnixSeconds(100) + .milliseconds(1_999) == UnixSeconds(101), "whole seconds only")
    }

    @Test("ISO 8601 out and in")
    func iso() {
        let time = UnixSeconds(1_794_988_800)
        #expect(time.iso8601 == "2026-11-18T08:00:00Z")
        #expect(UnixSeconds(parsing: time.iso8601) == time)
        #expect(UnixMillis(1_794_988_800_123).iso8601 == "2026-11-18T08:00:00.123Z")
        #expect(UnixSeconds(parsing: "2026-02-30") == nil)
        // Seconds may be left out, as ISO 8601 allows; a zone may not.
        #expect(UnixSeconds(parsing: "2026-11-18T08:00Z") == time)
        #expect(UnixSeconds(parsing: "2026-11-18 09:00+01:00") == time)
        #expect(UnixSeconds(parsing: "2026-11-18T08:00") == nil)
        #expect(UnixSeconds(parsing: "2026-11-18T08:00:Z") == nil)
        #expect(UnixSeconds(parsing: "2026-11-18T08:60Z") == nil)
    }

    @Test("a fixed clock answers its instant")
    func fixedClock() {
        let clock = WallClock.fixed(UnixMillis(1_500))
        #expect(clock.now() == UnixMillis(1_500) && clock.seconds() == UnixSeconds(1))
    }
}
