import AsyncHTTPClient
import CAPICore
import ConnectorRuntime
import Crypto
import Foundation
import GraphAPI
import GraphSandbox
import Hummingbird
import Logging
import NIOCore
import PushMode
import ServiceLifecycle
import TestSupport

let webhookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
let testPixel = "1234567890"

/// The manifest the push tests run with: the shipped shape, small batches, fast retries, and long
/// deadlines unless a test names its own: the commit deadline (`limits`) and the Graph send timeout
/// are under test only where a test sets them. A loaded machine once took longer than the default
/// 5 s to commit, and a Graph call past a 1 s timeout in a starved suite is sent again, which a test
/// counting what the stand-in received would see twice.
func pushManifest(
    ingestToken: String = "ingest-token",
    graphTimeout: String = "60s",
    maxEvents: Int = 50,
    maxAttempts: Int = 30,
    limits: String = "",
    pushExtra: String = "",
    testEventCode: String? = nil
) throws -> Manifest {
    try ManifestLoader(environment: [:]).load(
        yaml: """
            \(TestManifest.header(graphTimeout: graphTimeout))
            pixels:
              - {id: "\(testPixel)", access_token: pixel-token, default_country: us\(testEventCode.map { ", test_event_code: \($0)" } ?? "")}
            push:
              sources:
                - {name: default, scheme: standard_webhooks, secrets: ["\(webhookSecret)"]}
                - {name: shop, scheme: x_hub_signature_256, secrets: [xhub-secret]}
              ingest_token: \(ingestToken)
              body_limit_bytes: 1100000
              batching: {max_events: \(maxEvents), linger: 20ms, max_in_flight: 4}
              retry: {max_attempts: \(maxAttempts), initial_backoff: 5ms, max_backoff: 40ms}
              mirror_salt: test-mirror-salt-0123456789
              limits: {\(limits.contains("commit_timeout") ? limits : (["commit_timeout: 60s"] + (limits.isEmpty ? [] : [limits])).joined(separator: ", "))}
            \(pushExtra)
            """,
        path: "test.yaml"
    )
}

/// The sidecar's parts over a fresh SQLite store, nothing running and Graph calls going nowhere:
/// for in-process route and handler tests.
func withSidecar(manifest: Manifest, _ body: @Sendable (PushSidecar) async throws -> Void) async throws {
    let path = TemporaryPaths.url("sidecar").appendingPathComponent("state.sqlite").path
    try await withStateRegistry(.sqlite(path: path), logger: Logger(label: "test")) { registry in
        try await body(
            PushSidecar(manifest: manifest, push: manifest.push!, registry: registry, graph: .init(manifest: manifest, baseURL: "http://127.0.0.1:1"))
        )
    }
}

/// A running sidecar: HTTP server, committer and forwarder over a fresh SQLite store, sending to a
/// Graph sandbox. Everything is real and on loopback.
struct PushStack: Sendable {
    let baseURL: String
    var port: Int { Int(baseURL.split(separator: ":").last!)! }
    let sandbox: GraphSandbox
    let sandboxURL: String
    let registry: any StateRegistry
    /// The store's location, for a test that opens a connection of its own.
    let location: StateLocation

