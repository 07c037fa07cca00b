#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes to standard output and standard error with `write(2)`, retrying interrupted and partial
/// writes. (Foundation's `FileHandle.write` traps when a signal interrupts it, and a server that
/// handles SIGTERM and runs child tasks sees signals.)
enum StandardStreams {
    static func printError(_ line: String) { writeAll(line + "\n", to: STDERR_FILENO) }

    static func printOutput(_ line: String) { writeAll(line + "\n", to: STDOUT_FILENO) }

    static func writeAll(_ text: String, to descriptor: Int32) {
        var bytes = Array(text.utf8)
        writeAll(&bytes, to: descriptor)
    }

    static func writeAll(_ bytes: inout [UInt8], to descriptor: Int32) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in write(descriptor, buffer.baseAddress! + offset, buffer.count - offset) }
            if written > 0 {
                offset += written
            } else if written < 0 && errno == EINTR {
                continue
            } else {
                return  // the stream is gone (closed pipe): nothing useful left to do
            }
        }
    }
}
