import Foundation

/// Lowercase hex SHA-256, the digest form Meta matches on.
public enum SHA256Hex {
    /// SHA-256 of the string's UTF-8 bytes (never a re-normalized form: NFC and NFD differ here).
    @inlinable
    public static func digest(_ text: String) -> String {
        var text = text
        return text.withUTF8 { digest(UnsafeRawBufferPointer($0)) }
    }

    /// SHA-256 of bytes already in memory, such as a normalizer's scratch buffer.
    @inlinable
    public static func digest(_ bytes: UnsafeRawBufferPointer) -> String {
        HexDigest(sha256Of: bytes).hex
    }

    /// SHA-256 of bytes already in memory, kept as bytes: what the ingest path writes into payloads.
    public static func hexDigest(_ bytes: UnsafeRawBufferPointer) -> HexDigest {
        HexDigest(sha256Of: bytes)
    }

    /// SHA-256 of the string's UTF-8 bytes, kept as bytes.
    public static func hexDigest(_ text: String) -> HexDigest {
        var text = text
        return text.withUTF8 { hexDigest(UnsafeRawBufferPointer($0)) }
    }

    /// SHA-256 of two strings' UTF-8 bytes at once (``HexDigest/sha256(of:and:)``).
    public static func hexDigests(_ first: String, _ second: String) -> (HexDigest, HexDigest) {
        var first = first
        var second = second
        return first.withUTF8 { a in
            second.withUTF8 { b in HexDigest.sha256(of: UnsafeRawBufferPointer(a), and: UnsafeRawBufferPointer(b)) }
        }
    }

    /// A nibble's lowercase hex digit by arithmetic: no table behind a lazy global on the hot path.
    @inlinable @inline(__always)
    static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? 0x30 &+ nibble : 0x57 &+ nibble
    }

    @inlinable
    public static func hex(_ digest: some Sequence<UInt8>) -> String {
        var iterator = digest.makeIterator()
        return String(unsafeUninitializedCapacity: digest.underestimatedCount * 2 + 64) { buffer in
            var index = 0
            while let byte = iterator.next(), index + 1 < buffer.count {
                buffer[index] = hexDigit(byte &>> 4)
                buffer[index + 1] = hexDigit(byte & 0x0F)
                index += 2
            }
            return index
        }
    }
}
