import Crypto
import Testing

@testable import PushMode

/// The shared replay ledger stores these digests in the state store, so instances of two builds
/// must compute the same ones during a rolling deploy.
@Suite("Delivery fingerprints")
struct DeliveryFingerprintTests {
    private static func word(_ digest: SHA256.Digest, _ offset: Int) -> UInt64 {
        Array(digest)[offset..<offset + 8].reduce(0) { $0 << 8 | UInt64($1) }
    }

    @Test(
        "the key is SHA-256 of source, a zero byte and the id; the body digest is SHA-256 of the body",
        arguments: [("stripe", "evt_1", ""), ("", "", "x"), ("app", String(repeating: "é", count: 80), String(repeating: "{}", count: 700))]
    )
    func digests(source: String, messageID: String, body: String) {
        let fingerprint = Array(body.utf8).withUnsafeBytes { DeliveryFingerprint(source: source, messageID: messageID, body: $0) }
        let key = SHA256.hash(data: Array(source.utf8) + [0] + Array(messageID.utf8))
        #expect(fingerprint.high == Self.word(key, 0))
        #expect(fingerprint.low == Self.word(key, 8))
        #expect(fingerprint.bodyDigest == Self.word(SHA256.hash(data: Array(body.utf8)), 0))
        // The zero byte keeps ("ab", "c") and ("a", "bc") apart.
        let other = Array(body.utf8).withUnsafeBytes { DeliveryFingerprint(source: source + "x", messageID: String(messageID.dropFirst()), body: $0) }
        #expect(other != fingerprint)
    }
}
