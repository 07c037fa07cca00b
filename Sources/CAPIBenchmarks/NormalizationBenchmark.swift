import CAPICore
import Crypto
import Foundation

/// Events per second through validation, normalization and hashing on one core.
///
/// Each event is a realistic website purchase with ten personal keys (em, ph, fn, ln, ct, st, zp,
/// country, db, ge) in raw form, plus IP, user agent and fbp; the inputs vary so nothing is cached.
public enum NormalizationBenchmark {
    public static func sampleEvents(count: Int, now: Int64) -> [JSONValue] {
        let firstNames = ["Jane", "José", "Ólafur", "Mary-Ann", "Łukasz", "Chloé", "Noah", "Aiko"]
        let cities = ["Menlo Park", "São Paulo", "Zürich", "New York", "Osaka", "St. Louis"]
        let states = ["California", "NY", "Texas", "Bavaria", "N.Y.", "Ontario"]
        return (0..<count).map { index in
            .object([
                "pixel_id": .string("1234567890"),
                "event_name": .string("Purchase"),
                "event_time": .integer(now - Int64(index % 3600)),
                "event_id": .string("order-\(index)"),
                "action_source": .string("website"),
                "event_source_url": .string("https://shop.example/checkout"),
                "user_data": .object([
                    "em": .string("  Customer.\(index)@Example.COM "),
                    "ph": .string("(650) 555-\(String(format: "%04d", index % 10_000))"),
                    "fn": .string(firstNames[index % firstNames.count]),
                    "ln": .string("O'Brien-\(index % 97)"),
                    "ct": .string(cities[index % cities.count]),
                    "st": .string(states[index % states.count]),
                    "zp": .string("94025-\(String(format: "%04d", index % 10_000))"),
                    "country": .string(index % 2 == 0 ? "US" : "United States"),
                    "db": .string("\(1 + index % 12)/\(1 + index % 28)/19\(50 + index % 50)"),
                    "ge": .string(index % 2 == 0 ? "Female" : "m"),
                    "client_ip_address": .string("203.0.113.\(index % 255)"),
                    "client_user_agent": .string("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"),
                    "fbp": .string("fb.1.1596403881668.\(1_116_446_470 + index)"),
                ]),
                "custom_data": .object(["value": .number(129.5), "currency": .string("USD")]),
            ])
        }
    }

    public static func run(seconds: Double, emit: @escaping @Sendable (String) -> Void) {
        let report = BenchmarkReport(title: "normalize: validate + normalize + SHA-256 a website Purchase with 10 personal keys, 1 core", emit: emit)
        let now = WallClock.system.seconds()
        let events = sampleEvents(count: 4096, now: now.rawValue)
        let policy = EventPolicy(now: now, defaultCountry: "us", normalizer: Normalizer(today: .utcNow()))
        // Warm up lazily built tables and caches.
        for event in events.prefix(512) { _ = EventPreparer.prepare(event, policy: policy) }

        let prepared = measure(events, seconds: seconds) { event in
            if case .success = EventPreparer.prepare(event, policy: policy) { true } else { false }
        }
        report.add("events", "\(prepared.processed) in \(String(format: "%.2f", prepared.elapsed)) s (\(prepared.rejected) rejected)")
        report.add("events/s", Format.rate(prepared.rate))
        report.add("keys hashed/s", Format.rate(prepared.rate * 10))
        report.add("µs/event", String(format: "%.2f", 1e6 / prepared.rate))
        // What intake does with each accepted event next: its canonical text is what is stored,
        // content-hashed and forwarded.
        let written = measure(events, seconds: seconds) { event in
            guard case .success(let prepared) = EventPreparer.prepare(event, policy: policy) else { return false }
            return !prepared.payloadText.isEmpty
        }
        report.add(
            "events with the payload text written",
            "\(written.processed) in \(String(format: "%.2f", written.elapsed)) s (\(written.rejected) rejected)"
        )
        report.add("events/s with the payload text written", Format.rate(written.rate))
        report.add("µs/event with the payload text written", String(format: "%.2f", 1e6 / written.rate))
        // What one hashed value costs, by the path the ingest takes and by swift-crypto's API,
        // on emails like the benchmark's (28 to 31 bytes: one block each).
        let emails = events.map { Array(("customer." + ($0["event_id"]?.stringValue ?? "") + "@example.com").utf8) }
        let oneCall = nanosecondsPerHash(emails, seconds: min(seconds, 1)) { HexDigest(sha256Of: $0) }
        let swiftCrypto = nanosecondsPerHash(emails, seconds: min(seconds, 1)) { HexDigest(SHA256.hash(data: $0)) }
        let path = HexDigest.hashesInOneCall ? "CPU extensions" : "no CPU extensions: swift-crypto"
        report.add("ns/SHA-256 of an email, one call", String(format: "%.0f", oneCall) + " (\(path))")
        report.add("ns/SHA-256 of an email, swift-crypto", String(format: "%.0f", swiftCrypto))
        // Intake hashes an event's values two at a time: each email with the next, one call a pair.
        let paired = nanosecondsPerPairedHash(emails, seconds: min(seconds, 1))
        report.add("ns/SHA-256 of an email, two at a time", String(format: "%.0f", paired))
    }

    /// Mean nanoseconds of `hash` over `inputs`, repeated for about `seconds`. Both hashes are C
    /// calls that write memory, so the optimizer cannot leave them out.
    private static func nanosecondsPerHash(_ inputs: [[UInt8]], seconds: Double, _ hash: (UnsafeRawBufferPointer) -> HexDigest) -> Double {
        var hashes = 0
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + .milliseconds(Int64(seconds * 1000))
        while clock.now < deadline {
            for input in inputs { _ = input.withUnsafeBytes(hash) }
            hashes += inputs.count
        }
        return (clock.now - start).inSeconds * 1e9 / Double(hashes)
    }

    /// Mean nanoseconds per message of ``HexDigest/sha256(of:and:)`` over consecutive pairs of `inputs`.
    private static func nanosecondsPerPairedHash(_ inputs: [[UInt8]], seconds: Double) -> Double {
        var hashes = 0
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + .milliseconds(Int64(seconds * 1000))
        while clock.now < deadline {
            for index in stride(from: 0, to: inputs.count - 1, by: 2) {
                _ = inputs[index].withUnsafeBytes { first in inputs[index + 1].withUnsafeBytes { HexDigest.sha256(of: first, and: $0) } }
            }
            hashes += inputs.count / 2 * 2
        }
        return (clock.now - start).inSeconds * 1e9 / Double(hashes)
    }

    /// Runs `body` over `events` again and again for `seconds`; `body` answers whether it accepted.
    private static func measure(
        _ events: [JSONValue],
        seconds: Double,
        _ body: (JSONValue) -> Bool
    ) -> (processed: Int, rejected: Int, elapsed: Double, rate: Double) {
        var processed = 0
        var rejected = 0
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + .milliseconds(Int64(seconds * 1000))
        while clock.now < deadline {
            for event in events where !body(event) { rejected += 1 }
            processed += events.count
        }
        let elapsed = (clock.now - start).inSeconds
        return (processed, rejected, elapsed, Double(processed) / elapsed)
    }
}
