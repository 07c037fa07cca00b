import CAPICore
import Foundation

extension SigningKey {
    /// Why a configured webhook secret cannot be used. Never carries the secret.
    public enum DecodingFailure: Error, Equatable, Sendable {
        case empty
        case notBase64
    }

    /// The HMAC key a scheme derives from a configured secret.
    ///
    /// Standard Webhooks and Svix key with the strictly base64-decoded part after `whsec_` (a bare
    /// base64 secret is accepted too); Stripe and X-Hub key with the secret's UTF-8 bytes as given,
    /// `whsec_` prefix included.
    public static func decode(_ secret: String, scheme: WebhookScheme) -> Result<SigningKey, DecodingFailure> {
        guard !secret.isEmpty else { return .failure(.empty) }
        switch scheme {
        case .standardWebhooks, .svix:
            let encoded = secret.hasPrefix("whsec_") ? String(secret.dropFirst(6)) : secret
            guard !encoded.isEmpty, let data = Data(base64Encoded: encoded), !data.isEmpty else {
                return .failure(.notBase64)
            }
            return .success(SigningKey(bytes: Array(data)))
        case .stripe, .xHubSignature256:
            return .success(SigningKey(bytes: Array(secret.utf8)))
        }
    }
}
