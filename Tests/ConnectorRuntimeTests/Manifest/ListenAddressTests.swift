import ConnectorRuntime
import Testing

@Suite("Listen addresses")
struct ListenAddressTests {
    @Test(
        "HOST:PORT, [IPv6]:PORT and :PORT are read",
        arguments: [
            ("127.0.0.1:8088", "127.0.0.1", 8088), ("localhost:8088", "localhost", 8088), (":8088", "0.0.0.0", 8088),
            ("[::1]:8088", "::1", 8088), ("[::]:0", "::", 0), ("sidecar-1.internal:80", "sidecar-1.internal", 80),
            (" 0.0.0.0:8088 ", "0.0.0.0", 8088),
        ]
    )
    func accepted(text: String, host: String, port: Int) {
        #expect(ListenAddress(parsing: text) == ListenAddress(host: host, port: port))
    }

    @Test(
        "a scheme, a path, an IPv6 address without brackets or a port out of range is refused before any bind",
        arguments: [
            "http://127.0.0.1:8088", "127.0.0.1/x:8088", "::1:8088", "[::1]8088", "[]:8088", "[::g]:8088", "8088", "127.0.0.1:65536", "127.0.0.1:-1",
            "", "a b:80",
        ]
    )
    func refused(text: String) {
        #expect(ListenAddress(parsing: text) == nil)
    }

    @Test(
        "a refused address is told what is wrong with it",
        arguments: [
            ("http://127.0.0.1:8088", "has a scheme (`http://`): give the address alone"),
            ("127.0.0.1:65536", "has a port out of range (0 to 65535)"), ("127.0.0.1:99999999999999999999", "has a port out of range (0 to 65535)"),
            ("8088", "has no port"), ("[::1]", "has no port"), ("127.0.0.1:", "does not end with a port number"),
            ("127.0.0.1:-1", "does not end with a port number"), ("::1:8088", "has an IPv6 address without brackets: write [::1]:8088"),
            ("a b:80", "has a host that is not a name, an IPv4 address or an IPv6 address in brackets"),
            ("[::g]:8088", "has a host that is not a name, an IPv4 address or an IPv6 address in brackets"),
        ]
    )
    func refusalNamed(text: String, reason: String) {
        #expect(ListenAddress(parsing: text) == nil)
        #expect(ListenAddress.refusal(of: text) == reason)
    }
}
