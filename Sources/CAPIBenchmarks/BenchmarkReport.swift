import Foundation

/// A benchmark's printed figures: one line per measurement, easy to read and to grep.
///
/// Each line is handed to `emit` as soon as it is measured, so a run of a minute shows its progress
/// instead of going quiet until the end.
public struct BenchmarkReport: Sendable {
    private let emit: @Sendable (String) -> Void
    /// Wide enough for every figure's name, so lines printed one by one still line up.
    static let nameWidth = 42

    public init(title: String, emit: @escaping @Sendable (String) -> Void) {
        self.emit = emit
        emit(title)
    }

    public func add(_ name: String, _ value: String) {
        emit("  " + name.padding(toLength: max(Self.nameWidth, name.count), withPad: " ", startingAt: 0) + "  " + value)
    }
}

enum Format {
    static func rate(_ value: Double) -> String {
        value >= 1_000_000 ? String(format: "%.2fM/s", value / 1_000_000) : String(format: "%.0f/s", value)
    }
}
