/// Checked conversions and saturating arithmetic for numbers that come from outside: request
/// bodies, headers, the manifest, the command line and Graph API answers.
///
/// Swift traps on overflow and on converting a NaN, infinite or huge `Double` to an integer, so a
/// value an outsider controls must never reach `Int64(_:)`, `+` or `*` unchecked. Every parser goes
/// through these helpers: they answer `nil` (refuse) or saturate, and never trap.
public enum Bounded {
    /// The longest duration any outside value may ask for (ten years): longer waits, leases and
    /// windows are configuration mistakes or attacks, and refusing them keeps all later arithmetic
    /// in range.
    public static let maximumSeconds: Int64 = 10 * 366 * 86_400

    /// The integer value of a finite `Double` in `Int64`'s range, truncated; `nil` otherwise.
    @inlinable
    public static func int64(_ value: Double) -> Int64? {
        guard value.isFinite, value > -9.223_372_036_854_775e18, value < 9.223_372_036_854_775e18 else { return nil }
        return Int64(value)
    }

    /// The exact integer a `Double` holds (`3.0`), or `nil` for fractions, NaN, infinities and values out of range.
    @inlinable
    public static func int64(exactly value: Double) -> Int64? {
        Int64(exactly: value)
    }

    /// A non-negative integer written as ASCII digits only (no sign, no spaces), at most `maxDigits` long.
    @inlinable
    public static func digits(_ text: some StringProtocol, maxDigits: Int = 18) -> Int64? {
        let bytes = text.utf8
        guard !bytes.isEmpty, bytes.count <= min(maxDigits, 18) else { return nil }
        var value: Int64 = 0
        for byte in bytes {
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            value = value * 10 + Int64(byte - 0x30)
        }
        return value
    }

    /// A duration of `seconds` (fractions allowed), or `nil` when it is not finite, negative or
    /// longer than `maximum` seconds.
    @inlinable
    public static func duration(seconds: Double, maximum: Int64 = maximumSeconds) -> Duration? {
        guard seconds.isFinite, seconds >= 0, seconds <= Double(maximum) else { return nil }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    /// `a - b`, saturating at `Int64`'s bounds instead of trapping.
    @inlinable
    public static func difference(_ a: Int64, _ b: Int64) -> Int64 {
        let (result, overflow) = a.subtractingReportingOverflow(b)
        guard overflow else { return result }
        return b < 0 ? .max : .min
    }

    /// `a + b`, saturating at `Int64`'s bounds instead of trapping.
    @inlinable
    public static func sum(_ a: Int64, _ b: Int64) -> Int64 {
        let (result, overflow) = a.addingReportingOverflow(b)
        guard overflow else { return result }
        return b > 0 ? .max : .min
    }

    /// `a * b`, saturating at `Int64`'s bounds instead of trapping.
    @inlinable
    public static func product(_ a: Int64, _ b: Int64) -> Int64 {
        let (result, overflow) = a.multipliedReportingOverflow(by: b)
        guard overflow else { return result }
        return (a < 0) == (b < 0) ? .max : .min
    }
}

extension Duration {
    /// Whole milliseconds, saturating at `Int64`'s bounds.
    @inlinable
    public var wholeMilliseconds: Int64 {
        let parts = components
        return Bounded.sum(Bounded.product(parts.seconds, 1000), parts.attoseconds / 1_000_000_000_000_000)
    }

    /// Whole nanoseconds, saturating at `Int64`'s bounds (about 292 years).
    @inlinable
    public var wholeNanoseconds: Int64 {
        let parts = components
        return Bounded.sum(Bounded.product(parts.seconds, 1_000_000_000), parts.attoseconds / 1_000_000_000)
    }
}
