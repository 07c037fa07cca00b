import CAPICore

/// What the push request path needs: one idempotent commit per batch of accepted events.
public protocol IntakeStore: Sendable {
    /// Ledger + outbox + `delivered_events` for every new item in one transaction; duplicates and
    /// conflicts are detected against the ledger (including earlier items of the same call).
    func commitIntake(_ items: [IntakeItem]) async throws(StateError) -> [IntakeOutcome]

    /// How many ``commitIntake(_:)`` calls are worth running at once. A store whose commits can
    /// overlap (one executing while another waits for the disk) says more than one; a store with
    /// a single writer gains nothing from it.
    var concurrentIntakeCommits: Int { get }
}

extension IntakeStore {
    public var concurrentIntakeCommits: Int { 1 }
}
