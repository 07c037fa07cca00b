/// US states, DC and territories to their two-letter USPS codes.
public enum USStates {
    static let codes: [String: String] = {
        var table: [String: String] = [:]
        for line in USStateData.blob.split(separator: "\n") {
            let parts = line.split(separator: "\t")
            table[String(parts[0])] = String(parts[1])
        }
        return table
    }()

    public static func code(for text: String) -> String? { codes[CountryCodes.lookupKey(text)] }

    static func code(folded text: String) -> String? { codes[CountryCodes.lookupKey(folded: text)] }
}
