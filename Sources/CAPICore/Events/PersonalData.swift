/// Recognizes personal data where it should not be: page URLs, `custom_data`, free-form fields.
///
/// Apps leak emails and phone numbers into places Meta does not hash (`?email=`, `/u/jane@x.com`,
/// `custom_data.customer_email`). These checks find them by name and by shape so the connector can
/// drop or mask them before anything is stored or sent. Shape checks favour catching a leak over
/// keeping an odd-looking value.
public enum PersonalData {
    /// Field or parameter names that hold personal data, compared after lowercasing and removing
    /// `-`, `_`, `.` and spaces (`E-Mail`, `first_name`, `customerEmail` all match).
    static let personalNames = FieldNameTable(
        [
            "email", "mail", "em", "emailaddress", "customeremail", "useremail", "contactemail", "contact",
            "phone", "tel", "telephone", "mobile", "ph", "phonenumber", "mobilenumber", "cell", "cellphone",
            "name", "fullname", "firstname", "fname", "fn", "lastname", "lname", "ln", "surname", "givenname", "familyname",
            "customername", "username",
            "address", "street", "streetaddress", "address1", "address2", "billingaddress", "shippingaddress",
            "zip", "zipcode", "postcode", "postalcode", "zp",
            "dob", "birthday", "birthdate", "dateofbirth", "db",
        ].map { ($0, ()) }
    )

