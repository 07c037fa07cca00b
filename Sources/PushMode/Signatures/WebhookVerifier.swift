import ConnectorRuntime
import Crypto
import Foundation

/// Verifies a signed delivery against every configured secret of its source.
///
/// Pure: headers come through a case-insensitive lookup, the clock is a value, and the body is the
/// raw bytes exactly as received (never re-serialized). MACs are compared in constant time.
public struct WebhookVerifier: Sendable {
    public var scheme: WebhookScheme
    public var keys: [SigningKey]
    /// Seconds the signed timestamp may differ from now, both ways, inclusive.
    public var tolerance: Int64

    public init(scheme: WebhookScheme, keys: [SigningKey], tolerance: Int64 = 300) {
        self.scheme = scheme
        self.keys = keys
        self.tolerance = tolerance
    }

    public init(source: WebhookSource) {
        self.init(scheme: source.scheme, keys: source.signingKeys, tolerance: Int64(source.tolerance.components.seconds))
    }

    /// - Parameter header: case-insensitive header lookup.
    public func verify(header: (String) -> String?, body: UnsafeRawBufferPointer, now: Int64) -> Result<VerifiedDelivery, SignatureFailure> {
        switch scheme {
        case .standardWebhooks, .svix: standardWebhooks(header: header, body: body, now: now)
        case .stripe: stripe(header: header, body: body, now: now)
        case .xHubSignature256: xHub(header: header, body: body)
        }
    }

    public func verify(header: (String) -> String?, body: [UInt8], now: Int64) -> Result<VerifiedDelivery, SignatureFailure> {
        body.withUnsafeBytes { verify(header: header, body: $0, now: now) }
    }

    // MARK: Standard Webhooks and Svix

    private func standardWebhooks(header: (String) -> String?, body: UnsafeRawBufferPointer, now: Int64) -> Result<VerifiedDelivery, SignatureFailure> {
        // Both header families carry the same scheme; Svix's own names are `svix-*`.
        let prefix = header("webhook-signature") != nil || header("webhook-id") != nil ? "webhook" : "svix"
        guard let signatures = header("\(prefix)-signature"), !signatures.trimmingCharacters(in: .whitespaces).isEmpty else {
            return .failure(.missingSignature)
        }
        guard let id = header("\(prefix)-id"), !id.isEmpty,
              let timestampText = header("\(prefix)-timestamp"), let timestamp = Self.unixSeconds(timestampText)
        else {
            return .failure(.malformedTimestamp)
        }
        guard abs(now - timestamp) <= tolerance else { return .failure(.staleTimestamp) }

        let candidates = signatures.split(separator: " ").compactMap { entry -> Data? in
            let parts = entry.split(separator: ",", maxSplits: 1)
            guard parts.count == 2, parts[0] == "v1" else { return nil }
            return Data(base64Encoded: String(parts[1]))
        }
        guard !candidates.isEmpty else { return .failure(.badSignature) }
        var signed = Data("\(id).\(timestamp).".utf8)
        signed.append(contentsOf: body)
        return matches(candidates, signed) ? .success(VerifiedDelivery(messageID: id, timestamp: timestamp)) : .failure(.badSignature)
    }

    // MARK: Stripe

    private func stripe(header: (String) -> String?, body: UnsafeRawBufferPointer, now: Int64) -> Result<VerifiedDelivery, SignatureFailure> {
        guard let value = header("stripe-signature"), !value.isEmpty else { return .failure(.missingSignature) }
        var timestamp: Int64?
        var candidates: [Data] = []
        for item in value.split(separator: ",") {
            let pair = item.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { return .failure(.malformedSignature) }
            switch pair[0].trimmingCharacters(in: .whitespaces) {
            case "t":
                guard let seconds = Self.unixSeconds(String(pair[1])) else { return .failure(.malformedTimestamp) }
                timestamp = seconds
            case "v1":
                // Stripe sends lowercase hex; anything else never came from Stripe.
                if let mac = Self.lowercaseHex(pair[1]) { candidates.append(mac) }
            default:
                continue // v0 (test mode) and unknown schemes are ignored
            }
        }
        guard let timestamp else { return .failure(.malformedTimestamp) }
        guard abs(now - timestamp) <= tolerance else { return .failure(.staleTimestamp) }
        guard !candidates.isEmpty else { return .failure(.badSignature) }
        var signed = Data("\(timestamp).".utf8)
        signed.append(contentsOf: body)
        return matches(candidates, signed) ? .success(VerifiedDelivery(messageID: nil, timestamp: timestamp)) : .failure(.badSignature)
    }

    // MARK: X-Hub-Signature-256

    private func xHub(header: (String) -> String?, body: UnsafeRawBufferPointer) -> Result<VerifiedDelivery, SignatureFailure> {
        // The legacy SHA-1 header is never enough on its own, and never a fallback.
        guard let value = header("x-hub-signature-256"), !value.isEmpty else { return .failure(.missingSignature) }
        guard value.hasPrefix("sha256="), let mac = Self.lowercaseHex(value.dropFirst(7)) else {
            return .failure(.malformedSignature)
        }
        return matches([mac], Data(body)) ? .success(VerifiedDelivery(messageID: nil, timestamp: nil)) : .failure(.badSignature)
    }

    // MARK: Helpers

    /// Whether any candidate MAC is HMAC-SHA256(key, signed) for any key; constant time per comparison.
    private func matches(_ candidates: [Data], _ signed: Data) -> Bool {
        var matched = false
        for key in keys {
            let symmetric = SymmetricKey(data: key.bytes)
            for candidate in candidates where candidate.count == SHA256.byteCount {
                if HMAC<SHA256>.isValidAuthenticationCode(candidate, authenticating: signed, using: symmetric) { matched = true }
            }
        }
        return matched
    }

    /// Digits only (no sign, no fraction), as the schemes require.
    static func unixSeconds(_ text: String) -> Int64? {
        guard !text.isEmpty, text.utf8.count <= 12, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        return Int64(text)
    }

    static func lowercaseHex(_ text: Substring) -> Data? {
        let bytes = Array(text.utf8)
        guard bytes.count == 64 else { return nil }
        var output = Data(capacity: 32)
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
