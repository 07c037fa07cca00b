// swift-tools-version:6.0
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "capi-connector",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "capi-connector", targets: ["capi-connector"]),
        .library(name: "CAPICore", targets: ["CAPICore"]),
        .library(name: "ConnectorRuntime", targets: ["ConnectorRuntime"]),
        // For the coverage-guided fuzzer, a package of its own in Fuzz/.
        .library(name: "CAPIFuzzTargets", targets: ["CAPIFuzzTargets"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // SHA-256 in one call with the CPU's SHA extensions, for the per-value hashes of the hot path.
        .target(name: "CSHA256"),
        // Pure Meta logic: normalization, hashing, validation, payload building. No I/O.
        .target(
            name: "CAPICore",
            dependencies: [
                "CSHA256",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // What the coverage-guided fuzzer (Fuzz/run) feeds its inputs to, and the promises it checks.
        .target(
            name: "CAPIFuzzTargets",
            dependencies: ["CAPICore", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // Outbound Graph API client: requests, error classes, retry policy, tokens.
        .target(
            name: "GraphAPI",
            dependencies: [
                "CAPICore", "ConnectorRuntime",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Manifest model and loader, stream catalog, state registry, schema registry.
        .target(
            name: "ConnectorRuntime",
            dependencies: [
                "CAPICore",
                .product(name: "Yams", package: "Yams"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                // Only for the type of the pool's own errors (a tripped circuit breaker), to name them.
                .product(name: "_ConnectionPoolModule", package: "postgres-nio"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        // A local stand-in for graph.facebook.com, used by tests, benchmarks and the quickstart.
        .target(
            name: "GraphSandbox",
            dependencies: [
                "CAPICore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Alarm changes POSTed to a receiver, signed with Standard Webhooks, with cooldown and retries.
        .target(
            name: "AlarmWebhooks",
            dependencies: [
                "CAPICore", "ConnectorRuntime", "GraphAPI",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The webhook-mirror sidecar: HTTP server, signature verifiers, intake, forwarder, DLQ.
        .target(
            name: "PushMode",
            dependencies: [
                "CAPICore", "GraphAPI", "ConnectorRuntime", "AlarmWebhooks",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The push routes as an AWS Lambda custom runtime behind API Gateway: the Runtime API
        // loop, proxy events in and out, CloudWatch Embedded Metric Format.
        .target(
            name: "LambdaRunner",
            dependencies: [
                "CAPICore", "ConnectorRuntime", "PushMode",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The delivery-status poll job.
        .target(
            name: "PullMode",
            dependencies: [
                "CAPICore", "GraphAPI", "ConnectorRuntime",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Throughput benchmarks behind `capi-connector bench`; run on release builds.
        .target(
            name: "CAPIBenchmarks",
            dependencies: [
                "CAPICore", "ConnectorRuntime", "GraphAPI", "PushMode", "GraphSandbox",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The command line: argument parsing and wiring only.
        .executableTarget(
            name: "capi-connector",
            dependencies: [
                "CAPICore", "GraphAPI", "ConnectorRuntime", "PushMode", "PullMode", "GraphSandbox", "CAPIBenchmarks", "AlarmWebhooks",
                "LambdaRunner",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // What the test targets share: stores (SQLite, the CI Postgres), manifests, the Graph
        // stand-in, a process runner and named timeouts.
        .target(
            name: "TestSupport",
            dependencies: [
                "CAPICore", "ConnectorRuntime", "GraphSandbox",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CAPICoreTests",
            dependencies: ["CAPICore", "CSHA256", .product(name: "Crypto", package: "swift-crypto")],
            exclude: ["Vectors"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConnectorRuntimeTests",
            dependencies: [
                "ConnectorRuntime", "CAPICore", "TestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PushModeTests",
            dependencies: [
                "PushMode", "ConnectorRuntime", "CAPICore", "GraphSandbox", "GraphAPI", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PullModeTests",
            dependencies: [
                "PullMode", "ConnectorRuntime", "CAPICore", "GraphSandbox", "GraphAPI", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Drives the built executable, as external checks and operators do.
        .testTarget(
            name: "CLITests",
            dependencies: [
                "capi-connector", "CAPICore", "ConnectorRuntime", "TestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            exclude: ["Scripts"],
            swiftSettings: swiftSettings
        ),
        // Seeded, bounded fuzzing of every parser that takes outside input (a trap fails the run).
        .testTarget(
            name: "FuzzTests",
            dependencies: [
                "CAPICore", "CAPIFuzzTargets", "ConnectorRuntime", "PushMode", "PullMode", "GraphAPI", "LambdaRunner", "TestSupport",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AlarmWebhooksTests",
            dependencies: [
                "AlarmWebhooks", "GraphAPI", "PushMode", "ConnectorRuntime", "CAPICore", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "LambdaRunnerTests",
            dependencies: [
                "LambdaRunner", "PushMode", "ConnectorRuntime", "CAPICore", "GraphSandbox", "GraphAPI", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GraphAPITests",
            dependencies: [
                "GraphAPI", "GraphSandbox", "CAPICore", "TestSupport", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
