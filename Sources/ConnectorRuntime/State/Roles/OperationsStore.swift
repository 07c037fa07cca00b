import CAPICore

/// What operators and analytics read and repair: streams, dead letters, cursors, the summary.
public protocol OperationsStore: Sendable {
    /// One page of `delivered_events` received at or after `since`, in the order of receipt (ties
    /// by key), after `position`, at most `limit`. The stream grows by every event: a reader holds
    /// a page, never the stream (a million records were 4 GB in one array).
    func deliveredEvents(since: UnixMillis?, after position: DeliveredEventPosition?, limit: Int) async throws(StateError) -> [DeliveredEvent]
    /// `delivery_statuses` pulled at or after `since` whose hour starts in `buckets` (any when
    /// `nil`), by pixel and hour: a report over a month reads that month, not the store's years.
    func deliveryStatuses(since: UnixMillis?, buckets: Range<UnixSeconds>?) async throws(StateError) -> [StoredDeliveryStatus]
    /// `match_quality` snapshots taken at or after `since`, oldest first.
    func matchQualitySnapshots(since: UnixMillis?) async throws(StateError) -> [StoredMatchQuality]
    /// `ad_insights` rows pulled at or after `since`, by account, level, object and day. With
    /// `days`, the rows of those days and each account's rows of its latest day (what it was last
    /// pulled as: time zone, currency, pixels): a report over a month reads that month, not an
    /// ad-level account's years.
    func adInsights(since: UnixMillis?, days: ClosedRange<CalendarDate>?) async throws(StateError) -> [StoredAdInsights]

    /// One page of a pulled stream in its key order: rows written at or after `since`, after
    /// `position`, at most `limit`.
    func pulledStreamPage(
        _ stream: PulledStream,
        since: UnixMillis?,
        after position: PulledStreamPosition?,
        limit: Int
    ) async throws(StateError)
        -> StreamRecords

    /// The selected dead letters, oldest first, at most `limit`.
    func deadLetters(_ selection: DeadLetterSelection, limit: Int) async throws(StateError) -> [DeadLetter]
    /// How many dead letters the selection holds.
    func deadLetterCount(_ selection: DeadLetterSelection) async throws(StateError) -> Int
    /// Moves the selected dead letters back to the outbox; returns how many. Each moves with its
    /// ledger row; SQLite moves 10,000 per transaction, paced, so another process's writer gets in,
    /// and `progress` hears how many have moved after each (PostgreSQL moves them in one statement).
    func replayDeadLetters(_ selection: DeadLetterSelection, now: UnixMillis, progress: @Sendable (Int) -> Void) async throws(StateError) -> Int
    /// Deletes the selected dead letters (on SQLite 10,000 per transaction, paced, with `progress`
    /// as for a replay); returns how many.
    func purgeDeadLetters(_ selection: DeadLetterSelection, progress: @Sendable (Int) -> Void) async throws(StateError) -> Int

    func summary() async throws(StateError) -> StateSummary
    /// The store's size, and with `perTable` each table's share (on SQLite a read of every page,
    /// so asked for only when wanted).
    func storage(perTable: Bool) async throws(StateError) -> StoreStorage
    /// Counts (`delete: false`) or deletes the rows `prune` takes, deleting 10,000 per transaction so
    /// that intake and the forwarder wait for one batch at most; returns how many. `progress` hears
    /// the rows deleted so far after each transaction.
    func prune(_ prune: StreamPrune, delete: Bool, progress: @Sendable (Int) -> Void) async throws(StateError) -> Int
    /// Gives the pages deleted rows freed back to the file system where the store is a file of its
    /// own (SQLite with incremental vacuum), a chunk per transaction so a running sidecar waits for
    /// one chunk at most; `nil` where a server manages its space (PostgreSQL's autovacuum).
    /// `progress` hears the free bytes still to give back, before each chunk.
    func releaseFreedSpace(progress: @Sendable (Int64) -> Void) async throws(StateError) -> StoreFileSpace?
    /// Rewrites a SQLite store compactly (`VACUUM`) and turns incremental vacuum on, for stores
    /// created without it; `nil` for PostgreSQL.
    func rewriteCompactly() async throws(StateError) -> StoreFileSpace?
    /// Clears a stream's cursor (one partition or all) so the next run starts again.
    func resetCursor(stream: String, partition: String?) async throws(StateError) -> Int
}

extension OperationsStore {
    public func replayDeadLetters(_ selection: DeadLetterSelection, now: UnixMillis) async throws(StateError) -> Int {
        try await replayDeadLetters(selection, now: now) { _ in }
    }

    public func purgeDeadLetters(_ selection: DeadLetterSelection) async throws(StateError) -> Int {
        try await purgeDeadLetters(selection) { _ in }
    }

