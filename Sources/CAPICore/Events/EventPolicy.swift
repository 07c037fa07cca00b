/// The context an event is judged in: the clock, the pixel's default country, manifest choices.
public struct EventPolicy: Sendable {
    /// "Now", as a value so validation is reproducible and testable.
    public var now: UnixSeconds
    /// How far ahead of `now` an `event_time` may lie (clock skew between the app and us).
    public var maxFutureSkew: Duration
    public var defaultCountry: String?
    public var normalizer: Normalizer

    public init(
        now: UnixSeconds,
        maxFutureSkew: Duration = .seconds(MetaLimits.defaultFutureSkewSeconds),
        defaultCountry: String? = nil,
        normalizer: Normalizer
    ) {
        self.now = now
        self.maxFutureSkew = maxFutureSkew
        self.defaultCountry = defaultCountry
        self.normalizer = normalizer
    }
}
