import ArgumentParser
import ConnectorRuntime
import GraphAPI

/// The Graph client configuration for production commands; a malformed target is exit 2.
enum GraphTarget {
    static func resolve(_ manifest: Manifest) throws -> GraphClient.Configuration {
        do {
            return try GraphClient.Configuration.resolve(manifest: manifest)
        } catch {
            StandardStreams.printError("capi-connector: \(error.reason)")
            throw ExitCode(2)
        }
    }
}
