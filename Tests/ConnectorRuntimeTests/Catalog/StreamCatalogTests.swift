import ConnectorRuntime
import Foundation
import TestSupport
import Testing

@Suite("Stream catalog")
struct StreamCatalogTests {
    @Test("every pixel gets both streams, keyed and with cursors and schemas that exist")
    func catalogPerPixel() throws {
        let manifest = try ManifestLoader(environment: [:]).load(
            yaml: minimalManifest.replacingOccurrences(
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
            ),
            path: "m.yaml"
        )
        let catalog = StreamCatalog(manifest: manifest)
        #expect(catalog.pixels.map(\.pixelID) == ["123", "456"])
        for partition in catalog.pixels {
            let byName = Dictionary(uniqueKeysWithValues: partition.streams.map { ($0.name, $0) })
            #expect(byName["delivered_events"]?.key == ["pixel_id", "event_id", "event_time"])
            #expect(byName["delivered_events"]?.cursorField == "event_time")
            #expect(byName["delivery_statuses"]?.key == ["pixel_id", "event_name", "bucket_start", "event_source"])
            #expect(byName["delivery_statuses"]?.cursorField == "bucket_start")
            for stream in partition.streams {
                let schemaFile = RepositoryPaths.schemas.appendingPathComponent("\(stream.schemaID).json")
                let schema = try JSONSerialization.jsonObject(with: Data(contentsOf: schemaFile)) as? [String: Any]
                let required = schema?["required"] as? [String] ?? []
                let properties = schema?["properties"] as? [String: Any] ?? [:]
                // The key and cursor must be attribution-critical (required) fields of the record.
                for field in stream.key + [stream.cursorField] {
                    #expect(required.contains(field), "\(stream.name): \(field) not required")
                    #expect(properties[field] != nil)
                }
                #expect(schema?["$schema"] as? String == "https://json-schema.org/draft/2020-12/schema")
            }
        }
    }
}
