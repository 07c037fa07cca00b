import Foundation
import NIOSSL
import PostgresNIO

/// How a ``StateLocation/PostgresTarget`` becomes PostgresNIO's configurations, one place for the
/// pool, the single diagnostic connection and the tests, so `sslmode` means the same in each.
extension StateLocation.PostgresTarget {
    /// The pool's configuration; `database` overrides the URL's (tests use other databases).
    public func clientConfiguration(database: String? = nil) -> PostgresClient.Configuration {
        let database = database ?? self.database
        if let unixSocketPath {
            return PostgresClient.Configuration(unixSocketPath: unixSocketPath, username: username, password: password, database: database)
        }
        let tls: PostgresClient.Configuration.TLS =
            switch (self.tls, tlsConfiguration()) {
            case (_, nil): .disable
            case (.require, let settings?), (.verifyCA, let settings?), (.verifyFull, let settings?): .require(settings)
            case (_, let settings?): .prefer(settings)
            }
        return PostgresClient.Configuration(host: host, port: port, username: username, password: password, database: database, tls: tls)
    }

    /// One connection's configuration; refused when the TLS settings cannot be built (an
    /// `sslrootcert` that is no readable PEM file), which no retry mends.
    func connectionConfiguration() throws(StateConnectionProblem) -> PostgresConnection.Configuration {
        if let unixSocketPath {
            return PostgresConnection.Configuration(unixSocketPath: unixSocketPath, username: username, password: password, database: database)
        }
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
        return PostgresConnection.Configuration(host: host, port: port, username: username, password: password, database: database, tls: tls)
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
