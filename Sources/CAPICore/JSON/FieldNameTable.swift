/// A fixed set of short ASCII names, each with a value, looked up without hashing.
///
/// Every member name of every event is looked up in Meta's lists (the server-event fields, the
/// `user_data` keys, the names that hold personal data). With `Set` and `Dictionary`, hashing those
/// names was 9% of `Checker.userData` alone in `bench normalize`. Here a name is packed into four
/// words and compared with the few names of the same length.
struct FieldNameTable<Value: Sendable>: Sendable {
    /// Entries grouped by name length in bytes, shortest first; the names of length `n` are
    /// `entries[starts[n]..<starts[n + 1]]`, and a name longer than `starts.count - 2` is in no
    /// table. One flat array: as an array of arrays, every lookup retained and released the inner
    /// array it searched (`perf`: 3% of `bench normalize`, where each event looks up some twenty
    /// names).
    private let entries: [(name: PackedName, value: Value)]
    private let starts: [Int]

    /// - Precondition: names are lowercase ASCII letters, digits and `_`, at most
    ///   ``PackedName/capacity`` bytes, and unique. No other spelling is canonically equivalent to
    ///   such a name (unlike `K`, which U+212A KELVIN SIGN is), so comparing bytes finds exactly
    ///   what `String`'s `==` finds.
    init(_ entries: [(name: String, value: Value)]) {
        let longest = entries.map(\.name.utf8.count).max() ?? 0
        var byLength = [[(name: PackedName, value: Value)]](repeating: [], count: longest + 1)
        for entry in entries {
            let bytes = Array(entry.name.utf8)
            precondition(bytes.allSatisfy(Self.isNameByte), "table names are lowercase ASCII letters, digits and _")
            let packed = bytes.withUnsafeBufferPointer { PackedName($0) }
            guard let packed else { preconditionFailure("table names are at most \(PackedName.capacity) bytes") }
            precondition(!byLength[bytes.count].contains { $0.name == packed }, "table names are unique")
            byLength[bytes.count].append((packed, entry.value))
        }
        self.entries = byLength.flatMap { $0 }
        var starts = [0]
        for group in byLength { starts.append(starts[starts.count - 1] + group.count) }
        self.starts = starts
    }

    func value(for name: String) -> Value? {
        // Native strings, small ones included, are read in place; a bridged one is copied.
        if let found = name.utf8.withContiguousStorageIfAvailable(value(forBytes:)) { return found }
        return Array(name.utf8).withUnsafeBufferPointer(value(forBytes:))
    }

    /// `bytes` compared byte for byte (no case folding).
    func value(forBytes bytes: UnsafeBufferPointer<UInt8>) -> Value? {
        guard bytes.count < starts.count - 1, let packed = PackedName(bytes) else { return nil }
        for index in starts[bytes.count]..<starts[bytes.count + 1] where entries[index].name == packed { return entries[index].value }
        return nil
    }

    func contains(_ name: String) -> Bool { value(for: name) != nil }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || ASCIIBytes.isDigit(byte) || byte == UInt8(ascii: "_")
    }
}

/// Up to 32 bytes in four little-endian words, zero-filled: equal names of equal length are equal
/// words.
struct PackedName: Equatable, Sendable {
    static let capacity = 32
    private var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    init?(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard bytes.count <= Self.capacity else { return nil }
        for index in bytes.indices {
            let shifted = UInt64(bytes[index]) << UInt64((index & 7) &* 8)
            switch index >> 3 {
            case 0: words.0 |= shifted
            case 1: words.1 |= shifted
            case 2: words.2 |= shifted
            default: words.3 |= shifted
            }
        }
    }

    static func == (left: PackedName, right: PackedName) -> Bool {
        left.words.0 == right.words.0 && left.words.1 == right.words.1 && left.words.2 == right.words.2 && left.words.3 == right.words.3
    }
}
