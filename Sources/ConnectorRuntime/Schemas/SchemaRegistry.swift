import CAPICore
import Foundation
import Logging

/// Versioned JSON Schemas in the state store: each file in `schemas/` is registered at start-up
/// (`serve`, `poll`); a changed file becomes the next version only if it passes
/// ``SchemaCompatibility`` against every earlier version.
public struct SchemaRegistry: Sendable {
    /// What registering one file did.
    public enum Registration: Sendable, Equatable {
        /// Already registered with this content.
        case unchanged(id: String, version: Int)
        case added(id: String, version: Int)
        /// Refused: one reason per line; the earlier versions stay current.
        case incompatible(id: String, reasons: [String])
    }

    let store: any SchemaStore

    public init(store: any SchemaStore) { self.store = store }

    /// The schema files of a folder (`*.json`), read and compiled, by file name.
    public static func documents(in folder: String) throws(SchemaError) -> [(file: String, document: SchemaDocument)] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder) } catch {
            throw SchemaError(folder, "cannot be read as a folder of schemas")
        }
        return try names.filter { $0.hasSuffix(".json") }.sorted().map { name throws(SchemaError) in
            let path = (folder as NSString).appendingPathComponent(name)
            let text: String
            do throws(TextFile.Problem) {
                text = try TextFile.read(path: path)
            } catch {
                throw SchemaError("\(name):\(error.line):\(error.column)", "cannot be read: \(error.reason)")
            }
            do throws(SchemaError) {
                return (name, try SchemaDocument(parsing: text))
            } catch {
                throw SchemaError("\(name): \(error.path)", error.reason)
            }
        }
    }

    /// Registers every schema of `folder`; an incompatible one is reported, never registered.
    public func registerAll(in folder: String, now: UnixMillis, logger: Logger) async throws -> [Registration] {
        var results: [Registration] = []
        for (file, document) in try Self.documents(in: folder) {
            let result = try await register(document, now: now)
            switch result {
            case .added(let id, let version):
                logger.notice("schema registered", metadata: ["schema_id": "\(id)", "version": "\(version)", "file": "\(file)"])
            case .unchanged: break
            case .incompatible(let id, let reasons):
                logger.error(
                    "schema refused: incompatible with an earlier version",
                    metadata: ["schema_id": "\(id)", "file": "\(file)", "reasons": "\(reasons.joined(separator: "; "))"]
                )
            }
            results.append(result)
        }
        return results
    }

    public func register(_ document: SchemaDocument, now: UnixMillis) async throws -> Registration {
        let earlier = try await store.schemaVersions(id: document.id)
        if let same = earlier.first(where: { $0.hash == document.hash }) { return .unchanged(id: document.id, version: same.version) }
        let reasons = try problems(of: document, against: earlier)
        guard reasons.isEmpty else { return .incompatible(id: document.id, reasons: reasons) }
        let stored = try await store.addSchemaVersion(id: document.id, hash: document.hash, body: document.canonical, now: now)
        return .added(id: document.id, version: stored.version)
    }

    /// Why `document` may not follow what is registered for its id (empty: it may).
    public func check(_ document: SchemaDocument) async throws -> [String] {
        try problems(of: document, against: try await store.schemaVersions(id: document.id))
    }

    func problems(of document: SchemaDocument, against earlier: [SchemaVersion]) throws -> [String] {
        try earlier.flatMap { version in
            SchemaCompatibility.problems(of: document, against: try SchemaDocument(parsing: version.body), earlierVersion: version.version)
        }
    }
}

extension SchemaRegistry {
    /// Start-up registration for `serve` and `poll`: problems are logged (a missing folder, an
    /// unreadable or incompatible schema) and never stop the connector from running.
    public static func registerAtStartup(_ configuration: SchemaRegistryConfiguration, store: any SchemaStore, logger: Logger) async {
        guard let folder = configuration.resolvedFolder() else {
            logger.warning(
                "schema folder not found; nothing registered, and drift alarms have no schema to check",
                metadata: [
                    "path": "\(configuration.path)", "looked_in": "\(configuration.candidateFolders.joined(separator: ", "))",
                    "working_directory": "\(FileManager.default.currentDirectoryPath)",
                ]
            )
            return
        }
        if folder != configuration.path { logger.notice("schema folder found beside the manifest", metadata: ["path": "\(folder)"]) }
        do {
            _ = try await SchemaRegistry(store: store).registerAll(in: folder, now: WallClock.system.now(), logger: logger)
        } catch {
            logger.error("schema registration failed", metadata: ["path": "\(folder)", "error": "\(error)"])
        }
    }
}
