import CAPICore

/// What the push request path needs: one idempotent commit per batch of accepted events.
public protocol IntakeStore: Sendable {
    /// Ledger + outbox + `delivered_events` for every new item in one transaction; duplicates and
    /// conflicts are detected against the ledger (including earlier items of the same call).
    func commitIntake(_ items: [IntakeItem]) async throws(StateError) -> [IntakeOutcome]
}
