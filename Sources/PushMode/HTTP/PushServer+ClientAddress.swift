import CAPICore
import ConnectorRuntime
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import NIOCore
import NIOFoundationCompat

/// Who is calling: the peer, or the first untrusted `X-Forwarded-For` hop behind trusted proxies.
extension PushServer {
    /// Fills `client_ip_address` and `client_user_agent` from the request when the event lacks them.
    func enriched(_ event: JSONValue, request: Request, context: some PushContext) -> JSONValue {
        guard case .object(var fields) = event else { return event }
        var user = fields["user_data"]?.objectValue ?? [:]
        if user["client_user_agent"] == nil, let agent = request.headers[.userAgent] { user["client_user_agent"] = .string(agent) }
        if user["client_ip_address"] == nil, let address = clientAddress(request: request, context: context) {
            user["client_ip_address"] = .string(address)
        }
        fields["user_data"] = .object(user)
        return .object(fields)
    }

    static let forwardedForHeader = HTTPField.Name("X-Forwarded-For")!

    /// The peer's address, or the first untrusted hop of `X-Forwarded-For` when the peer is a trusted proxy.
    func clientAddress(request: Request, context: some PushContext) -> String? {
        guard let peer = context.peerAddress else { return nil }
        guard trustedProxies.contains(where: { NetworkAddress.contains(cidr: $0, address: peer) }),
            let forwarded = request.headers[Self.forwardedForHeader]
        else { return peer }
        let hops = forwarded.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        return hops.reversed().first { hop in !trustedProxies.contains { NetworkAddress.contains(cidr: $0, address: hop) } } ?? peer
    }
}
