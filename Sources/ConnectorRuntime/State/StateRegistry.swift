import CAPICore

/// The connector's durable state: cursors, run history, the idempotency ledger, the outbox, dead
/// letters, the analytics streams, registered schemas and alarms.
///
/// Components depend on the role they use (``IntakeStore``, ``OutboxStore``, ``AlarmStore``,
/// ``PullStore``, ``OperationsStore``, ``SchemaStore``, ``DriftStore``, ``ReplayStore``); a backend implements them all. Two backends honour one
/// contract (and one test suite): ``PostgresStateRegistry`` for production and several replicas,
/// ``SQLiteStateRegistry`` embedded by default. Each is its SQL only: the rules both keep live in
/// the role protocols' extensions and in ``IntakePlan``. Every method that writes more than one row
/// does so in one transaction.
public protocol StateRegistry: IntakeStore, OutboxStore, AlarmStore, PullStore, OperationsStore, SchemaStore, DriftStore, ReplayStore {
    /// `postgres` or `sqlite`, for logs, readiness and `state show`.
    var backend: String { get }

    /// One round trip to the store: whether it answers at all.
    func ping() async throws(StateError)

    /// Applies pending versioned migrations; safe to call from several processes at once.
    func migrate() async throws(StateError)

    /// Why a new connection to the store fails right now, or `nil` when one can be made: asked
    /// when the store is slow to answer, so a refusal is reported as what it is.
    func connectionProblem() async -> StateConnectionProblem?

    /// At shutdown: if no connection to the store can be made now, stops waiting for one, so that
    /// what would wait (a statement in a service still stopping) fails at once instead of holding
    /// the exit. Answers whether it let go. The running registry goes on until it is stopped.
    func letGoIfUnreachable() async -> Bool
}

/// Why the store cannot be reached, from one attempt to connect.
public enum StateConnectionProblem: Error, Sendable, Equatable {
    /// The server answered and said no (no such database or role, a wrong password): trying
    /// again will not help, so nobody waits for it.
    case refused(String)
    /// No answer, or one that may change (connection refused while the server starts, too many
    /// connections): worth waiting for.
    case unreachable(String)
}

extension StateRegistry {
    /// An embedded store has no connection to fail: opening it already said why.
    public func connectionProblem() async -> StateConnectionProblem? { nil }

    /// An embedded store is never waited for: there is nothing to let go.
    public func letGoIfUnreachable() async -> Bool { false }
}
