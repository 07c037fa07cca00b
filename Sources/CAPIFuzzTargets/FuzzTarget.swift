import CAPICore
import Foundation

/// What a coverage-guided fuzzer (`Fuzz/run`) gives its inputs to. Each target's first promise is
/// that no input traps or touches memory it should not (the fuzzer runs with AddressSanitizer);
/// ``check(_:)`` tests what the parser promises besides. Built with the package, and its seeds
/// run in the tests, so the fuzzer's harness never falls behind the code it fuzzes.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// A request body parsed as JSON, then every event in it validated, normalized and hashed.
    case json
    /// Lines for `capi-connector normalize`.
    case normalize
    /// A body of the Graph-compatible route; its first byte picks the content type.
    case graph
    /// Short texts from headers and configuration: URLs, timestamps, addresses, tokens.
    case misc
    /// A webhook's signature headers and body, for each scheme (see ``SignatureChecks``).
    case signature

    /// A fixed clock and calendar, so an input that fails once fails again.
    static let policy = EventPolicy(now: UnixSeconds(1_795_000_100), normalizer: Normalizer(today: .init(year: 2026, month: 11, day: 19)))

    /// The promise `input` breaks, in words that never repeat it; `nil` when all hold.
    public func check(_ input: UnsafeBufferPointer<UInt8>) -> String? {
        switch self {
        case .json:
            guard let value = try? JSONValue(parsing: input) else { return nil }
            // A number may change its spelling (12.0 is written 12); the text written must not.
            let text = value.serialized
            guard (try? JSONValue(parsing: text))?.serialized == text else { return "the text written does not read back as itself" }
            return Self.prepareEvents(of: value)
        case .normalize:
            var output: [UInt8] = []
            NormalizationLine.respond(toLines: UnsafeRawBufferPointer(input), normalizer: Self.policy.normalizer, defaultCountry: nil, into: &output)
            for line in output.split(separator: UInt8(ascii: "\n")) {
                guard let answer = (try? JSONValue(parsing: line))?.objectValue else { return "an answer is not one JSON object" }
                if answer["error"] != nil, PersonalData.containsEmail(String(decoding: line, as: UTF8.self)) {
                    return "an error line echoes an email address"
                }
            }
            return nil
        case .graph:
            guard let kind = input.first else { return nil }
            let types = ["application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=XyZ", "text/plain", ""]
            guard var request = try? GraphEventsRequest(body: Data(input.dropFirst()), contentType: types[Int(kind) % types.count]),
                (try? request.addQueryParameters("access_token=t&test_event_code=T1")) != nil,
                let events = request.fields["data"]
            else { return nil }
            return Self.prepareEvents(of: .object(["data": events]))
        case .misc:
            let text = String(decoding: input, as: UTF8.self)
            if PersonalData.containsEmail(URLScrubber.scrub(text).url) { return "a scrubbed URL holds an email address" }
            _ = UTCTimestamp.parse(text)
            _ = NetworkAddress.bytes(of: text)
            if let space = text.firstIndex(of: " ") {
                _ = NetworkAddress.contains(cidr: String(text[..<space]), address: String(text[text.index(after: space)...]))
            }
            _ = UnreadableURL(text)
            _ = GraphEventsRequest.accessToken(authorization: text)
            return nil
        case .signature:
            return SignatureChecks.check(input, now: Self.policy.now)
        }
    }

    /// Whether a string or a name anywhere in `value` holds an email address. The values, not
    /// the JSON text: `"0@\n."` is written with a backslash, but holds a line break, no address.
    static func holdsEmail(_ value: JSONValue) -> Bool {
        switch value {
        case .string(let text): PersonalData.containsEmail(text)
        case .array(let elements): elements.contains(where: holdsEmail)
        case .object(let members): members.contains { PersonalData.containsEmail($0.key) || holdsEmail($0.value) }
        default: false
        }
    }

    /// Each event of a body, or the body as one event: an accepted one is written as the text of
    /// its own tree and holds no email address (but in a crawler's user agent, sent as given), nor
    /// do its warnings; a refused one names fields and reasons, never an email address.
    static func prepareEvents(of value: JSONValue) -> String? {
        for candidate in value["data"]?.arrayValue ?? [value] {
            switch EventPreparer.prepare(candidate, policy: policy) {
            case .success(let prepared):
                guard prepared.payloadText == prepared.payload.serialized else { return "the payload text is not its tree's" }
                if prepared.warnings.contains(where: PersonalData.containsEmail) { return "a warning echoes an email address" }
                for (name, field) in prepared.payload.objectValue ?? [:] {
                    let parts =
                        name == "user_data" ? Array(field.objectValue ?? [:]).filter { $0.key != "client_user_agent" } : [(key: name, value: field)]
                    for part in parts where holdsEmail(part.value) { return "\(part.key) holds an email address" }
                }
            case .failure(let rejection):
                if rejection.problems.contains(where: { PersonalData.containsEmail($0.field) || PersonalData.containsEmail($0.message) }) {
                    return "a refusal echoes an email address"
                }
            }
        }
        return nil
    }
}
