import CAPICore
import ConnectorRuntime
import Foundation
import GraphAPI
import LambdaRunner
import NIOCore
import PullMode
import PushMode
import TestSupport
import Testing
import Yams

/// Every parser that takes outside input, fed seeded mutations of valid input. The property is
/// "never traps" (a trap ends the test process and fails the run) plus each parser's own promise:
/// refusal is a value, and refused or accepted, nothing personal is echoed.
@Suite("Fuzzing the parsers of outside input")
struct ParserFuzzTests {
    static let event = #"""
        {"pixel_id":"1234567890","event_name":"Purchase","event_time":1795000000,"event_id":"o-1","action_source":"website",
         "event_source_url":"https://shop.example/c?email=a%40b.co#x","user_data":{"email":" A@B.co ","phone":"(650) 555-1212",
         "fn":"Jane","db":"2/16/1997","zp":"94025-1234","country":"US","client_user_agent":"M","client_ip_address":"203.0.113.9",
         "fbp":"fb.1.1596403881668.1116446470"},"custom_data":{"value":12.5,"currency":"USD","contents":[{"id":"s","quantity":2}]},
         "app_data":{"advertiser_tracking_enabled":1,"extinfo":["a2","","","","","","","","","","","","","","",""]}}
        """#

    @Test("event JSON: parse, validate, normalize and hash never trap; payload text is canonical; problems never echo the email")
    func eventJSON() async {
        let policy = EventPolicy(now: UnixSeconds(1_795_000_100), normalizer: Normalizer(today: .init(year: 2026, month: 11, day: 19)))
        await Mutator.run(seed: 1, seeds: [Self.event, #"{"data":[\#(Self.event)]}"#]) { bytes in
            guard let value = try? JSONValue(parsing: bytes) else { return }
            let candidates = value["data"]?.arrayValue ?? [value]
            for candidate in candidates {
                switch EventPreparer.prepare(candidate, policy: policy) {
                case .success(let prepared):
                    // user_data is written as text once, the rest as a tree: together, exactly
                    // the text the whole tree serializes to.
                    #expect(prepared.payloadText == prepared.payload.serialized)
                    #expect(Self.holdsOnlyHashedPersonalData(prepared.payload), "\(prepared.payloadText)")
                    #expect(!prepared.warnings.contains(where: PersonalData.containsEmail))
                case .failure(let rejection):
                    let echoed = rejection.problems.filter { PersonalData.containsEmail($0.field) || PersonalData.containsEmail($0.message) }
                    #expect(echoed.isEmpty, "\(echoed.map { "\($0.field): \($0.message)" })")
                }
            }
        }
    }

    /// What an accepted payload promises, whatever was sent: in `user_data`, every hashed key holds
    /// only SHA-256 hex and no other key but the user agent an email address; elsewhere, no name
    /// or text holds an email address, and the free-form fields hold nothing shaped like a phone
    /// number either.
    static func holdsOnlyHashedPersonalData(_ payload: JSONValue) -> Bool {
        guard case .object(let fields) = payload else { return false }
        for (name, value) in fields {
            if name == "user_data" {
                guard case .object(let userData) = value else { return false }
                for (key, given) in userData {
                    let values = given.arrayValue ?? [given]
                    switch UserDataKey(rawValue: key) {
                    case let key? where !key.isHashed:
                        // Sent as given: never an email address, but for a crawler's user agent.
                        if key != .clientUserAgent, values.contains(where: { $0.stringValue.map(PersonalData.containsEmail) ?? false }) {
                            return false
                        }
                    default:
                        guard values.allSatisfy({ $0.stringValue.map(Self.isSHA256Hex) ?? false }) else { return false }
                    }
                }
            } else if !Self.holdsNoPersonalData(value, freeForm: !["event_name", "event_id", "event_source_url", "referrer_url"].contains(name)) {
                return false
            }
        }
        return true
    }

    private static func holdsNoPersonalData(_ value: JSONValue, freeForm: Bool) -> Bool {
        let looksPersonal: (String) -> Bool = freeForm ? { PersonalData.looksPersonal($0) } : { PersonalData.containsEmail($0) }
        switch value {
        case .string(let text): return !looksPersonal(text)
        case .array(let elements): return elements.allSatisfy { holdsNoPersonalData($0, freeForm: freeForm) }
        case .object(let object):
            return object.allSatisfy { name, element in
                !looksPersonal(name) && !(freeForm && PersonalData.isPersonalName(name)) && holdsNoPersonalData(element, freeForm: freeForm)
            }
        default: return true
        }
    }

    private static func isSHA256Hex(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    @Test("Graph-compatible bodies (JSON, URL-encoded and multipart forms) never trap")
    func graphBodies() async {
        let form = "access_token=t&data=" + (Self.event.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
        let multipart = "--XyZ\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\n[\(Self.event)]\r\n--XyZ--\r\n"
        await Mutator.run(seed: 2, seeds: [form, "=", "data=%5B%5D&test_event_code=T1", #"{"data":[],"access_token":"t"}"#, multipart]) { bytes in
            for type in ["application/x-www-form-urlencoded", "application/json", "", "multipart/form-data; boundary=XyZ"] {
                _ = (try? GraphEventsRequest(body: Data(bytes), contentType: type))?.events
            }
        }
    }

    @Test("normalize lines never trap, always answer with one JSON object, and an error line never echoes the value")
    func normalizeLines() async {
        let normalizer = Normalizer(today: .init(year: 2026, month: 11, day: 19))
        let seeds = UserDataKey.allCases.map {
            #"{"field":"\#($0.rawValue)","value":"  Jane.Doe+1@Example.COM 2/16/1997 +44 (0)20 7946 0958 ","country":"gb"}"#
        }
        await Mutator.run(seed: 3, seeds: seeds) { bytes in
            let answer = NormalizationLine.respond(to: bytes, normalizer: normalizer)
            let object = (try? JSONValue(parsing: answer))?.objectValue
            #expect(object != nil)
            // An error line says why, never what: only a normalized value is printed back.
            if object?["error"] != nil { #expect(!PersonalData.containsEmail(answer), "\(answer)") }
        }
    }

    @Test("signature headers never trap, and a mutated signature never verifies")
    func signatureHeaders() async {
        let key = SigningKey(bytes: Array("0123456789abcdef".utf8))
        let body: [UInt8] = Array(#"{"a":1}"#.utf8)
        for scheme in [WebhookScheme.standardWebhooks, .stripe, .xHubSignature256] {
            let verifier = WebhookVerifier(scheme: scheme, keys: [key])
            let header =
                scheme == .standardWebhooks
                ? "msg_1|1795000000|v1,c2lnbmF0dXJlLW9mLXRoaXJ0eS10d28tYnl0ZXMtLS0="
                : scheme == .stripe
                    ? "t=1795000000,v1=" + String(repeating: "ab", count: 32) + ",v0=00" : "sha256=" + String(repeating: "0f", count: 32)
            await Mutator.run(seed: 4, seeds: [header]) { bytes in
                let text = String(decoding: bytes, as: UTF8.self)
                let parts = text.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
                let headers: [String: String] =
                    scheme == .standardWebhooks
                    ? [
                        "webhook-id": parts.first ?? "", "webhook-timestamp": parts.count > 1 ? parts[1] : "",
                        "webhook-signature": parts.count > 2 ? parts[2] : "",
                    ]
                    : [scheme == .stripe ? "stripe-signature" : "x-hub-signature-256": text]
                let result = verifier.verify(header: { headers[$0] }, body: body, now: UnixSeconds(1_795_000_000))
                #expect((try? result.get()) == nil)
            }
        }
    }

    @Test("manifests never trap the loader, and problems never print an inline secret")
    func manifests() async throws {
        let shipped = try Self.shippedManifestWithInlineSecret()
        let loader = ManifestLoader(environment: [:])
        var cases = 0
        await Mutator.run(seed: 5, seeds: [shipped]) { bytes in
            guard cases < 300 || Mutator.cases > 2_000 else { return }  // YAML is slow to compose: fewer cases here
            cases += 1
            do throws(ManifestError) {
                _ = try loader.load(yaml: String(decoding: bytes, as: UTF8.self), path: "fuzz.yaml")
            } catch {
                #expect(!error.problems.map(\.message).joined().contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
            }
        }
    }

    /// Repeating whole lines of the shipped manifest makes repeated keys in every kind of mapping
    /// (top level, nested, list items, keys with comments after them) and often other problems
    /// beside them; the loader renames the repeats to go on checking.
    @Test("a manifest with lines repeated never traps the loader; each repeat Yams refuses is reported, and no secret is printed")
    func manifestsWithRepeatedLines() async throws {
        let lines = try Self.shippedManifestWithInlineSecret().split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let loader = ManifestLoader(environment: [:])
        var mutator = Mutator.shifted(11)
        for index in 0..<min(Mutator.cases, 300) {
            if index % 20 == 0 { await Task.yield() }
            var mutated = lines
            for _ in 0..<(1 + mutator.below(3)) {
                let line = mutator.below(mutated.count)
                mutated.insert(mutated[line], at: min(mutated.count, line + 1 + mutator.below(3)))
            }
            let text = mutated.joined(separator: "\n")
            do throws(ManifestError) {
                _ = try loader.load(yaml: text, path: "fuzz.yaml")
            } catch {
                let messages = error.problems.map(\.message)
                #expect(!messages.joined().contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
                #expect(!messages.contains { $0.contains("capi_repeated_key") }, "\(messages)")
                if case .duplicatedKeysInMapping? = Self.yamlError(text) {
                    #expect(messages.contains { $0.hasPrefix("duplicate key") }, "\(messages)")
                }
            }
        }
    }

    /// The shipped manifest with its webhook secret written inline, so a problem that printed it
    /// would be caught.
    static func shippedManifestWithInlineSecret() throws -> String {
        try String(contentsOfFile: RepositoryPaths.shippedManifest, encoding: .utf8)
            .replacingOccurrences(of: "${env:CAPI_WEBHOOK_SECRET}", with: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    }

    static func yamlError(_ text: String) -> YamlError? {
        do {
            _ = try Yams.compose(yaml: text)
            return nil
        } catch {
            return error as? YamlError
        }
    }

    @Test("API Gateway proxy events (payload 1.0 and 2.0) never trap, and a refusal never echoes what was sent")
    func proxyEvents() async {
        let body = #"{"data":[{"event_id":"a@b.co"}]}"#
        let v2 = #"""
            {"version":"2.0","rawPath":"/prod/v1/events","rawQueryString":"email=a%40b.co","headers":{"content-type":"application/json","x-user":"a@b.co"},
             "cookies":["u=a@b.co"],"requestContext":{"http":{"method":"POST","sourceIp":"203.0.113.9"},"stage":"prod"},
             "body":"\#(Data(body.utf8).base64EncodedString())","isBase64Encoded":true}
            """#
        let v1 = #"""
            {"path":"/v1/events","httpMethod":"POST","headers":{"X-User":"a@b.co"},"multiValueHeaders":{"X-User":["a@b.co","b"]},
             "queryStringParameters":{"a@b.co":"1"},"multiValueQueryStringParameters":{"email":["a@b.co"]},
             "requestContext":{"identity":{"sourceIp":"10.1.2.3"}},"body":"\#(body.replacingOccurrences(of: "\"", with: "\\\""))"}
            """#
        await Mutator.run(seed: 7, seeds: [v2, v1]) { bytes in
            do throws(ProxyEvent.Failure) {
                _ = try ProxyEvent(decoding: ByteBuffer(bytes: bytes))
            } catch {
                #expect(!PersonalData.containsEmail(error.description) && !error.description.contains("a%40b"), "\(error.description)")
            }
        }
    }

    @Test("Graph answers (stats, insights and quality pages, usage headers, Retry-After, timestamps, dates, URLs) never trap")
    func graphAnswers() async {
        let stats =
            #"{"data":[{"aggregation":"event","start_time":"2026-11-20T10:00:00+0000","data":[{"value":"Purchase","count":57},{"value":"Lead","count":"3"}]}],"paging":{"next":"http://x/y"}}"#
        let usage = #"{"x":[{"type":"ads_management","call_count":"95","total_time":40,"estimated_time_to_regain_access":5}]}"#
        let insights =
            #"{"data":[{"campaign_id":"c1","spend":"12.30","impressions":"100","date_start":"2026-11-20","date_stop":"2026-11-20","actions":[{"action_type":"offsite_conversion.fb_pixel_purchase","value":"3","7d_click":"2"}]}]}"#
        let quality = #"{"web":[{"event_name":"Purchase","event_match_quality":{"composite_score":6.2}}]}"#
        let throttle = #"{"app_id_util_pct":95,"acc_id_util_pct":"12"}"#
        let window = DateWindows.Window(start: UnixSeconds(1_795_132_800), end: UnixSeconds(1_795_219_200))
        let page = InsightsPage(accountID: "1", level: "campaign", currency: "USD", actionTypes: ["Purchase": "offsite_conversion.fb_pixel_purchase"])
        await Mutator.run(
            seed: 6,
            seeds: [
                stats, usage, insights, quality, throttle, "Wed, 21 Oct 2015 07:28:00 GMT", "120", "2026-11-20T10:00:00Z",
                "https://u:p@h.example/a/b@c.de?x=1#f",
            ]
        ) { bytes in
            let text = String(decoding: bytes, as: UTF8.self)
            if let value = try? JSONValue(parsing: bytes) {
                _ = try? StatsPage.records(from: value, pixelID: "1", eventSource: "all", window: window)
                _ = try? page.records(from: value)
                _ = try? QualityAnswer.read(value, pixelID: "1", snapshotAt: UnixMillis(0), runID: "r")
            }
            _ = CalendarDate(iso: text)
            #expect(UsageHeaders(appUsage: text, businessUseCaseUsage: text, insightsThrottle: text).pacingDelay() <= .seconds(86_400))
            #expect(RetryAfter.parse(text, now: UnixSeconds(1_795_000_000)).map { $0 <= .seconds(86_400) } ?? true)
            _ = UTCTimestamp.parse(text)
            _ = URLScrubber.scrub(text)
            _ = GraphEndpoint.describe(text)
        }
    }
}
