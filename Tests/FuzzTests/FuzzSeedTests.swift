import CAPIFuzzTargets
import Foundation
import TestSupport
import Testing

/// The coverage-guided fuzzer's starting inputs, through the same checks it runs: the harness is
/// built and run with the package, and the inputs it once found (kept as seeds) stay fixed.
@Suite("The coverage-guided fuzzer's seeds")
struct FuzzSeedTests {
    @Test("every seed keeps every promise of its target", arguments: FuzzTarget.allCases)
    func seeds(target: FuzzTarget) throws {
        let folder = RepositoryPaths.root.appendingPathComponent("Fuzz/seeds/\(target.rawValue)")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(!files.isEmpty)
        for file in files {
            let bytes = try [UInt8](Data(contentsOf: folder.appendingPathComponent(file)))
            let broken = bytes.withUnsafeBufferPointer { target.check($0) }
            #expect(broken == nil, "\(file): \(broken ?? "")")
        }
    }
}