    public func prune(_ prune: StreamPrune, delete: Bool) async throws(StateError) -> Int {
        try await self.prune(prune, delete: delete) { _ in }
    }

    public func deliveryStatuses(since: UnixMillis?) async throws(StateError) -> [StoredDeliveryStatus] {
        try await deliveryStatuses(since: since, buckets: nil)
    }

    public func adInsights(since: UnixMillis?) async throws(StateError) -> [StoredAdInsights] {
        try await adInsights(since: since, days: nil)
    }

    /// Every page of `delivered_events` received at or after `since` (and before `until`), in
    /// order, each handed to `body` as it is read.
    public func forEachDeliveredEventsPage(
        since: UnixMillis?,
        until: UnixMillis? = nil,
        pageSize: Int = 10_000,
        _ body: ([DeliveredEvent]) async throws -> Void
    ) async throws {
        var position: DeliveredEventPosition?
        while true {
            var page = try await deliveredEvents(since: since, after: position, limit: pageSize)
            guard let last = page.last else { return }
            let full = page.count == pageSize
            // Pages come in receipt order: the first record at or past `until` ends the read.
            if let until, last.receivedAt >= until {
                page.removeAll { $0.receivedAt >= until }
                if !page.isEmpty { try await body(page) }
                return
            }
            try await body(page)
            guard full else { return }
            position = DeliveredEventPosition(after: last)
        }
    }

    /// Every page of `stream` written at or after `since` and before `until`, each handed to `body`
    /// as it is read: `delivered_events` in the order of receipt, the pulled streams in their key order.
    public func forEachPage(
        of stream: StateStream,
        since: UnixMillis?,
        until: UnixMillis?,
        pageSize: Int = 10_000,
        _ body: (StreamRecords) async throws -> Void
    ) async throws {
        guard let pulled = PulledStream(stream) else {
            try await forEachDeliveredEventsPage(since: since, until: until, pageSize: pageSize) { try await body(.deliveredEvents($0)) }
            return
        }
        var position: PulledStreamPosition?
        while true {
            let page = try await pulledStreamPage(pulled, since: since, after: position, limit: pageSize)
            // Key order is not the order of writing: `until` is a filter on every page.
            let kept = until.map(page.written(before:)) ?? page
            if kept.count > 0 { try await body(kept) }
            guard page.count == pageSize, let next = PulledStreamPosition(after: page) else { return }
            position = next
        }
    }

    /// `delivered_events` received at or after `since`, oldest first, all at once: for tests and
    /// small stores; readers of a production stream page through it.
    public func deliveredEvents(since: UnixMillis?) async throws(StateError) -> [DeliveredEvent] {
        var events: [DeliveredEvent] = []
        while true {
            let page = try await deliveredEvents(since: since, after: events.last.map(DeliveredEventPosition.init(after:)), limit: 10_000)
            events += page
            if page.count < 10_000 { return events }
        }
    }

    public func deadLetters(limit: Int) async throws(StateError) -> [DeadLetter] { try await deadLetters(.all, limit: limit) }

    /// Moves dead letters (all when `ids` is nil) back to the outbox; returns how many.
    public func replayDeadLetters(ids: [Int64]?, now: UnixMillis) async throws(StateError) -> Int {
        try await replayDeadLetters(DeadLetterSelection(ids: ids), now: now)
    }

    public func purgeDeadLetters(ids: [Int64]?) async throws(StateError) -> Int { try await purgeDeadLetters(DeadLetterSelection(ids: ids)) }
}

/// Streams the registry can read back.
public enum StateStream: String, Sendable, CaseIterable {
    case deliveredEvents = "delivered_events"
    case deliveryStatuses = "delivery_statuses"
    case matchQuality = "match_quality"
    case adInsights = "ad_insights"
}

/// One stream's records.
public enum StreamRecords: Sendable, Equatable {
    case deliveredEvents([DeliveredEvent])
    case deliveryStatuses([StoredDeliveryStatus])
    case matchQuality([StoredMatchQuality])
    case adInsights([StoredAdInsights])

    /// The records written before `end`: received, pulled or snapshotted, the time `since` reads.
    public func written(before end: UnixMillis) -> StreamRecords {
        switch self {
        case .deliveredEvents(let records): .deliveredEvents(records.filter { $0.receivedAt < end })
        case .deliveryStatuses(let records): .deliveryStatuses(records.filter { $0.pulledAt < end })
        case .matchQuality(let records): .matchQuality(records.filter { $0.snapshotAt < end })
        case .adInsights(let records): .adInsights(records.filter { $0.pulledAt < end })
        }
    }

    public var count: Int {
        switch self {
        case .deliveredEvents(let records): records.count
        case .deliveryStatuses(let records): records.count
        case .matchQuality(let records): records.count
        case .adInsights(let records): records.count
        }
    }
}
