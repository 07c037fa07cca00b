import CAPICore
import Foundation

/// A small seeded mutation fuzzer: starts from valid inputs and flips, inserts, deletes, repeats
/// and splices bytes, with the numbers and shapes that broke parsers before (huge digit runs,
/// NaN-like literals, repeated keys, empty pairs). Same seed, same cases: a failure reproduces.
public struct Mutator {
    private var generator: SeededGenerator

    public init(seed: UInt64) { generator = SeededGenerator(seed: seed) }

    /// Cases per target: small in the suite; `CAPI_FUZZ_CASES` raises it for a longer run.
    public static var cases: Int { ProcessInfo.processInfo.environment["CAPI_FUZZ_CASES"].flatMap(Int.init) ?? 2_000 }

    public mutating func next() -> UInt64 { generator.next() }

    public mutating func below(_ bound: Int) -> Int { bound <= 0 ? 0 : Int(next() % UInt64(bound)) }

    public static let tokens: [String] = [
        "99999999999999999999", "-9223372036854775808", "9223372036854775807", "1e308", "-1e400", "NaN", "Infinity", "0", "-0", "\"\"",
        "=", "&", "&&", "%", "%FF", "%00", "\\u0000", "\\ud800", "\u{00e9}", "\u{03A3}", "@", "+1 (650) 555-1212", "a@b.co", "{}", "[]",
        "null", "true", ",", ":", "\"", "{\"a\":1,\"a\":2}", "T25:00:00Z", "2026-02-30", "v1,", "t=", "sha256=", "${env:X}", "\n", "\r\n",
        String(repeating: "9", count: 40), String(repeating: "[", count: 600), String(repeating: "é", count: 300),
    ]

    /// One mutated copy of a seed input.
    public mutating func mutate(_ seed: [UInt8], seeds: [[UInt8]]) -> [UInt8] {
        var bytes = seed
        for _ in 0..<(1 + below(4)) {
            switch below(7) {
            case 0 where !bytes.isEmpty: bytes[below(bytes.count)] ^= UInt8(truncatingIfNeeded: 1 << below(8))
            case 1: bytes.insert(UInt8(truncatingIfNeeded: next()), at: below(bytes.count + 1))
            case 2 where !bytes.isEmpty: bytes.remove(at: below(bytes.count))
            case 3: bytes.insert(contentsOf: Array(Self.tokens[below(Self.tokens.count)].utf8), at: below(bytes.count + 1))
            case 4 where bytes.count > 1:
                let start = below(bytes.count)
                let end = min(bytes.count, start + 1 + below(16))
                bytes.insert(contentsOf: bytes[start..<end], at: below(bytes.count + 1))
            case 5 where !bytes.isEmpty:
                let start = below(bytes.count)
                bytes.removeSubrange(start..<min(bytes.count, start + 1 + below(32)))
            default:
                let other = seeds[below(seeds.count)]
                let cut = below(bytes.count + 1)
                bytes = Array(bytes[..<cut]) + Array(other[below(other.count + 1)...])
            }
        }
        return bytes
    }

    /// Shifts every target's seed: `CAPI_FUZZ_SEED=7` explores cases the suite's run never makes,
    /// and the same value makes the same cases again.
    public static var seedShift: UInt64 { ProcessInfo.processInfo.environment["CAPI_FUZZ_SEED"].flatMap(UInt64.init) ?? 0 }

    /// A mutator for `seed` moved by ``seedShift``, for targets that mutate in their own way.
    public static func shifted(_ seed: UInt64) -> Mutator { Mutator(seed: seed ^ (seedShift &* 0xD1B5_4A32_D192_ED03)) }

    /// Runs `body` on `Mutator.cases` mutations of the seeds (and the seeds themselves), letting
    /// other tests' tasks run every 50 cases: on Linux they share the same few threads, and a
    /// second of fuzzing held there delays every PostgreSQL answer and timer behind it.
    public static func run(seed: UInt64, seeds: [String], _ body: ([UInt8]) -> Void) async {
        let seedBytes = seeds.map { Array($0.utf8) }
        for input in seedBytes { body(input) }
        var mutator = Mutator.shifted(seed)
        for index in 0..<cases {
            if index % 50 == 0 { await Task.yield() }
            body(mutator.mutate(seedBytes[mutator.below(seedBytes.count)], seeds: seedBytes))
        }
    }
}