    static func run<T: Sendable>(
        sandbox configuration: GraphSandbox.Configuration = .init(),
        manifest: Manifest? = nil,
        _ body: @Sendable (PushStack) async throws -> T
    ) async throws -> T {
        let manifest = try manifest ?? pushManifest()
        let push = manifest.push!
        let path = TemporaryPaths.url("push").appendingPathComponent("state.sqlite").path
        let sandbox = GraphSandbox(configuration: configuration)
        let location = StateLocation.sqlite(path: path)
        let registry = try await openStateRegistry(location, logger: Logger(label: "test.state"))
        // The sidecar owns the store as `serve` does, and stops the way `serve` stops: a graceful
        // shutdown that lets in-flight requests finish, then closes the store.
        return try await sandbox.withRunning { sandboxURL in
            let sidecar = PushSidecar(
                manifest: manifest,
                push: push,
                state: StateService(registry: registry, location: location),
                graph: .init(manifest: manifest, baseURL: sandboxURL),
                address: ListenAddress(host: "127.0.0.1", port: 0)
            )
            let (serverReady, serverContinuation) = AsyncStream.makeStream(of: Int.self)
            let service = sidecar.service(onListening: { _, port in serverContinuation.yield(port) })
            let sidecarGroup = ServiceGroup(configuration: .init(services: [.init(service: service)], logger: Logger(label: "test.sidecar")))
            return try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    defer { serverContinuation.finish() }
                    try await sidecarGroup.run()
                }
                var serverPorts = serverReady.makeAsyncIterator()
                guard let port = await serverPorts.next() else { throw TimedOut("the sidecar never listened") }
                let stack = PushStack(
                    baseURL: "http://127.0.0.1:\(port)",
                    sandbox: sandbox,
                    sandboxURL: sandboxURL,
                    registry: registry,
                    location: location
                )
                let result: Result<T, any Error>
                do { result = .success(try await body(stack)) } catch { result = .failure(error) }
                await sidecarGroup.triggerGracefulShutdown()
                try await group.waitForAll()
                return try result.get()
            }
        }
    }

    /// Waits until the outbox is empty (everything forwarded or dead-lettered).
    func drained(timeout: Duration = hangLimit) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await registry.outboxDepth() > 0 {
            guard ContinuousClock.now < deadline else { throw TimedOut("the outbox did not drain within \(timeout)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

struct HTTPResult: Sendable {
    var status: Int
    var body: JSONValue
    var headers: [String: String]
}

/// Standard Webhooks signature headers for `body`, as the reference library makes them.
func signedHeaders(
    _ body: [UInt8],
    id: String = "msg_\(UUID().uuidString)",
    timestamp: Int64 = Int64(Date().timeIntervalSince1970),
    secret: String = webhookSecret
) -> [(String, String)] {
    let key = SymmetricKey(data: Data(base64Encoded: String(secret.dropFirst(6)))!)
    let mac = HMAC<SHA256>.authenticationCode(for: Array("\(id).\(timestamp).".utf8) + body, using: key)
    return [("webhook-id", id), ("webhook-timestamp", String(timestamp)), ("webhook-signature", "v1," + Data(mac).base64EncodedString())]
}

func post(_ url: String, body: [UInt8], headers: [(String, String)] = [], contentType: String = "application/json") async throws -> HTTPResult {
    var request = HTTPClientRequest(url: url)
    request.method = .POST
    request.headers.add(name: "Content-Type", value: contentType)
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    request.body = .bytes(ByteBuffer(bytes: body))
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(hangLimit.components.seconds))
    let bytes = try await response.body.collect(upTo: 16 * 1024 * 1024)
    let json = (try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: bytes))) ?? .null
    return HTTPResult(
        status: Int(response.status.code),
        body: json,
        headers: Dictionary(response.headers.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { $1 })
    )
}

func get(_ url: String) async throws -> HTTPResult {
    let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(hangLimit.components.seconds))
    let bytes = try await response.body.collect(upTo: 16 * 1024 * 1024)
    return HTTPResult(
        status: Int(response.status.code),
        body: (try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: bytes))) ?? .null,
        headers: [:]
    )
}

/// A raw website purchase as an app would mirror it.
func mirroredEvent(
    id: String,
    time: Int64 = Int64(Date().timeIntervalSince1970) - 30,
    email: String = " Jane.Doe@Example.COM ",
    extra: String = ""
) -> [UInt8] {
    Array(
        """
        {"pixel_id":"\(testPixel)","event_name":"Purchase","event_time":\(time),"event_id":"\(id)","action_source":"website",\
        "event_source_url":"https://shop.example/checkout","user_data":{"email":"\(email)","phone":"(650) 555-1212","first_name":"Jane",\
        "client_user_agent":"Mozilla/5.0","client_ip_address":"203.0.113.7"},"custom_data":{"value":42.5,"currency":"USD"}\(extra)}
        """.utf8
    )
}
