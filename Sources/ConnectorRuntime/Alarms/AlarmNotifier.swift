import CAPICore

/// Where alarm changes go beyond the store and the log: a webhook, a pager. Delivery happens after
/// the evaluation that made the change has released the store's drift lock, so a slow receiver
/// delays only the next evaluation, never another process.
public protocol AlarmNotifier: Sendable {
    func deliver(_ changes: [AlarmChange]) async
}

/// An alarm raised or cleared, as a notifier sends it. Carries the alarm's detail, which never
/// holds a personal value.
public struct AlarmChange: Sendable, Equatable {
    public enum Transition: String, Sendable { case raised, cleared }

    public var transition: Transition
    public var subject: AlarmSubject
    public var severity: AlarmSeverity
    public var detail: String
    public var at: UnixMillis

    public init(transition: Transition, subject: AlarmSubject, severity: AlarmSeverity, detail: String, at: UnixMillis) {
        self.transition = transition
        self.subject = subject
        self.severity = severity
        self.detail = detail
        self.at = at
    }
}
