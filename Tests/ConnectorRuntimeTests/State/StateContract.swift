import CAPICore
import ConnectorRuntime
import Foundation
import Testing

func intake(_ id: String, pixel: String = "111", time: UnixSeconds = UnixSeconds(1_795_000_000), content: String = "A") -> IntakeItem {
    IntakeItem(
        key: EventKey(pixelID: pixel, eventID: id, eventTime: time),
        contentHash: SHA256Hex.digest(content + id),
        payload: #"{"event_id":"\#(id)","event_name":"Purchase"}"#,
        answer: #"{"status":"accepted","event_id":"\#(id)"}"#,
        deliveredRecord: #"{"pixel_id":"\#(pixel)","event_id":"\#(id)","event_time":\#(time.rawValue),"event_name":"Purchase"}"#,
        receivedAt: UnixMillis(1_795_000_000_000 + Int64(id.hashValue & 0xFFFF))
    )
}

let now = UnixMillis(1_795_000_100_000)

/// Back to the layout before version 12: no `test_event_code` on the outbox and dead letters.
let beforeRequestTestCodes = ["ALTER TABLE outbox DROP COLUMN test_event_code", "ALTER TABLE dead_letters DROP COLUMN test_event_code"]

/// The schema version this build migrates a store to.
let currentSchemaVersion = 12
