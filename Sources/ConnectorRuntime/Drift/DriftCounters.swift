import CAPICore

/// Where counts belong: a stream, a pixel and an event name (a PageView carries no email, a
/// Purchase does, so they are watched apart).
public struct DriftKey: Sendable, Hashable, Codable {
    public var stream: String
    public var pixelID: String
    public var eventName: String

    public init(stream: String, pixelID: String, eventName: String) {
        self.stream = stream
        self.pixelID = pixelID
        self.eventName = eventName
    }

    /// The event name of counts about a whole answer rather than one event (a pulled page).
    public static let anyEvent = "*"

    /// Pulled records are Meta's own aggregates (one quality snapshot sums thousands of events), so
    /// a single one is a sample; pushed events need the manifest's minimum sample.
    public var isPulled: Bool { stream != StateStream.deliveredEvents.rawValue }
}

/// One window's counts for one key: fixed-size arrays indexed by field, refusals by `code:field`,
/// unknown fields by label (``UnknownFieldLabel``), answer-shape problems by field path, and the
/// match-quality scores Meta reported; every keyed count capped, the rest counted as `other`.
public struct DriftCounters: Sendable, Equatable {
    public var events: Int = 0
    public var refused: Int = 0
    public var applicable: [Int] = Array(repeating: 0, count: WatchedField.allCases.count)
    public var present: [Int] = Array(repeating: 0, count: WatchedField.allCases.count)
    public var formats: [Int] = Array(repeating: 0, count: FormatFlag.allCases.count)
    public var refusals: [String: Int] = [:]
    public var unknownFields: [String: Int] = [:]
    /// `field: expectation` of pulled answers a parser could not rely on.
    public var shapeProblems: [String: Int] = [:]
    public var qualitySum: Double = 0
    public var qualityCount: Int = 0

    public static let maximumRefusalKeys = 32
    public static let maximumUnknownFields = 16
    public static let maximumShapeProblems = 16

    public init() {}

    public mutating func add(_ observation: DriftObservation) {
        events += 1
        for field in WatchedField.allCases where observation.applies(field) {
            applicable[field.rawValue] += 1
            if observation.has(field) { present[field.rawValue] += 1 }
        }
        for flag in FormatFlag.allCases where observation.flagged(flag) { formats[flag.rawValue] += 1 }
        if let refusal = observation.refusal {
            refused += 1
            Self.count(refusal, 1, in: &refusals, cap: Self.maximumRefusalKeys)
        }
        for label in observation.unknownFields { Self.count(label, 1, in: &unknownFields, cap: Self.maximumUnknownFields) }
    }

    /// One pulled record (or answer): its quality score if Meta reported one, and what of its shape
    /// the parser could not rely on.
    public mutating func addPulled(qualityScore: Double? = nil, shapeProblems problems: [String] = []) {
        events += 1
        if let qualityScore {
            qualitySum += qualityScore
            qualityCount += 1
        }
        for problem in problems { Self.count(problem, 1, in: &shapeProblems, cap: Self.maximumShapeProblems) }
    }

    /// Keys are outside input (field names, codes): at most `cap` distinct ones, the rest `other`.
    static func count(_ key: String, _ count: Int, in counts: inout [String: Int], cap: Int) {
        let key = counts[key] != nil || counts.count < cap ? key : "other"
        counts[key, default: 0] += count
    }

    /// Share of applicable events that carried `field` (`nil` when it applied to none).
    public func coverage(_ field: WatchedField) -> Double? {
        applicable[field.rawValue] == 0 ? nil : Double(present[field.rawValue]) / Double(applicable[field.rawValue])
    }

    public var refusalRate: Double { events == 0 ? 0 : Double(refused) / Double(events) }

    public func share(_ flag: FormatFlag) -> Double { events == 0 ? 0 : Double(formats[flag.rawValue]) / Double(events) }

    /// The mean match-quality score Meta reported in this window (`nil` when it reported none).
    public var quality: Double? { qualityCount == 0 ? nil : qualitySum / Double(qualityCount) }
}

extension DriftCounters: Codable {
    enum CodingKeys: String, CodingKey {
        case events, refused, applicable, present, formats, refusals, unknownFields, shapeProblems, qualitySum, qualityCount
    }

    /// Windows stored before a count existed decode with it empty: a store never strands a window.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        events = try container.decode(Int.self, forKey: .events)
        refused = try container.decode(Int.self, forKey: .refused)
        applicable = Self.resized(try container.decode([Int].self, forKey: .applicable), to: WatchedField.allCases.count, padding: 0)
        present = Self.resized(try container.decode([Int].self, forKey: .present), to: WatchedField.allCases.count, padding: 0)
        formats = Self.resized(try container.decode([Int].self, forKey: .formats), to: FormatFlag.allCases.count, padding: 0)
        refusals = try container.decodeIfPresent([String: Int].self, forKey: .refusals) ?? [:]
        unknownFields = try container.decodeIfPresent([String: Int].self, forKey: .unknownFields) ?? [:]
        shapeProblems = try container.decodeIfPresent([String: Int].self, forKey: .shapeProblems) ?? [:]
        qualitySum = try container.decodeIfPresent(Double.self, forKey: .qualitySum) ?? 0
        qualityCount = try container.decodeIfPresent(Int.self, forKey: .qualityCount) ?? 0
    }

    /// Figures per field of an older (or newer) field list, padded or cut to today's.
    static func resized<Value>(_ values: [Value], to size: Int, padding: Value) -> [Value] {
        values.count >= size ? Array(values.prefix(size)) : values + Array(repeating: padding, count: size - values.count)
    }
}
