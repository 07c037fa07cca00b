import CAPICore
import Hummingbird

/// Graph answers a request no route takes (an edge it does not have, a GET of an edge that only
/// takes POST) with its own error, not an empty 404: a client or SDK pointed at the stand-in reads
/// the same `GraphMethodException` (code 100, subcode 33) it would read from Meta.
struct UnsupportedRequestMiddleware: RouterMiddleware {
    typealias Context = SandboxRequestContext
    let sandbox: GraphSandbox

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            return await sandbox.unknownObject(Self.node(request.uri.path), method: request.method)
        }
    }

    /// The object a path names: the segment after the version (`/v26.0/123/nothing` → `123`), or
    /// the first segment of a path without one.
    static func node(_ path: String) -> String {
        let segments = path.split(separator: "/")
        guard let first = segments.first else { return "" }
        return String(GraphVersion.isValid(first) && segments.count > 1 ? segments[1] : first)
    }
}
