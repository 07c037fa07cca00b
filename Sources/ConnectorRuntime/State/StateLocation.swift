import Foundation

/// Where the state registry lives, parsed from `--state`, `CAPI_STATE_URL` or the manifest.
///
/// `postgres://user:pass@host:port/db` (production, several replicas) or `sqlite:PATH` (the
/// embedded default). The description hides the password.
public enum StateLocation: Sendable, Equatable, CustomStringConvertible {
    case postgres(PostgresTarget)
    case sqlite(path: String)

    public struct PostgresTarget: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var username: String
        public var password: String?
        public var database: String
        /// `sslmode=require` / `verify-full` asks for TLS; the default is plain TCP (sidecars talk to a
        /// local or private-network database).
        public var requireTLS: Bool
        /// `prepared_statements=off` sends the per-event statements unnamed. Named prepared
        /// statements are session state: RDS Proxy pins every session that uses them (which defeats
        /// it in front of many Lambda environments), and PgBouncer in transaction mode before 1.21
        /// loses them between transactions.
        public var preparedStatements: Bool

        public init(
            host: String,
            port: Int,
            username: String,
            password: String?,
            database: String,
            requireTLS: Bool,
            preparedStatements: Bool = true
        ) {
            self.host = host
            self.port = port
            self.username = username
            self.password = password
            self.database = database
            self.requireTLS = requireTLS
            self.preparedStatements = preparedStatements
        }
    }

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case unsupportedScheme
        case missingHost
        case invalidPort
        case emptySQLitePath
        case invalidPreparedStatements

        public var description: String {
            switch self {
            case .unsupportedScheme: "the state URL must start with postgres:// or sqlite:"
            case .missingHost: "the postgres state URL has no host"
            case .invalidPort: "the postgres state URL has an invalid port"
            case .emptySQLitePath: "the sqlite state URL has no path (write sqlite:PATH)"
            case .invalidPreparedStatements: "the postgres state URL's prepared_statements must be on or off"
            }
        }
    }

    public static let defaultURL = "sqlite:.capi/state.sqlite"

    public init(parsing text: String) throws(ParseError) {
        if text.hasPrefix("sqlite:") {
            var path = String(text.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
            guard !path.isEmpty else { throw .emptySQLitePath }
            self = .sqlite(path: path)
            return
        }
        guard text.hasPrefix("postgres://") || text.hasPrefix("postgresql://"), let components = URLComponents(string: text) else {
            throw .unsupportedScheme
        }
        guard let host = components.host, !host.isEmpty else { throw .missingHost }
        if let port = components.port, !(1...65535).contains(port) { throw .invalidPort }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        let sslMode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        let preparedStatements: Bool
        switch components.queryItems?.first(where: { $0.name == "prepared_statements" }).map({ $0.value ?? "" }) {
        case nil, "on": preparedStatements = true
        case "off": preparedStatements = false
        default: throw .invalidPreparedStatements
        }
        self = .postgres(
            PostgresTarget(
                host: host,
                port: components.port ?? 5432,
                username: components.user?.removingPercentEncoding ?? "postgres",
                password: components.password?.removingPercentEncoding,
                database: database.isEmpty ? (components.user ?? "postgres") : database,
                requireTLS: ["require", "verify-ca", "verify-full"].contains(sslMode),
                preparedStatements: preparedStatements
            )
        )
    }

    public var description: String {
        switch self {
        case .sqlite(let path): "sqlite:\(path)"
        case .postgres(let target):
            "postgres://\(target.username)\(target.password == nil ? "" : ":***")@\(target.host):\(target.port)/\(target.database)"
        }
    }
}
