import ConnectorRuntime
import GraphAPI

/// A field of a Graph answer that a parser relies on, missing or of another type: Meta changed an
/// answer. Counted for the drift monitor (`schema_drift_answer_shape`) and, where the answer cannot
/// be read at all, the reason its window fails instead of being read as empty.
public struct AnswerShapeProblem: Error, Sendable, Equatable, CustomStringConvertible {
    /// Which answer: `stats`, `dataset_quality`.
    public var answer: String
    /// The path inside the answer, with `[]` for any element: `data[].count`.
    public var field: String
    /// What the parser needs there: `a non-negative integer`.
    public var expectation: String

    public init(answer: String, field: String, expectation: String) {
        self.answer = answer
        self.field = field
        self.expectation = expectation
    }

    /// The drift monitor's key for it: `field: expectation`.
    public var driftKey: String { "\(field): \(expectation)" }

    public var description: String { "the \(answer) answer's \(field) is not \(expectation)" }

    /// As a failed read: transient (Meta may answer properly on the next run), never a permanent skip.
    public var graphError: GraphError { GraphError(errorClass: .transient, message: description, transport: .malformedResponse) }
}
