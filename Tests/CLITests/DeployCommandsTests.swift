import Foundation
import TestSupport
import Testing

/// What a deployment leans on: the container health check and secrets read through the AWS
/// Parameters and Secrets Extension.
@Suite("health and ${aws-secret:…}", .serialized)
struct DeployCommandsTests {
    @Test("health exits 0 on a 2xx, 1 on another status or no answer, 64 on a malformed URL")
    func health() async throws {
        try await CLIRunner.withSandbox { port in
            let healthy = try await CLIRunner.run(["health", "--url", "http://127.0.0.1:\(port)/_sandbox/events?pixel_id=1"])
            #expect(healthy.status == 0 && healthy.stderr.contains("answered 200"))
            // The stand-in answers a path it does not serve as Graph does: 400.
            let missing = try await CLIRunner.run(["health", "--url", "http://127.0.0.1:\(port)/nowhere"])
            #expect(missing.status == 1 && missing.stderr.contains("answered 400"), "\(missing.stderr)")
            // Nothing listening and a listener that never answers are told apart.
            let closed = try await CLIRunner.run(["health", "--url", "http://127.0.0.1:9/readyz", "--timeout", "2"])
            #expect(
                closed.status == 1 && closed.stderr.contains("could not be reached") && closed.stderr.contains("Connection refused"),
                "\(closed.stderr)"
            )
            let stuck = try await withHeldLoopbackPort(.silent) { port in
                try await CLIRunner.run(["health", "--url", "http://127.0.0.1:\(port)/readyz", "--timeout", "1"])
            }
            #expect(stuck.status == 1 && stuck.stderr.contains("did not answer within 1.0 s"), "\(stuck.stderr)")
            let malformed = try await CLIRunner.run(["health", "--url", "ftp://x"])
            #expect(malformed.status == 64 && malformed.stderr.contains("--url must be"))
            // Without --url, the sidecar's /readyz where CAPI_LISTEN (the shipped manifest's
            // listen address) puts it, on the loopback of an address of every interface.
            for (listen, expected) in [
                ("0.0.0.0:\(port)", "http://127.0.0.1:\(port)/readyz"), (":\(port)", "http://127.0.0.1:\(port)/readyz"),
                ("127.0.0.1:\(port)", "http://127.0.0.1:\(port)/readyz"),
            ] {
                // The stand-in has no /readyz: its Graph-style 400 shows the request reached it.
                let derived = try await CLIRunner.run(["health", "--timeout", "2"], environment: ["CAPI_LISTEN": listen])
                #expect(derived.status == 1 && derived.stderr.contains("unhealthy: \(expected) answered 400"), "\(listen): \(derived.stderr)")
            }
            let ipv6 = try await CLIRunner.run(["health", "--timeout", "2"], environment: ["CAPI_LISTEN": "[::]:9"])
            #expect(ipv6.stderr.contains("unhealthy: http://[::1]:9/readyz "), "\(ipv6.stderr)")
            let unset = try await CLIRunner.run(["health", "--timeout", "2"])
            #expect(unset.stderr.contains("http://127.0.0.1:8088/readyz"), "\(unset.stderr)")
        }
    }

    static let manifest =
        TestManifest.header + """

            pixels:
              - {id: "555000111", access_token: "${aws-secret:capi/meta#access_token}"}
            push:
              sources:
                - {name: default, scheme: standard_webhooks, secrets: ["${aws-secret:capi/webhook}"]}
              mirror_salt: "${aws-secret:capi/meta#mirror_salt}"
            state:
              url: "postgres://app:${aws-secret:capi/meta#db_password}@proxy.internal:5432/capi"
            """

    @Test(
        "${aws-secret:ID} and ${aws-secret:ID#key} are read through the extension with the session token; failures name the reference, never a value"
    )
    func secrets() async throws {
        let folder = TemporaryPaths.url("secrets")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("m.yaml").path
        try Self.manifest.write(toFile: path, atomically: true, encoding: .utf8)
        let values = [
            "capi/webhook": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "capi/meta": #"{"access_token":"EAAB-secret-token","mirror_salt":"salt-0123456789abcdef","db_password":"pg-pa55"}"#,
        ]
        let standIn = SecretsExtensionStandIn(secrets: values, token: "session-token")
        try await standIn.withRunning { port in
            let environment = ["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": String(port), "AWS_SESSION_TOKEN": "session-token"]
            let valid = try await CLIRunner.run(["validate", "--manifest", path], environment: environment)
            #expect(valid.status == 0, "\(valid.stdout)\(valid.stderr)")
            #expect(standIn.read == ["capi/meta", "capi/webhook"], "each secret read once")

            var wrongToken = environment
            wrongToken["AWS_SESSION_TOKEN"] = "stale"
            let refused = try await CLIRunner.run(["validate", "--manifest", path], environment: wrongToken)
            #expect(
                refused.status == 2
                    && refused.stdout.contains("${aws-secret:capi/meta#access_token}: the Parameters and Secrets Extension answered 403")
            )

            // Outside Lambda a command that needs the values stops, naming why; validate checks the
            // rest, and discover, whose catalog holds no secret, prints it.
            let noToken = try await CLIRunner.run(
                ["flush", "--once", "--manifest", path],
                environment: ["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": String(port), "AWS_SESSION_TOKEN": ""]
            )
            #expect(noToken.status == 2 && noToken.stderr.contains("AWS_SESSION_TOKEN is not set"), "\(noToken.stdout)\(noToken.stderr)")
            let catalog = try await CLIRunner.run(
                ["discover", "--manifest", path],
                environment: ["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": String(port), "AWS_SESSION_TOKEN": ""]
            )
            #expect(catalog.status == 0 && catalog.stdout.contains(#""pixel_id" : "555000111""#), "\(catalog.stdout)\(catalog.stderr)")
            #expect(catalog.stderr.contains("the catalog uses none of them") && !catalog.stdout.contains("whsec_"), "\(catalog.stderr)")
            let outside = try await CLIRunner.run(
                ["validate", "--manifest", path],
                environment: ["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": String(port), "AWS_SESSION_TOKEN": ""]
            )
            #expect(outside.status == 0 && outside.stderr.contains("references are not read here"), "\(outside.stdout)\(outside.stderr)")

            try Self.manifest.replacingOccurrences(of: "#db_password", with: "#missing").write(toFile: path, atomically: true, encoding: .utf8)
            let missingKey = try await CLIRunner.run(["validate", "--manifest", path], environment: environment)
            #expect(missingKey.status == 2 && missingKey.stdout.contains("has no text or number under `missing`"))

            // A reference in a comment is no value and is not read, also after a value on its line:
            // a retired secret noted there during a rotation no longer fails the start.
            try Self.manifest.replacingOccurrences(of: #"5432/capi""#, with: #"5432/capi"  # was ${aws-secret:capi/retired}"#)
                .write(toFile: path, atomically: true, encoding: .utf8)
            let commented = try await CLIRunner.run(["validate", "--manifest", path], environment: environment)
            #expect(commented.status == 0, "\(commented.stdout)\(commented.stderr)")

            for result in [valid, refused, noToken, catalog, outside, missingKey, commented] {
                for secret in ["EAAB-secret-token", "pg-pa55", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "salt-0123456789abcdef"] {
                    #expect(!result.stdout.contains(secret) && !result.stderr.contains(secret), "a secret value was printed")
                }
            }
        }
        let unreachable = try await CLIRunner.run(
            ["validate", "--manifest", path],
            environment: ["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": "9", "AWS_SESSION_TOKEN": "t"]
        )
        #expect(unreachable.status == 2 && unreachable.stdout.contains("did not answer (is the extension layer attached?)"))
    }
}
