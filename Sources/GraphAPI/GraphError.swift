import CAPICore
import Foundation

/// What to do about a failed Graph call, per Meta's error handling guidance (docs/meta-api.md).
public enum GraphErrorClass: String, Sendable, Codable, CaseIterable {
    /// Retry with exponential backoff and full jitter: codes 1, 2, 341, 5xx, timeouts, resets.
    case transient
    /// Back off for the time Meta names: codes 4, 17, 32, 613, 80000–80014.
    case throttled
    /// Code 368: retry slowly and alarm.
    case blocked
    /// Codes 101, 102, 190: stop sending for the pixel, alarm, keep events queued.
    case auth
    /// Codes 3, 10, 200–299: stop, alarm, keep events queued.
    case permission
    /// Code 100: the batch holds a bad event; isolate it, dead-letter it, send the rest.
    case invalid
    /// Code 2635: the pinned API version is gone.
    case deprecated

    /// Decide by `code`, then `is_transient`, then HTTP status.
    public static func classify(code: Int?, isTransient: Bool?, httpStatus: Int?) -> GraphErrorClass {
        switch code {
        case 1?, 2?, 341?: return .transient
        case 4?, 17?, 32?, 613?: return .throttled
        case let code? where (80_000...80_014).contains(code): return .throttled
        case 368?: return .blocked
        case 101?, 102?, 190?: return .auth
        case 3?, 10?: return .permission
        case let code? where (200...299).contains(code): return .permission
        case 100?: return .invalid
        case 2635?: return .deprecated
        default: break
        }
        if isTransient == true { return .transient }
        switch httpStatus {
        case let status? where status >= 500: return .transient
        case 429?: return .throttled
        case 401?: return .auth
        case 403?: return .permission
        case let status? where (400..<500).contains(status): return .invalid
        default: return .transient
        }
    }
}

/// A failed Graph API call: Meta's error envelope, or what went wrong on the way.
///
/// Carries no secret and no personal value: Meta's messages describe parameters, not their values,
/// and transport errors describe the connection.
public struct GraphError: Error, Sendable, Equatable, CustomStringConvertible {
    public var errorClass: GraphErrorClass
    public var httpStatus: Int?
    public var code: Int?
    public var subcode: Int?
    public var type: String?
    public var message: String
    /// Meta's `error_user_title` and `error_user_msg`: what was wrong and with which event
    /// (`data[3]: …`), where `message` is only "Invalid parameter". Kept only without an email
    /// address or a control character in it, and at most ``userMessageLimit`` characters.
    public var userMessage: String?
    public var isTransient: Bool?
    public var fbtraceID: String?
    /// How long Meta asks us to wait (`Retry-After`, `estimated_time_to_regain_access`).
    public var retryAfter: Duration?
    public var transport: Transport?

    public enum Transport: String, Sendable, Equatable, Codable {
        case timeout
        case connectionReset = "connection_reset"
        case connectionFailed = "connection_failed"
        case malformedResponse = "malformed_response"
    }

    public init(
        errorClass: GraphErrorClass,
        httpStatus: Int? = nil,
        code: Int? = nil,
        subcode: Int? = nil,
        type: String? = nil,
        message: String,
        userMessage: String? = nil,
        isTransient: Bool? = nil,
        fbtraceID: String? = nil,
        retryAfter: Duration? = nil,
        transport: Transport? = nil
    ) {
        self.errorClass = errorClass
        self.httpStatus = httpStatus
        self.code = code
        self.subcode = subcode
        self.type = type
        self.message = message
        self.userMessage = userMessage
        self.isTransient = isTransient
        self.fbtraceID = fbtraceID
        self.retryAfter = retryAfter
        self.transport = transport
    }

    public static func transport(_ kind: Transport, _ message: String) -> GraphError {
        GraphError(errorClass: .transient, message: message, transport: kind)
    }

    public var description: String {
        var parts = ["\(errorClass.rawValue)"]
        if let httpStatus { parts.append("http \(httpStatus)") }
        if let code { parts.append("code \(code)" + (subcode.map { "/\($0)" } ?? "")) }
        if let transport { parts.append(transport.rawValue) }
        parts.append(explanation)
        if let fbtraceID { parts.append("fbtrace_id \(fbtraceID)") }
        return parts.joined(separator: ": ")
    }

    /// `message`, with Meta's explanation for people after it when there is one: what a dead
    /// letter's reason and a log line say.
    public var explanation: String { userMessage.map { "\(message) (\($0))" } ?? message }

    public static let userMessageLimit = 500

    /// Meta's `error_user_title` and `error_user_msg` as one text, or `nil` when there is none or
    /// it holds an email address or a control character (a value Meta quoted back).
    static func userMessage(title: String?, detail: String?) -> String? {
        let parts = [title, detail].compactMap { $0?.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        guard !parts.isEmpty else { return nil }
        let text = parts.joined(separator: ": ")
        guard !PersonalData.containsEmail(text), !PersonalData.containsControlCharacter(text) else { return nil }
        return text.count > userMessageLimit ? String(text.prefix(userMessageLimit - 1)) + "…" : text
    }
}
