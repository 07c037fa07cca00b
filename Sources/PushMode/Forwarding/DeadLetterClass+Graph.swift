import ConnectorRuntime
import GraphAPI

extension DeadLetterClass {
    /// The class a Graph API refusal leaves on a dead letter.
    init(_ errorClass: GraphErrorClass) {
        switch errorClass {
        case .transient: self = .transient
        case .throttled: self = .throttled
        case .blocked: self = .blocked
        case .auth: self = .auth
        case .permission: self = .permission
        case .invalid: self = .invalid
        case .deprecated: self = .deprecated
        }
    }
}
