import ConnectorRuntime
import Testing

/// `--help` is the manual most users read; it must come out as paragraphs, not ragged lines.
@Suite("Help text")
struct HelpTextTests {
    /// Every command and subcommand, found by reading the help itself, so a new one is covered.
    static func commandPaths() async throws -> [[String]] {
        var found: [[String]] = []
        var pending: [[String]] = [[]]
        while let path = pending.popLast() {
            let help = try await CLIRunner.run(path + ["--help"])
            #expect(help.status == 0, "\(path): \(help.stderr)")
            found.append(path)
            pending += subcommands(in: help.stdout).map { path + [$0] }
        }
        return found
    }

    /// Names listed under `SUBCOMMANDS:` (two spaces, then the name; descriptions are indented further).
    static func subcommands(in help: String) -> [String] {
        guard let section = help.components(separatedBy: "SUBCOMMANDS:\n").dropFirst().first else { return [] }
        return section.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("  "), !line.hasPrefix("   "), !line.contains("See '") else { return nil }
            return line.split(separator: " ").first.map(String.init).flatMap { $0 == "help" ? nil : $0 }
        }
    }

    /// Lines of a paragraph that stop where the next word would have fit (the parser fills lines up
    /// to 79 characters when not writing to a terminal): text wrapped by hand, then again.
    static func raggedLines(in help: String) -> [String] {
        let description = help.components(separatedBy: "USAGE:").first ?? help
        let lines = description.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var ragged: [String] = []
        for (index, line) in lines.enumerated().dropLast() {
            let next = lines[index + 1]
            let isProse = { (text: String) in !text.isEmpty && !text.hasPrefix(" ") }
            // A line that introduces an example (ending in ':') may be short; so may an example's
            // own continuation, which follows an indented line.
            guard isProse(line), isProse(next), !line.hasSuffix(":"), index == 0 || isProse(lines[index - 1]) || lines[index - 1].isEmpty
            else { continue }
            let nextWord = next.split(separator: " ").first.map(\.count) ?? 0
            if line.count + 1 + nextWord <= 79 { ragged.append(line) }
        }
        return ragged
    }

    @Test("every command's description is wrapped once, by the parser: no line stops where the next word would have fit")
    func paragraphsWrapOnce() async throws {
        let paths = try await Self.commandPaths()
        #expect(paths.count > 15, "found \(paths)")
        for path in paths {
            let help = try await CLIRunner.run(path + ["--help"])
            #expect(Self.raggedLines(in: help.stdout).isEmpty, "capi-connector \(path.joined(separator: " ")) --help")
        }
    }

    @Test("the check finds text wrapped by hand at 100 columns and passes text wrapped at 80")
    func detectsRaggedText() {
        let handWrapped = """
            OVERVIEW: x

            An event is answered 202 only after it is committed to the state store; the
            forwarder then
            sends it to Meta in batches.

            USAGE: x
            """
        #expect(Self.raggedLines(in: handWrapped) == ["forwarder then"])
        let wrapped = """
            OVERVIEW: x

            An event is answered 202 only after it is committed to the state store; the
            forwarder then sends it to Meta in batches.

            Example:
              capi-connector normalize --a-long-option-that-wraps-around-the-end-of-a
            line
            Next paragraph.

            USAGE: x
            """
        #expect(Self.raggedLines(in: wrapped).isEmpty)
    }

    @Test("--version prints the build's version, the one capi_build_info and the alarm webhook's User-Agent carry")
    func version() async throws {
        let result = try await CLIRunner.run(["--version"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == BuildInfo.version + "\n")
    }
}
