import CAPICore
import Testing

@Suite("Why a URL with credentials cannot be read")
struct UnreadableURLTests {
    @Test(
        "a reserved character in the user name or password, a port that is no number, or neither",
        arguments: [
            ("postgres://u:p#ss@h:1/db", UnreadableURL.unencodedCredentials),
            ("http://user:p/ss@proxy:3128", .unencodedCredentials),
            ("https://u:a?b@hooks.example/x", .unencodedCredentials),
            ("http://user:pw@proxy.internal:abc", .invalidPort),
            ("postgres://h:5432x/db", .invalidPort),
            ("postgres://u:pw@[::1]/db", .other),
            ("postgres://h:5432/db#fragment", .other),
            ("postgres://h/db?password=a@b", .unencodedCredentials),
            ("no scheme at all", .other),
        ]
    )
    func classified(url: String, expected: UnreadableURL) {
        #expect(UnreadableURL(url) == expected)
    }
}
