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
        var output = ""
        while let line = Swift.readLine(strippingNewline: true) {
            if line.allSatisfy(\.isWhitespace) { continue }
            output += NormalizationLine.respond(to: line, normalizer: normalizer, defaultCountry: country)
            output += "\n"
            if output.utf8.count >= 64 * 1024 {
                StandardStreams.write(output, to: STDOUT_FILENO)
                output.removeAll(keepingCapacity: true)
            }
        }
        StandardStreams.write(output, to: STDOUT_FILENO)
    }
}
