import ConnectorRuntime
import Foundation

/// `--prepare-wal`: PostgreSQL creates the WAL files a run will fill before the run starts.
///
/// A fresh cluster writes each new 16 MB WAL file in full before the commit that needs it ends,
/// and every commit queued meanwhile waits; a server that has been running reuses old files. With
/// the files prepared, a benchmark's stages measure that server, not the fresh one.
enum WriteAheadLogPreparation {
    /// About 4 KB per event the run commits: intake writes about 2.5 KB and forwarding 0.4 KB; the
    /// rest is margin, as PostgreSQL keeps files for reuse by an estimate of the next interval's
    /// need. At least 64 MB.
    /// - Parameter extraBytesPerEvent: payload beyond the usual event's, written to the WAL once.
    static func bytes(forEvents events: Int, extraBytesPerEvent: Int = 0) -> Int {
        max(64_000_000, events * (4_000 + extraBytesPerEvent))
    }

    /// Prepares the files on `registry`'s server and reports it as the report's first line.
    static func prepare(_ registry: any StateRegistry, events: Int, extraBytesPerEvent: Int = 0, report: BenchmarkReport) async throws {
        guard let postgres = registry as? PostgresStateRegistry else {
            throw StateError(.configuration, "preparing WAL files needs a PostgreSQL state: SQLite has none")
        }
        let bytes = bytes(forEvents: events, extraBytesPerEvent: extraBytesPerEvent)
        let started = ContinuousClock.now
        try await postgres.prepareWriteAheadLogFiles(bytes: bytes)
        let seconds = String(format: "%.1f", (ContinuousClock.now - started).inSeconds)
        let files = (try? await postgres.writeAheadLogFileCount()).map { ", \($0) WAL files there now" } ?? ""
        report.add("WAL prepared", "\(bytes / 1_000_000) MB written, dropped and checkpointed in \(seconds) s\(files)")
    }
}
