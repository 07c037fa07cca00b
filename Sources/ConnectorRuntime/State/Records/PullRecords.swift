import CAPICore

/// Where a stream's cursor lives: one per (connector, stream, partition).
public struct CursorKey: Sendable, Hashable, Codable {
    public var connector: String
    public var stream: String
    public var partition: String

    public init(connector: String, stream: String, partition: String) {
        self.connector = connector
        self.stream = stream
        self.partition = partition
    }
}

/// A cursor position (the end of the last committed window) and the run that set it.
public struct CursorValue: Sendable, Equatable, Codable {
    public var position: UnixSeconds
    public var runID: String
    public var updatedAt: UnixMillis

    public init(position: UnixSeconds, runID: String, updatedAt: UnixMillis) {
        self.position = position
        self.runID = runID
        self.updatedAt = updatedAt
    }
}

/// What kind of job a run was.
public enum RunMode: String, Sendable, Codable, CaseIterable {
    /// `poll`: delivery statuses and match quality.
    case pull
}

/// How a run ended (or that it has not).
public enum RunStatus: String, Sendable, Codable, CaseIterable {
    case running, ok, partial
    case authFailed = "auth_failed"
    /// Stopped before it finished: by a shutdown it was asked for (SIGTERM, SIGINT), with its end
    /// time and counts so far, or found still `running` by the next poll (the process was killed
    /// or lost its store), with no end time.
    case interrupted
}

/// Why a run did not end `ok`.
public enum RunErrorClass: String, Sendable, Codable, CaseIterable {
    /// Meta refused the credentials for every pixel.
    case auth
    /// Some partitions failed; the others advanced.
    case partitionFailed = "partition_failed"
}

/// One row of run history.
public struct RunRecord: Sendable, Equatable, Codable {
    public var runID: String
    public var mode: RunMode
    public var startedAt: UnixMillis
    public var endedAt: UnixMillis?
    public var status: RunStatus
    /// Counters as JSON (`{"records": 120, "windows": 3}`).
    public var counts: String
    public var errorClass: RunErrorClass?

    public init(
        runID: String,
        mode: RunMode,
        startedAt: UnixMillis,
        endedAt: UnixMillis? = nil,
        status: RunStatus = .running,
        counts: String = "{}",
        errorClass: RunErrorClass? = nil
    ) {
        self.runID = runID
        self.mode = mode
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.status = status
        self.counts = counts
        self.errorClass = errorClass
    }
}

/// One hourly count Meta reports for a pixel (`delivery_statuses`).
public struct DeliveryStatusRecord: Sendable, Equatable, Codable {
    public var pixelID: String
    /// Start of the hour bucket.
    public var bucketStart: UnixSeconds
    public var eventName: String
    /// `all` or `server`.
    public var eventSource: String
    public var count: Int64

    public init(pixelID: String, bucketStart: UnixSeconds, eventName: String, eventSource: String, count: Int64) {
        self.pixelID = pixelID
        self.bucketStart = bucketStart
        self.eventName = eventName
        self.eventSource = eventSource
        self.count = count
    }
}

/// One event name's dataset quality for a pixel (`match_quality`), as a JSON record.
public struct MatchQualityRecord: Sendable, Equatable {
    public var pixelID: String
    public var eventName: String
    public var record: JSONValue

    public init(pixelID: String, eventName: String, record: JSONValue) {
        self.pixelID = pixelID
        self.eventName = eventName
        self.record = record
    }
}
