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
}

/// One window's counts for one key: fixed-size arrays indexed by field, plus refusals by
/// `code:field` (at most ``maximumRefusalKeys`` distinct ones; the rest counted as `other`).
public struct DriftCounters: Sendable, Equatable, Codable {
    public var events: Int = 0
    public var refused: Int = 0
    public var applicable: [Int] = Array(repeating: 0, count: WatchedField.allCases.count)
    public var present: [Int] = Array(repeating: 0, count: WatchedField.allCases.count)
    public var formats: [Int] = Array(repeating: 0, count: FormatFlag.allCases.count)
    public var refusals: [String: Int] = [:]

    public static let maximumRefusalKeys = 32

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
            let key = refusals[refusal] != nil || refusals.count < Self.maximumRefusalKeys ? refusal : "other"
            refusals[key, default: 0] += 1
        }
    }

    public mutating func merge(_ other: DriftCounters) {
        events += other.events
        refused += other.refused
        for index in applicable.indices {
            applicable[index] += other.applicable[index]
            present[index] += other.present[index]
        }
        for index in formats.indices { formats[index] += other.formats[index] }
        for (key, count) in other.refusals {
            let key = refusals[key] != nil || refusals.count < Self.maximumRefusalKeys ? key : "other"
            refusals[key, default: 0] += count
        }
    }

    /// Share of applicable events that carried `field` (`nil` when it applied to none).
    public func coverage(_ field: WatchedField) -> Double? {
        applicable[field.rawValue] == 0 ? nil : Double(present[field.rawValue]) / Double(applicable[field.rawValue])
    }

    public var refusalRate: Double { events == 0 ? 0 : Double(refused) / Double(events) }

    public func share(_ flag: FormatFlag) -> Double { events == 0 ? 0 : Double(formats[flag.rawValue]) / Double(events) }
}
