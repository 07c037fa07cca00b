/// A point in time in Unix seconds: Meta's `event_time`, hour buckets, cursor positions. A type of
/// its own so that seconds and milliseconds cannot be mixed up; arithmetic saturates instead of
/// trapping on outside values.
public struct UnixSeconds: RawRepresentable, Hashable, Comparable, Sendable, Codable {
    public var rawValue: Int64

    public init(rawValue: Int64) { self.rawValue = rawValue }
    public init(_ value: Int64) { rawValue = value }

    /// What operators and Meta write (ISO 8601 time, date or Unix seconds); see ``UTCTimestamp/parse(_:)``.
    public init?(parsing text: some StringProtocol) {
        guard let seconds = UTCTimestamp.parse(text) else { return nil }
        rawValue = seconds
    }

    public var milliseconds: UnixMillis { UnixMillis(Bounded.product(rawValue, 1000)) }
    /// `2026-11-23T20:04:45Z`. (No `description`: a time must never reach a wire format by interpolation.)
    public var iso8601: String { UTCTimestamp.iso8601(seconds: rawValue) }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    /// Whole seconds of `duration` later (saturating).
    public static func + (lhs: Self, rhs: Duration) -> Self { Self(Bounded.sum(lhs.rawValue, rhs.components.seconds)) }
    public static func - (lhs: Self, rhs: Duration) -> Self { Self(Bounded.difference(lhs.rawValue, rhs.components.seconds)) }
    public static func - (lhs: Self, rhs: Self) -> Duration { .seconds(Bounded.difference(lhs.rawValue, rhs.rawValue)) }

    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(Int64.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// A point in time in Unix milliseconds: when the connector received, stored, sent or ran
/// something (every time column of the state registry except event and bucket times).
public struct UnixMillis: RawRepresentable, Hashable, Comparable, Sendable, Codable {
    public var rawValue: Int64

    public init(rawValue: Int64) { self.rawValue = rawValue }
    public init(_ value: Int64) { rawValue = value }

    /// The second this instant falls in (rounded down, also before 1970).
    public var seconds: UnixSeconds { UnixSeconds(rawValue >= 0 ? rawValue / 1000 : (rawValue - 999) / 1000) }
    /// `2026-11-23T20:04:45.123Z`.
    public var iso8601: String { UTCTimestamp.iso8601(milliseconds: rawValue) }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    /// `duration` later, to the millisecond (saturating).
    public static func + (lhs: Self, rhs: Duration) -> Self { Self(Bounded.sum(lhs.rawValue, rhs.wholeMilliseconds)) }
    public static func - (lhs: Self, rhs: Duration) -> Self { Self(Bounded.difference(lhs.rawValue, rhs.wholeMilliseconds)) }
    public static func - (lhs: Self, rhs: Self) -> Duration { .milliseconds(Bounded.difference(lhs.rawValue, rhs.rawValue)) }

    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(Int64.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
