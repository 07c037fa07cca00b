import AsyncHTTPClient
import CAPICore
import ConnectorRuntime
import Foundation
import GraphAPI
import Logging
import Metrics
import NIOCore
import Synchronization

/// Sends alarm changes to the manifest's `schema_registry.alarms.notify` receiver: each a signed
/// Standard Webhooks message, sent concurrently, retried with backoff on a failure the receiver
/// may recover from (no answer, 408, 429, 5xx), given up on a refusal (another 4xx). A change that
/// cannot be delivered is logged and counted; the alarm itself is already in the store.
///
/// The cooldown is kept in memory: replicas that take turns evaluating each keep their own.
public final class AlarmWebhook: AlarmNotifier {
    let configuration: AlarmWebhookConfiguration
    let http: HTTPClient
    /// The proxy alarms go through, from the environment; `nil`: direct.
    let proxy: EgressProxy?
    let clock: WallClock
    /// The first retry's wait; each further one doubles it, up to ``maximumBackoff``.
    let backoff: Duration
    let logger: Logger
    private let cooldown: Mutex<NotificationCooldown>

    public static let maximumBackoff: Duration = .seconds(30)

    public init(
        configuration: AlarmWebhookConfiguration,
        httpClient: HTTPClient? = nil,
        clock: WallClock = .system,
        backoff: Duration = .seconds(1),
        logger: Logger = Logger(label: "capi.alarms"),
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.configuration = configuration
        // Through `HTTPS_PROXY` (or `HTTP_PROXY`) unless `NO_PROXY` names the receiver, as the
        // Graph calls go: where only a proxy reaches the internet, alarms must take it too.
        proxy = EgressProxy.resolve(baseURL: configuration.url.revealed, configured: nil, environment: environment)
        http = httpClient ?? OutboundHTTP.client(proxy: proxy)
        self.clock = clock
        self.backoff = backoff
        self.logger = logger
        cooldown = Mutex(NotificationCooldown(period: configuration.cooldown))
        for outcome in Outcome.allCases {
            Counter(label: "capi_alarm_notifications_total", dimensions: [("outcome", outcome.rawValue)]).increment(by: 0)
        }
    }

    /// How one change ended, as the `outcome` label of `capi_alarm_notifications_total`.
    public enum Outcome: String, Sendable, CaseIterable {
        case delivered, failed, suppressed
    }

    public func deliver(_ changes: [AlarmChange]) async {
        let admitted = cooldown.withLock { cooldown in changes.filter { cooldown.admits($0) } }
        let suppressed = changes.count - admitted.count
        if suppressed > 0 {
            Counter(label: "capi_alarm_notifications_total", dimensions: [("outcome", Outcome.suppressed.rawValue)]).increment(by: suppressed)
        }
        await withTaskGroup(of: Void.self) { group in
            for change in admitted {
                group.addTask {
                    let outcome = await self.send(change)
                    Counter(label: "capi_alarm_notifications_total", dimensions: [("outcome", outcome.rawValue)]).increment()
                }
            }
        }
    }

    /// One change, with its retries.
    public func send(_ change: AlarmChange) async -> Outcome {
        let message = AlarmMessage(
            change,
            id: "msg_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased(),
            sentAt: clock.now().seconds
        )
        var wait = backoff
        for attempt in 1...(configuration.retries + 1) {
            let result = await post(message)
            switch result {
            case .delivered:
                return .delivered
            case .refused(let status):
                var metadata: Logger.Metadata = [
                    "kind": "\(change.subject.kind)", "transition": "\(change.transition.rawValue)", "status": "\(status)",
                ]
                if (300..<400).contains(status) { metadata["redirect"] = "not followed: set the notify url to where it leads" }
                logger.error("alarm receiver refused the notification", metadata: metadata)
                return .failed
            case .retryable(let reason):
                guard attempt <= configuration.retries else {
                    logger.error(
                        "alarm notification not delivered",
                        metadata: [
                            "kind": "\(change.subject.kind)", "transition": "\(change.transition.rawValue)", "attempts": "\(attempt)",
                            "reason": "\(reason)",
                        ]
                    )
                    return .failed
                }
                logger.notice(
                    "alarm notification failed; retrying",
                    metadata: ["attempt": "\(attempt)", "reason": "\(reason)", "retry_in": "\(wait)"]
                )
                do { try await Task.sleep(for: wait) } catch { return .failed }
                wait = min(wait * 2, Self.maximumBackoff)
            }
        }
        return .failed
    }

    enum PostResult {
        case delivered
        case refused(Int)
        case retryable(String)
    }

    func post(_ message: AlarmMessage) async -> PostResult {
        var request = HTTPClientRequest(url: configuration.url.revealed)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "capi-connector/\(BuildInfo.version)")
        for (name, value) in message.headers(signedWith: configuration.signingKey) { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: message.body))
        do {
            let response = try await http.execute(request, deadline: .now() + TimeAmount(configuration.timeout), logger: logger)
            _ = try? await response.body.collect(upTo: 64 * 1024)
            let status = Int(response.status.code)
            switch status {
            case 200..<300: return .delivered
            case 408, 429, 500..<600: return .retryable("HTTP \(status)")
            default: return .refused(status)
            }
        } catch {
            // The error names the failure, never the URL (it may carry a token).
            return .retryable(Self.reason(error))
        }
    }

    static func reason(_ error: any Error) -> String {
        if let client = error as? HTTPClientError {
            switch client {
            case .deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout: return "timeout"
            case .remoteConnectionClosed: return "connection closed"
            default: return "HTTP client error"
            }
        }
        return "connection failed"
    }
}
