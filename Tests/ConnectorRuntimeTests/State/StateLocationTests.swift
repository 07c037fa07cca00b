import ConnectorRuntime
import TestSupport
import Testing

@Suite("State location")
struct StateLocationTests {
    @Test("postgres URLs parse into a connection target")
    func postgres() throws {
        let location = try StateLocation(parsing: "postgres://app:s%40cret@db.internal:6543/capi?sslmode=require")
        guard case .postgres(let target) = location else {
            Issue.record("not postgres")
            return
        }
        #expect(target == .init(host: "db.internal", port: 6543, username: "app", password: "s@cret", database: "capi", requireTLS: true))
        #expect(!location.description.contains("cret"))
    }

    @Test("prepared statements are on unless the URL turns them off")
    func preparedStatements() throws {
        func prepared(_ url: String) throws -> Bool? {
            guard case .postgres(let target) = try StateLocation(parsing: url) else { return nil }
            return target.preparedStatements
        }
        #expect(try prepared("postgres://app@db/capi") == true)
        #expect(try prepared("postgres://app@db/capi?sslmode=require&prepared_statements=on") == true)
        #expect(try prepared("postgres://app@proxy/capi?sslmode=require&prepared_statements=off") == false)
    }

    @Test("sqlite URLs keep their path")
    func sqlite() throws {
        #expect(try StateLocation(parsing: "sqlite:.capi/state.sqlite") == .sqlite(path: ".capi/state.sqlite"))
        #expect(try StateLocation(parsing: "sqlite:///tmp/x.db") == .sqlite(path: "/tmp/x.db"))
    }

    @Test(
        "bad URLs are clear errors",
        arguments: [
            ("mysql://x", StateLocation.ParseError.unsupportedScheme), ("sqlite:", .emptySQLitePath),
            ("postgres:///db", .missingHost), ("postgres://h:99999/db", .invalidPort),
            ("postgres://h/db?prepared_statements=no", .invalidPreparedStatements),
            ("postgres://h/db?prepared_statements", .invalidPreparedStatements),
        ]
    )
    func errors(text: String, expected: StateLocation.ParseError) {
        #expect(throws: expected) { try StateLocation(parsing: text) }
    }

    @Test("the CI Postgres cluster answers", .enabled(if: TestPostgres.enabled))
    func ciPostgresAnswers() async throws {
        let version = try await TestPostgres.withClient { client in
            let rows = try await client.query("SELECT current_setting('server_version_num')::int AS version")
            var versions: [Int] = []
            for try await version in rows.decode(Int.self) { versions.append(version) }
            return versions
        }
        #expect(version.count == 1)
        #expect((version.first ?? 0) >= 120_000)
    }
}
