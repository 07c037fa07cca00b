// swift-tools-version:6.0
// Coverage-guided fuzzing of CAPICore's parsers with libFuzzer and AddressSanitizer. A package of
// its own, so the main build never links libFuzzer's `main`: run it with `Fuzz/run TARGET`.
import PackageDescription

let package = Package(
    name: "capi-fuzz",
    dependencies: [.package(name: "capi-connector", path: "..")],
    targets: [
        .executableTarget(
            name: "CAPIFuzz",
            dependencies: [.product(name: "CAPIFuzzTargets", package: "capi-connector")],
            // libFuzzer has the `main`; this file only defines the function it calls.
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        )
    ]
)
