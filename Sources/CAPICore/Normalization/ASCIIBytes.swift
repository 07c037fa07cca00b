/// Byte classes and edits shared by the ASCII paths.
enum ASCIIBytes {
    @inline(__always)
    static func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        // Eight bytes at a time: a value is often 20–60 bytes long.
        var index = 0
        let count = bytes.count
        guard let base = bytes.baseAddress else { return true }
        let raw = UnsafeRawPointer(base)
        while index + 8 <= count {
            if raw.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { return false }
            index += 8
        }
        while index < count {
            if bytes[index] >= 0x80 { return false }
            index += 1
        }
        return true
    }

    @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 { byte &- 0x41 < 26 ? byte | 0x20 : byte }

    @inline(__always)
    static func isLowercaseLetter(_ byte: UInt8) -> Bool { byte &- 0x61 < 26 }

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool { byte &- 0x30 < 10 }

    /// `12345-6789`.
    static func isZIPPlus4(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count == 10, bytes[5] == UInt8(ascii: "-") else { return false }
        return bytes[..<5].allSatisfy(isDigit) && bytes[6...].allSatisfy(isDigit)
    }

    /// Keeps, in order and in place, the bytes of `buffer[0..<count]` that `keep` accepts; returns
    /// how many.
    @inline(__always)
    static func compact(_ buffer: UnsafeMutableBufferPointer<UInt8>, _ count: Int, keep: (UInt8) -> Bool) -> Int {
        var kept = 0
        for index in 0..<count where keep(buffer[index]) {
            buffer[kept] = buffer[index]
            kept += 1
        }
        return kept
    }
}
