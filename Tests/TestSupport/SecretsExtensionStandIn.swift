import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// A stand-in for the AWS Parameters and Secrets Lambda Extension's local endpoint: answers
/// `GET /secretsmanager/get?secretId=ID` with `{"Name", "SecretString"}` when the request carries
/// the session token, 403 without it, 400 for an unknown secret (as the extension does).
public final class SecretsExtensionStandIn: Sendable {
    let secrets: [String: String]
    let token: String
    private let reads = Mutex<[String]>([])

    public init(secrets: [String: String], token: String) {
        self.secrets = secrets
        self.token = token
    }

    /// Secret ids read so far, in order.
    public var read: [String] { reads.withLock { $0 } }

    /// Runs on a loopback port for the duration of `body`, which gets the port.
    public func withRunning<T: Sendable>(_ body: @Sendable (Int) async throws -> T) async throws -> T {
        let router = Router()
        router.get("/secretsmanager/get") { request, _ -> Response in
            guard request.headers[HTTPField.Name("X-Aws-Parameters-Secrets-Token")!] == self.token else {
                return Response(status: .forbidden)
            }
            let id = request.uri.queryParameters.get("secretId") ?? ""
            self.reads.withLock { $0.append(id) }
            guard let value = self.secrets[id] else { return Response(status: .badRequest) }
            let answer = try JSONSerialization.data(withJSONObject: ["Name": id, "SecretString": value, "VersionId": "v1"])
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: answer)))
        }
        return try await withLoopbackServer(router, label: "test.secrets-extension", body)
    }
}
