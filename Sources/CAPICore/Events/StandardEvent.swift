/// Meta's standard event names, which it compares exactly: `purchase` or `add_to_cart` is a custom
/// event, so it neither counts toward a campaign optimized for purchases nor deduplicates with the
/// browser pixel's `Purchase`. An easy slip in server code, and a silent one at Meta. (White space
/// around a name is trimmed before this.)
enum StandardEvent {
    static let names: Set<String> = [
        "AddPaymentInfo", "AddToCart", "AddToWishlist", "CompleteRegistration", "Contact", "CustomizeProduct", "Donate",
        "FindLocation", "InitiateCheckout", "Lead", "PageView", "Purchase", "Schedule", "Search", "StartTrial",
        "SubmitApplication", "Subscribe", "ViewContent",
    ]

    /// Each name by its lowercase letters alone, for the near misses.
    private static let byFolded: [String: String] = Dictionary(uniqueKeysWithValues: names.map { (folded($0), $0) })

    /// The standard name `name` nearly is (another case, or `_`, `-` or spaces between its words:
    /// `purchase`, `add_to_cart`, `Add To Cart`), or `nil` when it is one exactly or none.
    static func nearMiss(_ name: String) -> String? {
        guard !names.contains(name) else { return nil }
        return byFolded[folded(name)]
    }

    private static func folded(_ name: String) -> String {
        String(
            String.UnicodeScalarView(
                name.unicodeScalars.filter { $0.properties.isAlphabetic }.flatMap { $0.properties.lowercaseMapping.unicodeScalars }
            )
        )
    }
}
