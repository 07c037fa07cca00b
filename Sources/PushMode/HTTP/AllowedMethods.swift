import HTTPTypes
import Hummingbird

/// A known path asked with a method it does not take is answered 405 with `Allow` (RFC 9110
/// 15.5.6), and OPTIONS 204 with `Allow`, so a client sending GET or TRACE learns its mistake
/// instead of a 404 that reads as a wrong path.
///
/// It looks at the router's not-found answer only: added to the router after every route, it wraps
/// nothing else (Hummingbird applies a router middleware to the routes added after it, and to the
/// not-found responder), so the event routes pay nothing for it. Every method reaches it, where a
/// route per method named only the common ones and left TRACE, CONNECT or PROPFIND a 404.
struct AllowedMethodsMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Each known path as segments (`:name` matches any one segment), with the methods it takes.
    let routes: [(segments: [Substring], allowed: [HTTPRequest.Method])]

    init(_ routes: [(path: String, allowed: [HTTPRequest.Method])]) {
        self.routes = routes.map { (Self.segments(of: $0.path), $0.allowed) }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            guard let allowed = allowedMethods(path: request.uri.path) else { throw error }
            return request.method == .options ? PushServer.options(allowed: allowed) : PushServer.methodNotAllowed(allowed: allowed)
        }
    }

    /// The methods `path` takes, or `nil` when no route has that path.
    func allowedMethods(path: String) -> [HTTPRequest.Method]? {
        let asked = Self.segments(of: path)
        return routes.first { route in
            route.segments.count == asked.count && zip(route.segments, asked).allSatisfy { $0.hasPrefix(":") || $0 == $1 }
        }?.allowed
    }

    /// Path segments as the router splits them: empty ones (a trailing or doubled `/`) left out.
    static func segments(of path: String) -> [Substring] {
        path.split(separator: "/")
    }
}
