/// The reference tables are parsed on first use, which a long-running process would otherwise pay
/// inside the first request that needs each one (the country names in other letters take about
/// 12 ms). `serve` builds them all before it listens; one-shot commands and the Lambda entry keep
/// building only what they use.
public enum ReferenceTables {
    /// Builds every table now; safe to call more than once, and from any thread.
    public static func warmUp() {
        _ = CountryCodes.codes.count + CountryCodes.asciiNames.count + CountryCodes.otherNames.count
        _ = USStates.codes.count + CurrencyCodes.codes.count + DateOfBirthRule.months.count
        _ = CallingCode.byRegion.count + CallingCode.byCode.count + CallingCode.allCodes.count
        _ = NationalPrefixRule.regions.count + NationalPrefixRule.byRegion.count + InternationalPrefixRule.byRegion.count
        _ = UserDataKey.byName
    }
}
