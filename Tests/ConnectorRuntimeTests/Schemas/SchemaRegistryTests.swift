import CAPICore
import ConnectorRuntime
import Foundation
import Logging
import TestSupport
import Testing

/// A small schema in the registry's subset, with `extra` spliced into `properties`.
func schema(required: [String] = ["event_id", "event_time"], properties: String, id: String = "probe.v1") -> String {
    """
    {"$id": "\(id)", "type": "object", "required": [\(required.map { "\"\($0)\"" }.joined(separator: ", "))],
     "properties": {\(properties)}}
    """
}

let baseProperties =
    #""event_id": {"type": "string", "minLength": 1}, "event_time": {"type": "integer", "minimum": 0}, "currency": {"enum": ["USD", "EUR"]}"#

@Suite("Schema registry")
struct SchemaRegistryTests {
    @Test("the shipped schemas compile; ids drop the version suffix; the hash is of the canonical JSON")
    func shipped() throws {
        let documents = try SchemaRegistry.documents(in: RepositoryPaths.schemas.path)
        #expect(documents.map(\.document.id) == ["ad_insights", "delivered_event", "delivery_status", "match_quality"])
        let delivered = try #require(documents.first { $0.document.id == "delivered_event" }?.document)
        #expect(delivered.root.required.contains("event_id"))
        let reordered = try SchemaDocument(parsing: try JSONValue(parsing: delivered.canonical).serialized)
        #expect(reordered.hash == delivered.hash && delivered.hash.count == 64)
    }

    @Test(
        "a relative schema folder is found in the working directory, else beside the manifest or its folder; none found is said with where it looked"
    )
    func folderBesideTheManifest() async throws {
        // manifests/ and a schema folder as siblings, away from the working directory (the repository).
        let app = TemporaryPaths.url("schema-layout")
        let manifestPath = app.appendingPathComponent("manifests/m.yaml").path
        try FileManager.default.createDirectory(at: app.appendingPathComponent("manifests"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: RepositoryPaths.schemas, to: app.appendingPathComponent("drift-schemas"))
        try (minimalManifest + "schema_registry:\n  path: drift-schemas\n").write(toFile: manifestPath, atomically: true, encoding: .utf8)
        let configuration = try ManifestLoader(environment: [:]).load(path: manifestPath).schemaRegistry
        #expect(
            configuration.candidateFolders == [
                "drift-schemas", app.appendingPathComponent("manifests/drift-schemas").path, app.appendingPathComponent("drift-schemas").path,
            ]
        )
        #expect(configuration.resolvedFolder() == app.appendingPathComponent("drift-schemas").path)
        #expect(configuration.resolvedFolder(exists: { $0 == "drift-schemas" }) == "drift-schemas", "the working directory first")
        let absolute = {
            var absolute = configuration
            absolute.path = "/nonexistent/schemas"
            return absolute
        }()
        #expect(absolute.candidateFolders == ["/nonexistent/schemas"])

        try await TestStore.sqlite.withRegistry { store in
            let log = CapturedLog()
            await SchemaRegistry.registerAtStartup(configuration, store: store, logger: log.logger)
            let registered = Set(try await store.schemaVersions(id: nil).map(\.id))
            #expect(registered == ["ad_insights", "delivered_event", "delivery_status", "match_quality"])
            #expect(log.all.contains { $0.message == "schema folder found beside the manifest" })

            let missing = CapturedLog()
            await SchemaRegistry.registerAtStartup(absolute, store: store, logger: missing.logger)
            #expect(missing.all.first?.level == .warning)
            #expect(missing.all.first?.metadata["looked_in"] == "/nonexistent/schemas")
        }
    }

