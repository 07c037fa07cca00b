import Foundation

/// Reads the small text files an operator points the CLI at (the manifest, schema files), saying
/// exactly why one cannot be used, so the fix is obvious without a second tool.
public enum TextFile {
    /// Why a file gave no text, with where in it when the bytes are at fault (1-based line and
    /// column). The reason never quotes the file: a manifest can hold secrets.
    public struct Problem: Error, Sendable, Equatable {
        public var reason: String
        public var line: Int
        public var column: Int

        public init(reason: String, line: Int = 1, column: Int = 1) {
            self.reason = reason
            self.line = line
            self.column = column
        }
    }

    /// The file's text, refused when it is no regular file (a FIFO or device would block or never
    /// end), is larger than `byteLimit`, cannot be opened, or is not UTF-8.
    public static func read(path: String, byteLimit: Int = 1 << 20) throws(Problem) -> String {
        if let attributes = try? FileManager.default.attributesOfItem(atPath: path) {
            if let type = attributes[.type] as? FileAttributeType, type != .typeRegular, type != .typeSymbolicLink {
                throw Problem(reason: type == .typeDirectory ? "it is a directory" : "it is not a regular file")
            }
            if let size = attributes[.size] as? Int, size > byteLimit {
                throw Problem(reason: "it is larger than \(byteLimit >= 1 << 20 ? "\(byteLimit >> 20) MiB" : "\(byteLimit) bytes")")
            }
        }
        let bytes: Data
        do {
            bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw Problem(reason: describeOpenFailure(error))
        }
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        let (line, column) = firstInvalidUTF8(in: bytes)
        throw Problem(reason: "it is not UTF-8 text (the first byte that is not is here)", line: line, column: column)
    }

    static func describeOpenFailure(_ error: any Error) -> String {
        let nsError = error as NSError
        guard nsError.domain == NSCocoaErrorDomain else { return "it cannot be read" }
        switch nsError.code {
        case NSFileReadNoSuchFileError, NSFileNoSuchFileError: return "no such file"
        case NSFileReadNoPermissionError: return "permission denied"
        default: return "\(nsError.localizedFailureReason ?? "it cannot be read") (code \(nsError.code))"
        }
    }

    /// Line and column (in characters) of the first byte that does not decode as UTF-8, so an
    /// editor can jump to it.
    static func firstInvalidUTF8(in bytes: Data) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        var decoder = UTF8()
        var iterator = bytes.makeIterator()
        while case .scalarValue(let scalar) = decoder.decode(&iterator) {
            if scalar == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return (line, column)
    }
}
