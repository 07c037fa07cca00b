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
}
