import CAPICore
import Foundation
import GraphAPI
import GraphSandbox
import Synchronization
import TestSupport

/// A generous timeout (``hangLimit``) for sends and reads alike: a slow answer is not what these
/// tests are about (timeouts are tested with their own short values).
func client(_ baseURL: String, timeout: Duration = hangLimit, readTimeout: Duration? = nil, appSecret: Secret? = nil) -> GraphClient {
    GraphClient(
        configuration: .init(
            baseURL: baseURL,
            version: "v26.0",
            timeout: timeout,
            readTimeout: readTimeout ?? timeout,
            appSecret: appSecret,
            partnerAgent: "capi-connector-tests"
        )
    )
}

let sandboxPixel = "1234567890"

/// A valid, already-hashed website event as the connector sends it.
func wireEvent(id: String, name: String = "Purchase", time: Int64 = Int64(Date().timeIntervalSince1970) - 30) -> [UInt8] {
    let event = """
        {"event_name":"\(name)","event_time":\(time),"event_id":"\(id)","action_source":"website",\
        "event_source_url":"https://shop.example/c","user_data":{"em":["\(SHA256Hex.digest("a@b.co"))"],"client_user_agent":"Mozilla/5.0"},\
        "custom_data":{"value":10,"currency":"USD"}}
        """
    return Array(event.utf8)
}

/// A fixed, fast policy for tests: no real waiting.
let fastPolicy = RetryPolicy(
    maxAttempts: 30,
    initialBackoff: .milliseconds(1),
    maxBackoff: .milliseconds(5),
    blockedBackoff: .milliseconds(5),
    random: { 0.5 }
)
