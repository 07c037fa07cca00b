import CSHA256
import Crypto

/// A SHA-256 digest kept as its 32 bytes and written as lowercase hex where it is needed.
///
/// Every hashed value of every event used to become a 64-character `String` (an allocation each)
/// only to be copied into the payload text; this stays inline and writes its hex straight there.
public struct HexDigest: Sendable, Equatable, CustomStringConvertible {
    private var words: (UInt64, UInt64, UInt64, UInt64)

    public init(_ digest: SHA256.Digest) {
        words = (0, 0, 0, 0)
        digest.withUnsafeBytes { source in
            withUnsafeMutableBytes(of: &words) { $0.copyMemory(from: source) }
        }
    }

    /// SHA-256 of `bytes`: in one call with the CPU's SHA extensions where it has them, with no
    /// digest context on the heap (on the hot path, every personal value is hashed), and through
    /// swift-crypto elsewhere. The digests are the same; `SHA256OneCallTests` compares them.
    public init(sha256Of bytes: UnsafeRawBufferPointer) {
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        let hashed = withUnsafeMutableBytes(of: &words) { capi_sha256(bytes.baseAddress, bytes.count, $0.baseAddress!) }
        if hashed == 0 {
            self.init(SHA256.hash(data: bytes))
        } else {
            self.init(words: words)
        }
    }

    /// SHA-256 of two messages at once: with the CPU's SHA extensions their rounds interleave, and
    /// the pair costs about what one message does (each round waits on the one before it, and the
    /// other message's rounds fill the wait). Elsewhere, one after the other through swift-crypto.
    public static func sha256(of first: UnsafeRawBufferPointer, and second: UnsafeRawBufferPointer) -> (HexDigest, HexDigest) {
        var a: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var b: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        let hashed = withUnsafeMutableBytes(of: &a) { digestA in
            withUnsafeMutableBytes(of: &b) { digestB in
                capi_sha256_pair(first.baseAddress, first.count, second.baseAddress, second.count, digestA.baseAddress!, digestB.baseAddress!)
            }
        }
        guard hashed != 0 else { return (HexDigest(SHA256.hash(data: first)), HexDigest(SHA256.hash(data: second))) }
        return (HexDigest(words: a), HexDigest(words: b))
    }

    /// Whether ``init(sha256Of:)`` uses the CPU's SHA extensions on this machine.
    public static var hashesInOneCall: Bool { capi_sha256_accelerated() == 1 }

    private init(words: (UInt64, UInt64, UInt64, UInt64)) {
        self.words = words
    }

    /// A digest written as 64 hex digits, either case; `nil` for anything else.
    public init?(hex: some Collection<UInt8>) {
        guard hex.count == 64 else { return nil }
        words = (0, 0, 0, 0)
        let valid = withUnsafeMutableBytes(of: &words) { bytes in
            var index = 0
            var high: UInt8?
            for character in hex {
                guard let nibble = Self.nibble(character) else { return false }
                if let first = high {
                    bytes[index] = first << 4 | nibble
                    index += 1
                    high = nil
                } else {
                    high = nibble
                }
            }
            return true
        }
        guard valid else { return nil }
    }

    public init?(hex text: String) { self.init(hex: text.utf8) }

    /// The 64 lowercase hex digits.
    public var hex: String {
        String(unsafeUninitializedCapacity: 64) { buffer in
            writeHex(to: buffer.baseAddress!)
            return 64
        }
    }

    public var description: String { hex }

    /// The 32 digest bytes, read in place.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try Swift.withUnsafeBytes(of: words, body)
    }

    /// `"…"`: the digits in quotes, appended in one copy.
    public func writeQuoted(into output: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 66) { buffer in
            buffer[0] = UInt8(ascii: "\"")
            writeHex(to: buffer.baseAddress! + 1)
            buffer[65] = UInt8(ascii: "\"")
            output.append(contentsOf: buffer)
        }
    }

    public static func == (lhs: HexDigest, rhs: HexDigest) -> Bool {
        lhs.words.0 == rhs.words.0 && lhs.words.1 == rhs.words.1 && lhs.words.2 == rhs.words.2 && lhs.words.3 == rhs.words.3
    }

    private func writeHex(to target: UnsafeMutablePointer<UInt8>) {
        Swift.withUnsafeBytes(of: words) { bytes in
            for index in 0..<32 {
                target[index &* 2] = SHA256Hex.hexDigit(bytes[index] &>> 4)
                target[index &* 2 &+ 1] = SHA256Hex.hexDigit(bytes[index] & 0x0F)
            }
        }
    }

    private static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character &- UInt8(ascii: "A") &+ 10
        default: nil
        }
    }
}
