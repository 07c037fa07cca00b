import GraphSandbox
import Testing

@Suite("The stand-in's fault plan")
struct FaultPlanTests {
    @Test("rate and kinds, in full or short")
    func parsing() throws {
        let full = try FaultPlan(parsing: "rate=0.3,kinds=5xx+throttle")
        #expect(full.rate == 0.3 && full.kinds == [.serverError, .throttle])
        // A bare rate takes the request-level kinds, as `rate=` alone does.
        let bare = try FaultPlan(parsing: "0.3")
        let rateOnly = try FaultPlan(parsing: "rate=0.3")
        #expect(bare.rate == 0.3 && bare.kinds == rateOnly.kinds)
        let short = try FaultPlan(parsing: "0.1,invalid+warning")
        #expect(short.rate == 0.1 && short.kinds == [.invalid, .warning])
    }

    @Test("what is neither is refused, saying what is expected")
    func refusals() {
        for (text, reason) in [
            ("bogus", "expected key=value in `bogus`: rate=0.3,kinds=5xx+throttle, or 0.3 for the rate alone"),
            ("1.5", "rate must be a number from 0 to 1"), ("kinds=5xx", "rate is required, e.g. rate=0.3"),
            ("rate=0.1,kinds=nope", "unknown fault kind `nope`; known: "),
        ] {
            #expect(throws: FaultPlan.ParseError.self) { try FaultPlan(parsing: text) }
            do {
                _ = try FaultPlan(parsing: text)
            } catch {
                #expect(error.description.hasPrefix(reason), "\(text): \(error)")
            }
        }
    }
}
