import Foundation
import Yams

/// Collects manifest problems while a manifest is being read, so every problem is reported at once.
final class ProblemCollector {
    let file: String
    private(set) var problems: [ManifestProblem] = []

    init(file: String) {
        self.file = file
    }

    func report(_ message: String, at mark: Mark?) {
        problems.append(ManifestProblem(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1, message: message))
    }
}
