import ArgumentParser
import CAPICore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

struct NormalizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "normalize",
        abstract: "Normalize and hash customer information: JSON lines in, JSON lines out.",
        discussion: """
            Each input line is {"field": "ph", "value": "090-1234-5678", "country": "jp"} ("country" is
            optional). Each output line, in order, is {"field", "normalized", "hash"}; for keys Meta takes
            unhashed "hash" is null; a value that is already a SHA-256 digest comes back as both; a value
            that cannot be used gives {"field", "error"} with the reason (never the value).

            Example:
              echo '{"field":"em","value":"  John.Doe@Example.com "}' | capi-connector normalize
            """
    )

    @Option(help: ArgumentHelp("Country for national phone numbers and US rules when a line gives none (ISO alpha-2).", valueName: "code"))
    var defaultCountry: String?

    func validate() throws {
        if let defaultCountry, CountryCodes.alpha2(for: defaultCountry) == nil {
            throw ValidationError("--default-country must be an ISO 3166-1 country code such as `us`")
        }
    }

    func run() throws {
        let normalizer = Normalizer(today: .utcNow())
        let country = defaultCountry.flatMap(CountryCodes.alpha2(for:))
        var output: [UInt8] = []
        output.reserveCapacity(128 * 1024)
        var pending: [UInt8] = []
        // A line longer than this is answered with an error and skipped, not buffered without end.
        let maxLineBytes = 1 << 20
        var overlong = false
        var block = [UInt8](repeating: 0, count: 64 * 1024)
        func answer(_ line: ArraySlice<UInt8>) {
            var line = line
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            guard line.contains(where: { !TextFolding.isASCIISpaceByte($0) }) else { return }
            output.append(contentsOf: NormalizationLine.respond(to: line, normalizer: normalizer, defaultCountry: country).utf8)
            output.append(UInt8(ascii: "\n"))
        }
        while true {
            let count = block.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                // Everything answered so far still goes out before the failure is reported.
                StandardStreams.writeAll(&output, to: STDOUT_FILENO)
                StandardStreams.printError("capi-connector normalize: cannot read standard input (errno \(errno))")
                throw ExitCode(1)
            }
            if count == 0 { break }
            var start = 0
            for index in 0..<count where block[index] == UInt8(ascii: "\n") {
                if overlong {
                    overlong = false
                    pending.removeAll(keepingCapacity: true)
                } else if pending.isEmpty {
                    answer(block[start..<index])
                } else {
                    pending.append(contentsOf: block[start..<index])
                    answer(pending[...])
                    pending.removeAll(keepingCapacity: true)
                }
                start = index + 1
            }
            if !overlong { pending.append(contentsOf: block[start..<count]) }
            if pending.count > maxLineBytes {
                overlong = true
                pending.removeAll(keepingCapacity: true)
                output.append(contentsOf: #"{"error":"the line is longer than 1048576 bytes"}"#.utf8)
                output.append(UInt8(ascii: "\n"))
            }
            if output.count >= 64 * 1024 {
                StandardStreams.writeAll(&output, to: STDOUT_FILENO)
                output.removeAll(keepingCapacity: true)
            }
        }
        if !pending.isEmpty, !overlong { answer(pending[...]) }
        StandardStreams.writeAll(&output, to: STDOUT_FILENO)
    }
}
