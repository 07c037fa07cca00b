import CAPICore
import ConnectorRuntime
import Foundation
import PushMode
import TestSupport
import Testing

/// IP allowlists per webhook source and for the Graph-compatible route (the NAT-allowlist pattern
/// on the way in): refused with 403 before any signature or token work.
@Suite("IP allowlists")
struct AllowlistTests {
    func manifest(allowed: String, ingestAllowed: String = "[]", proxies: String = "[]") throws -> Manifest {
        try pushManifest(
            pushExtra: """
                  ingest_allowed_ips: \(ingestAllowed)
                  trusted_proxies: \(proxies)
                """
        )
        .withSources(allowed: allowed)
    }

    func event(_ id: String) -> [UInt8] {
        Array(
            #"{"pixel_id":"\#(testPixel)","event_name":"Lead","event_time":\#(Int(Date().timeIntervalSince1970) - 10),"event_id":"\#(id)","action_source":"email","user_data":{"em":"a@example.com"}}"#
                .utf8
        )
    }

    @Test("a source allowing 10.0.0.0/8 refuses a loopback caller with 403 before checking the signature; loopback allowed is accepted")
    func sourceAllowlist() async throws {
        try await PushStack.run(manifest: try manifest(allowed: "[10.0.0.0/8, \"fd00::/8\"]")) { stack in
            let body = event("ip-1")
            let refused = try await post("\(stack.baseURL)/v1/events", body: body, headers: [("webhook-id", "forged")])
            #expect(refused.status == 403 && refused.body == .object(["error": .string("forbidden"), "reason": .string("ip_not_allowed")]))
            let signed = try await post("\(stack.baseURL)/v1/events", body: body, headers: signedHeaders(body))
            #expect(signed.status == 403, "a valid signature does not get past the allowlist")
        }
        try await PushStack.run(manifest: try manifest(allowed: "[127.0.0.0/8, \"::1/128\"]")) { stack in
            let body = event("ip-2")
            let headers = signedHeaders(body)
            let accepted = try await post("\(stack.baseURL)/v1/events", body: body, headers: headers)
            #expect(accepted.status == 202)
        }
    }

    @Test("behind a trusted proxy the forwarded client address is what the allowlist checks")
    func forwardedAddress() async throws {
        try await PushStack.run(manifest: try manifest(allowed: "[10.0.0.0/8]", proxies: "[127.0.0.1]")) { stack in
            let body = event("ip-3")
            let inside = try await post("\(stack.baseURL)/v1/events", body: body, headers: signedHeaders(body) + [("X-Forwarded-For", "10.1.2.3")])
            #expect(inside.status == 202, "\(inside.body)")
            let other = event("ip-4")
            let outside = try await post(
                "\(stack.baseURL)/v1/events",
                body: other,
                headers: signedHeaders(other) + [("X-Forwarded-For", "198.51.100.7")]
            )
            #expect(outside.status == 403)
        }
    }

    @Test("the Graph-compatible route has its own allowlist, checked before the token")
    func ingestAllowlist() async throws {
        try await PushStack.run(manifest: try manifest(allowed: "[]", ingestAllowed: "[10.0.0.0/8]")) { stack in
            let body = Array(#"{"data":[]}"#.utf8)
            let answer = try await post("\(stack.baseURL)/v26.0/\(testPixel)/events", body: body, headers: [("Authorization", "Bearer ingest-token")])
            #expect(answer.status == 403 && answer.body["reason"] == .string("ip_not_allowed"))
        }
    }

    @Test("the ingest token is taken as Bearer or OAuth, in any case; a wrong one is refused before the body")
    func authorizationSchemes() async throws {
        try await PushStack.run { stack in
            for (index, header) in ["bearer ingest-token", "OAuth ingest-token", "BEARER  ingest-token"].enumerated() {
                var event = try JSONValue(parsing: mirroredEvent(id: "auth-\(index)")).objectValue!
                event.removeValue(forKey: "pixel_id")
                let body = Array(JSONValue.object(["data": .array([.object(event)])]).serialized.utf8)
                let answer = try await post("\(stack.baseURL)/v26.0/\(testPixel)/events", body: body, headers: [("Authorization", header)])
                #expect(answer.status == 200 && answer.body["events_received"] == .integer(1), "\(header): \(answer.body)")
            }
            let refused = try await post(
                "\(stack.baseURL)/v26.0/\(testPixel)/events",
                body: Array(#"{"data":[],"access_token":"ingest-token"}"#.utf8),
                headers: [("Authorization", "bearer wrong-token")]
            )
            #expect(refused.status == 401)
        }
    }

    @Test("while rotating, every listed ingest token is taken and any other refused; unset entries are left out, and none turns the route off")
    func rotatingTokens() async throws {
        try await PushStack.run(manifest: try pushManifest(ingestToken: "[old-token, \"${env:NEXT_TOKEN:-}\", new-token]")) { stack in
            for (index, token) in ["old-token", "new-token"].enumerated() {
                var event = try JSONValue(parsing: mirroredEvent(id: "rotate-\(index)")).objectValue!
                event.removeValue(forKey: "pixel_id")
                let body = Array(JSONValue.object(["data": .array([.object(event)]), "access_token": .string(token)]).serialized.utf8)
                let answer = try await post("\(stack.baseURL)/v26.0/\(testPixel)/events", body: body)
                #expect(answer.status == 200 && answer.body["events_received"] == .integer(1), "\(token): \(answer.body)")
            }
            for token in ["ingest-token", "", "old-token-but-longer"] {
                let answer = try await post(
                    "\(stack.baseURL)/v26.0/\(testPixel)/events",
                    body: Array(#"{"data":[]}"#.utf8),
                    headers: [("Authorization", "Bearer \(token)")]
                )
                #expect(answer.status == 401, "`\(token)`")
            }
        }
        #expect(try pushManifest(ingestToken: "[old-token, \"${env:NEXT_TOKEN:-}\"]").push?.ingestTokens.map(\.revealed) == ["old-token"])
        #expect(try pushManifest(ingestToken: "[\"${env:A:-}\", \"\", ~]").push?.ingestTokens.isEmpty == true)
        #expect(try pushManifest(ingestToken: "\"\"").push?.ingestTokens.isEmpty == true)
        #expect(throws: ManifestError.self) { try pushManifest(ingestToken: "{a: b}") }
    }

    @Test("allowlist entries must be addresses or CIDR ranges; the problem names the field")
    func manifestProblems() {
        #expect(throws: ManifestError.self) { try manifest(allowed: "[not-an-ip]") }
        do {
            _ = try manifest(allowed: "[\"10.0.0.0/33\"]")
            Issue.record("a /33 was accepted")
        } catch {
            #expect("\(error)".contains("push.sources[0].allowed_ips"))
        }
    }
}

extension Manifest {
    /// The test manifest with `allowed_ips` on its first source, read from YAML like any manifest.
    func withSources(allowed: String) throws -> Manifest {
        guard allowed != "[]" else { return self }
        var copy = self
        let reparsed = try ManifestLoader(environment: [:]).load(
            yaml: """
                \(TestManifest.header)
                pixels:
                  - {id: "\(testPixel)", access_token: pixel-token}
                push:
                  sources:
                    - {name: default, scheme: standard_webhooks, secrets: ["\(webhookSecret)"], allowed_ips: \(allowed)}
                  mirror_salt: test-mirror-salt-0123456789
                """,
            path: "allow.yaml"
        )
        copy.push!.sources = reparsed.push!.sources
        return copy
    }
}
