/// A per-key rule's reason for refusing a value; never contains the value.
struct RuleFailure: Error, Equatable {
    var reason: String
    init(_ reason: String) { self.reason = reason }
}
