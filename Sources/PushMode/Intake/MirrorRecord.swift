import CAPICore
import Crypto

/// The `delivered_events` record of an accepted event: what analysts join and count on.
///
/// Identifiers appear only as HMAC-SHA256(mirror salt, Meta digest), so the stream never holds a
/// digest Meta (or anyone with a list of emails) could match; URLs lose their query string, where
/// apps sometimes put personal data.
enum MirrorRecord {
    /// The keys analysts join on (in the record's key order); the other personal keys are
    /// attributes, listed in `match_keys` only.
    static let identifyingKeys: [UserDataKey] = [.email, .externalID, .phone]

    /// The record's JSON text, written in its canonical key order (the sorted keys a `JSONValue`
    /// object would serialize with) without building a dictionary for every event.
    /// - Parameter receivedAt: ISO 8601, formatted once for all the events of a request.
    static func text(_ event: PreparedEvent, source: String, receivedAt: String, keyedMAC: HMAC<SHA256>, testEventCode: String?) -> String {
        let custom = event.fields["custom_data"]
        var record = JSONObjectText(capacity: 640)
        record.add("action_source", string: event.actionSource.rawValue)
        record.add("currency", stringOrNull: custom?["currency"]?.stringValue?.uppercased())
        record.add("event_id", string: event.eventID)
        record.add("event_name", string: event.eventName)
        record.add("event_source_url", stringOrNull: event.fields["event_source_url"]?.stringValue.map(Self.withoutQuery))
        record.add("event_time", integer: event.eventTime)
        record.add("match_keys", strings: event.userData.keyNames)
        record.add("mirror_ids") { mirrorIDs in
            for key in identifyingKeys {
                guard var digest = event.userData.firstValue(of: key) else { continue }
                var mac = keyedMAC
                digest.withUTF8 { mac.update(data: UnsafeRawBufferPointer($0)) }
                mirrorIDs.add(key.rawValue, string: SHA256Hex.hex(mac.finalize()))
            }
        }
        record.add("outcome", string: "pending")
        record.add("pixel_id", string: event.pixelID)
        record.add("received_at", string: receivedAt)
        record.add("source", string: source)
        record.add("test_event_code", stringOrNull: testEventCode)
        record.add("value", value: custom?["value"] ?? .null)
        return record.finish()
    }

    static func withoutQuery(_ url: String) -> String {
        // Bytes, not characters: `?` and `#` are ASCII, so the cut is always a character boundary.
        guard let cut = url.utf8.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) else { return url }
        return String(url[..<cut])
    }
}
