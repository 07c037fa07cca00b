import CAPICore

/// What the sandbox has received, per pixel, with how often each event id arrived: at most the
/// newest `maxEventsPerPixel` events (an older id that arrives again counts as new), and, when
/// asked to, a count for every id ever received.
actor SandboxStore {
    struct Received: Sendable {
        var eventID: String
        var eventName: String
        var eventTime: Int64
        var event: JSONValue
        var count: Int
        /// The `test_event_code` of the request that delivered it last (`nil`: a live event).
        var testEventCode: String?
    }

    private var byPixel: [String: [Received]] = [:]
    /// Event ids compare byte for byte, as Meta's do.
    private var indexByPixel: [String: [ExactText: Int]] = [:]
    private var generator: SeededGenerator
    private let maxEventsPerPixel: Int
    /// Every id received and how often, per pixel; `nil` unless asked for.
    private var tallyByPixel: [String: [ExactText: Int]]?
    /// App tokens the client-credentials exchange issued, with the requests each has left.
    private var appTokens: [String: Int] = [:]
    private(set) var appTokenExchanges = 0

    init(seed: UInt64, maxEventsPerPixel: Int = .max, countsEveryEventID: Bool = false) {
        generator = SeededGenerator(seed: seed)
        self.maxEventsPerPixel = max(1, maxEventsPerPixel)
        tallyByPixel = countsEveryEventID ? [:] : nil
    }

    /// Records accepted events; an event id seen before counts again (that is what tests look for).
    func record(pixelID: String, events: [JSONValue], testEventCode: String? = nil) {
        for event in events {
            let eventID = event["event_id"]?.stringValue ?? ""
            let key = ExactText(eventID)
            tallyByPixel?[pixelID, default: [:]][key, default: 0] += 1
            if let index = indexByPixel[pixelID]?[key], !eventID.isEmpty {
                byPixel[pixelID]![index].count += 1
                byPixel[pixelID]![index].testEventCode = testEventCode
                continue
            }
            let name = event["event_name"]?.stringValue ?? ""
            let time: Int64 = if case .integer(let t)? = event["event_time"] { t } else { 0 }
            byPixel[pixelID, default: []].append(
                Received(eventID: eventID, eventName: name, eventTime: time, event: event, count: 1, testEventCode: testEventCode)
            )
            if !eventID.isEmpty { indexByPixel[pixelID, default: [:]][key] = byPixel[pixelID]!.count - 1 }
        }
        if let count = byPixel[pixelID]?.count, count > maxEventsPerPixel {
            // Forget the oldest tenth at once, so the index is rebuilt rarely.
            byPixel[pixelID]!.removeFirst(count - maxEventsPerPixel + maxEventsPerPixel / 10)
            reindex(pixelID)
        }
    }

    private func reindex(_ pixelID: String) {
        indexByPixel[pixelID] = Dictionary(
            (byPixel[pixelID] ?? []).enumerated().filter { !$1.eventID.isEmpty }.map { (ExactText($1.eventID), $0) },
            uniquingKeysWith: { $1 }
        )
    }

    func received(pixelID: String) -> [Received] { byPixel[pixelID] ?? [] }

    /// How often each event id arrived: every id when counting all of them, else the kept ones.
    func receivedCounts(pixelID: String) -> [String: Int] {
        if let tally = tallyByPixel {
            return Dictionary((tally[pixelID] ?? [:]).map { ($0.key.text, $0.value) }, uniquingKeysWith: +)
        }
        return Dictionary(received(pixelID: pixelID).map { ($0.eventID, $0.count) }, uniquingKeysWith: +)
    }

    /// A new app token, good for `requests` requests (`nil`: for ever). Only a `checked` one is
    /// remembered, so a stand-in that takes any token does not grow with every exchange.
    func issueAppToken(appID: String, requests: Int?, checked: Bool) -> String {
        appTokenExchanges += 1
        let token = "\(appID)|sandbox-app-token-\(appTokenExchanges)"
        if checked { appTokens[token] = max(0, requests ?? .max) }
        return token
    }

    /// Spends one request of an app token: `false` when it was never issued or has none left.
    func spendAppTokenRequest(_ token: String) -> Bool {
        guard let left = appTokens[token], left > 0 else { return false }
        appTokens[token] = left - 1
        return true
    }

    /// Forgets a pixel's events, so a test can stage what Meta "lost".
    func drop(pixelID: String, eventIDs: Set<String>) {
        let dropped = Set(eventIDs.map(ExactText.init))
        byPixel[pixelID]?.removeAll { dropped.contains(ExactText($0.eventID)) }
        for id in dropped { tallyByPixel?[pixelID]?[id] = nil }
        reindex(pixelID)
    }

    func pixels() -> [String] { byPixel.keys.sorted() }

    // MARK: Async insights jobs

    struct Job: Sendable {
        var accountID: String
        var query: GraphSandbox.InsightsQuery
        var parameters: [String: String]
        var polls = 0
        var fails: Bool
        var status: String { polls == 0 ? "Job Not Started" : polls == 1 ? "Job Running" : fails ? "Job Failed" : "Job Completed" }
        var percent: Int { polls == 0 ? 0 : polls == 1 ? 50 : fails ? 50 : 100 }
    }

    private var jobs: [String: Job] = [:]

    /// A job over more than `maxDays` days (when set) fails, as Meta's do for too much data.
    func startJob(accountID: String, query: GraphSandbox.InsightsQuery, parameters: [String: String], maxDays: Int) -> String {
        let id = String(6_000_000_000_000 + jobs.count + 1)
        let days = query.since.days(to: query.until) + 1
        jobs[id] = Job(accountID: accountID, query: query, parameters: parameters, fails: maxDays > 0 && days > maxDays)
        return id
    }

    /// Reads a job's status, moving it one step along (not started, running, done).
    func pollJob(_ id: String) -> Job? {
        jobs[id]?.polls += 1
        return jobs[id]
    }

    func job(_ id: String) -> Job? { jobs[id] }

    func roll() -> Double { Double(generator.next() >> 11) / Double(1 << 53) }

    func pick<T>(_ choices: [T]) -> T { choices[Int(generator.next() % UInt64(choices.count))] }

    func traceID() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
        return String((0..<11).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] })
    }
}
