import CAPICore
import ConnectorRuntime
import Crypto
import Foundation

/// Verifies a signed delivery against every configured secret of its source.
///
/// Two steps, so the cheap refusals cost nothing: ``inspect(header:now:)`` reads the headers
/// (shape, timestamp tolerance, at most ``maximumCandidates`` signatures) before the body is read;
/// ``verify(_:body:)`` then computes one HMAC per configured key over the raw bytes exactly as
/// received and compares it with each candidate in constant time. Pure: headers come through a
/// case-insensitive lookup and the clock is a value.
public struct WebhookVerifier: Sendable {
    public var scheme: WebhookScheme
    public var keys: [SigningKey]
    /// How far the signed timestamp may differ from now, both ways, inclusive (whole seconds).
    public var tolerance: Duration

    /// More signatures than this in one header is refused as malformed: senders list one per
    /// active secret, and each candidate would otherwise be work an attacker chooses.
    public static let maximumCandidates = 8
    /// Longest signature header read at all.
    public static let maximumHeaderBytes = 4096

    public init(scheme: WebhookScheme, keys: [SigningKey], tolerance: Duration = .seconds(300)) {
        self.scheme = scheme
        self.keys = keys
        self.tolerance = tolerance
    }

    public init(source: WebhookSource) {
        self.init(scheme: source.scheme, keys: source.signingKeys, tolerance: source.tolerance)
    }

    /// What the headers promise, checked for everything that does not need the body.
    public struct Inspected: Sendable {
        /// Bytes the MAC covers before the body (`id.timestamp.`, `timestamp.` or nothing).
        var prefix: [UInt8]
        var candidates: [[UInt8]]
        public var delivery: VerifiedDelivery
    }

    /// - Parameter header: case-insensitive header lookup.
    public func inspect(header: (String) -> String?, now: UnixSeconds) -> Result<Inspected, SignatureFailure> {
        switch scheme {
        case .standardWebhooks, .svix: standardWebhooks(header: header, now: now)
        case .stripe: stripe(header: header, now: now)
        case .xHubSignature256: xHub(header: header)
        }
    }

    /// Whether any candidate is HMAC-SHA256(key, prefix + body) for any configured key.
    public func verify(_ inspected: Inspected, body: UnsafeRawBufferPointer) -> Result<VerifiedDelivery, SignatureFailure> {
        var matched = false
        for key in keys {
            var hmac = HMAC<SHA256>(key: SymmetricKey(data: key.bytes))
            hmac.update(data: inspected.prefix)
            hmac.update(data: body)
            let mac = Array(hmac.finalize())
            for candidate in inspected.candidates where Self.constantTimeEqual(mac, candidate) { matched = true }
        }
        return matched ? .success(inspected.delivery) : .failure(.badSignature)
    }

    /// Both steps at once, for callers that already hold the body.
    public func verify(header: (String) -> String?, body: UnsafeRawBufferPointer, now: UnixSeconds) -> Result<VerifiedDelivery, SignatureFailure> {
        inspect(header: header, now: now).flatMap { verify($0, body: body) }
    }

    public func verify(header: (String) -> String?, body: [UInt8], now: UnixSeconds) -> Result<VerifiedDelivery, SignatureFailure> {
        body.withUnsafeBytes { verify(header: header, body: $0, now: now) }
    }

    // MARK: Standard Webhooks and Svix

