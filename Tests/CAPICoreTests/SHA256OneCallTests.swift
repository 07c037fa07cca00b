import CSHA256
import Crypto
import Foundation
import Testing

@testable import CAPICore

/// The one-call SHA-256 (`CSHA256`, the CPU's SHA extensions) against swift-crypto and the
/// standard's own examples: every personal value Meta receives is one of these digests.
@Suite("SHA-256 in one call")
struct SHA256OneCallTests {
    /// Bytes that differ at every position and between lengths, so a wrong word order, a missed
    /// byte of the tail or a wrong length in the padding changes the digest.
    private static func message(length: Int, seed: UInt8) -> [UInt8] {
        (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ Int(seed) &* 7 &+ ($0 >> 8)) }
    }

    @Test("the digest is swift-crypto's at every length across one, two and three blocks, and beyond")
    func matchesSwiftCrypto() {
        let lengths = Array(0...200) + [255, 256, 257, 447, 448, 449, 1_000, 4_096 + 7, 65_536 + 55]
        for length in lengths {
            for seed: UInt8 in [0, 1, 255] {
                let bytes = Self.message(length: length, seed: seed)
                let expected = HexDigest(SHA256.hash(data: bytes))
                let digest = bytes.withUnsafeBytes { HexDigest(sha256Of: $0) }
                #expect(digest == expected, "length \(length), seed \(seed)")
            }
        }
    }

    /// Pairs of every combination of block counts, so the interleaved blocks, the longer message's
    /// blocks alone after them, and either message being the longer one are all reached.
    @Test("two messages hashed at once get swift-crypto's digests, whichever is longer")
    func pairsMatchSwiftCrypto() {
        let lengths = [0, 1, 31, 55, 56, 63, 64, 65, 119, 120, 128, 200, 1_000]
        for first in lengths {
            for second in lengths {
                let a = Self.message(length: first, seed: 3)
                let b = Self.message(length: second, seed: 9)
                let (digestA, digestB) = a.withUnsafeBytes { x in b.withUnsafeBytes { y in HexDigest.sha256(of: x, and: y) } }
                #expect(digestA == HexDigest(SHA256.hash(data: a)), "first of \(first) and \(second) bytes")
                #expect(digestB == HexDigest(SHA256.hash(data: b)), "second of \(first) and \(second) bytes")
            }
        }
        #expect(SHA256Hex.hexDigests("abc", "").0.hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256Hex.hexDigests("abc", "").1.hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test("the examples of FIPS 180-4")
    func standardExamples() {
        let examples: [(String, String)] = [
            ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (
                "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
            ),
            (
                "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
                "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"
            ),
        ]
        for (text, expected) in examples {
            #expect(SHA256Hex.digest(text) == expected, "\(text.utf8.count) bytes")
        }
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(
            million.withUnsafeBytes { HexDigest(sha256Of: $0).hex } == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        )
    }

    /// A machine whose kernel reports the SHA extensions must take the fast path: a detection that
    /// silently fell back would keep every digest right and lose the whole gain.
    @Test("the extensions are used where the kernel reports them, and hash exactly as the fallback")
    func usesTheExtensionsWhereReported() {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let reported = cpuinfo.split(separator: "\n").contains { $0.hasPrefix("flags") && $0.split(separator: " ").contains("sha_ni") }
        #if arch(x86_64)
        #expect((capi_sha256_accelerated() == 1) == reported)
        #else
        #expect(capi_sha256_accelerated() == 0)
        #endif
        var raw = [UInt8](repeating: 0, count: 32)
        let bytes = Array("  Customer.1@Example.COM ".utf8)
        let hashed = bytes.withUnsafeBytes { input in raw.withUnsafeMutableBytes { capi_sha256(input.baseAddress, input.count, $0.baseAddress!) } }
        #expect(hashed == capi_sha256_accelerated())
        if hashed == 1 {
            #expect(raw == Array(SHA256.hash(data: bytes)))
        } else {
            #expect(raw == [UInt8](repeating: 0, count: 32), "the digest is left untouched when the extensions are missing")
        }
    }
}
