/// One thing wrong with a manifest, located so an editor can jump to it.
///
/// The message names fields and environment variables, never a secret value: problems are printed.
public struct ManifestProblem: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public var message: String

    public init(file: String, line: Int, column: Int, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    /// `FILE:LINE:COL: message`, the format compilers use and editors understand.
    public var description: String { "\(file):\(line):\(column): \(message)" }
}

/// Every problem found while loading a manifest; loading never stops at the first one.
public struct ManifestError: Error, Sendable, CustomStringConvertible {
    public var problems: [ManifestProblem]
    /// Where a value holding a secret's stand-in (``ManifestLoader/secretStandIn``) did not load,
    /// `FILE:LINE:COL`: its problem would be the stand-in's, so only the place is told.
    public var uncheckedLocations: [String]

    public init(problems: [ManifestProblem], uncheckedLocations: [String] = []) {
        self.problems = problems
        self.uncheckedLocations = uncheckedLocations
    }

    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
