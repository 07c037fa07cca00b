import AsyncHTTPClient
import CAPICore
import ConnectorRuntime
import Crypto
import Foundation
import GraphSandbox
import Logging
import NIOCore
import PushMode
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// Push-mode throughput on loopback: signed single events (throughput and acknowledgement latency,
/// closed loop and at a fixed rate), the batch endpoint, the forwarder draining a backlog into the
/// Graph sandbox, and the fixed rate again while the forwarder sends what arrives (as a sidecar
/// runs); peak resident memory at the end.
public enum IngestBenchmark {
    /// How much load each stage offers.
    public struct Load: Sendable {
        /// Signed single events in the closed-loop stage.
        public var singles: Int
        /// Concurrent connections of the load generator.
        public var concurrency: Int
        /// Events per second in the fixed-rate stages (each lasts 5 s).
        public var rate: Int
        /// Events sent through the batch endpoint, 1,000 per request.
        public var batchEvents: Int

        /// `custom_data.contents` in every event (``CartPadding``); empty for the usual event.
        public var cart: String

        /// Every event a run commits: both fixed-rate stages last 5 s.
        var committedEvents: Int { singles + rate * 10 + batchEvents }

        /// - Parameter eventBytes: grow every event to at least this size with a cart of items, as
        ///   large orders are; `nil` keeps the usual purchase.
        public init(singles: Int, concurrency: Int, rate: Int, batchEvents: Int, eventBytes: Int? = nil) {
            self.singles = singles
            self.concurrency = concurrency
            self.rate = rate
            self.batchEvents = batchEvents
            self.cart = eventBytes.map { CartPadding.contents(bytes: $0 - IngestBenchmark.event(id: "", pixel: "").utf8.count) } ?? ""
        }

        /// The size of one event as sent, at most: an id of the longest the bench makes (a run id
        /// and up to eight digits) and a pixel id of 20 digits, so requests sized by it fit.
        var eventBytes: Int { IngestBenchmark.event(id: "000000-b00000000", pixel: String(repeating: "0", count: 20), cart: cart).utf8.count }

        /// Says how large the events are when they carry a cart.
        func describeEvents(in report: BenchmarkReport) {
            guard !cart.isEmpty else { return }
            report.add("events", "\(eventBytes) bytes each as sent, with a cart of items in custom_data")
        }

