import CAPICore
import ConnectorRuntime
import GraphAPI

/// Access tokens for reads: each pixel's system-user token, one configured token, or an app token
/// from the client-credentials grant (cached in memory, refreshed once after Meta refuses it, and
/// concurrent refreshes share one exchange).
public actor TokenProvider {
    private let auth: PullConfiguration.Auth
    private let graph: GraphClient
    private var appToken: Secret?
    private var exchange: Task<Secret, any Error>?

    public init(auth: PullConfiguration.Auth, graph: GraphClient) {
        self.auth = auth
        self.graph = graph
    }

    public func token(for pixel: PixelConfiguration) async throws -> Secret {
        switch auth {
        case .systemUserToken(let token): return token ?? pixel.accessToken
        case .appCredentials: return try await appCredentialsToken()
        }
    }

    /// After Meta refused `rejected`: a fresh app token, or `nil` when refreshing cannot help.
    public func refresh(after rejected: Secret) async throws -> Secret? {
        guard case .appCredentials = auth else { return nil }
        if let current = appToken, current != rejected { return current }
        appToken = nil
        return try await appCredentialsToken()
    }

    private func appCredentialsToken() async throws -> Secret {
        if let appToken { return appToken }
        if let exchange { return try await exchange.value }
        guard case .appCredentials(let appID, let appSecret) = auth else { throw GraphError(errorClass: .auth, message: "no app credentials") }
        let graph = graph
        let task = Task { () async throws -> Secret in try await graph.exchangeClientCredentials(appID: appID, appSecret: appSecret) }
        exchange = task
        defer { exchange = nil }
        let token = try await task.value
        appToken = token
        return token
    }
}
