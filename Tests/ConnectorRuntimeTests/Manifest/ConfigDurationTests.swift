import ConnectorRuntime
import Testing

@Suite("Durations")
struct ConfigDurationTests {
    @Test(
        "ISO 8601 and short forms",
        arguments: [
            ("1500ms", Duration.milliseconds(1500)), ("1.5s", .milliseconds(1500)), ("10m", .seconds(600)),
            ("1h", .seconds(3600)), ("7d", .seconds(604_800)), ("PT10M", .seconds(600)), ("P1D", .seconds(86_400)),
            ("PT1H30M", .seconds(5400)), ("P1DT1H", .seconds(90_000)), ("PT0.5S", .milliseconds(500)), ("P1W", .seconds(604_800)),
            ("1h30m", .seconds(5400)), ("2m30.5s", .milliseconds(150_500)), ("1d12h", .seconds(129_600)), (".5s", .milliseconds(500)),
            ("1s500ms", .milliseconds(1500)),
        ]
    )
    func parses(text: String, expected: Duration) {
        #expect(ConfigDuration.parse(text) == expected)
    }

    @Test(
        "nonsense is refused, and numbers that are not decimal",
        arguments: [
            "", "fast", "10", "-5s", "P", "PT", "P1H", "PT1D", "1y", "PTT1H", "0x10ms", "1e3ms", "+5s", "nans", "infs", "1h30",
            "1..5s", ".s", "10 m", "1,5s", "١٠s", "PT½H",
        ]
    )
    func refuses(text: String) {
        #expect(ConfigDuration.parse(text) == nil)
    }

    @Test(
        "a limit is written in the largest short form that is exact, and reads back as itself",
        arguments: [
            (Duration.seconds(86_400), "1d"), (.seconds(3_600), "1h"), (.seconds(60), "1m"), (.seconds(90), "90s"),
            (.milliseconds(100), "100ms"), (.milliseconds(1_500), "1500ms"), (.zero, "0s"), (.seconds(604_800), "7d"),
        ]
    )
    func written(duration: Duration, text: String) {
        #expect(ConfigDuration.written(duration) == text)
        #expect(ConfigDuration.parse(text) == duration)
    }
}
