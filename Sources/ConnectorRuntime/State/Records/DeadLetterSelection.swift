/// Which dead letters an operation applies to: all of them, or those matching every filter given.
///
/// After an outage an operator replays what failed for a passing reason (`transient`, `throttled`)
/// and leaves what Meta refused as invalid; ids alone made that a script over `dlq list`.
public struct DeadLetterSelection: Sendable, Equatable {
    /// These ids only; `nil`: any.
    public var ids: [Int64]?
    /// These error classes only; `nil`: any.
    public var classes: [DeadLetterClass]?
    /// These pixels only; `nil`: any.
    public var pixelIDs: [String]?

    public init(ids: [Int64]? = nil, classes: [DeadLetterClass]? = nil, pixelIDs: [String]? = nil) {
        self.ids = ids
        self.classes = classes
        self.pixelIDs = pixelIDs
    }

    public static let all = DeadLetterSelection()

    public var isAll: Bool { ids == nil && classes == nil && pixelIDs == nil }
}
