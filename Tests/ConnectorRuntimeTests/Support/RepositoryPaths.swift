import Foundation

/// Locations inside the repository and the shared spec folder beside it.
enum RepositoryPaths {
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var shippedManifest: String { root.appendingPathComponent("manifests/meta_conversions_api.yaml").path }
    static var schemas: URL { root.appendingPathComponent("schemas") }
}
