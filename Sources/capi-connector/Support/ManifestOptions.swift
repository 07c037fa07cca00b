import ArgumentParser
import ConnectorRuntime
import Foundation
import LambdaRunner

/// `--manifest`, shared by every command that reads the manifest.
struct ManifestOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Path to the connector manifest.", valueName: "path"))
    var manifest: String = ManifestLoader.defaultPath

    /// The loaded manifest, or the problems printed to standard error and exit code 2.
    func load(scope: ManifestLoader.Scope = .everything) async throws -> Manifest {
        try await Self.loadOrExit(path: manifest, scope: scope)
    }

    /// The manifest at `path`, or its problems printed to standard error and exit code 2.
    static func loadOrExit(path: String, scope: ManifestLoader.Scope) async throws -> Manifest {
        do {
            return try await load(path: path, scope: scope)
        } catch {
            // Typed: only a manifest's problems reach here.
            for problem in error.problems {
                StandardStreams.printError(problem.description)
            }
            throw ExitCode(2)
        }
    }

    /// What each `${aws-secret:…}` reads as where secrets cannot be read: a well-formed webhook
    /// secret, so the values holding one load, and text no real value is.
    static let secretStandIn = "whsec_" + String(repeating: "A", count: 43) + "="

    /// The manifest as far as it can be read where `${aws-secret:…}` references cannot be (outside
    /// Lambda, as in a CI step before a deploy): each reads as ``secretStandIn``, and the values
    /// holding one are not checked further (``ManifestLoader/secretStandIn``); everything else is.
    /// Inside Lambda, or without references, this is ``load(path:scope:)``.
    ///
    /// - Parameter announce: told how many references read as the stand-in, before loading, so a
    ///   note about them comes before any problem.
    /// - Throws: the problems of values that could be checked.
    static func loadStandingIn(
        path: String,
        scope: ManifestLoader.Scope = .everything,
        announce: (Int) -> Void = { _ in }
    ) async throws(ManifestError) -> StandingInLoad {
        let text = try ManifestLoader.text(path: path)
        let references = EnvironmentReferences.secretReferences(in: text)
        guard !references.isEmpty, !SecretsExtension().canRead else {
            let manifest = try await load(text: text, references: references, path: path, scope: scope)
            return StandingInLoad(manifest: manifest, standIns: 0, unloaded: [])
        }
        announce(references.count)
        var loader = ManifestLoader(scope: scope)
        loader.secretStandIn = secretStandIn
        do {
            return StandingInLoad(manifest: try loader.load(yaml: text, path: path), standIns: references.count, unloaded: [])
        } catch  where error.problems.isEmpty {
            return StandingInLoad(manifest: nil, standIns: references.count, unloaded: error.uncheckedLocations)
        }
    }

    /// Why secrets were not read, for the note of a command that went on without them.
    static func unreadSecrets(_ count: Int) -> String {
        "\(count) ${aws-secret:…} reference\(count == 1 ? " is" : "s are") not read here (secrets are read inside Lambda, and AWS_SESSION_TOKEN is not set)"
    }

    /// Reads the file, the values of its `${aws-secret:…}` references (through the Parameters and
    /// Secrets Extension, only when there are any), then loads it.
    static func load(path: String, scope: ManifestLoader.Scope = .everything) async throws(ManifestError) -> Manifest {
        let text = try ManifestLoader.text(path: path)
        return try await load(text: text, references: EnvironmentReferences.secretReferences(in: text), path: path, scope: scope)
    }

    /// The same, for text already read and its references already found.
    private static func load(
        text: String,
        references: [String],
        path: String,
        scope: ManifestLoader.Scope
    ) async throws(ManifestError) -> Manifest {
        var secrets: [String: String] = [:]
        if !references.isEmpty {
            do { secrets = try await SecretsExtension().values(of: references) } catch {
                throw ManifestError(problems: [ManifestProblem(file: path, line: 1, column: 1, message: error.description)])
            }
        }
        return try ManifestLoader(secrets: secrets, scope: scope).load(yaml: text, path: path)
    }
}

/// A manifest read with stand-ins for the secrets that cannot be read here.
struct StandingInLoad {
    /// `nil` when only values holding a stand-in had problems.
    var manifest: Manifest?
    /// How many `${aws-secret:…}` references read as the stand-in.
    var standIns: Int
    /// Where values holding a stand-in did not load, `FILE:LINE:COL`.
    var unloaded: [String]
}
