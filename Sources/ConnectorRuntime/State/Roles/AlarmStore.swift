import CAPICore

/// Alarms: raised by the forwarder (a paused pixel) and the drift monitor, read by operators.
public protocol AlarmStore: Sendable {
    /// Records an alarm; while one for the same subject is active, records the sighting instead
    /// (last seen, count, latest detail). Returns whether it was raised now.
    @discardableResult
    func raiseAlarm(_ subject: AlarmSubject, severity: AlarmSeverity, message: String, now: UnixMillis) async throws(StateError) -> Bool
    /// Clears the active alarms of `subject`; returns how many.
    @discardableResult
    func clearAlarms(_ subject: AlarmSubject, now: UnixMillis) async throws(StateError) -> Int
    /// Alarms oldest first: the active ones, or all (cleared ones with their clearing time).
    func alarms(activeOnly: Bool) async throws(StateError) -> [AlarmRecord]
}

extension AlarmStore {
    /// Alarms not yet cleared, oldest first.
    public func activeAlarms() async throws(StateError) -> [AlarmRecord] { try await alarms(activeOnly: true) }
}

/// What an alarm is about; two alarms with the same subject are one while it is active.
public struct AlarmSubject: Sendable, Hashable {
    public var kind: String
    public var pixelID: String?
    public var stream: String?
    public var eventName: String?
    public var field: String?

    public init(kind: String, pixelID: String? = nil, stream: String? = nil, eventName: String? = nil, field: String? = nil) {
        self.kind = kind
        self.pixelID = pixelID
        self.stream = stream
        self.eventName = eventName
        self.field = field
    }
}

public enum AlarmSeverity: String, Sendable, Codable, CaseIterable {
    /// Events are being lost or refused, or Meta refuses the credentials.
    case critical
    /// Attribution quality is degrading.
    case warning
    /// Worth knowing (a new field appeared).
    case info
}
