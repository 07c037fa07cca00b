import Foundation

/// Locations inside the repository, and the shared test vectors beside it.
public enum RepositoryPaths {
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static var shippedManifest: String { root.appendingPathComponent("manifests/meta_conversions_api.yaml").path }
    public static var schemas: URL { root.appendingPathComponent("schemas") }
    /// `../shared/vectors`: made with Meta's SDK and the webhook schemes' reference libraries.
    public static var vectors: URL { root.deletingLastPathComponent().appendingPathComponent("shared/vectors") }
}
