/// What giving a SQLite store's free pages back to the file system did.
///
/// Deleting rows frees pages inside the file, which SQLite reuses but does not give back. A store
/// created with incremental vacuum (every store this connector creates) can give them back a
/// chunk at a time, beside a running sidecar; an older store keeps them until it is rewritten once
/// (`state vacuum`), which also turns incremental vacuum on.
public struct StoreFileSpace: Sendable, Equatable {
    /// The database file and its write-ahead log, in bytes, before and after.
    public var bytesBefore: Int64
    public var bytesAfter: Int64
    /// Free pages still inside the file, in bytes: reused by new rows, given back only by a rewrite.
    public var freeBytesKept: Int64
    /// Whether the store gives freed pages back by itself (`auto_vacuum = INCREMENTAL`).
    public var incremental: Bool

    public init(bytesBefore: Int64, bytesAfter: Int64, freeBytesKept: Int64, incremental: Bool) {
        self.bytesBefore = bytesBefore
        self.bytesAfter = bytesAfter
        self.freeBytesKept = freeBytesKept
        self.incremental = incremental
    }
}
