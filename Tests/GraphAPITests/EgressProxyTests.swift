import CAPICore
import Foundation
import GraphAPI
import GraphSandbox
import NIOCore
import TestSupport
import Testing

/// Which proxy a call goes through; the tunnel itself is exercised from outside in CLITests
/// (`flush --once` through a CONNECT proxy process).
@Suite("Egress proxy")
struct EgressProxyTests {
    @Test("graph_api.proxy wins; else HTTPS_PROXY (HTTP_PROXY for http), either case, unless NO_PROXY names the host")
    func resolution() {
        let meta = "https://graph.facebook.com"
        #expect(
            EgressProxy.resolve(baseURL: meta, configured: "http://egress.internal:3128", environment: ["HTTPS_PROXY": "http://other:1"])
                == EgressProxy(host: "egress.internal", port: 3128)
        )
        #expect(
            EgressProxy.resolve(baseURL: meta, configured: nil, environment: ["https_proxy": "http://egress:8080"])
                == EgressProxy(host: "egress", port: 8080)
        )
        #expect(EgressProxy.resolve(baseURL: "http://relay.internal", configured: nil, environment: ["HTTPS_PROXY": "http://egress:8080"]) == nil)
        #expect(
            EgressProxy.resolve(baseURL: meta, configured: nil, environment: ["HTTPS_PROXY": "http://e:1", "NO_PROXY": "localhost,.facebook.com"])
                == nil
        )
        #expect(EgressProxy.resolve(baseURL: meta, configured: nil, environment: ["HTTPS_PROXY": "http://e:1", "no_proxy": "facebook.com"]) == nil)
        #expect(EgressProxy.resolve(baseURL: meta, configured: nil, environment: ["HTTPS_PROXY": "http://e:1", "NO_PROXY": "*"]) == nil)
        #expect(EgressProxy.resolve(baseURL: meta, configured: nil, environment: ["HTTPS_PROXY": "http://e:1", "NO_PROXY": "book.com"]) != nil)
        let withCredentials = EgressProxy(url: "http://user:secret-pass@egress:3128")
        #expect(withCredentials?.port == 3128 && !"\(withCredentials!)".contains("secret-pass"))
        #expect(EgressProxy(url: "https://egress:3128") == nil && EgressProxy(url: "socks5://egress:1080") == nil)
    }
}
