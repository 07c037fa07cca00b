/// Signature schemes a webhook source can use (see docs/signatures.md).
public enum WebhookScheme: String, Sendable, CaseIterable {
    case standardWebhooks = "standard_webhooks"
    case svix
    case stripe
    case xHubSignature256 = "x_hub_signature_256"
}