        /// Events per batch-endpoint request: 1,000, Meta's maximum, or fewer when 1,000 would
        /// pass the sidecar's body limit.
        func eventsPerRequest(bodyLimit: Int) -> Int {
            max(1, min(1_000, (bodyLimit - #"{"data":[]}"#.utf8.count) / (eventBytes + 1)))
        }
    }

    /// Events a stage sent that the sidecar did not accept. A rate over refusals measures refusing
    /// (a wrong pixel, secret or clock), so each stage shows its first refusal and the command fails.
    public struct Refusals: Sendable {
        public private(set) var events = 0
        /// Status and answer of the first refusal; answers name fields, never values.
        public private(set) var first: String?
        /// What to check, one entry per kind of refusal seen, in the order first seen.
        public private(set) var checks: [String] = []

        mutating func add(_ events: Int, status: Int, answer: JSONValue) {
            add(events, first: "\(status) \(String(answer.serialized.prefix(400)))", check: Self.check(forStatus: status))
        }

        mutating func add(_ events: Int, first reason: @autoclosure () -> String, check: String) {
            guard events > 0 else { return }
            self.events += events
            if first == nil { first = reason() }
            if !checks.contains(check) { checks.append(check) }
        }

        mutating func add(_ other: Refusals) {
            events += other.events
            if first == nil { first = other.first }
            for check in other.checks where !checks.contains(check) { checks.append(check) }
        }

        /// What a sidecar's refusal with `status` asks the operator to check.
        static func check(forStatus status: Int) -> String {
            switch status {
            case 401: "the signing secret and the clock against the sidecar's (401)"
            case 400, 422: "the events against the sidecar's manifest, its pixel above all: the answer names the field (\(status))"
            case 429: "the sidecar's per-client rate limit, push.limits (429)"
            case 503: "the sidecar's store, which did not commit within push.limits.commit_timeout, or its memory for bodies (503)"
            default: "the answer printed under the stage (\(status))"
            }
        }

        /// The stage's line for its first refusal, if it had one.
        func report(to report: BenchmarkReport) {
            if let first { report.add("  refused", "\(events) events; the first: \(first)") }
        }
    }

    /// PostgreSQL's WAL, read between stages: the bytes written per event, steady where rates move
    /// with the machine, and the WAL files created, each a wait for every commit queued at the time.
    /// Nothing on SQLite, which has neither figure; no file count without the right to list them.
    struct WriteAheadLogMeter {
        struct Reading {
            var position: Int
            var files: Int?
        }

        let registry: PostgresStateRegistry?
        private var last: Reading?

        init(registry: PostgresStateRegistry?) { self.registry = registry }

        func read() async -> Reading? {
            guard let registry, let position = try? await registry.writeAheadLogPosition() else { return nil }
            return Reading(position: position, files: try? await registry.writeAheadLogFileCount())
        }

        /// Starts a stage.
        mutating func mark() async { last = await read() }

        /// Ends a stage of `events` events: its lines under the stage's own, and the next stage starts.
        mutating func report(events: Int, to report: BenchmarkReport) async {
            let now = await read()
            if let now, let before = last, events > 0 {
                report.add("  WAL written per event", "\((now.position - before.position) / events) bytes")
                if let after = now.files, let earlier = before.files {
                    // A checkpoint may remove files meanwhile; the count is then a lower bound.
                    report.add("  WAL files created", "\(max(0, after - earlier))")
                }
            }
            last = now
        }
    }

    /// The batch stage's line when `--batch-events 0` leaves it out, rather than a rate of 0/s.
    static let skipped = "skipped (--batch-events 0)"

    /// What the batch endpoint answered for `count` events: how many it took, and the refusal if not all.
    static func batchOutcome(count: Int, status: Int, answer: JSONValue) -> (accepted: Int, refusals: Refusals) {
        var refusals = Refusals()
        let accepted = if status == 202, case .integer(let taken)? = answer["accepted"] { Int(taken) } else { 0 }
        // A batch answers per item: show the first item it refused rather than the whole answer.
        let refused = answer["results"]?.arrayValue?.first { $0["status"]?.stringValue == "rejected" }
        refusals.add(count - accepted, status: status, answer: refused ?? answer)
        return (accepted, refusals)
    }

    /// Load only, against a sidecar already running at `url` (to measure that process on its own).
    public static func drive(
        url: String,
        manifest: Manifest,
        load: Load,
        emit: @escaping @Sendable (String) -> Void
    ) async throws -> (report: BenchmarkReport, refusals: Refusals) {
        guard let secret = manifest.push?.sources.first(where: { $0.scheme == .standardWebhooks })?.signingKeys.first else {
            throw StateError(.configuration, "the manifest needs a standard_webhooks source")
        }
        let pixel = manifest.pixels[0].id
        let runID = String(UUID().uuidString.prefix(6))
        let report = BenchmarkReport(title: "ingest: load generator against \(url) (\(load.concurrency) connections)", emit: emit)
        load.describeEvents(in: report)
        let client = makeClient(concurrency: load.concurrency)
        var refusals = try await singleEvents(client: client, url: url, secret: secret, pixel: pixel, runID: runID, load: load, report: report)
        let clock = ContinuousClock()
        let start = clock.now
        var accepted = 0
        var batchRefusals = Refusals()
        let perRequest = load.eventsPerRequest(bodyLimit: manifest.push?.bodyLimitBytes ?? 1_048_576)
        if load.batchEvents == 0 { report.add("batch endpoint (one sender)", Self.skipped) }
        for batch in stride(from: 0, to: load.batchEvents, by: perRequest) {
            let ids = (batch..<min(batch + perRequest, load.batchEvents)).map { "\(runID)-b\($0)" }
            let (status, answer) = try await send(
                client: client,
                url: "\(url)/v1/events/batch",
                body: batchBody(ids: ids, pixel: pixel, cart: load.cart),
                secret: secret
            )
            let outcome = batchOutcome(count: ids.count, status: status, answer: answer)
            accepted += outcome.accepted
            batchRefusals.add(outcome.refusals)
        }
        if load.batchEvents > 0 {
            report.add(
                perRequest < 1_000 ? "batch endpoint (one sender, \(perRequest) per request)" : "batch endpoint (one sender)",
                "\(Format.rate(Double(load.batchEvents) / (clock.now - start).inSeconds)) (\(accepted)/\(load.batchEvents) accepted)"
            )
        }
        batchRefusals.report(to: report)
        refusals.add(batchRefusals)
        try await client.shutdown()
        return (report, refusals)
    }

    /// - Parameter prepareWriteAheadLog: on PostgreSQL, have the server create the WAL files the
    ///   run will fill before the first stage (``WriteAheadLogPreparation``), so the stages measure
    ///   a server that reuses its files, not a fresh one creating them.
    public static func run(
        location: StateLocation,
        manifest: Manifest,
        load: Load,
        prepareWriteAheadLog: Bool = false,
        emit: @escaping @Sendable (String) -> Void
    ) async throws -> Refusals {
        let logger = { () -> Logger in
            var logger = Logger(label: "bench")
            logger.logLevel = .critical
            return logger
        }()
        let push = manifest.push!
        let secret = push.sources.first { $0.scheme == .standardWebhooks }?.signingKeys.first
        guard let secret else { throw StateError(.configuration, "the manifest needs a standard_webhooks source") }
        let pixel = manifest.pixels[0].id
        let runID = String(UUID().uuidString.prefix(6))

        return try await withStateRegistry(location, logger: logger) { registry in
            var sandboxConfiguration = GraphSandbox.Configuration()
            // The forwarder row checks that every event arrived: count every id, and keep only as
            // many events as `serve --sandbox` does. Keeping all 130,000 as trees (550 MB) made
            // the row measure how fast the machine hands out fresh memory.
            sandboxConfiguration.maxStoredEventsPerPixel = 10_000
            sandboxConfiguration.countsEveryEventID = true
            let sandbox = GraphSandbox(configuration: sandboxConfiguration, logger: logger)
            return try await sandbox.withRunning { sandboxURL in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    let sidecar = PushSidecar(
                        manifest: manifest,
                        push: push,
                        registry: registry,
                        graph: .init(manifest: manifest, baseURL: sandboxURL),
                        address: ListenAddress(host: "127.0.0.1", port: 0),
                        logger: logger
                    )
                    // Ingest is measured without the forwarder competing for the store; it drains afterwards.
                    let (ready, readyContinuation) = AsyncStream.makeStream(of: Int.self)
                    let service = sidecar.service(forwarding: false, onListening: { _, port in readyContinuation.yield(port) })
                    // Groups, so the end is a graceful shutdown: cancelling the server made it log an error.
                    let serving = ServiceGroup(configuration: .init(services: [.init(service: service)], logger: logger))
                    let forwarding = ServiceGroup(configuration: .init(services: [.init(service: sidecar.forwarder)], logger: logger))
                    group.addTask { try await serving.run() }
                    var ports = ready.makeAsyncIterator()
                    let url = "http://127.0.0.1:\(await ports.next()!)"
                    let report = BenchmarkReport(
                        title: "ingest: push sidecar on \(location), load generator on loopback (\(load.concurrency) connections)",
                        emit: emit
                    )
                    if prepareWriteAheadLog {
                        try await WriteAheadLogPreparation.prepare(
                            registry,
                            events: load.committedEvents,
                            extraBytesPerEvent: load.cart.utf8.count,
                            report: report
                        )
                    }
                    load.describeEvents(in: report)
                    let client = makeClient(concurrency: load.concurrency)
                    // WAL per event, stage by stage, on PostgreSQL: what each costs the server,
                    // steady where the rates move with the machine.
                    var wal = WriteAheadLogMeter(registry: registry as? PostgresStateRegistry)
                    await wal.mark()
                    // 1 and 2. Signed single events, closed loop and at a fixed rate.
                    var refusals = try await singleEvents(
                        client: client,
                        url: url,
                        secret: secret,
                        pixel: pixel,
                        runID: runID,
                        load: load,
                        report: report
                    )

                    await wal.report(events: load.singles + load.rate * 5, to: report)

                    // 3. The batch endpoint, 1,000 events per request (fewer if that passes the body limit).
                    let perRequest = load.eventsPerRequest(bodyLimit: push.bodyLimitBytes)
                    let clock = ContinuousClock()
                    let batchStart = clock.now
                    var batchAccepted = 0
                    var batchRefusals = Refusals()
                    try await withThrowingTaskGroup(of: (Int, Refusals).self) { senders in
                        for sender in 0..<4 {
                            senders.addTask {
                                var accepted = 0
                                var refusals = Refusals()
                                for batch in stride(from: sender * perRequest, to: load.batchEvents, by: 4 * perRequest) {
                                    let ids = (batch..<min(batch + perRequest, load.batchEvents)).map { "\(runID)-b\($0)" }
                                    let body = batchBody(ids: ids, pixel: pixel, cart: load.cart)
                                    let (status, json) = try await send(client: client, url: "\(url)/v1/events/batch", body: body, secret: secret)
                                    let outcome = batchOutcome(count: ids.count, status: status, answer: json)
                                    accepted += outcome.accepted
                                    refusals.add(outcome.refusals)
                                }
                                return (accepted, refusals)
                            }
                        }
                        for try await (accepted, refused) in senders {
                            batchAccepted += accepted
                            batchRefusals.add(refused)
                        }
                    }
                    let batchSeconds = (clock.now - batchStart).inSeconds
                    report.add(
                        perRequest < 1_000 ? "batch endpoint (\(perRequest) per request)" : "batch endpoint",
                        load.batchEvents == 0
                            ? Self.skipped
                            : "\(Format.rate(Double(load.batchEvents) / batchSeconds)) (\(batchAccepted)/\(load.batchEvents) accepted)"
                    )
                    batchRefusals.report(to: report)
                    refusals.add(batchRefusals)
                    await wal.report(events: load.batchEvents, to: report)

                    // 4. The forwarder drains the whole backlog into the sandbox.
                    let backlog = try await registry.outboxDepth()
                    let forwardStart = clock.now
                    group.addTask { try await forwarding.run() }
                    // Watch the forwarder's own tally: polling `COUNT(*)` on the outbox every few
                    // milliseconds scanned it each time and took PostgreSQL's time from the forwarder.
                    func settled() -> Int {
                        let recorded = sidecar.forwarder.recorded
                        return recorded.forwarded + recorded.deadLettered
                    }
                    while settled() < backlog { try await Task.sleep(for: .milliseconds(20)) }
                    let forwardSeconds = (clock.now - forwardStart).inSeconds
                    let received = await sandbox.receivedCounts(pixelID: pixel)
                    report.add(
                        "forwarded into the sandbox",
                        "\(Format.rate(Double(backlog) / forwardSeconds)) (\(backlog) events, \(received.count) distinct received)"
                    )
                    // Events the stand-in refused were dead-lettered, not forwarded: the rate counts them too.
                    let deadLettered = sidecar.forwarder.recorded.deadLettered
                    var forwardRefusals = Refusals()
                    forwardRefusals.add(
                        deadLettered,
                        first: "dead-lettered (`capi-connector dlq list` says why)",
                        check: "why the forwarder dead-lettered events: `capi-connector dlq list` on the run's state"
                    )
                    forwardRefusals.report(to: report)
                    refusals.add(forwardRefusals)
                    await wal.report(events: backlog, to: report)

                    // 5. The fixed rate again with the forwarder sending what arrives, as a sidecar runs.
                    let alongside = try await fixedRate(client: client, url: url, secret: secret, pixel: pixel, prefix: "\(runID)-f", load: load)
                    report.add("at \(load.rate) events/s, forwarder running", alongside.summary)
                    alongside.refusals.report(to: report)
                    refusals.add(alongside.refusals)
                    // Intake and forwarding of the same events: what a sidecar writes per event.
                    await wal.report(events: load.rate * 5, to: report)

                    // Not the sidecar's own figure: this process also runs the load generator and a
                    // sandbox that keeps 10,000 events (`--target --target-pid` measures a sidecar alone).
                    report.add("peak resident memory, whole bench process", "\(peakResidentMegabytes()) MB")
                    try await client.shutdown()
                    await forwarding.triggerGracefulShutdown()
                    await serving.triggerGracefulShutdown()
                    try await group.waitForAll()
                    return refusals
                }
            }
        }
    }

    static func makeClient(concurrency: Int) -> HTTPClient {
        HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: .init(connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: concurrency))
        )
    }

