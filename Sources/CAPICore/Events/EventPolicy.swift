/// The context an event is judged in: the clock, the pixel's default country, manifest choices.
public struct EventPolicy: Sendable {
    /// Unix seconds "now"; a value so validation is reproducible and testable.
    public var now: Int64
    public var maxFutureSkew: Int64
    public var defaultCountry: String?
    public var normalizer: Normalizer

    public init(now: Int64, maxFutureSkew: Int64 = MetaLimits.defaultFutureSkewSeconds, defaultCountry: String? = nil, normalizer: Normalizer) {
        self.now = now
        self.maxFutureSkew = maxFutureSkew
        self.defaultCountry = defaultCountry
        self.normalizer = normalizer
    }
}
