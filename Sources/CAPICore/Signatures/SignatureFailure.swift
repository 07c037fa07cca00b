/// Why a delivery's signature was refused. The raw value is the reason code in the 401 answer,
/// the `reason` label of `capi_signature_failures_total` and the log field; it helps operators and
/// gives an attacker nothing.
public enum SignatureFailure: String, Error, Sendable, CaseIterable {
    /// No signature header for the source's scheme (a legacy `X-Hub-Signature` alone counts as none).
    case missingSignature = "missing_signature"
    /// A signature header that does not parse.
    case malformedSignature = "malformed_signature"
    /// The id or timestamp header is missing or not what the scheme requires.
    case malformedTimestamp = "malformed_timestamp"
    /// No configured secret produces any of the given signatures.
    case badSignature = "bad_signature"
    /// The signed timestamp is more than the tolerance away from now.
    case staleTimestamp = "stale_timestamp"
    /// A message id seen before arrived again with a different body.
    case replayedID = "replayed_id"
}

/// What a verified delivery tells us beyond "authentic".
public struct VerifiedDelivery: Sendable, Equatable {
    /// `webhook-id` / `svix-id` when the scheme has one.
    public var messageID: String?
    /// When the sender signed it (`webhook-timestamp`, Stripe's `t=`).
    public var timestamp: UnixSeconds?
}
