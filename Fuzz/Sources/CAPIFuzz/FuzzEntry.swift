import CAPIFuzzTargets
import Foundation

/// The target `FUZZ_TARGET` names (`Fuzz/run` sets it).
let target: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        fatalError("FUZZ_TARGET must be one of \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")), found \(name)")
    }
    return target
}()

/// libFuzzer's entry: a broken promise aborts, so the fuzzer saves the input that broke it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    if let broken = target.check(UnsafeBufferPointer(start: data, count: size)) {
        FileHandle.standardError.write(Data("promise broken: \(broken)\n".utf8))
        abort()
    }
    return 0
}
