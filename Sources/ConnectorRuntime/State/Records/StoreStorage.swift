/// How much disk a store takes and which tables take it: what an operator reads before
/// `state prune`, and on SQLite before `state vacuum`.
public struct StoreStorage: Sendable, Equatable {
    /// SQLite: the file and its write-ahead log. PostgreSQL: the whole database.
    public var bytes: Int64
    /// Each of the connector's tables with its indexes (on PostgreSQL with its TOAST data too),
    /// largest first; `nil` when not measured.
    public var tables: [TableBytes]?
    /// SQLite: free pages inside the file, reused by new rows; `nil` on PostgreSQL.
    public var freeBytes: Int64?
    /// SQLite: whether prune gives freed pages back to the file system; `nil` on PostgreSQL.
    public var incrementalVacuum: Bool?

    public init(bytes: Int64, tables: [TableBytes]?, freeBytes: Int64? = nil, incrementalVacuum: Bool? = nil) {
        self.bytes = bytes
        self.tables = tables?.sorted { ($0.bytes, $1.name) > ($1.bytes, $0.name) }
        self.freeBytes = freeBytes
        self.incrementalVacuum = incrementalVacuum
    }

    public struct TableBytes: Sendable, Equatable {
        public var name: String
        public var bytes: Int64

        public init(name: String, bytes: Int64) {
            self.name = name
            self.bytes = bytes
        }
    }

    /// The connector's own tables: a PostgreSQL schema may hold other applications' tables too.
    static var tableNames: [String] { StateMigrations.probes.map(\.table) }
}
