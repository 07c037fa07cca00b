import Logging
import PostgresNIO

/// PostgreSQL answers a statement of the extended protocol (`CommandComplete`) before it commits
/// the statement's implicit transaction, at the `Sync` that follows, and PostgresNIO 1.33.2 ends
/// the statement's rows, successfully, at that answer. A commit that fails then, or a backend
/// terminated in between, reaches the client only afterwards, as an error that closes the
/// connection; the statement's caller had already been told it was done. An intake commit told
/// so answered `202` for events the server had rolled back: under backend terminations the ledger
/// once held four events fewer than were acknowledged (docs/hardening.md).
///
/// A statement sent after it starts only once the server is ready again, with the commit done, so
/// one that succeeds proves the commit; the connection's end fails it instead. It is the empty
/// statement, which the server answers with nothing to parse or plan: it cost the sidecar less
/// than `SELECT 1` did under `compare-ingest`'s load (docs/performance.md, forty-fourth part).
extension PostgresConnection {
    /// Returns once the statement run before on this connection has committed, or throws
    /// ``CommitUnconfirmed`` if the connection ended first (the commit may or may not have been
    /// made). Statements inside `BEGIN … COMMIT` need none: `COMMIT` is answered after it commits.
    func confirmCommitted(logger: Logger) async throws {
        do {
            try await fetch("", logger: logger)
        } catch {
            throw CommitUnconfirmed()
        }
    }
}

/// The connection ended before the server confirmed a statement's commit: it may or may not have
/// been made, so nothing it did is taken as stored, and it is not started again by itself (a
/// retry is its caller's, which the store's keys make harmless).
struct CommitUnconfirmed: Error {}

/// A prepared statement that changes rows: ``PostgresStateRegistry/perform(_:on:)`` returns its
/// rows only once its commit is confirmed (``PostgresConnection/confirmCommitted(logger:)``).
protocol ChangesRows {}
