import CAPICore

/// The schema registry's versions: numbered per schema id in registration order.
public protocol SchemaStore: Sendable {
    /// The version `hash` already has for `id`, or the next number, recorded now. Concurrent
    /// registrations of the same content get the same version.
    func addSchemaVersion(id: String, hash: String, body: String, now: UnixMillis) async throws(StateError) -> SchemaVersion
    /// Every registered version (of one id, or all), by id and version.
    func schemaVersions(id: String?) async throws(StateError) -> [SchemaVersion]
}

/// One registered schema version; `body` is the canonical JSON whose SHA-256 is `hash`.
public struct SchemaVersion: Sendable, Equatable {
    public var id: String
    public var version: Int
    public var hash: String
    public var body: String
    public var registeredAt: UnixMillis

    public init(id: String, version: Int, hash: String, body: String, registeredAt: UnixMillis) {
        self.id = id
        self.version = version
        self.hash = hash
        self.body = body
        self.registeredAt = registeredAt
    }
}