    /// Whether a field or parameter name is one that holds personal data.
    public static func isPersonalName(_ name: some StringProtocol) -> Bool {
        let ascii: Bool? = withUTF8(of: name) { bytes in
            guard bytes.count >= 2, bytes.count <= PackedName.capacity else { return false }
            guard bytes.allSatisfy({ $0 < 0x80 }) else { return nil }
            // ASCII, by far the common case: folded on the stack, no string built.
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: PackedName.capacity) { buffer in
                var count = 0
                for byte in bytes where byte != UInt8(ascii: "-") && byte != UInt8(ascii: "_") && byte != UInt8(ascii: ".") && byte != 0x20 {
                    buffer[count] = (0x41...0x5A).contains(byte) ? byte | 0x20 : byte
                    count += 1
                }
                return personalNames.value(forBytes: UnsafeBufferPointer(rebasing: buffer[..<count])) != nil
            }
        }
        if let ascii { return ascii }
        var folded = ""
        for scalar in name.unicodeScalars where scalar != "-" && scalar != "_" && scalar != "." && scalar != " " {
            folded.unicodeScalars.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
        }
        return personalNames.contains(folded)
    }

    /// Whether the text contains something shaped like an email address: `x@y.z`, or `x@y.` with
    /// the rest cut off (`jane.doe@gmail.` still names its owner, and a stored one becomes a whole
    /// address again beside whatever the file holds next). `order@2026` does not count.
    public static func containsEmail(_ text: some StringProtocol) -> Bool {
        withUTF8(of: text, containsEmail(bytes:))
    }

    /// Whether the text is a formatted phone number: 7–15 digits written the way people write
    /// numbers (`+1 650 555 1212`, `(650) 555-1212`, `650-555-1212`). Bare digit runs and dates
    /// (`2026-11-20`) do not count: they are far more often order ids and days.
    public static func looksLikePhone(_ text: some StringProtocol) -> Bool {
        withUTF8(of: text, looksLikePhone(bytes:))
    }

    /// Either shape.
    public static func looksPersonal(_ text: some StringProtocol) -> Bool {
        withUTF8(of: text) { containsEmail(bytes: $0) || looksLikePhone(bytes: $0) }
    }

    /// Whether a name a sender chose (a key, a field, an event name) may be shown in an answer or
    /// a log. Not when it looks personal, nor when it holds an `@` at all: a piece of an address
    /// (`@example.com`) is not an address, but it becomes one after a path (`user_data.@example.com`).
    /// Nor when it holds a control character: a NUL cannot be stored in a PostgreSQL text column
    /// (a drift window keyed by such an event name failed every write), and a line break would
    /// forge lines in a plain-text log.
    public static func isShowable(name: some StringProtocol) -> Bool {
        // Without an `@` there is no email address either.
        withUTF8(of: name) { !$0.contains(UInt8(ascii: "@")) && !$0.contains(where: isControl) && !looksLikePhone(bytes: $0) }
    }

    /// C0 controls and DEL.
    static func isControl(_ byte: UInt8) -> Bool { byte < 0x20 || byte == 0x7F }

    /// Whether `text` holds a C0 control character or DEL.
    public static func containsControlCharacter(_ text: some StringProtocol) -> Bool {
        withUTF8(of: text) { $0.contains(where: isControl) }
    }

    /// `body` over the text's UTF-8 bytes in place. These checks run on every free-form value and
    /// every event's identifiers: walked through `String.UTF8View`'s generic iterators they were
    /// 7.6% of all samples in the batch endpoint with large orders, against 1.5% over a buffer
    /// (`perf`, docs/performance.md, twenty-third part).
    private static func withUTF8<Result>(of text: some StringProtocol, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        if let result = text.utf8.withContiguousStorageIfAvailable(body) { return result }
        return Array(text.utf8).withUnsafeBufferPointer(body)
    }

    private static func containsEmail(bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        // An `@` first has nothing before it.
        var index = 1
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "@"), !isDelimiter(bytes[index - 1]) {
                // A dot after something, before the next delimiter.
                var cursor = index + 1
                while cursor < bytes.count, !isDelimiter(bytes[cursor]), bytes[cursor] != UInt8(ascii: "@") {
                    if bytes[cursor] == UInt8(ascii: "."), cursor > index + 1 { return true }
                    cursor += 1
                }
            }
            index += 1
        }
        return false
    }

    private static func looksLikePhone(bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var digits = 0
        var groups = 0
        var firstGroup = 0
        var lastGroup = 0
        var current = 0
        var plus = false
        var parenthesis = false
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            var separator = false
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                digits += 1
                current += 1
            case UInt8(ascii: "+") where index == 0:
                plus = true
            case UInt8(ascii: "("):
                parenthesis = true
                separator = true
            case UInt8(ascii: ")"), UInt8(ascii: " "), UInt8(ascii: "-"), UInt8(ascii: "."):
                separator = true
            case 0xC2 where index + 1 < bytes.count && bytes[index + 1] == 0xA0:
                // A no-break space (U+00A0), as word processors write between groups.
                separator = true
                index += 1
            default:
                return false
            }
            // A separator, or the end, closes a group of digits.
            if separator || index == bytes.count - 1, current > 0 {
                if groups == 0 { firstGroup = current }
                lastGroup = current
                groups += 1
                current = 0
            }
            index += 1
        }
        guard (7...15).contains(digits), groups >= 2 else { return false }
        if plus || parenthesis { return true }
        return groups >= 3 && firstGroup <= 4 && lastGroup >= 4 && digits >= 10
    }

    /// A name a sender chose, fit for answers and logs: `<redacted>` unless ``isShowable(name:)``,
    /// and shortened past 64 bytes.
    public static func shown(name: String) -> String {
        guard isShowable(name: name) else { return "<redacted>" }
        guard name.utf8.count > 64 else { return name }
        return String(name.unicodeScalars.prefix(32).map(Character.init)) + "…"
    }

    /// Bytes that end an address: whitespace, controls, and URL and markup punctuation. Internal
    /// for the tests' reference, which shares it.
    static func isDelimiter(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x00...0x20, UInt8(ascii: "/"), UInt8(ascii: "?"), UInt8(ascii: "#"), UInt8(ascii: "&"), UInt8(ascii: "="),
            UInt8(ascii: ";"), UInt8(ascii: ","), UInt8(ascii: ":"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "\""),
            UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "["), UInt8(ascii: "]"):
            true
        default:
            false
        }
    }
}
