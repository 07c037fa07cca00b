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

    /// An ad account's partition: its spend, joined in reconciliation to the pixels it advertises for.
    public struct AdAccountPartition: Sendable, Encodable, Equatable {
        public var accountID: String
        public var pixels: [String]
        public var level: String
        public var streams: [Stream]

        enum CodingKeys: String, CodingKey {
            case accountID = "ad_account_id"
            case pixels, level, streams
        }
    }

    public var connectorID: String
    public var pixels: [Partition]
    public var adAccounts: [AdAccountPartition]

    enum CodingKeys: String, CodingKey {
        case connectorID = "connector_id"
        case pixels
        case adAccounts = "ad_accounts"
    }

    public static let deliveredEvents = Stream(
        name: "delivered_events",
        mode: "push",
        key: ["pixel_id", "event_id", "event_time"],
        cursorField: "event_time",
        schemaID: "delivered_event.v1"
    )
    /// Meta's counts of all sources and of servers alone are two records of the same hour and
    /// event: `event_source` is part of the key, or a loader that merges on it keeps one of the two.
    public static let deliveryStatuses = Stream(
        name: "delivery_statuses",
        mode: "pull",
        key: ["pixel_id", "event_name", "bucket_start", "event_source"],
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

    public static let adInsights = Stream(
        name: "ad_insights",
        mode: "pull",
        key: ["account_id", "level", "level_id", "day"],
        cursorField: "day",
        schemaID: "ad_insights.v1"
    )

    public init(manifest: Manifest) {
        connectorID = manifest.id
        let pullStreams =
            manifest.pull.map { $0.matchQuality ? [Self.deliveryStatuses, Self.matchQuality] : [Self.deliveryStatuses] } ?? [Self.deliveryStatuses]
        pixels = manifest.pixels.map { pixel in
            Partition(pixelID: pixel.id, streams: [Self.deliveredEvents] + pullStreams)
        }
        adAccounts = (manifest.pull?.adInsights?.accounts ?? []).map { account in
            AdAccountPartition(
                accountID: "act_\(account.id)",
                pixels: account.pixels.isEmpty ? manifest.pixels.map(\.id) : account.pixels,
                level: account.level,
                streams: [Self.adInsights]
            )
        }
    }
}
