import Foundation

/// A benchmark's printed figures: one line per measurement, easy to read and to grep.
public struct BenchmarkReport: Sendable {
    public var title: String
    public var lines: [(String, String)] = []

    public init(title: String) {
        self.title = title
    }

    public mutating func add(_ name: String, _ value: String) {
        lines.append((name, value))
    }

    public var rendered: String {
        let width = lines.map(\.0.count).max() ?? 0
        return ([title] + lines.map { "  " + $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }).joined(separator: "\n")
    }
}

enum Format {
    static func rate(_ value: Double) -> String {
        value >= 1_000_000 ? String(format: "%.2fM/s", value / 1_000_000) : String(format: "%.0f/s", value)
    }
}
