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
                  ingest_token: [a, b]
                """,
            environment: environment
        )
        #expect(found.count == 3, "\(found)")
        let output = found.map(\.description).joined(separator: "\n")
        #expect(!output.contains("not-base64"))
        #expect(!output.contains("EAAB-secret"))
        #expect(output.contains("push.batching.max_events must be a whole number, found the value of `${env:META_ACCESS_TOKEN}`"))
    }
}
