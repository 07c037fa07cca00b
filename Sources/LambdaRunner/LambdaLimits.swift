/// What a synchronous Lambda invocation can carry, and so what the webhook accepts under Lambda.
public enum LambdaLimits {
    /// Lambda's request payload limit for synchronous invocations (6 MB).
    public static let invocationPayloadBytes = 6 * 1_048_576
    /// Room for the rest of the proxy event: headers, request context, JSON escaping.
    static let envelopeBytes = 64 * 1024
    /// The largest body that still fits once API Gateway base64-encodes it (4 bytes per 3).
    public static let maximumBodyBytes = (invocationPayloadBytes - envelopeBytes) / 4 * 3
}
