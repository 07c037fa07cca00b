import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat

/// The AWS Parameters and Secrets Lambda Extension: a local HTTP endpoint inside the execution
/// environment that reads Secrets Manager (and caches), so secrets reach the runtime at start-up
/// without being plaintext environment values in the function's configuration.
///
/// `GET http://localhost:PORT/secretsmanager/get?secretId=ID`, authenticated with the session
/// token in `X-Aws-Parameters-Secrets-Token`; the answer's `SecretString` is the value. A reference
/// `ID#key` takes one key of a secret stored as a JSON object (RDS credentials, for instance).
public struct SecretsExtension: Sendable {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var reference: String
        public var reason: String
        /// Never holds a secret's value.
        public var description: String { "${aws-secret:\(reference)}: \(reason)" }
    }

    let endpoint: String
    let token: String?
    let http: HTTPClient

    /// Reads the port (`PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`, default 2773) and the session
    /// token (`AWS_SESSION_TOKEN`) from `environment`.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment, http: HTTPClient = .shared) {
        let port = environment["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"].flatMap(Int.init) ?? 2773
        endpoint = "http://localhost:\(port)"
        token = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        self.http = http
    }

    /// The value of every reference (`ID` or `ID#key`), each secret read once.
    public func values(of references: [String]) async throws(Failure) -> [String: String] {
        var secrets: [String: String] = [:]
        var values: [String: String] = [:]
        for reference in references {
            let (id, key) = Self.split(reference)
            let secret: String
            if let known = secrets[id] {
                secret = known
            } else {
                secret = try await read(id, reference: reference)
                secrets[id] = secret
            }
            guard let key else {
                values[reference] = secret
                continue
            }
            guard let object = (try? JSONSerialization.jsonObject(with: Data(secret.utf8))) as? [String: Any] else {
                throw Failure(reference: reference, reason: "the secret is not a JSON object, so it has no key `\(key)`")
            }
            switch object[key] {
            case let text as String: values[reference] = text
            case let number as NSNumber: values[reference] = number.stringValue
            default: throw Failure(reference: reference, reason: "the secret has no text or number under `\(key)`")
            }
        }
        return values
    }

    /// Whether secrets can be read here: inside Lambda, where the session token is set.
    public var canRead: Bool { token != nil }

    static func split(_ reference: String) -> (id: String, key: String?) {
        guard let hash = reference.lastIndex(of: "#") else { return (reference, nil) }
        return (String(reference[..<hash]), String(reference[reference.index(after: hash)...]))
    }

    func read(_ id: String, reference: String) async throws(Failure) -> String {
        guard let token else {
            throw Failure(
                reference: reference,
                reason: "AWS_SESSION_TOKEN is not set: secrets are read inside Lambda, with the Parameters and Secrets Extension layer"
            )
        }
        let query = id.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? id
        var request = HTTPClientRequest(url: "\(endpoint)/secretsmanager/get?secretId=\(query)")
        request.headers.add(name: "X-Aws-Parameters-Secrets-Token", value: token)
        let status: UInt
        let body: ByteBuffer
        do {
            let response = try await http.execute(request, timeout: .seconds(5))
            status = response.status.code
            body = try await response.body.collect(upTo: 1_048_576)
        } catch {
            throw Failure(
                reference: reference,
                reason: "the Parameters and Secrets Extension at \(endpoint) did not answer (is the extension layer attached?)"
            )
        }
        guard status == 200 else { throw Failure(reference: reference, reason: "the Parameters and Secrets Extension answered \(status)") }
        guard let answer = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any],
            let value = answer["SecretString"] as? String
        else {
            throw Failure(reference: reference, reason: "the answer has no SecretString (binary secrets are not supported)")
        }
        return value
    }
}
