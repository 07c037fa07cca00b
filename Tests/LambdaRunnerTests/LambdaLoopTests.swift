import CAPICore
import ConnectorRuntime
import Foundation
import LambdaRunner
import PushMode
import TestSupport
import Testing

/// Serialized: every loop flushes the process's one metrics backend, so a test running beside
/// another could see its own metric lines flushed (and printed) by the other's loop.
@Suite("Lambda runtime loop against a Runtime API stand-in", .serialized)
struct LambdaLoopTests {
    @Test("signed, forged, duplicate, batch and base64 events in both payload versions get the sidecar's answers", arguments: TestStore.enabled)
    func answers(store: TestStore) async throws {
        try await LambdaStack.run(store: store) { stacks in
            let lambda = stacks[0]
            let body = purchase(id: "order-1")
            let headers = signed(body)
            let first = try await lambda.runtime.invoke(GatewayEvent.v2(path: "/v1/events", body: body, headers: headers)).answer
            #expect(first.status == 202 && first.body["duplicate"] as? Bool == false)

            // The same delivery again (a retry) is a duplicate; a new delivery of the event too.
            let retry = try await lambda.runtime.invoke(GatewayEvent.v1(path: "/v1/events", body: body, headers: headers)).answer
            #expect(retry.status == 202 && retry.body["duplicate"] as? Bool == true)

            var forged = headers
            forged["webhook-signature"] = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
            let refused = try await lambda.runtime.invoke(GatewayEvent.v2(path: "/v1/events", body: body, headers: forged)).answer
            #expect(refused.status == 401 && refused.body["reason"] as? String == "bad_signature")

            // Same webhook id, different body: a replay, refused by the ledger in the store.
            let other = purchase(id: "order-9")
            let replay = try await lambda.runtime.invoke(
                GatewayEvent.v2(path: "/v1/events", body: other, headers: signed(other, id: headers["webhook-id"]!))
            ).answer
            #expect(replay.status == 401 && replay.body["reason"] as? String == "replayed_id")

            let batch = Array(#"{"data":["#.utf8) + purchase(id: "order-2") + Array(",".utf8) + purchase(id: "order-3") + Array("]}".utf8)
            let batched = try await lambda.runtime.invoke(
                GatewayEvent.v1(path: "/v1/events/batch", body: batch, headers: signed(batch), base64: true)
            ).answer
            #expect(batched.status == 202)

            let encoded = purchase(id: "order-4")
            let base64 = try await lambda.runtime.invoke(GatewayEvent.v2(path: "/v1/events", body: encoded, headers: signed(encoded), base64: true))
                .answer
            #expect(base64.status == 202 && base64.body["event_id"] as? String == "order-4")

            try await eventually("every accepted event forwarded") { try await lambda.registry.outboxDepth() == 0 }
            #expect(await lambda.received() == ["order-1": 1, "order-2": 1, "order-3": 1, "order-4": 1])
            // Metrics went out as EMF lines.
            #expect(lambda.emitted.all.contains { $0.contains("\"CloudWatchMetrics\"") && $0.contains("capi_events_received_total") })
        }
    }

    @Test("execution environments share the replay ledger through the store, not memory", arguments: TestStore.enabled)
    func sharedReplayLedger(store: TestStore) async throws {
        try await LambdaStack.run(store: store, instances: 2) { stacks in
            let body = purchase(id: "order-1")
            let headers = signed(body)
            let first = try await stacks[0].runtime.invoke(GatewayEvent.v2(path: "/v1/events", body: body, headers: headers)).answer
            #expect(first.status == 202)
            let other = purchase(id: "order-2")
            let replay = try await stacks[1].runtime.invoke(
                GatewayEvent.v2(path: "/v1/events", body: other, headers: signed(other, id: headers["webhook-id"]!))
            ).answer
            #expect(replay.status == 401 && replay.body["reason"] as? String == "replayed_id")
            let retry = try await stacks[1].runtime.invoke(GatewayEvent.v2(path: "/v1/events", body: body, headers: headers)).answer
            #expect(retry.status == 202 && retry.body["duplicate"] as? Bool == true)
        }
    }

    @Test("an invocation too short to forward leaves the event in the outbox; a later one with time forwards it once", arguments: TestStore.enabled)
    func deadline(store: TestStore) async throws {
        try await LambdaStack.run(store: store) { stacks in
            let lambda = stacks[0]
            let body = purchase(id: "order-1")
            let answer = try await lambda.runtime.invoke(
                GatewayEvent.v2(path: "/v1/events", body: body, headers: signed(body)),
                deadline: .milliseconds(800)
            ).answer
            #expect(answer.status == 202)
            // The loop asks for the next invocation without forwarding (800 ms < the 1.2 s margin).
            try await eventually("the loop polls again") { lambda.runtime.polls >= 2 }
            #expect(try await lambda.registry.outboxDepth() == 1)
            #expect(await lambda.received().isEmpty)

            let health = try await lambda.runtime.invoke(Array(#"{"path":"/healthz","httpMethod":"GET"}"#.utf8), deadline: .seconds(20)).answer
            #expect(health.status == 200)
            try await eventually("the second invocation forwards the outbox") { try await lambda.registry.outboxDepth() == 0 }
            #expect(await lambda.received() == ["order-1": 1])
        }
    }

    @Test("an event that is no proxy event is an invocation error; a broken base64 body is a 400 saying so", arguments: TestStore.enabled)
    func handlerErrors(store: TestStore) async throws {
        try await LambdaStack.run(store: store) { stacks in
            let lambda = stacks[0]
            let sqs = try await lambda.runtime.invoke(Array(#"{"Records":[{"eventSource":"aws:sqs"}]}"#.utf8))
            guard case .error(let type, _) = sqs else {
                Issue.record("expected an invocation error, got \(sqs)")
                return
            }
            #expect(type == "InvalidEvent")
            #expect((sqs.json["errorMessage"] as? String)?.contains("not an API Gateway proxy event") == true)

            let broken = try await lambda.runtime.invoke(
                Array(
                    #"{"version":"2.0","rawPath":"/v1/events","requestContext":{"http":{"method":"POST"}},"body":"%%","isBase64Encoded":true}"#.utf8
                )
            ).answer
            #expect(broken.status == 400 && (broken.body["message"] as? String)?.contains("not base64") == true)

            // The loop goes on after both.
            let body = purchase(id: "order-1")
            #expect(try await lambda.runtime.invoke(GatewayEvent.v2(path: "/v1/events", body: body, headers: signed(body))).answer.status == 202)
        }
    }

    @Test("the source's allowlist judges requestContext's source address", arguments: TestStore.enabled)
    func allowlist(store: TestStore) async throws {
        try await LambdaStack.run(store: store, manifest: try lambdaManifest(sourceExtra: ", allowed_ips: [10.0.0.0/8]")) { stacks in
            let lambda = stacks[0]
            let body = purchase(id: "order-1")
            let outside = try await lambda.runtime.invoke(
                GatewayEvent.v1(path: "/v1/events", body: body, headers: signed(body), sourceIP: "127.0.0.1")
            ).answer
            #expect(outside.status == 403 && outside.body["reason"] as? String == "ip_not_allowed")
            let inside = try await lambda.runtime.invoke(
                GatewayEvent.v1(path: "/v1/events", body: body, headers: signed(body), sourceIP: "10.20.30.40")
            ).answer
            #expect(inside.status == 202)
        }
    }
}
