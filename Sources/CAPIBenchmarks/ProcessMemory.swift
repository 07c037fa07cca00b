import Foundation

/// Resident memory of a process from `/proc/<pid>/status` (Linux), for measuring a sidecar that
/// runs as its own process rather than the benchmark's.
public struct ProcessMemory: Sendable, Equatable {
    /// Resident now, and the most it has been (`VmRSS`, `VmHWM`), in MiB.
    public var residentMegabytes: Int
    public var peakMegabytes: Int

    public init(residentMegabytes: Int, peakMegabytes: Int) {
        self.residentMegabytes = residentMegabytes
        self.peakMegabytes = peakMegabytes
    }

    /// `nil` when the process does not exist or the file cannot be read.
    public static func of(pid: Int32) -> ProcessMemory? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        return parse(status: text)
    }

    /// Reads the `VmRSS:` and `VmHWM:` lines (values in kB).
    static func parse(status: String) -> ProcessMemory? {
        var values: [String: Int] = [:]
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") || line.hasPrefix("VmHWM:") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count >= 2, let kilobytes = Int(parts[1]) else { return nil }
            values[String(parts[0].dropLast())] = kilobytes
        }
        guard let resident = values["VmRSS"], let peak = values["VmHWM"] else { return nil }
        return ProcessMemory(residentMegabytes: resident / 1024, peakMegabytes: peak / 1024)
    }
}
