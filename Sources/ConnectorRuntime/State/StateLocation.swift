import CAPICore
import Foundation

/// Where the state registry lives, parsed from `--state`, `CAPI_STATE_URL` or the manifest.
///
/// `postgres://user:pass@host:port/db` (production, several replicas) or `sqlite:PATH` (the
/// embedded default). The description hides the password.
public enum StateLocation: Sendable, Equatable, CustomStringConvertible {
    case postgres(PostgresTarget)
    case sqlite(path: String)

    public struct PostgresTarget: Sendable, Equatable {
        /// A host name or IP address (an IPv6 one without its brackets), or, starting with `/`,
        /// the directory of the server's Unix socket, as libpq takes it.
        public var host: String
        public var port: Int
        public var username: String
        public var password: String?
        public var database: String
        /// libpq's `sslmode`, with libpq's default, `prefer`: TLS when the server offers it.
        public var tls: TLSMode
        /// libpq's `sslrootcert`: the CA certificates (PEM) the server's certificate must chain to
        /// (Amazon RDS's bundle, say); `system` or none: the system's trust store.
        public var rootCertificatePath: String?
        /// `prepared_statements=off` sends the per-event statements unnamed. Named prepared
        /// statements are session state: RDS Proxy pins every session that uses them (which defeats
        /// it in front of many Lambda environments), and PgBouncer in transaction mode before 1.21
        /// loses them between transactions.
        public var preparedStatements: Bool
        /// libpq's `options`, sent to the server as it is (`-c search_path=capi` puts the tables in
        /// that schema); `nil` when the URL has none.
        public var serverOptions: String?
        /// libpq's `application_name`, what `pg_stat_activity` shows; none unless the URL names
        /// one, as libpq sends none (a pooler in front may treat an unexpected one as session state).
        public var applicationName: String?

        public init(
            host: String,
            port: Int,
            username: String,
            password: String?,
            database: String,
            tls: TLSMode = .prefer,
            rootCertificatePath: String? = nil,
            preparedStatements: Bool = true,
            serverOptions: String? = nil,
            applicationName: String? = nil
        ) {
            self.host = host
            self.port = port
            self.username = username
            self.password = password
            self.database = database
            self.tls = tls
            self.rootCertificatePath = rootCertificatePath
            self.preparedStatements = preparedStatements
            self.serverOptions = serverOptions
            self.applicationName = applicationName
        }

        /// The server's Unix socket when `host` is a directory: `<host>/.s.PGSQL.<port>`, as libpq
        /// names it.
        public var unixSocketPath: String? {
            host.hasPrefix("/") ? (host.hasSuffix("/") ? host : host + "/") + ".s.PGSQL.\(port)" : nil
        }
    }

    /// libpq's `sslmode` values and what each asks of the connection. A URL that works with
    /// `psql` works here: `require` encrypts without checking the certificate (an RDS URL with
    /// `sslmode=require` failed on RDS's own CA before), `verify-ca` checks that it chains to a
    /// trusted CA, `verify-full` also that it names the host.
    public enum TLSMode: String, Sendable, Equatable, CaseIterable {
        case disable
        /// libpq tries without TLS first; PostgresNIO has no such order, so this asks as `prefer` does.
        case allow
        case prefer
        case require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case unsupportedScheme
        case missingHost
        case invalidPort
        /// `postgres://…` that is no URL, most often a password holding `#`, `/`, `?` or `@`.
        case unreadableURL
        case emptySQLitePath
        case invalidPreparedStatements
        case invalidSSLMode
        case severalHosts

        public var description: String {
            switch self {
            case .unsupportedScheme: "the state URL must start with postgres:// or sqlite:"
            case .missingHost: "the postgres state URL has no host (a name, an address, ?host=/socket/directory, or PGHOST)"
            case .invalidPort: "the postgres state URL has an invalid port (give a number from 1 to 65535)"
            case .unreadableURL:
                "the postgres state URL cannot be read as a URL: \(UnreadableURL.encodingAdvice)"
            case .emptySQLitePath: "the sqlite state URL has no path (write sqlite:PATH)"
            case .invalidPreparedStatements: "the postgres state URL's prepared_statements must be on or off"
            case .severalHosts:
                "the postgres state URL names several hosts; libpq's fail-over lists are not supported: name one (RDS Proxy or a cluster endpoint)"
            case .invalidSSLMode:
                "the postgres state URL's sslmode (or PGSSLMODE) must be one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))"
            }
        }
    }

    public static let defaultURL = "sqlite:.capi/state.sqlite"