    /// The first two stages: signed single events as fast as `load.concurrency` callers go (closed
    /// loop), then for 5 s at `load.rate` (open loop: latency from each request's due time).
    static func singleEvents(
        client: HTTPClient,
        url: String,
        secret: SigningKey,
        pixel: String,
        runID: String,
        load: Load,
        report: BenchmarkReport
    ) async throws -> Refusals {
        let closed = try await self.load(
            client: client,
            url: url,
            secret: secret,
            pixel: pixel,
            prefix: "\(runID)-s",
            count: load.singles,
            concurrency: load.concurrency,
            interval: nil,
            cart: load.cart
        )
        report.add(
            "signed single events",
            "\(Format.rate(closed.rate)), \(closed.summary)"
        )
        closed.refusals.report(to: report)
        let steady = try await fixedRate(client: client, url: url, secret: secret, pixel: pixel, prefix: "\(runID)-r", load: load)
        report.add("at \(load.rate) events/s", steady.summary)
        steady.refusals.report(to: report)
        var refusals = closed.refusals
        refusals.add(steady.refusals)
        return refusals
    }

    /// Signed single events at `load.rate` for 5 s (open loop: latency from each request's due time).
    static func fixedRate(client: HTTPClient, url: String, secret: SigningKey, pixel: String, prefix: String, load: Load) async throws -> LoadResult {
        try await self.load(
            client: client,
            url: url,
            secret: secret,
            pixel: pixel,
            prefix: prefix,
            count: load.rate * 5,
            concurrency: load.concurrency,
            interval: .nanoseconds(1_000_000_000 / Int64(load.rate)),
            cart: load.cart
        )
    }

