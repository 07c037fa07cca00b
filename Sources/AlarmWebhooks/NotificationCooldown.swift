import CAPICore
import ConnectorRuntime

/// Which alarm changes are sent: an alarm raised again within the cooldown of the last one sent
/// for the same subject is held back, and so is the clearing of an alarm whose raising was held
/// back (a receiver never sees a clear without its raise).
public struct NotificationCooldown: Sendable {
    let period: Duration
    var lastSent: [AlarmSubject: UnixMillis] = [:]
    var heldBack: Set<AlarmSubject> = []

    public init(period: Duration) { self.period = period }

    public mutating func admits(_ change: AlarmChange) -> Bool {
        switch change.transition {
        case .raised:
            if let last = lastSent[change.subject], change.at < last + period {
                heldBack.insert(change.subject)
                return false
            }
            heldBack.remove(change.subject)
            lastSent[change.subject] = change.at
            return true
        case .cleared:
            return heldBack.remove(change.subject) == nil
        }
    }
}
