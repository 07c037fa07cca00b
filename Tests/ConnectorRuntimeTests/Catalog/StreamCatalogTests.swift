import ConnectorRuntime
import Foundation
import TestSupport
import Testing

@Suite("Stream catalog")
struct StreamCatalogTests {
    /// The minimal manifest with a second pixel.
    let twoPixels = minimalManifest.replacingOccurrences(
        of: """
              - id: "123"
                access_token: ${env:TOKEN:-t}
            """,
        with: """
              - id: "123"
                access_token: t
              - id: "456"
                access_token: u
            """
    )

    @Test("every pixel gets both streams, keyed and with cursors and schemas that exist")
    func catalogPerPixel() throws {
        let manifest = try ManifestLoader(environment: [:]).load(yaml: twoPixels, path: "m.yaml")
        let catalog = StreamCatalog(manifest: manifest)
        #expect(catalog.pixels.map(\.pixelID) == ["123", "456"])
        for partition in catalog.pixels {
            let byName = Dictionary(uniqueKeysWithValues: partition.streams.map { ($0.name, $0) })
            #expect(byName["delivered_events"]?.key == ["pixel_id", "event_id", "event_time"])
            #expect(byName["delivered_events"]?.cursorField == "event_time")
            #expect(byName["delivery_statuses"]?.key == ["pixel_id", "event_name", "bucket_start", "event_source"])
            #expect(byName["delivery_statuses"]?.cursorField == "bucket_start")
            for stream in partition.streams { try expectSchemaHolds(stream) }
        }
    }

    /// The key and cursor must be attribution-critical (required) fields of the stream's record.
    func expectSchemaHolds(_ stream: StreamCatalog.Stream) throws {
        let schemaFile = RepositoryPaths.schemas.appendingPathComponent("\(stream.schemaID).json")
        let schema = try JSONSerialization.jsonObject(with: Data(contentsOf: schemaFile)) as? [String: Any]
        let required = schema?["required"] as? [String] ?? []
        let properties = schema?["properties"] as? [String: Any] ?? [:]
        for field in stream.key + [stream.cursorField] {
            #expect(required.contains(field), "\(stream.name): \(field) not required")
            #expect(properties[field] != nil)
        }
        #expect(schema?["$schema"] as? String == "https://json-schema.org/draft/2020-12/schema")
    }

    @Test("each ad account is a partition of ad_insights with its level and pixels; match_quality only when enabled")
    func adAccounts() throws {
        let yaml =
            twoPixels + """
                pull:
                  streams:
                    match_quality: {enabled: false}
                    ad_insights:
                      accounts:
                        - {id: act_42, pixels: ["456"]}
                        - {id: "77", level: ad, pixels: ["123", "456"]}
                """
        let catalog = StreamCatalog(manifest: try ManifestLoader(environment: [:]).load(yaml: yaml, path: "m.yaml"))
        #expect(catalog.adAccounts.map(\.accountID) == ["act_42", "act_77"])
        #expect(catalog.adAccounts.map(\.pixels) == [["456"], ["123", "456"]])
        #expect(catalog.adAccounts.map(\.level) == ["campaign", "ad"])
        for account in catalog.adAccounts {
            #expect(account.streams.map(\.name) == ["ad_insights"])
            for stream in account.streams { try expectSchemaHolds(stream) }
        }
        #expect(catalog.pixels.allSatisfy { $0.streams.map(\.name) == ["delivered_events", "delivery_statuses"] })
    }
}
