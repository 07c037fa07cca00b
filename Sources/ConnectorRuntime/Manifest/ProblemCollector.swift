import Foundation
import Yams

/// Collects manifest problems while a manifest is being read, so every problem is reported at once.
final class ProblemCollector {
    let file: String
    private(set) var problems: [ManifestProblem] = []
    /// Where a value holds a secret that was given a stand-in (``ManifestLoader/secretStandIn``):
    /// what is said of that value later is said of the stand-in, so it is left out.
    private var unchecked: Set<[Int]> = []
    /// Where problems were left out for that reason, `FILE:LINE:COL`, each once.
    private(set) var uncheckedLocations: [String] = []

    init(file: String) {
        self.file = file
    }

    func report(_ message: String, at mark: Mark?) {
        let position = [mark?.line ?? 1, mark?.column ?? 1]
        guard !unchecked.contains(position) else {
            let location = "\(file):\(position[0]):\(position[1])"
            if !uncheckedLocations.contains(location) { uncheckedLocations.append(location) }
            return
        }
        problems.append(ManifestProblem(file: file, line: position[0], column: position[1], message: message))
    }

    /// Leaves the value at `mark` unchecked from now on: it holds a secret's stand-in.
    func leaveUnchecked(at mark: Mark?) {
        unchecked.insert([mark?.line ?? 1, mark?.column ?? 1])
    }
}
