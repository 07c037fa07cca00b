import ConnectorRuntime
import Foundation
import Logging
import PostgresNIO
import TestSupport
import Testing

/// State URLs as libpq reads them, against the test cluster: the same URL that works with `psql`
/// works here. `.ci/run` starts the cluster with TLS (a self-signed certificate naming only
/// `localhost`, in `CAPI_TEST_POSTGRES_TLS_CERT`) and a socket directory
/// (`CAPI_TEST_POSTGRES_SOCKET_DIR`).
@Suite("Postgres URLs as libpq reads them", .enabled(if: TestPostgres.enabled))
struct PostgresConnectionFormsTests {
    static let environment = ProcessInfo.processInfo.environment
    static let socketDirectory = environment["CAPI_TEST_POSTGRES_SOCKET_DIR"].flatMap { $0.isEmpty ? nil : $0 }
    static let certificate = environment["CAPI_TEST_POSTGRES_TLS_CERT"].flatMap { $0.isEmpty ? nil : $0 }

    func target(_ url: String) throws -> StateLocation.PostgresTarget {
        guard case .postgres(let target) = try StateLocation(parsing: url) else { throw TestSetupError("not a postgres URL: \(url)") }
        return target
    }

    func problem(_ target: StateLocation.PostgresTarget) async -> StateConnectionProblem? {
        await PostgresStateRegistry(target: target, logger: Logger(label: "test")).connectionProblem()
    }

    /// The one column of `query`'s rows, asked over a pool built from `target` as the registry's is.
    func column<T: PostgresDecodable & Sendable>(_ query: PostgresQuery, as type: T.Type, _ target: StateLocation.PostgresTarget) async throws -> [T]
    {
        let client = PostgresClient(configuration: target.clientConfiguration(), backgroundLogger: Logger(label: "test"))
        return try await withRunning(client) {
            var values: [T] = []
            for try await value in try await client.query(query).decode(T.self) { values.append(value) }
            return values
        }
    }

    /// Whether the server sees the pool's session as encrypted.
    func encrypted(_ target: StateLocation.PostgresTarget) async throws -> Bool {
        try await column("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", as: Bool.self, target) == [true]
    }

    /// The session's `application_name` and `search_path`, as the server sees them.
    func settings(_ target: StateLocation.PostgresTarget) async throws -> [String] {
        try await column("SELECT current_setting('application_name') || ' | ' || current_setting('search_path')", as: String.self, target)
    }

    @Test("application_name and options reach the server at connect; without them nothing is sent")
    func startupParameters() async throws {
        let cluster = try TestPostgres.target()
        let base = "postgres://\(cluster.username)@127.0.0.1:\(cluster.port)/\(cluster.database)"
        #expect(try await settings(try target(base)) == [" | \"$user\", public"])
        let options = "-c search_path=capi_state,public".addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        #expect(try await settings(try target("\(base)?application_name=shop-sidecar&options=\(options)")) == ["shop-sidecar | capi_state,public"])
    }

    @Test("a Unix socket directory, given as ?host= or as the encoded host, reaches the server", .enabled(if: socketDirectory != nil))
    func unixSocket() async throws {
        let cluster = try TestPostgres.target()
        let directory = try #require(Self.socketDirectory)
        let byQuery = try target("postgresql:///\(cluster.database)?host=\(directory)&port=\(cluster.port)&user=\(cluster.username)")
        let encoded = directory.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? directory
        let byHost = try target("postgres://\(cluster.username)@\(encoded):\(cluster.port)/\(cluster.database)")
        #expect(byQuery == byHost)
        #expect(await problem(byQuery) == nil)
        #expect(try await !encrypted(byQuery), "a socket is local: no TLS")
        let schema = TestPostgres.uniqueName("socket")
        let depth = try await withStateRegistry(.postgres(byQuery), schema: schema, logger: Logger(label: "test")) { try await $0.outboxDepth() }
        #expect(depth == 0)
    }

    @Test(
        "postgres:/// with PGHOST (a socket directory), PGPORT, PGUSER and PGDATABASE reaches the server, as psql would",
        .enabled(if: socketDirectory != nil)
    )
    func libpqVariables() async throws {
        let cluster = try TestPostgres.target()
        let environment = [
            "PGHOST": try #require(Self.socketDirectory), "PGPORT": String(cluster.port), "PGUSER": cluster.username, "PGDATABASE": cluster.database,
            "PGAPPNAME": "capi-poll",
        ]
        guard case .postgres(let fromEnvironment) = try StateLocation(parsing: "postgres://", environment: environment) else {
            throw TestSetupError("not a postgres URL")
        }
        #expect(await problem(fromEnvironment) == nil)
        #expect(try await settings(fromEnvironment) == ["capi-poll | \"$user\", public"])
    }

    @Test("an IPv6 address in brackets is connected to, not looked up as a host name")
    func ipv6() async throws {
        // Nobody listens on port 1: the answer is the network's, whatever the machine's IPv6.
        let answer = await problem(try target("postgres://postgres@[::1]:1/postgres"))
        guard case .unreachable(let reason) = answer else {
            Issue.record("\(String(describing: answer))")
            return
        }
        #expect(!reason.contains("UnknownHost") && !reason.contains("DNS"), "\(reason)")
    }

    @Test(
        "sslmode as libpq means it: prefer and require encrypt unchecked, verify-ca checks the chain, verify-full the name too",
        .enabled(if: certificate != nil)
    )
    func sslModes() async throws {
        let cluster = try TestPostgres.target()
        let certificate = try #require(Self.certificate)
        func url(_ host: String, _ query: String) -> String { "postgres://\(cluster.username)@\(host):\(cluster.port)/\(cluster.database)?\(query)" }

        // The default, and `require`, take the self-signed certificate: they encrypt, they do not verify.
        #expect(try await encrypted(try target(url("127.0.0.1", ""))))
        #expect(try await encrypted(try target(url("127.0.0.1", "sslmode=require"))))
        #expect(try await !encrypted(try target(url("127.0.0.1", "sslmode=disable"))))

        let untrusted = "it does not chain to a trusted CA; give the CA's certificates with sslrootcert=PATH"
        #expect(
            await problem(try target(url("127.0.0.1", "sslmode=verify-ca")))
                == .refused("the server's TLS certificate was not accepted (sslmode=verify-ca): " + untrusted)
        )
        #expect(await problem(try target(url("127.0.0.1", "sslmode=verify-ca&sslrootcert=\(certificate)"))) == nil)
        // `require` with a CA given checks the chain, as libpq does.
        #expect(
            await problem(try target(url("127.0.0.1", "sslmode=require&sslrootcert=/etc/ssl/certs/ca-certificates.crt")))
                == .refused("the server's TLS certificate was not accepted (sslmode=require): " + untrusted)
        )

        // The certificate names `localhost` only.
        #expect(
            await problem(try target(url("127.0.0.1", "sslmode=verify-full&sslrootcert=\(certificate)")))
                == .refused(
                    "the server's TLS certificate was not accepted (sslmode=verify-full): it names neither the host of the URL nor the address connected to"
                )
        )
        let verified = try target(url("localhost", "sslmode=verify-full&sslrootcert=\(certificate)"))
        #expect(await problem(verified) == nil)
        #expect(try await encrypted(verified))

        let missing = await problem(try target(url("127.0.0.1", "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")))
        guard case .refused(let reason) = missing else {
            Issue.record("\(String(describing: missing))")
            return
        }
        #expect(reason.hasPrefix("the sslrootcert file /nonexistent/ca.pem is no readable PEM certificate file"), "\(reason)")
    }
}
