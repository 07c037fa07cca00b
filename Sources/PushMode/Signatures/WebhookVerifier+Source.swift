import CAPICore
import ConnectorRuntime

extension WebhookVerifier {
    /// The verifier of a configured source: its scheme, every secret of a rotation, its tolerance.
    public init(source: WebhookSource) {
        self.init(scheme: source.scheme, keys: source.signingKeys, tolerance: source.tolerance)
    }
}
