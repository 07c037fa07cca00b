import AsyncHTTPClient
import NIOPosix
import Synchronization

/// The HTTP clients for calls that leave the process (the Graph API, alarm receivers): one per
/// egress proxy, or none, for the life of the process. None of them follows a redirect.
///
/// Following one sends a request where the manifest never said: a 307 or 308 repeats the POST,
/// body and all, and an events batch carries the access token in its body; a 301 or 302 turns the
/// POST into a GET without its body, whose answer can then pass for the receiver's while the alarm
/// is lost. Meta's API does not redirect its calls, so a redirect means a base URL, relay or
/// receiver set up wrong, and it comes back as the answer it is: an error that says where it led.
public enum OutboundHTTP {
    /// The client for calls through `proxy` (`nil`: direct). Clients are never shut down: they
    /// live as long as the process.
    public static func client(proxy: EgressProxy?) -> HTTPClient {
        clients.withLock { clients in
            if let existing = clients[proxy] { return existing }
            var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
            configuration.proxy = proxy?.clientProxy
            let client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
            clients[proxy] = client
            return client
        }
    }

    private static let clients = Mutex<[EgressProxy?: HTTPClient]>([:])
}
