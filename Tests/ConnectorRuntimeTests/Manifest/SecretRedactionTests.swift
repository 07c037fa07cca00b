import ConnectorRuntime
import Foundation
import TestSupport
import Testing

@Suite("Secrets never printed")
struct SecretRedactionTests {
    static let secretValues = ["EAAB-secret-access-token-4242", "ingest-secret-token-7373", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "app-secret-xyz-991"]

    @Test("a loaded manifest's descriptions contain no secret")
    func manifestDescriptionsAreRedacted() throws {
        var environment = shippedEnvironment
        environment["META_APP_SECRET"] = "app-secret-xyz-991"
        let manifest = try ManifestLoader(environment: environment).load(path: RepositoryPaths.shippedManifest)
        let rendered = [String(describing: manifest), String(reflecting: manifest), "\(manifest.pixels)", "\(manifest.push!)"]
        for text in rendered {
            for secret in Self.secretValues {
                #expect(!text.contains(secret), "a secret leaked into a description")
            }
        }
        #expect(manifest.graphAPI.appSecret?.revealed == "app-secret-xyz-991")
    }

    @Test("problems about secret fields never repeat the secret")
    func problemsAreRedacted() {
        let malformed = "whsec_not-base64-EAAB-secret!!"
        let environment = [
            "WEBHOOK": malformed,
            // A secret wired into a non-secret field by mistake must not be echoed either.
            "META_ACCESS_TOKEN": "EAAB-secret-access-token-4242",
        ]
        let found = problems(
            minimalManifest + """
                push:
                  sources:
                    - name: a
                      scheme: standard_webhooks
                      secrets: ["${env:WEBHOOK}"]
                  batching:
                    max_events: ${env:META_ACCESS_TOKEN}
                  mirror_salt: ${env:META_ACCESS_TOKEN:-x}
                  ingest_token: {a: b}
                """,
            environment: environment
        )
        #expect(found.count == 3, "\(found)")
        let output = found.map(\.description).joined(separator: "\n")
        #expect(!output.contains("not-base64"))
        #expect(!output.contains("EAAB-secret"))
        #expect(output.contains("push.batching.max_events must be a whole number, found the value of `${env:META_ACCESS_TOKEN}`"))
    }

    @Test("a proxy or alarm receiver URL whose password is not percent-encoded says what to encode, and shows none of it")
    func unreadableCredentialURLs() {
        func withProxy(_ url: String) -> [String] {
            problems(minimalManifest.replacingOccurrences(of: "  version: v26.0\n", with: "  version: v26.0\n  proxy: \"\(url)\"\n")).map(
                \.description
            )
        }
        let proxy = withProxy("http://egress:pa#ss-Hidden@proxy.internal:3128")
        #expect(proxy.contains { $0.contains("graph_api.proxy cannot be read as a URL: percent-encode in the user name and password") }, "\(proxy)")
        let port = withProxy("http://egress:Hidden@proxy.internal:port")
        #expect(port.contains { $0.contains("graph_api.proxy has a port that is not a number") }, "\(port)")
        let receiver = problems(
            minimalManifest
                + "schema_registry:\n  alarms:\n    notify:\n      url: \"https://hook:a/b-Hidden@hooks.example/x\"\n"
                + "      secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"
        ).map(\.description)
        #expect(receiver.contains { $0.contains("schema_registry.alarms.notify.url cannot be read as a URL") }, "\(receiver)")
        #expect(!(proxy + port + receiver).joined().contains("Hidden"))
    }

    @Test("with a stand-in for unread secrets, values holding one are not checked; their environment references and the rest are")
    func secretStandIn() throws {
        var loader = ManifestLoader(environment: [:])
        loader.secretStandIn = "not-a-whsec-secret"
        let yaml =
            minimalManifest.replacingOccurrences(of: "${env:TOKEN:-t}", with: "${aws-secret:meta#access_token}")
                + """
                push:
                  sources:
                    - {name: a, scheme: standard_webhooks, secrets: ["${aws-secret:webhook}"]}
                    - {name: b, scheme: standard_webhooks, secrets: ["${aws-secret:other}${env:UNSET_SUFFIX}"]}
                  batching: {max_events: 5000}
                """
        let found: [ManifestProblem]
        do {
            _ = try loader.load(yaml: yaml, path: "m.yaml")
            found = []
        } catch {
            found = error.problems
        }
        let messages = found.map(\.message)
        // The stand-in is no webhook secret: said of the stand-in, not of the secret, so left out.
        #expect(!messages.contains { $0.contains("is not a valid standard_webhooks secret") }, "\(messages)")
        #expect(messages.contains { $0.contains("environment variable UNSET_SUFFIX is not set") }, "\(messages)")
        #expect(messages.contains { $0.contains("push.batching.max_events") }, "\(messages)")
        #expect(!messages.contains { $0.contains("was not read") })
        // Without the stand-in the same manifest names each unread secret.
        #expect(problems(yaml).contains { $0.message.contains("the secret ${aws-secret:webhook} was not read") })
    }

    /// Found by fuzzing: a missing line break merged the webhook secret into the scheme's value,
    /// and the scheme's problem printed it.
    @Test(
        "a secret written inline in the wrong field, or merged into another value, is not printed",
        arguments: [
            "scheme: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "scheme: standard_webhooks  - whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "scheme: \"standard_webhooks\\n- MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"",
            "scheme: 0123456789abcdef0123456789abcdef",
        ]
    )
    func inlineSecretsInProblems(line: String) {
        let found = problems(
            minimalManifest + """
                push:
                  sources:
                    - name: a
                      \(line)
                      secrets: ["${env:WEBHOOK}"]
                """,
            environment: ["WEBHOOK": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
        )
        let output = found.map(\.description).joined(separator: "\n")
        #expect(output.contains("push.sources[0].scheme must be one of"), "\(output)")
        #expect(output.contains("not shown as it may hold a secret"))
        #expect(!output.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") && !output.contains("0123456789abcdef0123"))
    }

    @Test("ordinary wrong values are still shown as written, and a URL's password is not")
    func ordinaryValuesShown() {
        let found = problems(
            minimalManifest.replacingOccurrences(of: "base_url: https://graph.facebook.com", with: "base_url: ftp://meta:hunter2@graph.facebook.com")
                .replacingOccurrences(of: "version: v26.0", with: "version: v26.0.1-beta")
                .replacingOccurrences(of: "- id: \"123\"", with: "- id: \"1234567890123456x\"")
                    + """
                    push:
                      sources:
                        - name: a
                          scheme: standard_webhook
                          secrets: ["${env:WEBHOOK}"]
                    """,
            environment: ["WEBHOOK": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
        )
        let output = found.map(\.description).joined(separator: "\n")
        #expect(output.contains("found `standard_webhook`"), "\(output)")
        #expect(output.contains("found `v26.0.1-beta`"))
        #expect(output.contains("found `1234567890123456x`"))
        #expect(output.contains("graph_api.base_url must be an http(s) URL, found a value of"))
        #expect(!output.contains("hunter2"))
    }
}
