/// A `String` that compares and hashes by its UTF-8 bytes.
///
/// `String`'s own equality holds canonically equivalent spellings equal (a composed "é" and "e"
/// with a combining accent), while Meta, PostgreSQL and SQLite compare identifiers byte for byte.
/// Identifiers that decide whether two events are one (event ids) are compared through this.
public struct ExactText: Hashable, Sendable {
    public var text: String

    public init(_ text: String) {
        self.text = text
    }

    public static func == (left: ExactText, right: ExactText) -> Bool {
        left.text.utf8.elementsEqual(right.text.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        let hashed: Void? = text.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if hashed == nil { Array(text.utf8).withUnsafeBytes { hasher.combine(bytes: $0) } }
        // 0xFF never occurs in UTF-8: it ends the text, so ("ab", "c") and ("a", "bc") differ
        // where two texts are hashed one after the other.
        hasher.combine(UInt8(0xFF))
    }
}
