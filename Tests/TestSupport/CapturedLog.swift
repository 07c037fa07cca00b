import Logging
import Synchronization

/// Log lines a test can read back: level, message and metadata.
public final class CapturedLog: Sendable {
    public struct Line: Sendable {
        public var level: Logger.Level
        public var message: String
        public var metadata: [String: String]
    }

    let lines = Mutex<[Line]>([])

    public init() {}

    public var logger: Logger {
        var logger = Logger(label: "test") { _ in Handler(sink: self) }
        logger.logLevel = .trace
        return logger
    }

    public var all: [Line] { lines.withLock { $0 } }

    struct Handler: LogHandler {
        let sink: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            var fields = metadata.mapValues(\.description)
            for (key, value) in event.metadata ?? [:] { fields[key] = value.description }
            sink.lines.withLock { $0.append(Line(level: event.level, message: event.message.description, metadata: fields)) }
        }
    }
}
