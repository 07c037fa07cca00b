import Foundation
import Synchronization

/// Paths under the temporary directory for one test run's files (stores, logs, manifests),
/// removed when the test process exits, so runs do not pile up stores in `/tmp`.
public enum TemporaryPaths {
    private static let made = Mutex<[URL]>([])
    private static let removalAtExit: Void = {
        atexit {
            for url in TemporaryPaths.made.withLock({ $0 }) { try? FileManager.default.removeItem(at: url) }
        }
    }()

    /// A new path `<prefix>-<uuid><suffix>` in the temporary directory, not yet created.
    public static func url(_ prefix: String, suffix: String = "") -> URL {
        _ = removalAtExit
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)\(suffix)")
        made.withLock { $0.append(url) }
        return url
    }

    /// A new, empty directory: for a test whose files are named after one another (`x.log`,
    /// `x.log.port`), so that they all go when it does.
    public static func folder(_ prefix: String) throws -> URL {
        let url = url(prefix)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
