import Crypto

/// Verifies a signed delivery against every configured secret of its source.
///
/// Two steps, so the cheap refusals cost nothing: ``inspect(header:now:)`` reads the headers
/// (shape, timestamp tolerance, at most ``maximumCandidates`` signatures) before the body is read;
/// ``verify(_:body:)`` then computes one HMAC per configured key over the raw bytes exactly as
/// received and compares it with each candidate in constant time. Pure: headers come through a
/// case-insensitive lookup and the clock is a value.
public struct WebhookVerifier: Sendable {
    public let scheme: WebhookScheme
    public let keys: [SigningKey]
    /// How far the signed timestamp may differ from now, both ways, inclusive (whole seconds).
    public let tolerance: Duration
    /// One HMAC per key with the key already absorbed, copied per delivery: the key schedule is
    /// not redone for every request.
    private let keyedMACs: [HMAC<SHA256>]

    /// More signatures than this in one header is refused as malformed: senders list one per
    /// active secret, and each candidate would otherwise be work an attacker chooses.
    public static let maximumCandidates = 8
    /// Longest signature header read at all.
    public static let maximumHeaderBytes = 4096

    public init(scheme: WebhookScheme, keys: [SigningKey], tolerance: Duration = .seconds(300)) {
        self.scheme = scheme
        self.keys = keys
        self.tolerance = tolerance
        self.keyedMACs = keys.map { HMAC<SHA256>(key: SymmetricKey(data: $0.bytes)) }
    }

    /// What the headers promise, checked for everything that does not need the body.
    public struct Inspected: Sendable {
        /// Bytes the MAC covers before the body (`id.timestamp.`, `timestamp.` or nothing).
        var prefix: [UInt8]
        var candidates: [[UInt8]]
        public var delivery: VerifiedDelivery
    }

    /// - Parameter fields: case-insensitive lookup of a header's values, one per header line as
    ///   received. A client or proxy may send a list over several lines: each line's signatures
    ///   count, as the lines read together would (joined with `", "`, as HTTP lookups join them,
    ///   a Standard Webhooks list became one garbled entry, and a valid first signature failed).
    public func inspect(fields: (String) -> [String], now: UnixSeconds) -> Result<Inspected, SignatureFailure> {
        switch scheme {
        case .standardWebhooks, .svix: standardWebhooks(fields: fields, now: now)
        case .stripe: stripe(fields: fields, now: now)
        case .xHubSignature256: xHub(fields: fields)
        }
    }

    /// The same, for a lookup with one value per header.
    public func inspect(header: (String) -> String?, now: UnixSeconds) -> Result<Inspected, SignatureFailure> {
        inspect(fields: { header($0).map { [$0] } ?? [] }, now: now)
    }

