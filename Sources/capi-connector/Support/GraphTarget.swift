import ArgumentParser
import ConnectorRuntime
import Foundation
import GraphAPI

/// Where Graph API calls go: `CAPI_GRAPH_URL` when set, else the manifest's `graph_api.base_url`,
/// checked once here so a malformed URL is a configuration error (exit 2), not a transient failure
/// retried for ever.
enum GraphTarget {
    static func resolve(_ manifest: Manifest) throws -> String {
        let override = ProcessInfo.processInfo.environment["CAPI_GRAPH_URL"].flatMap { $0.isEmpty ? nil : $0 }
        do {
            return try GraphEndpoint.validated(override ?? manifest.graphAPI.baseURL)
        } catch {
            StandardStreams.printError("capi-connector: \(override != nil ? "CAPI_GRAPH_URL" : "graph_api.base_url") \(error.reason)")
            throw ExitCode(2)
        }
    }
}
