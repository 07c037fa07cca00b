/// ISO 4217 currency codes.
public enum CurrencyCodes {
    static let codes: Set<String> = Set(CurrencyData.blob.split(separator: " ").map(String.init))

    /// `value` is an upper-case three-letter code in ISO 4217.
    public static func isValid(_ code: String) -> Bool { codes.contains(code) }
}