    /// Whether any candidate is HMAC-SHA256(key, prefix + body) for any configured key.
    public func verify(_ inspected: Inspected, body: UnsafeRawBufferPointer) -> Result<VerifiedDelivery, SignatureFailure> {
        var matched = false
        for keyed in keyedMACs {
            var hmac = keyed
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

    private func standardWebhooks(fields: (String) -> [String], now: UnixSeconds) -> Result<Inspected, SignatureFailure> {
        // Both header families carry the same scheme; Svix's own names are `svix-*`. Each header
        // is looked up once: this runs for every delivery.
        let webhookSignature = fields("webhook-signature")
        let webhookID = fields("webhook-id")
        let standardNames = !webhookSignature.isEmpty || !webhookID.isEmpty
        // Signatures are space-separated within a line; further lines add theirs.
        let signatures = (standardNames ? webhookSignature : fields("svix-signature")).joined(separator: " ")
        guard !Self.isBlank(signatures) else { return .failure(.missingSignature) }
        guard signatures.utf8.count <= Self.maximumHeaderBytes else { return .failure(.malformedSignature) }
        guard let id = Self.single(standardNames ? webhookID : fields("svix-id")), !id.isEmpty, id.utf8.count <= 256,
            let timestampText = Self.single(fields(standardNames ? "webhook-timestamp" : "svix-timestamp")),
            let timestamp = Self.unixSeconds(timestampText)
        else {
            return .failure(.malformedTimestamp)
        }
        guard withinTolerance(timestamp, now: now) else { return .failure(.staleTimestamp) }

        let entries = signatures.utf8.split(separator: UInt8(ascii: " "))
        guard entries.count <= Self.maximumCandidates else { return .failure(.malformedSignature) }
        let candidates = entries.compactMap { entry -> [UInt8]? in
            // `v1,` and the MAC in padded base64; other versions (`v1a`, ...) are not candidates.
            guard entry.starts(with: "v1,".utf8) else { return nil }
            return Self.base64SHA256(entry.dropFirst(3))
        }
        guard !candidates.isEmpty else { return .failure(.badSignature) }
        var prefix: [UInt8] = []
        prefix.reserveCapacity(id.utf8.count + timestampText.utf8.count + 2)
        // The MAC covers the header text exactly as sent.
        prefix.append(contentsOf: id.utf8)
        prefix.append(UInt8(ascii: "."))
        prefix.append(contentsOf: timestampText.utf8)
        prefix.append(UInt8(ascii: "."))
        return .success(Inspected(prefix: prefix, candidates: candidates, delivery: VerifiedDelivery(messageID: id, timestamp: timestamp)))
    }

    // MARK: Stripe

    private func stripe(fields: (String) -> [String], now: UnixSeconds) -> Result<Inspected, SignatureFailure> {
        // Items are comma-separated within a line; further lines add theirs.
        let value = fields("stripe-signature").joined(separator: ",")
        guard !value.isEmpty else { return .failure(.missingSignature) }
        guard value.utf8.count <= Self.maximumHeaderBytes else { return .failure(.malformedSignature) }
        var timestamp: UnixSeconds?
        var timestampText = ""
        var candidates: [[UInt8]] = []
        var items = 0
        for item in value.split(separator: ",") {
            items += 1
            guard items <= Self.maximumCandidates + 2 else { return .failure(.malformedSignature) }
            // As Stripe's library reads an item: the key before the first `=`, the value up to the
            // next. Empty pieces count: `=t=…` has an empty key, not `t`, and `t=` an empty value.
            let parts = item.split(separator: "=", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count >= 2 else { return .failure(.malformedSignature) }
            switch Self.trimmingBlanks(parts[0]) {
            case "t":
                // Two different times: which one was signed is unclear.
                guard let seconds = Self.unixSeconds(String(parts[1])), timestamp == nil || timestampText == parts[1] else {
                    return .failure(.malformedTimestamp)
                }
                timestamp = seconds
                timestampText = String(parts[1])
            case "v1":
                // Stripe sends lowercase hex; anything else never came from Stripe.
                if let mac = Self.lowercaseHex(parts[1]) { candidates.append(mac) }
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

    private func xHub(fields: (String) -> [String]) -> Result<Inspected, SignatureFailure> {
        // The legacy SHA-1 header is never enough on its own, and never a fallback.
        let values = fields("x-hub-signature-256")
        guard !values.allSatisfy(\.isEmpty) else { return .failure(.missingSignature) }
        guard values.count <= Self.maximumCandidates else { return .failure(.malformedSignature) }
        var candidates: [[UInt8]] = []
        for value in values {
            guard value.hasPrefix("sha256="), let mac = Self.lowercaseHex(value.dropFirst(7)) else { return .failure(.malformedSignature) }
            candidates.append(mac)
        }
        return .success(Inspected(prefix: [], candidates: candidates, delivery: VerifiedDelivery(messageID: nil, timestamp: nil)))
    }

    // MARK: Helpers

    func withinTolerance(_ timestamp: UnixSeconds, now: UnixSeconds) -> Bool {
        let skew = Bounded.difference(now.rawValue, timestamp.rawValue)
        let tolerance = tolerance.components.seconds
        return skew <= tolerance && skew >= -tolerance
    }

    /// Equal length and equal bytes, in time that depends only on the length.
    public static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
    }

    /// A header that must have one value: the value, also when it was sent more than once alike;
    /// `nil` when it is missing or its lines disagree (which id or time was signed is unclear).
    static func single(_ values: [String]) -> String? {
        guard let first = values.first, values.dropFirst().allSatisfy({ $0 == first }) else { return nil }
        return first
    }

    /// Digits only (no sign, no fraction), as the schemes require.
    static func unixSeconds(_ text: String) -> UnixSeconds? {
        Bounded.digits(text, maxDigits: 12).map(UnixSeconds.init(rawValue:))
    }

    /// Foundation's `.whitespaces`: space, tab and the other Unicode space separators.
    static func isBlank(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || scalar == "\t" || (scalar.value >= 0x80 && scalar.properties.generalCategory == .spaceSeparator)
    }

    static func isBlank(_ text: String) -> Bool { text.unicodeScalars.allSatisfy(isBlank) }

    static func trimmingBlanks(_ text: Substring) -> Substring {
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isBlank($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !isBlank($0) })!
        return text[first...last]
    }

    /// A SHA-256 MAC in canonical padded base64 (43 characters and `=`), as the Standard Webhooks
    /// libraries write it; anything else is not a candidate. The reference libraries compare the
    /// base64 text, so a non-canonical spelling of the same bytes is refused here too.
    static func base64SHA256(_ text: some Collection<UInt8>) -> [UInt8]? {
        guard text.count == 44 else { return nil }
        var mac: [UInt8] = []
        mac.reserveCapacity(32)
        var accumulator: UInt32 = 0
        var bits = 0
        for (position, byte) in text.enumerated() {
            if position == 43 { return byte == UInt8(ascii: "=") && accumulator == 0 ? mac : nil }
            guard let value = base64Value(byte) else { return nil }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                mac.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
                accumulator &= (1 << UInt32(bits)) - 1
            }
        }
        return nil
    }

    private static func base64Value(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x41...0x5A: byte - 0x41
        case 0x61...0x7A: byte - 0x61 + 26
        case 0x30...0x39: byte - 0x30 + 52
        case UInt8(ascii: "+"): 62
        case UInt8(ascii: "/"): 63
        default: nil
        }
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
