import CAPICore

/// Alarms: raised by the forwarder (a paused pixel) and later the schema registry, read by operators.
public protocol AlarmStore: Sendable {
    /// Records an alarm, unless one of the same kind for the same pixel is still active.
    func raiseAlarm(kind: String, pixelID: String?, message: String, now: UnixMillis) async throws(StateError)
    /// Clears the active alarms of `kind` for `pixelID`; returns how many.
    @discardableResult
    func clearAlarms(kind: String, pixelID: String?, now: UnixMillis) async throws(StateError) -> Int
    /// Alarms not yet cleared, oldest first.
    func activeAlarms() async throws(StateError) -> [AlarmRecord]
}
