/// A JSON object's members, in the order they were given.
///
/// An event's objects hold a dozen members each, and each member is looked up once or twice. As a
/// `Dictionary`, every key was hashed when parsed and again on every lookup, removal and copy
/// (`perf` on `bench normalize`: 14% of the samples in `Hasher` and the dictionary's table). Small
/// objects are searched in place instead. An object with more than ``indexedAbove`` members also
/// keeps a name index, so a large object cannot make lookups, or the parser's duplicate check,
/// quadratic.
///
/// Names compare as `String`s, as the dictionary compared them: a composed "é" and "e" with a
/// combining accent are one name, so the parser refuses an object holding both, as before.
/// Equality and hashing ignore member order; text written from an object sorts its keys
/// (``JSONValue/serialized``).
public struct JSONObject: Sendable {
    public typealias Element = (key: String, value: JSONValue)

    /// Members in insertion order; keys are unique.
    public private(set) var members: [Element]
    /// Each key's position in `members`, kept only above ``indexedAbove`` members.
    private var positions: [String: Int]?

    /// Up to this many members, a lookup compares keys one by one: cheaper than hashing the key.
    static let indexedAbove = 16

    public init() { members = [] }

    public init(minimumCapacity: Int) {
        members = []
        members.reserveCapacity(minimumCapacity)
    }

    /// From a dictionary, its members in key order (a dictionary's own order is arbitrary).
    public init(_ dictionary: [String: JSONValue]) {
        self.init(minimumCapacity: dictionary.count)
        for member in dictionary.sorted(by: { $0.key < $1.key }) { append(member.key, member.value) }
    }

    public var count: Int { members.count }
    public var isEmpty: Bool { members.isEmpty }
    /// The names, in order, as a new array: iterate the object itself on the hot path.
    public var keys: [String] { members.map(\.key) }
    /// The values, in order, as a new array: iterate the object itself on the hot path.
    public var values: [JSONValue] { members.map(\.value) }

    /// The members as a dictionary, for APIs that take one (off the hot path).
    public var dictionary: [String: JSONValue] {
        Dictionary(members, uniquingKeysWith: { _, last in last })
    }

    public mutating func reserveCapacity(_ minimumCapacity: Int) { members.reserveCapacity(minimumCapacity) }

    public subscript(key: String) -> JSONValue? {
        get { position(of: key).map { members[$0].value } }
        set {
            if let newValue {
                updateValue(newValue, forKey: key)
            } else {
                removeValue(forKey: key)
            }
        }
    }

    /// Sets `key`'s value (in place when present, else appended); answers the value it replaced.
    @discardableResult
    public mutating func updateValue(_ value: JSONValue, forKey key: String) -> JSONValue? {
        if let position = position(of: key) {
            let old = members[position].value
            members[position].value = value
            return old
        }
        append(key, value)
        return nil
    }

    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? {
        guard let position = position(of: key) else { return nil }
        let removed = members.remove(at: position).value
        if positions != nil { rebuildPositions() }
        return removed
    }

    /// The members for which `isIncluded` holds, in the same order.
    public func filter(_ isIncluded: (Element) throws -> Bool) rethrows -> JSONObject {
        var kept = JSONObject(minimumCapacity: count)
        for member in members where try isIncluded(member) { kept.append(member.key, member.value) }
        return kept
    }

    /// Each value transformed, keys and order kept.
    public func mapValues(_ transform: (JSONValue) throws -> JSONValue) rethrows -> JSONObject {
        var mapped = self
        for position in mapped.members.indices { mapped.members[position].value = try transform(mapped.members[position].value) }
        return mapped
    }

    private func position(of key: String) -> Int? {
        if let positions { return positions[key] }
        // No length check first: equal names may differ in length (composed or combined accents).
        for position in members.indices where members[position].key == key { return position }
        return nil
    }

    /// Adds a member whose key is not present.
    private mutating func append(_ key: String, _ value: JSONValue) {
        members.append((key, value))
        if positions != nil {
            positions![key] = members.count - 1
        } else if members.count > Self.indexedAbove {
            rebuildPositions()
        }
    }

    private mutating func rebuildPositions() {
        guard members.count > Self.indexedAbove else {
            positions = nil
            return
        }
        var index: [String: Int] = [:]
        index.reserveCapacity(members.count)
        for (position, member) in members.enumerated() { index[member.key] = position }
        positions = index
    }
}

extension JSONObject: Sequence {
    public func makeIterator() -> IndexingIterator<[Element]> { members.makeIterator() }
    public var underestimatedCount: Int { members.count }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    /// A later duplicate key replaces the earlier one's value.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(minimumCapacity: elements.count)
        for (key, value) in elements { updateValue(value, forKey: key) }
    }
}

extension JSONObject: Hashable {
    /// The same members, in any order.
    public static func == (left: JSONObject, right: JSONObject) -> Bool {
        guard left.count == right.count else { return false }
        for member in left.members {
            guard let other = right[member.key], other == member.value else { return false }
        }
        return true
    }

    /// Order-independent, as `Dictionary` hashes: each member hashed alone, the results combined
    /// with XOR.
    public func hash(into hasher: inout Hasher) {
        var combined = 0
        for member in members {
            var memberHasher = Hasher()
            memberHasher.combine(member.key)
            memberHasher.combine(member.value)
            combined ^= memberHasher.finalize()
        }
        hasher.combine(count)
        hasher.combine(combined)
    }
}
