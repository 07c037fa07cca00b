import CAPICore
import ConnectorRuntime
import Crypto
import Foundation

/// Signing as Standard Webhooks defines it, so a receiver verifies alarms with any of its
/// libraries (and the sidecar's own verifier): `v1,` + base64 of HMAC-SHA256 over
/// `{webhook-id}.{webhook-timestamp}.{body}`, keyed with the secret's base64-decoded bytes.
public enum StandardWebhookSignature {
    public static func sign(key: SigningKey, id: String, timestamp: String, body: [UInt8]) -> String {
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: key.bytes))
        hmac.update(data: Array("\(id).\(timestamp).".utf8))
        hmac.update(data: body)
        return "v1," + Data(hmac.finalize()).base64EncodedString()
    }
}
