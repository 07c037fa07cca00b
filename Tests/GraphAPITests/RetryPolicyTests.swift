import CAPICore
import TestSupport
import Testing

@testable import GraphAPI

@Suite("Error classes and retry decisions")
struct RetryPolicyTests {
    @Test(
        "codes map to Meta's error classes",
        arguments: [
            (1, GraphErrorClass.transient), (2, .transient), (341, .transient), (4, .throttled), (17, .throttled), (32, .throttled),
            (613, .throttled), (80_000, .throttled), (80_014, .throttled), (368, .blocked), (102, .auth), (190, .auth),
            (3, .permission), (10, .permission), (200, .permission), (299, .permission), (100, .invalid), (2635, .deprecated),
        ]
    )
    func classifyByCode(code: Int, expected: GraphErrorClass) {
        #expect(GraphErrorClass.classify(code: code, isTransient: nil, httpStatus: 400) == expected)
    }

    @Test("Meta's explanation for people is kept beside its message, unless it quotes an email address")
    func userMessages() throws {
        func error(_ envelope: String) throws -> GraphError {
            GraphClient.graphError(status: 400, body: try JSONValue(parsing: Array(envelope.utf8)), retryAfterHeader: nil, usage: UsageHeaders())
        }
        let explained = try error(
            #"{"error":{"message":"Invalid parameter","code":100,"error_subcode":2804019,"error_user_title":"Invalid Currency Code","error_user_msg":"data[2]: currency must be ISO 4217"}}"#
        )
        #expect(explained.userMessage == "Invalid Currency Code: data[2]: currency must be ISO 4217")
        #expect(explained.explanation == "Invalid parameter (Invalid Currency Code: data[2]: currency must be ISO 4217)")
        #expect(explained.description.contains("code 100/2804019: Invalid parameter (Invalid Currency Code"))
        let quoting = try error(#"{"error":{"message":"Invalid parameter","code":100,"error_user_msg":"em jane.doe@example.com is not hashed"}}"#)
        #expect(quoting.userMessage == nil && quoting.explanation == "Invalid parameter")
        let bare = try error(#"{"error":{"message":"Invalid parameter","code":100,"error_user_title":" "}}"#)
        #expect(bare.userMessage == nil)
        let long = try error(#"{"error":{"message":"m","code":100,"error_user_msg":"\#(String(repeating: "x", count: 900))"}}"#)
        #expect(long.userMessage?.count == GraphError.userMessageLimit)
    }

    @Test("without a known code: is_transient, then HTTP status")
    func classifyFallbacks() {
        #expect(GraphErrorClass.classify(code: 999, isTransient: true, httpStatus: 400) == .transient)
        #expect(GraphErrorClass.classify(code: nil, isTransient: nil, httpStatus: 503) == .transient)
        #expect(GraphErrorClass.classify(code: nil, isTransient: nil, httpStatus: 429) == .throttled)
        #expect(GraphErrorClass.classify(code: nil, isTransient: nil, httpStatus: 403) == .permission)
        #expect(GraphErrorClass.classify(code: 999, isTransient: false, httpStatus: 400) == .invalid)
    }

    @Test("full jitter stays within the exponential ceiling")
    func fullJitter() {
        let high = RetryPolicy(initialBackoff: .milliseconds(100), maxBackoff: .seconds(2), random: { 1 })
        #expect(high.backoff(attempt: 1) == .milliseconds(100))
        #expect(high.backoff(attempt: 3) == .milliseconds(400))
        #expect(high.backoff(attempt: 10) == .seconds(2))
        let low = RetryPolicy(initialBackoff: .milliseconds(100), maxBackoff: .seconds(2), random: { 0 })
        #expect(low.backoff(attempt: 5) == .zero)
    }

    @Test("Meta's named wait wins over a shorter backoff; blocked waits long; attempts run out")
    func decisions() {
        let policy = RetryPolicy(
            maxAttempts: 3,
            initialBackoff: .milliseconds(100),
            maxBackoff: .seconds(1),
            blockedBackoff: .seconds(60),
            random: { 1 }
        )
        let throttled = GraphError(errorClass: .throttled, code: 17, message: "limit", retryAfter: .seconds(120))
        #expect(policy.decide(throttled, attempt: 1) == .retry(after: .seconds(120)))
        #expect(policy.decide(GraphError(errorClass: .blocked, code: 368, message: "blocked"), attempt: 1) == .retry(after: .seconds(60)))
        #expect(policy.decide(GraphError(errorClass: .transient, code: 2, message: "x"), attempt: 2) == .retry(after: .milliseconds(200)))
        #expect(policy.decide(GraphError(errorClass: .transient, code: 2, message: "x"), attempt: 3) == .giveUp)
        #expect(policy.decide(GraphError(errorClass: .invalid, code: 100, message: "x"), attempt: 1) == .isolateInvalid)
        #expect(policy.decide(GraphError(errorClass: .permission, code: 10, message: "x"), attempt: 1) == .pause(.permission))
        #expect(policy.decide(GraphError(errorClass: .deprecated, code: 2635, message: "x"), attempt: 1) == .pause(.deprecated))
    }

    @Test("usage headers: strings or numbers, the highest counter, regain minutes")
    func usageHeaders() {
        let usage = UsageHeaders(
            appUsage: #"{"call_count":"80","total_time":12,"total_cputime":"9"}"#,
            businessUseCaseUsage:
                #"{"123":[{"type":"ads_insights","call_count":40,"total_cputime":"95","total_time":20,"estimated_time_to_regain_access":"3"}]}"#
        )
        #expect(usage.maxPercent == 95)
        #expect(usage.regainAccessMinutes == 3)
        #expect(usage.pacingDelay() == .seconds(180))
        #expect(UsageHeaders(appUsage: #"{"call_count":10}"#, businessUseCaseUsage: nil).pacingDelay() == .zero)
        #expect(UsageHeaders(maxPercent: 90).pacingDelay(slowDownAt: 75, maximumPause: .seconds(60)) > .zero)
    }

    @Test("appsecret_proof is the hex HMAC-SHA256 of the token keyed by the app secret")
    func appSecretProof() {
        // Known answer computed with Python: hmac.new(b"secret", b"token", hashlib.sha256).hexdigest()
        #expect(AppSecretProof.make(accessToken: "token", appSecret: "secret") == "e941110e3d2bfe82621f0e3e1434730d7305d106c5f68c87165d0b27a4611a4a")
    }
}