    /// Parses a state URL. PostgreSQL URLs are read as libpq reads them: `postgres://` or
    /// `postgresql://`, `user:password@host:port/database`, an IPv6 host in brackets, a Unix
    /// socket directory as the percent-encoded host or `?host=`, and the query parameters `host`,
    /// `port`, `user`, `password`, `dbname`, `sslmode` and `sslrootcert` (which win over the URL's
    /// parts, as in libpq), `options` and `application_name` (sent to the server at connect), plus
    /// this project's `prepared_statements`. Other libpq parameters (`connect_timeout`) are
    /// accepted and not used.
    ///
    /// - Parameter environment: libpq's variables for what the URL leaves out: `PGHOST`, `PGPORT`,
    ///   `PGUSER`, `PGDATABASE`, `PGSSLMODE`, `PGSSLROOTCERT`, `PGOPTIONS`, `PGAPPNAME` (the
    ///   password's `PGPASSWORD` is applied where the password is resolved). `postgres:///capi`
    ///   with `PGHOST` set is a URL as `psql` reads it.
    public init(parsing text: String, environment: [String: String] = [:]) throws(ParseError) {
        if text.hasPrefix("sqlite:") {
            var path = String(text.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
            guard !path.isEmpty else { throw .emptySQLitePath }
            self = .sqlite(path: path)
            return
        }
        guard let schemeEnd = text.range(of: "://"), ["postgres", "postgresql"].contains(text[..<schemeEnd.lowerBound]) else {
            throw .unsupportedScheme
        }
        guard let components = URLComponents(string: text) else {
            throw UnreadableURL(text) == .invalidPort ? .invalidPort : .unreadableURL
        }
        var query: [String: String] = [:]
        for item in components.queryItems ?? [] where query[item.name] == nil { query[item.name] = item.value ?? "" }
        func given(_ name: String) -> String? { query[name].flatMap { $0.isEmpty ? nil : $0 } }

        func fromEnvironment(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        func nonEmpty(_ text: String?) -> String? { text.flatMap { $0.isEmpty ? nil : $0 } }

        var host = components.percentEncodedHost.map { $0.removingPercentEncoding ?? $0 } ?? ""
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        host = given("host") ?? nonEmpty(host) ?? fromEnvironment("PGHOST") ?? ""
        guard !host.isEmpty else { throw .missingHost }
        let portText = given("port") ?? components.port.map(String.init) ?? fromEnvironment("PGPORT")
        guard !host.contains(","), !(portText ?? "").contains(",") else { throw .severalHosts }

        var port = 5432
        if let portText {
            guard let number = Int(portText) else { throw .invalidPort }
            port = number
        }
        guard (1...65535).contains(port) else { throw .invalidPort }

        let username = given("user") ?? nonEmpty(components.percentEncodedUser?.removingPercentEncoding) ?? fromEnvironment("PGUSER") ?? "postgres"
        let password = query["password"] ?? components.percentEncodedPassword?.removingPercentEncoding
        let path = components.percentEncodedPath.removingPercentEncoding ?? components.percentEncodedPath
        let database = given("dbname") ?? nonEmpty(path.hasPrefix("/") ? String(path.dropFirst()) : path) ?? fromEnvironment("PGDATABASE") ?? ""

        guard let tls = TLSMode(rawValue: given("sslmode") ?? fromEnvironment("PGSSLMODE") ?? "prefer") else { throw .invalidSSLMode }
        let preparedStatements: Bool
        switch query["prepared_statements"] {
        case nil, "on": preparedStatements = true
        case "off": preparedStatements = false
        default: throw .invalidPreparedStatements
        }
        self = .postgres(
            PostgresTarget(
                host: host,
                port: port,
                username: username,
                password: password,
                // libpq's default database is the user's name.
                database: database.isEmpty ? username : database,
                tls: tls,
                rootCertificatePath: given("sslrootcert") ?? fromEnvironment("PGSSLROOTCERT"),
                preparedStatements: preparedStatements,
                serverOptions: given("options") ?? fromEnvironment("PGOPTIONS"),
                applicationName: given("application_name") ?? fromEnvironment("PGAPPNAME")
            )
        )
    }

    public var description: String {
        switch self {
        case .sqlite(let path): "sqlite:\(path)"
        case .postgres(let target):
            "postgres://\(target.username)\(target.password == nil ? "" : ":***")@"
                + (target.unixSocketPath != nil
                    ? "/\(target.database)?host=\(target.host)&port=\(target.port)"
                    : "\(target.host.contains(":") ? "[\(target.host)]" : target.host):\(target.port)/\(target.database)")
        }
    }
}
