import CAPICore
import ConnectorRuntime
import Crypto
import Foundation
import GraphAPI
import GraphSandbox
import LambdaRunner
import Logging
import Metrics
import NIOCore
import PushMode
import Synchronization
import TestSupport
import Testing

let webhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
let testPixel = "1234567890"

/// A long Graph send timeout, as in the push tests: these tests count what the stand-in received,
/// and a call past a short timeout in a starved suite is sent again.
func lambdaManifest(sourceExtra: String = "") throws -> Manifest {
    try ManifestLoader(environment: [:]).load(
        yaml: """
            \(TestManifest.header(graphTimeout: "60s"))
            pixels:
              - {id: "\(testPixel)", access_token: pixel-token, default_country: us}
            push:
              sources:
                - {name: default, scheme: standard_webhooks, secrets: ["\(webhookSecret)"]\(sourceExtra)}
              batching: {max_events: 50, linger: 20ms, max_in_flight: 4}
              retry: {max_attempts: 5, initial_backoff: 5ms, max_backoff: 40ms}
              mirror_salt: test-mirror-salt-0123456789
              replay_ledger: state
            """,
        path: "lambda.yaml"
    )
}

/// The Lambda runtime's parts as `capi-connector lambda` wires them, over a fresh store, talking
/// to a Runtime API stand-in and sending to a Graph sandbox: everything real, on loopback.
struct LambdaStack: Sendable {
    let runtime: RuntimeAPIStandIn
    let registry: any StateRegistry
    let sandbox: GraphSandbox
    let emitted: EmittedLines

    /// - Parameter instances: execution environments sharing the one store (and nothing else).
    static func run(
        store: TestStore,
        manifest: Manifest? = nil,
        instances: Int = 1,
        _ body: @Sendable ([LambdaStack]) async throws -> Void
    ) async throws {
        let manifest = try manifest ?? lambdaManifest()
        try await store.withRegistry { registry in
            try await withSandbox { graphURL, sandbox in
                let graph = GraphClient.Configuration(manifest: manifest, baseURL: graphURL)
                let runtimes = (0..<instances).map { _ in RuntimeAPIStandIn() }
                try await withRunning(runtimes) { endpoints in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        var stacks: [LambdaStack] = []
                        for (runtime, endpoint) in zip(runtimes, endpoints) {
                            // Bootstrapped before the sidecar makes its metric handles.
                            let metrics = TestMetrics.shared
                            let sidecar = PushSidecar(manifest: manifest, push: manifest.push!, registry: registry, graph: graph)
                            let emitted = EmittedLines()
                            let loop = LambdaLoop(
                                runtime: RuntimeAPIClient(endpoint: endpoint),
                                handler: PushHandler(server: sidecar.server),
                                forwarder: sidecar.forwarder,
                                store: registry,
                                metrics: metrics,
                                configuration: .init(forwardingMargin: .milliseconds(1200)),
                                emit: { emitted.append($0) }
                            )
                            group.addTask { try await sidecar.committer.run() }
                            group.addTask {
                                // The loop ends only when the test is over and cancels it; any
                                // other end would otherwise show up as a timed-out invocation.
                                do { try await loop.run() } catch  where !Task.isCancelled {
                                    Issue.record("the runtime loop ended early: \(error)")
                                } catch {}
                            }
                            stacks.append(LambdaStack(runtime: runtime, registry: registry, sandbox: sandbox, emitted: emitted))
                        }
                        defer { group.cancelAll() }
                        try await body(stacks)
                    }
                }
            }
        }
    }

    /// Runs every stand-in for the duration of `body`.
    static func withRunning(_ runtimes: [RuntimeAPIStandIn], _ body: @Sendable ([String]) async throws -> Void) async throws {
        guard let first = runtimes.first else { return try await body([]) }
        try await first.withRunning { endpoint in
            try await withRunning(Array(runtimes.dropFirst())) { rest in try await body([endpoint] + rest) }
        }
    }

    func received() async -> [String: Int] { await sandbox.receivedCounts(pixelID: testPixel) }
}

/// The test process's metrics backend, bootstrapped once (swift-metrics allows one bootstrap).
enum TestMetrics {
    static let shared: EmbeddedMetricFormat = {
        let metrics = EmbeddedMetricFormat()
        MetricsSystem.bootstrap(metrics)
        return metrics
    }()
}

/// Lines the loop printed (EMF metrics).
final class EmittedLines: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

/// A raw purchase as an app would mirror it.
func purchase(id: String, time: Int64 = Int64(Date().timeIntervalSince1970) - 30) -> [UInt8] {
    Array(
        """
        {"pixel_id":"\(testPixel)","event_name":"Purchase","event_time":\(time),"event_id":"\(id)","action_source":"website",\
        "event_source_url":"https://shop.example/checkout","user_data":{"email":"jane@example.com","client_ip_address":"203.0.113.7",\
        "client_user_agent":"Mozilla/5.0"},"custom_data":{"value":42.5,"currency":"USD"}}
        """.utf8
    )
}

/// Standard Webhooks headers for `body`.
func signed(_ body: [UInt8], id: String = "msg_\(UUID().uuidString)", secret: String = webhookSecret) -> [String: String] {
    let timestamp = Int64(Date().timeIntervalSince1970)
    let key = SymmetricKey(data: Data(base64Encoded: String(secret.dropFirst(6)))!)
    let mac = HMAC<SHA256>.authenticationCode(for: Array("\(id).\(timestamp).".utf8) + body, using: key)
    return ["webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": "v1," + Data(mac).base64EncodedString()]
}

/// API Gateway events as the two payload formats carry a request.
enum GatewayEvent {
    static func v2(path: String, body: [UInt8], headers: [String: String], sourceIP: String = "198.51.100.7", base64: Bool = false) -> [UInt8] {
        var all = headers
        all["content-type"] = "application/json"
        let object: [String: Any] = [
            "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
            "headers": all, "requestContext": ["http": ["method": "POST", "path": path, "sourceIp": sourceIP], "stage": "$default"],
            "body": base64 ? Data(body).base64EncodedString() : String(decoding: body, as: UTF8.self), "isBase64Encoded": base64,
        ]
        return Array(try! JSONSerialization.data(withJSONObject: object))
    }

    static func v1(path: String, body: [UInt8], headers: [String: String], sourceIP: String = "198.51.100.7", base64: Bool = false) -> [UInt8] {
        var all = headers.mapValues { [$0] }
        all["Content-Type"] = ["application/json"]
        let object: [String: Any] = [
            "resource": "/{proxy+}", "path": path, "httpMethod": "POST",
            "headers": all.mapValues { $0.last! }, "multiValueHeaders": all,
            "requestContext": ["identity": ["sourceIp": sourceIP], "stage": "prod"],
            "body": base64 ? Data(body).base64EncodedString() : String(decoding: body, as: UTF8.self), "isBase64Encoded": base64,
        ]
        return Array(try! JSONSerialization.data(withJSONObject: object))
    }
}

extension RuntimeAPIStandIn.Outcome {
    /// The proxy response's status code and decoded JSON body.
    var answer: (status: Int, body: [String: Any]) {
        let json = self.json
        let body = (json["body"] as? String).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] } ?? [:]
        return (json["statusCode"] as? Int ?? 0, body)
    }
}
