import Foundation
import PushMode
import TestSupport
import Testing

/// `openapi.yaml` stays in step with the router: every route documented, every documented route
/// served; and it is a valid OpenAPI 3.1 document by `openapi-spec-validator` (PyPI). (A path's
/// other methods are answered 405 and OPTIONS 204 by one middleware, not by routes: `RouteTests`.)
@Suite("OpenAPI document")
struct OpenAPITests {
    @Test("openapi.yaml is valid and documents exactly the routes the sidecar serves")
    func inStep() async throws {
        let path = RepositoryPaths.root.appendingPathComponent("openapi.yaml").path
        let script = """
            import json, sys
            from openapi_spec_validator import validate
            from openapi_spec_validator.readers import read_from_filename
            document, _ = read_from_filename(sys.argv[1])
            validate(document)
            print(json.dumps(sorted(m.upper() + " " + p for p, operations in document["paths"].items() for m in operations if m in ("get", "head", "post", "put", "delete", "patch"))))
            """
        let result = try await ProcessRunner.run("/usr/bin/env", ["python3", "-c", script, path])
        #expect(
            result.status == 0,
            "openapi-spec-validator refused the document (or is not installed: pip install openapi-spec-validator): \(result.stderr)"
        )
        let documented = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String])
        try await withSidecar(manifest: try pushManifest()) { sidecar in
            let served = sidecar.server.makeRouter().routes.map { route in
                // Hummingbird writes parameters as `:name`, OpenAPI as `{name}`.
                let path = "\(route.path)".split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }
                let served = "\(route.method) /" + path.joined(separator: "/")
                // The Graph route again, for the version `v1`, which the router would otherwise
                // send down the mirror routes' literal `v1` (see `makeRouter`).
                return served == "POST /v1/{pixel}/events" ? "POST /{version}/{pixel}/events" : served
            }
            #expect(Set(served).sorted() == documented)
        }
    }
}
