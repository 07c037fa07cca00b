/// One reason an event is refused, named by its field path (`user_data.em`, `custom_data.currency`).
///
/// Messages describe what is wrong with a field and never repeat its value: they are returned to
/// senders, logged and stored in the dead-letter queue.
public struct EventProblem: Sendable, Hashable, Codable, CustomStringConvertible {
    public var field: String
    public var code: Code
    public var message: String

    public enum Code: String, Sendable, Codable {
        case missing
        case invalidType = "invalid_type"
        case invalidValue = "invalid_value"
        case millisecondsTimestamp = "milliseconds_timestamp"
        case tooOld = "too_old"
        case inFuture = "in_future"
        case unknownField = "unknown_field"
        case noCustomerInformation = "no_customer_information"
        case tooLong = "too_long"
    }

    public init(field: String, code: Code, message: String) {
        self.field = field
        self.code = code
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}

/// An event that cannot be sent, with every problem found (not just the first).
public struct EventRejection: Error, Sendable, Equatable {
    public var problems: [EventProblem]
    /// What would have been dropped or passed through with a remark had the event been accepted:
    /// the sender fixes those in the same go.
    public var warnings: [String]

    public init(problems: [EventProblem], warnings: [String] = []) {
        self.problems = problems
        self.warnings = warnings
    }
}
