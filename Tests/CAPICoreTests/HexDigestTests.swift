import Crypto
import Testing

@testable import CAPICore

@Suite("SHA-256 digests kept as bytes")
struct HexDigestTests {
    @Test(
        "hex, quoted text and equality agree with the digest as text",
        arguments: ["", "a", "jane.doe@example.com", String(repeating: "é", count: 300)]
    )
    func agreesWithText(input: String) throws {
        let digest = SHA256Hex.hexDigest(input)
        let text = SHA256Hex.digest(input)
        #expect(digest.hex == text)
        #expect(digest.description == text)
        var quoted: [UInt8] = [0x2C]
        digest.writeQuoted(into: &quoted)
        #expect(quoted == Array(",\"\(text)\"".utf8))
        #expect(HexDigest(hex: text) == digest)
        #expect(HexDigest(hex: text.uppercased()) == digest)
        #expect(HexDigest(hex: text.uppercased())?.hex == text)
    }

    @Test("anything but 64 hex digits is not a digest")
    func refusesOtherText() {
        let text = SHA256Hex.digest("x")
        for other in [
            String(text.dropLast()), text + "0", String(text.dropLast()) + "g", " " + String(text.dropLast()), "", String(repeating: "é", count: 32),
        ] {
            #expect(HexDigest(hex: other) == nil, "\(other)")
        }
        #expect(SHA256Hex.hexDigest("x") != SHA256Hex.hexDigest("y"))
    }
}