    struct LoadResult {
        var rate: Double
        var p50: String
        var p99: String
        var ok: Int
        var sent: Int
        var refusals: Refusals

        var summary: String { "p50 \(p50) ms, p99 \(p99) ms (\(ok)/\(sent) accepted)" }
    }

    static func load(
        client: HTTPClient,
        url: String,
        secret: SigningKey,
        pixel: String,
        prefix: String,
        count: Int,
        concurrency: Int,
        interval: Duration?,
        cart: String
    ) async throws -> LoadResult {
        let clock = ContinuousClock()
        let start = clock.now
        let (latencies, refusals) = try await withThrowingTaskGroup(of: ([(Double, Bool)], Refusals).self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    var samples: [(Double, Bool)] = []
                    var refusals = Refusals()
                    for index in stride(from: worker, to: count, by: concurrency) {
                        if let interval {
                            // Open loop: request i is due at start + i × interval, whatever came before.
                            let due = start + interval * index
                            if clock.now < due { try await Task.sleep(until: due, clock: clock) }
                        }
                        let body = ByteBuffer(string: event(id: "\(prefix)\(index)", pixel: pixel, cart: cart))
                        let sent = clock.now
                        let (status, answer) = try await send(client: client, url: "\(url)/v1/events", body: body, secret: secret)
                        samples.append(((clock.now - sent).inSeconds * 1000, status == 202))
                        if status != 202 { refusals.add(1, status: status, answer: answer) }
                    }
                    return (samples, refusals)
                }
            }
            var all: [(Double, Bool)] = []
            var refusals = Refusals()
            for try await (samples, refused) in group {
                all += samples
                refusals.add(refused)
            }
            return (all, refusals)
        }
        let elapsed = (clock.now - start).inSeconds
        let sorted = latencies.map(\.0).sorted()
        func percentile(_ p: Double) -> String { String(format: "%.2f", sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) }
        return LoadResult(
            rate: Double(count) / elapsed,
            p50: percentile(0.5),
            p99: percentile(0.99),
            ok: latencies.filter(\.1).count,
            sent: count,
            refusals: refusals
        )
    }

    /// Signs `body` where it lies and sends it: the load generator shares the sidecar's two cores,
    /// so every copy of a request it makes is time the sidecar does not get. Writing each batch
    /// once and signing it in place replaced five copies of each 5 MB request (docs/performance.md,
    /// twenty-third part).
    static func send(client: HTTPClient, url: String, body: ByteBuffer, secret: SigningKey) async throws -> (Int, JSONValue) {
        let id = "msg_" + UUID().uuidString
        let timestamp = Int64(Date().timeIntervalSince1970)
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: secret.bytes))
        hmac.update(data: Array("\(id).\(timestamp).".utf8))
        body.withUnsafeReadableBytes { hmac.update(data: $0) }
        let mac = hmac.finalize()
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "webhook-id", value: id)
        request.headers.add(name: "webhook-timestamp", value: String(timestamp))
        request.headers.add(name: "webhook-signature", value: "v1," + Data(mac).base64EncodedString())
        request.body = .bytes(body)
        let response = try await client.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 1 << 22)
        return (Int(response.status.code), (try? JSONValue(parsing: bytes.readableBytesView)) ?? .null)
    }

    /// A batch-endpoint body, `{"data":[…]}`, written once.
    static func batchBody(ids: [String], pixel: String, cart: String) -> ByteBuffer {
        var body = ByteBuffer()
        body.reserveCapacity(ids.count * (event(id: ids.first ?? "", pixel: pixel, cart: cart).utf8.count + 16) + 16)
        body.writeString(#"{"data":["#)
        for (index, id) in ids.enumerated() {
            if index > 0 { body.writeInteger(UInt8(ascii: ",")) }
            body.writeString(event(id: id, pixel: pixel, cart: cart))
        }
        body.writeString("]}")
        return body
    }

    /// - Parameter cart: `custom_data.contents` (``CartPadding``), or empty.
    static func event(id: String, pixel: String, cart: String = "") -> String {
        """
        {"pixel_id":"\(pixel)","event_name":"Purchase","event_time":\(Int64(Date().timeIntervalSince1970) - 5),"event_id":"\(id)",\
        "action_source":"website","event_source_url":"https://shop.example/checkout","user_data":{"em":"Customer.\(id)@Example.com",\
        "ph":"(650) 555-1212","fn":"Jane","ln":"Doe","ct":"Menlo Park","st":"CA","zp":"94025","country":"US","db":"1990-01-15","ge":"f",\
        "client_ip_address":"203.0.113.9","client_user_agent":"Mozilla/5.0"},"custom_data":{"value":42.5,"currency":"USD"\(cart)}}
        """
    }

    static func peakResidentMegabytes() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Int(usage.ru_maxrss / 1024)
    }
}
