import Foundation

/// Writes to standard output and standard error without buffering surprises between the two.
enum StandardStreams {
    static func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    static func printOutput(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
