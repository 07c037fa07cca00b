import Foundation
import HTTPTypes
import NIOCore
import NIOFoundationCompat
import PushMode

/// The push routes' answer in the proxy response shape API Gateway expects of the event version
/// it sent: `statusCode`, `headers` (and, for 1.0, `multiValueHeaders`), `body`, `isBase64Encoded`.
/// Bodies that are UTF-8 text (every JSON answer) travel as text; anything else as base64.
public enum ProxyResponse {
    public static func encode(_ output: PushHandler.Output, version: ProxyEvent.Version) -> ByteBuffer {
        var single: [String: String] = [:]
        var multiple: [String: [String]] = [:]
        for field in output.headers {
            let name = field.name.canonicalName
            single[name] = single[name].map { $0 + ", " + field.value } ?? field.value
            multiple[name, default: []].append(field.value)
        }
        let bytes = Array(output.body.readableBytesView)
        let text = String(validating: bytes, as: UTF8.self)
        var object: [String: Any] = [
            "statusCode": Int(output.status.code),
            "headers": single,
            "body": text ?? Data(bytes).base64EncodedString(),
            "isBase64Encoded": text == nil,
        ]
        if version == .v1 { object["multiValueHeaders"] = multiple }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return ByteBuffer(data: data)
    }

    /// The answer to an event the runtime could not turn into a request (a body marked base64
    /// that is not), so the caller sees a 400 that says why rather than a bare 502.
    public static func badRequest(_ message: String, version: ProxyEvent.Version) -> ByteBuffer {
        let body = (try? JSONSerialization.data(withJSONObject: ["error": "invalid_body", "message": message], options: [.sortedKeys])) ?? Data()
        return encode(
            PushHandler.Output(status: .badRequest, headers: [.contentType: "application/json"], body: ByteBuffer(data: body)),
            version: version
        )
    }
}