    @Test("a schema that is not JSON is refused naming the line and column where it stops being JSON, and why")
    func notJSON() {
        // A comma left out after line 3's value; `é` is one column, though two bytes.
        let text = "{\n  \"$id\": \"é\",\n  \"type\": \"object\"\n  \"properties\": {}\n}\n"
        do {
            _ = try SchemaDocument(parsing: text)
            Issue.record("accepted")
        } catch {
            #expect(error.description == "the schema is not valid JSON at line 4, column 3: expected ',' or '}'")
        }
        do {
            _ = try SchemaDocument(parsing: "{\"$id\": \"é\", x")
            Issue.record("accepted")
        } catch {
            #expect(error.reason.hasPrefix("is not valid JSON at line 1, column 14: "))
        }
        // JSON, but not an object: said as such, not as a missing `$id`.
        for (text, found) in [("[1, 2]", "an array"), ("\"delivered_event\"", "a string")] {
            do {
                _ = try SchemaDocument(parsing: text)
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.description == "the schema must be a JSON object (a JSON Schema), found \(found)")
            }
        }
    }

    @Test("a keyword outside the checked subset is refused, naming where")
    func unsupportedKeyword() {
        #expect(throws: SchemaError.self) { try SchemaDocument(parsing: schema(properties: #""a": {"oneOf": []}"#)) }
        do {
            _ = try SchemaDocument(parsing: schema(properties: #""a": {"oneOf": []}"#))
        } catch {
            #expect(error.path == "properties.a.oneOf")
        }
        #expect(throws: SchemaError.self) { try SchemaDocument(parsing: #"{"type": "object"}"#) }
    }

    @Test("compatibility: dropping, un-requiring or loosening a required field is refused; additions are not")
    func compatibility() throws {
        let v1 = try SchemaDocument(parsing: schema(properties: baseProperties))
        func problems(_ text: String) throws -> [String] {
            SchemaCompatibility.problems(of: try SchemaDocument(parsing: text), against: v1, earlierVersion: 1)
        }
        #expect(try problems(schema(properties: baseProperties + #", "fbp": {"type": "string"}"#)).isEmpty)
        #expect(try problems(schema(required: ["event_id", "event_time", "currency"], properties: baseProperties)).isEmpty)
        let dropped = try problems(schema(required: ["event_time"], properties: #""event_time": {"type": "integer", "minimum": 0}"#))
        #expect(dropped.count == 1 && dropped[0].contains("`event_id`") && dropped[0].contains("dropped or renamed"))
        #expect(try problems(schema(required: ["event_time"], properties: baseProperties)).first?.contains("no longer required") == true)
        let loosened = try problems(
            schema(properties: #""event_id": {"type": "string", "minLength": 1}, "event_time": {"type": ["integer", "string"], "minimum": 0}"#)
        )
        #expect(loosened.first?.contains("loosens its type from integer to integer|string") == true)
        #expect(
            try problems(schema(properties: #""event_id": {"type": "string"}, "event_time": {"type": "integer", "minimum": 0}"#)).first?.contains(
                "minimum length"
            ) == true
        )
    }

    @Test("compatibility of a required field's allowed values, pattern, format and maximum; narrowing any of them is allowed")
    func constraintLoosenings() throws {
        let kind = #""kind": {"type": "string", "enum": ["website", "app"], "pattern": "^[a-z]+$", "format": "slug"}"#
        let count = #""count": {"type": "integer", "maximum": 10}"#
        let v1 = try SchemaDocument(parsing: schema(required: ["kind", "count"], properties: kind + ", " + count))
        func problems(kind: String = kind, count: String = count) throws -> [String] {
            SchemaCompatibility.problems(
                of: try SchemaDocument(parsing: schema(required: ["kind", "count"], properties: kind + ", " + count)),
                against: v1,
                earlierVersion: 1
            )
        }
        #expect(try problems(kind: kind.replacingOccurrences(of: #"["website", "app"]"#, with: #"["website"]"#)).isEmpty)
        #expect(try problems(count: #""count": {"type": "integer", "maximum": 5}"#).isEmpty)
        #expect(
            try problems(kind: kind.replacingOccurrences(of: #""app"]"#, with: #""app", "chat"]"#)) == [
                #"`kind` (required since version 1) accepts new values "chat""#
            ]
        )
        #expect(
            try problems(kind: kind.replacingOccurrences(of: #", "enum": ["website", "app"]"#, with: "")) == [
                "`kind` (required since version 1) no longer lists its allowed values"
            ]
        )
        #expect(
            try problems(kind: kind.replacingOccurrences(of: #", "pattern": "^[a-z]+$""#, with: "")) == [
                "`kind` (required since version 1) drops or changes its pattern `^[a-z]+$`"
            ]
        )
        #expect(
            try problems(kind: kind.replacingOccurrences(of: #""slug""#, with: #""uri""#)) == [
                "`kind` (required since version 1) drops or changes its format `slug`"
            ]
        )
        #expect(try problems(count: #""count": {"type": "integer"}"#) == ["`count` (required since version 1) raises its maximum"])

        // `schema diff` says what changed either way.
        let v2 = try SchemaDocument(
            parsing: schema(
                required: ["kind", "count"],
                properties: kind.replacingOccurrences(of: #"["website", "app"]"#, with: #"["website"]"#)
                    + #", "count": {"type": ["integer", "string"]}"#
            )
        )
        #expect(
            SchemaCompatibility.diff(from: v1, to: v2) == [
                "~ count: loosens its type from integer to integer|string; raises its maximum", #"~ kind: no longer accepts "app""#,
            ]
        )
        #expect(
            SchemaCompatibility.diff(from: v2, to: v1) == [
                "~ count: narrows its type from integer|string to integer; lowers its maximum", #"~ kind: accepts new values "app""#,
            ]
        )
    }

    @Test("versions are numbered in registration order, checked against every earlier version, on both stores", arguments: TestStore.enabled)
    func versions(store: TestStore) async throws {
        try await store.withRegistry { registry in
            let schemas = SchemaRegistry(store: registry)
            let now = UnixMillis(1_795_000_000_000)
            let v1 = try SchemaDocument(parsing: schema(properties: baseProperties))
            #expect(try await schemas.register(v1, now: now) == .added(id: "probe", version: 1))
            #expect(try await schemas.register(v1, now: now) == .unchanged(id: "probe", version: 1))
            // v2 only adds a field: compatible.
            let v2 = try SchemaDocument(parsing: schema(properties: baseProperties + #", "fbp": {"type": "string"}"#, id: "probe.v2"))
            #expect(try await schemas.register(v2, now: now) == .added(id: "probe", version: 2))
            // Transitive: v3 is checked against v1 and v2 alike.
            let v3 = try SchemaDocument(parsing: schema(required: ["event_time"], properties: #""event_time": {"type": "integer", "minimum": 0}"#))
            guard case .incompatible(let id, let reasons) = try await schemas.register(v3, now: now) else {
                Issue.record("a schema dropping a required field was registered")
                return
            }
            #expect(id == "probe" && reasons.count == 2, "one reason per earlier version: \(reasons)")
            let listed = try await registry.schemaVersions(id: "probe")
            #expect(listed.map(\.version) == [1, 2] && listed.map(\.hash) == [v1.hash, v2.hash])
            #expect(try SchemaDocument(parsing: listed[1].body) == v2)
            #expect(SchemaCompatibility.diff(from: v1, to: v2) == ["+ fbp: string"])
        }
    }

    @Test("two processes registering the same content at once get one version", arguments: TestStore.enabled)
    func concurrentRegistration(store: TestStore) async throws {
        try await store.withTwoRegistries { first, second in
            let document = try SchemaDocument(parsing: schema(properties: baseProperties))
            async let a = SchemaRegistry(store: first).register(document, now: UnixMillis(1))
            async let b = SchemaRegistry(store: second).register(document, now: UnixMillis(2))
            let results = try await [a, b]
            #expect(results.contains(.added(id: "probe", version: 1)))
            #expect(try await first.schemaVersions(id: nil).count == 1)
        }
    }
}
