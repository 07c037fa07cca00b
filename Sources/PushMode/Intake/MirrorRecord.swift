import CAPICore
import Crypto
import Foundation

/// The `delivered_events` record of an accepted event: what analysts join and count on.
///
/// Identifiers appear only as HMAC-SHA256(mirror salt, Meta digest), so the stream never holds a
/// digest Meta (or anyone with a list of emails) could match; URLs lose their query string, where
/// apps sometimes put personal data.
enum MirrorRecord {
    /// The keys analysts join on; the other personal keys are attributes, listed in `match_keys` only.
    static let identifyingKeys: [String] = ["em", "ph", "external_id"]

    static func make(_ event: PreparedEvent, source: String, receivedAt: UnixMillis, keyedMAC: HMAC<SHA256>, testEventCode: String?) -> JSONValue {
        var record: [String: JSONValue] = [
            "pixel_id": .string(event.pixelID),
            "event_id": .string(event.eventID),
            "event_time": .integer(event.eventTime),
            "event_name": .string(event.eventName),
            "action_source": .string(event.actionSource.rawValue),
            "source": .string(source),
            "received_at": .string(receivedAt.iso8601),
            "outcome": .string("pending"),
            "match_keys": .array(event.matchKeys.map(JSONValue.string)),
        ]
        var mirrorIDs: [String: JSONValue] = [:]
        let user = event.payload["user_data"]
        for key in identifyingKeys {
            guard let digest = user?[key]?.arrayValue?.first?.stringValue ?? user?[key]?.stringValue else { continue }
            var mac = keyedMAC
            mac.update(data: Array(digest.utf8))
            mirrorIDs[key] = .string(SHA256Hex.hex(mac.finalize()))
        }
        record["mirror_ids"] = .object(mirrorIDs)
        let custom = event.payload["custom_data"]
        record["value"] = custom?["value"] ?? .null
        record["currency"] = custom?["currency"]?.stringValue.map { .string($0.uppercased()) } ?? .null
        record["event_source_url"] = event.payload["event_source_url"]?.stringValue.map { .string(Self.withoutQuery($0)) } ?? .null
        record["test_event_code"] = testEventCode.map(JSONValue.string) ?? .null
        return .object(record)
    }

    static func withoutQuery(_ url: String) -> String {
        String(url.prefix { $0 != "?" && $0 != "#" })
    }
}
