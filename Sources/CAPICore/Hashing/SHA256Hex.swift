import Crypto
import Foundation

/// Lowercase hex SHA-256, the digest form Meta matches on.
public enum SHA256Hex {
    /// SHA-256 of the string's UTF-8 bytes (never a re-normalized form: NFC and NFD differ here).
    @inlinable
    public static func digest(_ text: String) -> String {
        var text = text
        return text.withUTF8 { hex(SHA256.hash(data: $0)) }
    }

    public static func digest(bytes: [UInt8]) -> String {
        hex(SHA256.hash(data: bytes))
    }

    @usableFromInline
    static let alphabet: [UInt8] = Array("0123456789abcdef".utf8)

    @inlinable
    public static func hex(_ digest: some Sequence<UInt8>) -> String {
        let bytes = Array(digest)
        return String(unsafeUninitializedCapacity: bytes.count * 2) { buffer in
            for (index, byte) in bytes.enumerated() {
                buffer[index * 2] = alphabet[Int(byte >> 4)]
                buffer[index * 2 + 1] = alphabet[Int(byte & 0x0F)]
            }
            return bytes.count * 2
        }
    }
}
