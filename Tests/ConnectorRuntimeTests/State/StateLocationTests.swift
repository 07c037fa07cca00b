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
        #expect(target == .init(host: "db.internal", port: 6543, username: "app", password: "s@cret", database: "capi", tls: .require))
        #expect(!location.description.contains("cret"))
    }

    @Test("URLs are read as libpq reads them: IPv6 in brackets, socket directories, query parameters, sslmode's default")
    func libpqForms() throws {
        func target(_ url: String) throws -> StateLocation.PostgresTarget? {
            guard case .postgres(let target) = try StateLocation(parsing: url) else { return nil }
            return target
        }
        let ipv6 = try #require(try target("postgres://app@[::1]:6543/capi"))
        #expect(ipv6.host == "::1" && ipv6.port == 6543 && ipv6.unixSocketPath == nil)
        #expect(StateLocation.postgres(ipv6).description == "postgres://app@[::1]:6543/capi")
        // libpq's default is `prefer`: TLS when the server offers it (RDS for PostgreSQL 15 and
        // later refuse connections without it).
        #expect(ipv6.tls == .prefer && ipv6.rootCertificatePath == nil)

        let socket = try #require(try target("postgresql:///capi?host=/var/run/postgresql&port=5433&user=app"))
        #expect(socket.unixSocketPath == "/var/run/postgresql/.s.PGSQL.5433" && socket.username == "app" && socket.database == "capi")
        #expect(StateLocation.postgres(socket).description == "postgres://app@/capi?host=/var/run/postgresql&port=5433")
        let encoded = try #require(try target("postgres://app@%2Fcloudsql%2Fproj%3Aeu%3Adb/capi"))
        #expect(encoded.unixSocketPath == "/cloudsql/proj:eu:db/.s.PGSQL.5432")

        let overridden = try #require(try target("postgres://a:x@h:1/d?user=b&password=p%26q&dbname=e&host=h2&port=2"))
        #expect(overridden == .init(host: "h2", port: 2, username: "b", password: "p&q", database: "e"))
        #expect(overridden.applicationName == nil && overridden.serverOptions == nil)
        let named = try #require(try target("postgres://a@h/d?application_name=shop&options=-c%20search_path%3Dcapi"))
        #expect(named.applicationName == "shop" && named.serverOptions == "-c search_path=capi")
        #expect(try target("postgres://app@db")?.database == "app", "libpq's default database is the user's name")

        let verified = try #require(try target("postgres://app@db/capi?sslmode=verify-full&sslrootcert=/etc/rds/global-bundle.pem"))
        #expect(verified.tls == .verifyFull && verified.rootCertificatePath == "/etc/rds/global-bundle.pem")
        // libpq's variables fill in what the URL leaves out, never what it says.
        let environment = ["PGSSLMODE": "verify-full", "PGSSLROOTCERT": "/etc/ca.pem"]
        guard case .postgres(let fromEnvironment) = try StateLocation(parsing: "postgres://app@db/capi", environment: environment) else { return }
        #expect(fromEnvironment.tls == .verifyFull && fromEnvironment.rootCertificatePath == "/etc/ca.pem")
        guard case .postgres(let fromURL) = try StateLocation(parsing: "postgres://app@db/capi?sslmode=disable", environment: environment) else {
            return
        }
        #expect(fromURL.tls == .disable)
        #expect(throws: StateLocation.ParseError.invalidSSLMode) {
            try StateLocation(parsing: "postgres://app@db/capi", environment: ["PGSSLMODE": "yes"])
        }
        for mode in StateLocation.TLSMode.allCases {
            #expect(try target("postgres://app@db/capi?sslmode=\(mode.rawValue)")?.tls == mode)
        }
    }

    @Test("PGHOST, PGPORT, PGUSER, PGDATABASE, PGOPTIONS and PGAPPNAME fill in what the URL leaves out, as for psql")
    func libpqVariables() throws {
        let environment = [
            "PGHOST": "db.internal", "PGPORT": "6432", "PGUSER": "capi", "PGDATABASE": "events", "PGOPTIONS": "-c search_path=capi",
            "PGAPPNAME": "capi-poll",
        ]
        func target(_ url: String, _ environment: [String: String] = environment) throws -> StateLocation.PostgresTarget? {
            guard case .postgres(let target) = try StateLocation(parsing: url, environment: environment) else { return nil }
            return target
        }
        let bare = try #require(try target("postgres://"))
        #expect(bare.host == "db.internal" && bare.port == 6432 && bare.username == "capi" && bare.database == "events")
        #expect(bare.serverOptions == "-c search_path=capi" && bare.applicationName == "capi-poll")
        let socket = try #require(try target("postgres:///capi", ["PGHOST": "/var/run/postgresql"]))
        #expect(socket.unixSocketPath == "/var/run/postgresql/.s.PGSQL.5432" && socket.database == "capi")
        // What the URL says wins, part by part.
        let given = try #require(try target("postgres://app@other:5433/shop?application_name=serve"))
        #expect(given.host == "other" && given.port == 5433 && given.username == "app" && given.database == "shop")
        #expect(given.applicationName == "serve" && given.serverOptions == "-c search_path=capi")
        #expect(throws: StateLocation.ParseError.missingHost) { try StateLocation(parsing: "postgres:///capi", environment: [:]) }
        #expect(throws: StateLocation.ParseError.invalidPort) { try StateLocation(parsing: "postgres://db/capi", environment: ["PGPORT": "x"]) }
        #expect(throws: StateLocation.ParseError.severalHosts) { try StateLocation(parsing: "postgres:///capi", environment: ["PGHOST": "a,b"]) }
        #expect(try target("postgres:///", ["PGHOST": "h", "PGUSER": "u"])?.database == "u", "the user's name, as libpq")
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
            ("postgres://h/db?sslmode=on", .invalidSSLMode), ("postgres://h/db?port=x", .invalidPort),
            ("postgres:///db?host=", .missingHost), ("postgres://h1,h2/db", .severalHosts), ("postgres:///db?host=h1,h2&port=1,2", .severalHosts),
            // What a URL reserves, left in a password: the URL ends early and an `@` follows.
            ("postgres://u:p#ss@h:1/db", .unreadableURL), ("postgres://u:p/ss@h/db", .unreadableURL),
            ("postgresql://u:p?ss@h/db", .unreadableURL), ("postgres://u:a#b/c@h/db", .unreadableURL),
            // A port that is no number, with or without credentials.
            ("postgres://u:pw@h:abc/db", .invalidPort), ("postgres://h:5432x/db", .invalidPort), ("postgres://h:-1/db", .invalidPort),
            ("postgres:/h/db", .unsupportedScheme), ("postgresx://h/db", .unsupportedScheme), ("Postgres://h/db", .unsupportedScheme),
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
