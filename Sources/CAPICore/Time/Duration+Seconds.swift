extension Duration {
    /// Whole and fractional seconds, for arithmetic with Unix timestamps and rates.
    public var inSeconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
