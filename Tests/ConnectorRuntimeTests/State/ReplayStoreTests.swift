import CAPICore
import ConnectorRuntime
import TestSupport
import Testing

@Suite("Webhook replay ledger in the store")
struct ReplayStoreTests {
    @Test("a delivery is kept until it expires: a retry gets its own digest back, a replay the first one", arguments: TestStore.enabled)
    func recordAndExpire(store: TestStore) async throws {
        try await store.withRegistry { registry in
            func record(_ key: String, _ digest: String, expires: Int64, now: Int64) async throws -> String {
                try await registry.recordDelivery(key: key, bodyDigest: digest, expiresAt: UnixSeconds(expires), now: UnixSeconds(now))
            }
            #expect(try await record("k1", "aaaa", expires: 1_301, now: 1_000) == "aaaa")
            #expect(try await record("k1", "aaaa", expires: 1_302, now: 1_001) == "aaaa")
            #expect(try await record("k1", "bbbb", expires: 1_350, now: 1_050) == "aaaa")
            // Once expired, the key is free for a new body.
            #expect(try await record("k1", "bbbb", expires: 1_700, now: 1_301) == "bbbb")
            #expect(try await record("k2", "cccc", expires: 1_400, now: 1_301) == "cccc")
            let purged = try await registry.purgeExpiredDeliveries(now: UnixSeconds(1_500))
            #expect(purged == 1)
            #expect(try await record("k1", "dddd", expires: 1_800, now: 1_500) == "bbbb")
        }
    }

    @Test("concurrent first deliveries of one id from two connections: exactly one body wins", arguments: TestStore.enabled)
    func concurrentAdmission(store: TestStore) async throws {
        try await store.withTwoRegistries { first, second in
            for round in 0..<20 {
                async let a = first.recordDelivery(key: "race-\(round)", bodyDigest: "aaaa", expiresAt: UnixSeconds(2_000), now: UnixSeconds(1_000))
                async let b = second.recordDelivery(key: "race-\(round)", bodyDigest: "bbbb", expiresAt: UnixSeconds(2_000), now: UnixSeconds(1_000))
                let answers = try await [a, b]
                #expect(answers[0] == answers[1])
            }
        }
    }
}
