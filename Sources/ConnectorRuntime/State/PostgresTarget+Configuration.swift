import Foundation
import NIOSSL
import PostgresNIO

/// How a ``StateLocation/PostgresTarget`` becomes PostgresNIO's configurations, one place for the
/// pool, the single diagnostic connection and the tests, so `sslmode` means the same in each.
extension StateLocation.PostgresTarget {
    /// The pool's configuration; `database` overrides the URL's (tests use other databases), and
    /// `searchPath` the schema the tables are in (tests use one per run).
    public func clientConfiguration(database: String? = nil, searchPath: String? = nil) -> PostgresClient.Configuration {
        let database = database ?? self.database
        var configuration: PostgresClient.Configuration
        if let unixSocketPath {
            configuration = PostgresClient.Configuration(unixSocketPath: unixSocketPath, username: username, password: password, database: database)
        } else {
            let tls: PostgresClient.Configuration.TLS =
                switch (self.tls, tlsConfiguration()) {
                case (_, nil): .disable
                case (.require, let settings?), (.verifyCA, let settings?), (.verifyFull, let settings?): .require(settings)
                case (_, let settings?): .prefer(settings)
                }
            configuration = PostgresClient.Configuration(host: host, port: port, username: username, password: password, database: database, tls: tls)
        }
        configuration.options.additionalStartupParameters = startupParameters(searchPath: searchPath)
        return configuration
    }

    /// What the server is told at connect besides user and database: the URL's
    /// `application_name` and `options`, and a search path, given last so it wins over one in
    /// `options`.
    func startupParameters(searchPath: String?) -> [(String, String)] {
        var parameters: [(String, String)] = []
        if let applicationName { parameters.append(("application_name", applicationName)) }
        if let serverOptions { parameters.append(("options", serverOptions)) }
        if let searchPath { parameters.append(("search_path", searchPath)) }
        return parameters
    }

    /// One connection's configuration; refused when the TLS settings cannot be built (an
    /// `sslrootcert` that is no readable PEM file), which no retry mends.
    func connectionConfiguration() throws(StateConnectionProblem) -> PostgresConnection.Configuration {
        var configuration: PostgresConnection.Configuration
        if let unixSocketPath {
            configuration = PostgresConnection.Configuration(
                unixSocketPath: unixSocketPath,
                username: username,
                password: password,
                database: database
            )
        } else {
            let tls: PostgresConnection.Configuration.TLS
            if let settings = tlsConfiguration() {
                let context: NIOSSLContext
                do { context = try NIOSSLContext(configuration: settings) } catch {
                    throw .refused("the sslrootcert file \(rootCertificatePath ?? "") is no readable PEM certificate file (\(error))")
                }
                tls = [.require, .verifyCA, .verifyFull].contains(self.tls) ? .require(context) : .prefer(context)
            } else {
                tls = .disable
            }
            configuration = PostgresConnection.Configuration(
                host: host,
                port: port,
                username: username,
                password: password,
                database: database,
                tls: tls
            )
        }
        configuration.options.additionalStartupParameters = startupParameters(searchPath: nil)
        return configuration
    }

    /// libpq's meaning of each `sslmode`: `prefer` and `require` encrypt without checking the
    /// certificate (unless `sslrootcert` is given with `require`, which libpq then treats as
    /// `verify-ca`); `verify-ca` checks the chain; `verify-full` the chain and the host name.
    func tlsConfiguration() -> TLSConfiguration? {
        var settings = TLSConfiguration.makeClientConfiguration()
        switch tls {
        case .disable: return nil
        case .allow, .prefer: settings.certificateVerification = .none
        case .require: settings.certificateVerification = rootCertificatePath == nil ? .none : .noHostnameVerification
        case .verifyCA: settings.certificateVerification = .noHostnameVerification
        case .verifyFull: settings.certificateVerification = .fullVerification
        }
        if let rootCertificatePath, rootCertificatePath != "system" { settings.trustRoots = .file(rootCertificatePath) }
        return settings
    }
}
