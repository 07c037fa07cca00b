import CAPICore
import Crypto
import Foundation

/// The `signature` target: an input is a scheme (its first byte) and four texts separated by NUL
/// bytes: the signature header (one line per `\n`), the message id, the timestamp and the body.
/// The signatures written here use swift-crypto and Foundation's base64, not the verifier's own
/// decoding, so the two are checked against each other.
enum SignatureChecks {
    /// The one secret every input is verified against.
    static let key = SigningKey(bytes: Array("capi-fuzz-signing-key-0123456789".utf8))
    static let otherKey = SigningKey(bytes: Array("capi-fuzz-another-key-9876543210".utf8))

    static func check(_ input: UnsafeBufferPointer<UInt8>, now: UnixSeconds) -> String? {
        guard let first = input.first else { return nil }
        let scheme = WebhookScheme.allCases[Int(first) % WebhookScheme.allCases.count]
        let pieces = input.dropFirst().split(separator: 0, maxSplits: 3, omittingEmptySubsequences: false)
        func text(_ index: Int) -> String { index < pieces.count ? String(decoding: pieces[index], as: UTF8.self) : "" }
        let (header, id, timestamp) = (text(0), text(1), text(2))
        let body = pieces.count > 3 ? Array(pieces[3]) : []
        let verifier = WebhookVerifier(scheme: scheme, keys: [key])
        let lines = header.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)

        // No header the fuzzer writes verifies unless it holds the body's true signature: it
        // cannot compute an HMAC, so any other success is a forgery the verifier let through.
        let verdict = verifier.inspect(fields: fields(scheme, signature: lines, id: id, timestamp: timestamp), now: now)
            .flatMap { inspected in body.withUnsafeBytes { verifier.verify(inspected, body: $0) } }
        if case .success = verdict, !holdsTrueSignature(header, scheme: scheme, id: id, timestamp: timestamp, body: body) {
            return "a header without the body's signature verified"
        }

        // The scheme's own signature of this body, after one from another secret, verifies; the
        // same header with one byte more in the body does not.
        let signed = signedHeader(scheme, id: id, timestamp: "\(now.rawValue)", body: body)
        let lookup = fields(scheme, signature: signed, id: id, timestamp: "\(now.rawValue)")
        let expectsID = scheme == .standardWebhooks || scheme == .svix
        let verified = verifier.inspect(fields: lookup, now: now).flatMap { inspected in
            body.withUnsafeBytes { verifier.verify(inspected, body: $0) }
        }
        if expectsID, id.isEmpty || id.utf8.count > 256 {
            return verified == .failure(.malformedTimestamp) ? nil : "an empty or overlong message id was not refused as such"
        }
        guard case .success(let delivery) = verified else { return "a correctly signed body was refused" }
        if expectsID, delivery.messageID != id { return "the verified message id is not the one sent" }
        let tampered = verifier.inspect(fields: lookup, now: now).flatMap { inspected in
            (body + [0x20]).withUnsafeBytes { verifier.verify(inspected, body: $0) }
        }
        return tampered == .failure(.badSignature) ? nil : "a changed body kept its signature"
    }

    /// The header lookup a request with these values would give, under the scheme's names.
    static func fields(_ scheme: WebhookScheme, signature: [String], id: String, timestamp: String) -> (String) -> [String] {
        let names: (signature: String, id: String?, timestamp: String?) =
            switch scheme {
            case .standardWebhooks: ("webhook-signature", "webhook-id", "webhook-timestamp")
            case .svix: ("svix-signature", "svix-id", "svix-timestamp")
            case .stripe: ("stripe-signature", nil, nil)
            case .xHubSignature256: ("x-hub-signature-256", nil, nil)
            }
        return { name in
            switch name {
            case names.signature: signature
            case names.id: [id]
            case names.timestamp: [timestamp]
            default: []
            }
        }
    }

    /// Whether `header` holds the signature of `body` that the scheme defines, for some timestamp
    /// in the header (Stripe) or the one given.
    static func holdsTrueSignature(_ header: String, scheme: WebhookScheme, id: String, timestamp: String, body: [UInt8]) -> Bool {
        switch scheme {
        case .standardWebhooks, .svix:
            return header.contains("v1," + base64(mac(key, Array("\(id).\(timestamp).".utf8) + body)))
        case .stripe:
            // Any run of digits may be the time the verifier read, however the header is split.
            let runs = header.utf8.split(whereSeparator: { !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
            return runs.contains { header.contains(hex(mac(key, Array($0) + Array(".".utf8) + body))) }
        case .xHubSignature256:
            return header.contains(hex(mac(key, body)))
        }
    }

    /// Header lines as the scheme's sender writes them, listing a signature by another secret first.
    static func signedHeader(_ scheme: WebhookScheme, id: String, timestamp: String, body: [UInt8]) -> [String] {
        switch scheme {
        case .standardWebhooks, .svix:
            let signed = Array("\(id).\(timestamp).".utf8) + body
            return ["v1,\(base64(mac(otherKey, signed))) v1,\(base64(mac(key, signed)))"]
        case .stripe:
            let signed = Array("\(timestamp).".utf8) + body
            return ["t=\(timestamp),v1=\(hex(mac(otherKey, signed))),v1=\(hex(mac(key, signed)))"]
        case .xHubSignature256:
            return ["sha256=" + hex(mac(otherKey, body)), "sha256=" + hex(mac(key, body))]
        }
    }

    static func mac(_ key: SigningKey, _ message: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key.bytes)))
    }

    static func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }
}