    private func standardWebhooks(header: (String) -> String?, now: UnixSeconds) -> Result<Inspected, SignatureFailure> {
        // Both header families carry the same scheme; Svix's own names are `svix-*`.
        let prefix = header("webhook-signature") != nil || header("webhook-id") != nil ? "webhook" : "svix"
        guard let signatures = header("\(prefix)-signature"), !signatures.trimmingCharacters(in: .whitespaces).isEmpty else {
            return .failure(.missingSignature)
        }
        guard signatures.utf8.count <= Self.maximumHeaderBytes else { return .failure(.malformedSignature) }
        guard let id = header("\(prefix)-id"), !id.isEmpty, id.utf8.count <= 256,
            let timestampText = header("\(prefix)-timestamp"), let timestamp = Self.unixSeconds(timestampText)
        else {
            return .failure(.malformedTimestamp)
        }
        guard withinTolerance(timestamp, now: now) else { return .failure(.staleTimestamp) }

        let entries = signatures.split(separator: " ")
        guard entries.count <= Self.maximumCandidates else { return .failure(.malformedSignature) }
        let candidates = entries.compactMap { entry -> [UInt8]? in
            let parts = entry.split(separator: ",", maxSplits: 1)
            guard parts.count == 2, parts[0] == "v1", let mac = Data(base64Encoded: String(parts[1])), mac.count == SHA256.byteCount else {
                return nil
            }
            return Array(mac)
        }
        guard !candidates.isEmpty else { return .failure(.badSignature) }
        return .success(
            Inspected(
                // The MAC covers the header text exactly as sent.
                prefix: Array("\(id).\(timestampText).".utf8),
                candidates: candidates,
                delivery: VerifiedDelivery(messageID: id, timestamp: timestamp)
            )
        )
    }

    // MARK: Stripe

    private func stripe(header: (String) -> String?, now: UnixSeconds) -> Result<Inspected, SignatureFailure> {
        guard let value = header("stripe-signature"), !value.isEmpty else { return .failure(.missingSignature) }
        guard value.utf8.count <= Self.maximumHeaderBytes else { return .failure(.malformedSignature) }
        var timestamp: UnixSeconds?
        var timestampText = ""
        var candidates: [[UInt8]] = []
        var items = 0
        for item in value.split(separator: ",") {
            items += 1
            guard items <= Self.maximumCandidates + 2 else { return .failure(.malformedSignature) }
            let pair = item.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { return .failure(.malformedSignature) }
            switch pair[0].trimmingCharacters(in: .whitespaces) {
            case "t":
                guard let seconds = Self.unixSeconds(String(pair[1])) else { return .failure(.malformedTimestamp) }
                timestamp = seconds
                timestampText = String(pair[1])
            case "v1":
                // Stripe sends lowercase hex; anything else never came from Stripe.
                if let mac = Self.lowercaseHex(pair[1]) { candidates.append(mac) }
            default:
                continue  // v0 (test mode) and unknown schemes are ignored
            }
        }
        guard let timestamp else { return .failure(.malformedTimestamp) }
        guard withinTolerance(timestamp, now: now) else { return .failure(.staleTimestamp) }
        guard !candidates.isEmpty else { return .failure(.badSignature) }
        return .success(
            Inspected(
                prefix: Array("\(timestampText).".utf8),
                candidates: candidates,
                delivery: VerifiedDelivery(messageID: nil, timestamp: timestamp)
            )
        )
    }

    // MARK: X-Hub-Signature-256

    private func xHub(header: (String) -> String?) -> Result<Inspected, SignatureFailure> {
        // The legacy SHA-1 header is never enough on its own, and never a fallback.
        guard let value = header("x-hub-signature-256"), !value.isEmpty else { return .failure(.missingSignature) }
        guard value.hasPrefix("sha256="), let mac = Self.lowercaseHex(value.dropFirst(7)) else {
            return .failure(.malformedSignature)
        }
        return .success(Inspected(prefix: [], candidates: [mac], delivery: VerifiedDelivery(messageID: nil, timestamp: nil)))
    }

    // MARK: Helpers

    func withinTolerance(_ timestamp: UnixSeconds, now: UnixSeconds) -> Bool {
        let skew = Bounded.difference(now.rawValue, timestamp.rawValue)
        let tolerance = tolerance.components.seconds
        return skew <= tolerance && skew >= -tolerance
    }

    /// Equal length and equal bytes, in time that depends only on the length.
    static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
    }

    /// Digits only (no sign, no fraction), as the schemes require.
    static func unixSeconds(_ text: String) -> UnixSeconds? {
        Bounded.digits(text, maxDigits: 12).map(UnixSeconds.init(rawValue:))
    }

    static func lowercaseHex(_ text: Substring) -> [UInt8]? {
        let bytes = Array(text.utf8)
        guard bytes.count == 64 else { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(32)
        var index = 0
        while index < 64 {
            guard let high = nibble(bytes[index]), let low = nibble(bytes[index + 1]) else { return nil }
            output.append(high << 4 | low)
            index += 2
        }
        return output
    }

    private static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
}
