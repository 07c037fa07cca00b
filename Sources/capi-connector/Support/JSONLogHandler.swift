import CAPICore
import ConnectorRuntime
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// One JSON object per line on standard error: what log shippers ingest without parsing rules.
///
/// Callers never log personal values or secrets; this backend only formats what it is given.
struct JSONLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    var logLevel: Logger.Level
    let label: String

    init(label: String, level: Logger.Level, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.logLevel = level
        self.metadataProvider = metadataProvider
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var object: [String: Any] = [
            "ts": Self.timestamp(),
            "level": event.level.rawValue,
            "logger": label,
            "message": event.message.description,
        ]
        // The provider's (`run_id`) under the logger's, under the line's own.
        var merged = metadataProvider?.get() ?? [:]
        merged.merge(metadata) { $1 }
        merged.merge(event.metadata ?? [:]) { $1 }
        for (key, value) in merged {
            object[key] = Self.plain(value)
        }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        var bytes = Array(data)
        bytes.append(UInt8(ascii: "\n"))
        StandardStreams.writeAll(&bytes, to: STDERR_FILENO)
    }

    static func plain(_ value: Logger.MetadataValue) -> Any {
        switch value {
        case .string(let text): text
        case .stringConvertible(let convertible): convertible.description
        case .array(let values): values.map(plain)
        case .dictionary(let values): values.mapValues(plain)
        }
    }

    /// `2026-11-23T20:04:45.123Z`, by arithmetic: no formatter object per line.
    static func timestamp() -> String { WallClock.system.now().iso8601 }

    /// Installs the backend once for the process, at `CAPI_LOG_LEVEL` (default info). Every line
    /// carries a `run_id`: the poll run or Lambda invocation it is logged for, else one made here
    /// for the process, `command` and 12 hex digits (`serve-3f9a…`).
    static func bootstrap(command: String) {
        let level = ProcessInfo.processInfo.environment["CAPI_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        let process = command + "-" + UUID().uuidString.prefix(12).lowercased()
        LoggingSystem.bootstrap(
            { label, provider in JSONLogHandler(label: label, level: level, metadataProvider: provider) },
            metadataProvider: RunIdentity.metadataProvider(process: process)
        )
    }
}
