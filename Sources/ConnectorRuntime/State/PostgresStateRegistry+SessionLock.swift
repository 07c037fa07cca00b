import Logging
import PostgresNIO

extension PostgresStateRegistry {
    /// A session advisory lock (`name`: the poll lock, the drift lock) held for `body`; `nil` when
    /// another holds it. Taking it fails as a ``StateError`` naming it; `body`'s own errors pass
    /// through as thrown.
    ///
    /// The lock lives as long as the session that took it, and a session can end while `body`
    /// runs: a server restart or failover, a terminated backend, `idle_session_timeout`. A poll
    /// whose lock session was terminated used to finish its windows and then fail on the unlock
    /// with `Error: ConnectionClosedBeforeStart()` and exit 1, having held no lock for most of
    /// its run. Now the session is asked every ``sessionLockCheckInterval`` whether it is still
    /// there (which also keeps it from counting as idle), and when it is gone the lock is taken
    /// again on a new connection. A session already gone at the unlock took the lock with it.
    func withSessionLock<T: Sendable>(_ name: String, _ lock: String, unlock: String, _ body: @Sendable () async throws -> T) async throws -> T? {
        do {
            // A pooled connection the server has closed (`idle_session_timeout`, a restart) refuses
            // the lock statement unsent: taken on another.
            return try await onOpenConnection { connection -> T? in
                guard try await take(lock, on: connection) else { return nil }
                let outcome = await withoutActuallyEscaping(body) { body in
                    await withTaskGroup(of: Result<T, any Error>?.self) { group in
                        group.addTask {
                            do { return .success(try await body()) } catch { return .failure(error) }
                        }
                        group.addTask {
                            await keepHolding(name, lock: lock, unlock: unlock, on: connection)
                            return nil
                        }
                        var outcome: Result<T, any Error>?
                        while let next = await group.next() {
                            guard let next else { continue }
                            outcome = next
                            // The body ended: the lock's keeper stops.
                            group.cancelAll()
                        }
                        return outcome ?? .failure(CancellationError())
                    }
                }
                await release(unlock, on: connection)
                do {
                    return try outcome.get()
                } catch {
                    throw SessionLockBodyFailure(error: error)
                }
            }
        } catch let failure as SessionLockBodyFailure {
            throw failure.error
        } catch {
            throw Self.stateError(error, what: "take the \(name)")
        }
    }

    /// Whether `lock` was taken on `connection`'s session.
    private func take(_ lock: String, on connection: PostgresConnection) async throws -> Bool {
        // Best effort: a server that cannot set them still gives the lock. A session that was
        // already gone is not: the lock is taken on another (``onOpenConnection(_:)``).
        for setting in [Self.lockSessionKeepalives, Self.lockSessionNeverIdle] {
            do {
                try await connection.fetch(setting, logger: logger)
            } catch  where ConnectionClosedBeforeStart.isUnsent(error) {
                throw error
            } catch {}
        }
        let rows = try await connection.fetch(PostgresQuery(unsafeSQL: lock), logger: logger)
        var acquired = false
        for try await got in rows.decode(Bool.self) { acquired = got }
        return acquired
    }

    /// Unlocks. The lock must not stay with a connection going back to the pool, so a session
    /// still open whose unlock failed is closed; a session already gone took the lock with it.
    private func release(_ unlock: String, on connection: PostgresConnection) async {
        do {
            try await connection.fetch(PostgresQuery(unsafeSQL: unlock), logger: logger)
        } catch {
            try? await connection.close()
        }
    }

    /// Until cancelled (the body ended), asks the lock's session every interval whether it is
    /// still there; when it is not, takes the lock again on a new connection and keeps that one.
    /// Another process may have taken it in between: that is logged, and the body goes on (a
    /// window is committed whole with its cursor, so two polls at once repeat work, no more).
    private func keepHolding(_ name: String, lock: String, unlock: String, on connection: PostgresConnection) async {
        while true {
            do { try await Task.sleep(for: sessionLockCheckInterval) } catch { return }
            do {
                try await connection.fetch("SELECT 1", logger: logger)
            } catch {
                break
            }
        }
        guard !Task.isCancelled else { return }
        logger.warning("the session holding the \(name) ended; taking it again on a new connection")
        while !Task.isCancelled {
            do {
                let taken = try await onOpenConnection { fresh -> Bool in
                    guard try await take(lock, on: fresh) else { return false }
                    logger.notice("the \(name) is held again")
                    await keepHolding(name, lock: lock, unlock: unlock, on: fresh)
                    await release(unlock, on: fresh)
                    return true
                }
                if !taken {
                    logger.error(
                        "another process took the \(name) after this one's session ended; this run goes on without it (its windows are committed whole, so the overlap repeats work and loses none)"
                    )
                }
                return
            } catch {
                // The store does not answer yet: asked again after the interval.
                do { try await Task.sleep(for: sessionLockCheckInterval) } catch { return }
            }
        }
    }

    /// A session lock lasts as long as its session, and the server ends a session when it learns
    /// the client is gone. A killed process's socket closes at once; a host that vanishes (power,
    /// a network partition) sends nothing, and with Linux's defaults the server's TCP keepalive
    /// notices after 2 h 11 min, every poll until then finding the lock held (exit 4). On the lock's
    /// session the server probes after 60 s idle, every 10 s, and gives up after 3 unanswered:
    /// 90 s. Session settings, not startup parameters, which a connection pooler may refuse;
    /// ignored on a Unix socket.
    static let lockSessionKeepalives: PostgresQuery = """
        SELECT set_config('tcp_keepalives_idle', '60', false), set_config('tcp_keepalives_interval', '10', false),
               set_config('tcp_keepalives_count', '3', false)
        """

    /// A session holding a lock for a running job is not idle, however long the job leaves it
    /// alone: a server's `idle_session_timeout` (PostgreSQL 14 and later; a statement of its own,
    /// since an older server refuses the name) would end it, and the lock with it, between two
    /// checks of ``withSessionLock(_:_:unlock:_:)``. A client that vanishes is still found by the
    /// keepalives above.
    static let lockSessionNeverIdle: PostgresQuery = "SELECT set_config('idle_session_timeout', '0', false)"

    /// The error of the body a session lock was held for, carried past the classification of the
    /// lock's own failures.
    private struct SessionLockBodyFailure: Error { var error: any Error }
}
