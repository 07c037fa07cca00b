/// `user_data` as Meta receives it, written once as canonical JSON text (keys sorted, escaped as
/// ``JSONValue/serialized`` writes them).
///
/// Each value goes from the normalizer straight into the text: no dictionary, list or tree per key
/// for every event, and nothing left to sort or walk when the payload is written out.
public struct PreparedUserData: Sendable, Equatable {
    /// `{"client_user_agent":"…","em":["…"],…}` as UTF-8: part of what is stored, content-hashed and
    /// sent. Kept as bytes because the payload is written from them: no `String` made and
    /// validated per event only to be copied out again.
    public let textBytes: [UInt8]
    /// The first value sent for each key that kept one, in Meta's key order.
    let firstValues: [SentValue]
    /// A bit per key that kept a value, at its ordinal (at most 31 keys, as `Checker`'s slots).
    /// Values are in ordinal order, so a key's place among them is the count of bits below its
    /// own: no name compared to find one, and no list of names kept per event.
    private let present: UInt32

    init(textBytes: [UInt8], firstValues: [SentValue], present: UInt32) {
        self.textBytes = textBytes
        self.firstValues = firstValues
        self.present = present
    }

    /// The keys that kept a value, in Meta's key order (the match keys), read off the key bits.
    public var keyNames: some Sequence<String> {
        let present = present
        return UserDataKey.all.indices.lazy.filter { present & UInt32(1) << $0 != 0 }.map { UserDataKey.all[$0].rawValue }
    }

    /// From an object tree (keys Meta does not know are kept in the text but are no match keys).
    public init(_ object: JSONObject) {
        var firstValues: [SentValue] = []
        var present: UInt32 = 0
        for (ordinal, key) in UserDataKey.all.enumerated() {
            let first: String? =
                switch object[key.rawValue] {
                case .string(let value)?: value
                case .array(let values)?: values.first?.stringValue
                default: nil
                }
            guard let first else { continue }
            firstValues.append(.text(first))
            present |= 1 << ordinal
        }
        self.init(textBytes: Array(JSONValue.object(object).serialized.utf8), firstValues: firstValues, present: present)
    }

    /// The first value sent for `key` (a digest for hashed keys), or `nil` when none was.
    public func firstValue(of key: UserDataKey) -> String? {
        let bit = UInt32(1) << key.ordinal
        guard present & bit != 0 else { return nil }
        return firstValues[(present & (bit - 1)).nonzeroBitCount].text
    }

    /// Whether `key` kept a value.
    public func contains(_ key: UserDataKey) -> Bool { present & UInt32(1) << key.ordinal != 0 }

    /// The object as a tree, for readers off the hot path.
    public var object: JSONObject {
        (try? JSONValue(parsing: textBytes))?.objectValue ?? [:]
    }
}

/// One `user_data` value as sent: a digest, kept as bytes until its hex is written, or text Meta
/// takes unhashed.
enum SentValue: Sendable, Equatable {
    case digest(HexDigest)
    case text(String)
    /// A canonical text whose digest is what is sent, not yet taken: an event's values are
    /// normalized first and hashed two at a time (``hashInPairs(_:)``). Written, it is its digest.
    case unhashed(String)

    var text: String {
        switch self {
        case .digest(let digest): digest.hex
        case .text(let text): text
        case .unhashed(let text): SHA256Hex.hexDigest(text).hex
        }
    }

    /// As a JSON string.
    func write(into output: inout [UInt8]) {
        switch self {
        case .digest(let digest): digest.writeQuoted(into: &output)
        case .text(let text): JSONValue.writeString(text, into: &output)
        case .unhashed(let text): SHA256Hex.hexDigest(text).writeQuoted(into: &output)
        }
    }

    /// The value with its digest taken, if it was waiting for one.
    var hashedAlone: SentValue {
        if case .unhashed(let text) = self { .digest(SHA256Hex.hexDigest(text)) } else { self }
    }

    /// Every value waiting for its digest given it, two at a time (``HexDigest/sha256(of:and:)``):
    /// ten values hashed alone were 14% of `bench normalize`, a pair takes about as long as one.
    static func hashInPairs(_ values: inout [SentValue]) {
        var waiting: (index: Int, text: String)?
        for index in values.indices {
            guard case .unhashed(let text) = values[index] else { continue }
            guard let first = waiting else {
                waiting = (index, text)
                continue
            }
            let digests = SHA256Hex.hexDigests(first.text, text)
            values[first.index] = .digest(digests.0)
            values[index] = .digest(digests.1)
            waiting = nil
        }
        if let last = waiting { values[last.index] = .digest(SHA256Hex.hexDigest(last.text)) }
    }
}
