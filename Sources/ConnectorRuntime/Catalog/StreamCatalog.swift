/// The streams a manifest produces, as `discover` reports them: one partition per pixel.
///
/// Streams are declared by the connector, not discovered from Meta, so the catalog is a pure
/// function of the manifest.
public struct StreamCatalog: Sendable, Encodable, Equatable {
    public struct Stream: Sendable, Encodable, Equatable {
        public var name: String
        public var mode: String
        public var key: [String]
        public var cursorField: String
        public var schemaID: String

        enum CodingKeys: String, CodingKey {
            case name, mode, key
            case cursorField = "cursor_field"
            case schemaID = "schema_id"
        }
    }

    public struct Partition: Sendable, Encodable, Equatable {
        public var pixelID: String
        public var streams: [Stream]

        enum CodingKeys: String, CodingKey {
            case pixelID = "pixel_id"
            case streams
        }
    }

    public var connectorID: String
    public var pixels: [Partition]

    enum CodingKeys: String, CodingKey {
        case connectorID = "connector_id"
        case pixels
    }

    public static let deliveredEvents = Stream(
        name: "delivered_events",
        mode: "push",
        key: ["pixel_id", "event_id", "event_time"],
        cursorField: "event_time",
        schemaID: "delivered_event.v1"
    )
    public static let deliveryStatuses = Stream(
        name: "delivery_statuses",
        mode: "pull",
        key: ["pixel_id", "event_name", "bucket_start"],
        cursorField: "bucket_start",
        schemaID: "delivery_status.v1"
    )

    public static let matchQuality = Stream(
        name: "match_quality",
        mode: "pull",
        key: ["pixel_id", "event_name", "snapshot_at"],
        cursorField: "snapshot_at",
        schemaID: "match_quality.v1"
    )

    public init(manifest: Manifest) {
        connectorID = manifest.id
        let pullStreams =
            manifest.pull.map { $0.matchQuality ? [Self.deliveryStatuses, Self.matchQuality] : [Self.deliveryStatuses] } ?? [Self.deliveryStatuses]
        pixels = manifest.pixels.map { pixel in
            Partition(pixelID: pixel.id, streams: [Self.deliveredEvents] + pullStreams)
        }
    }
}
