import CAPICore
import Foundation
import Hummingbird

/// The fields of an events request as Meta's SDKs send them: a JSON body, or a form body whose
/// values are JSON-encoded (`data` an array of events, or an array of JSON-encoded event strings).
struct SandboxRequestBody {
    let fields: [String: JSONValue]?

    init(request: Request, body: ByteBuffer) {
        let contentType = request.headers[.contentType] ?? ""
        let data = Data(buffer: body)
        if contentType.contains("application/x-www-form-urlencoded") || (!contentType.contains("json") && data.first != UInt8(ascii: "{")) {
            fields = Self.form(String(decoding: data, as: UTF8.self))
        } else {
            fields = (try? JSONDecoder().decode(JSONValue.self, from: data))?.objectValue
        }
    }

    static func form(_ text: String) -> [String: JSONValue] {
        var result: [String: JSONValue] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            let name = decode(parts[0])
            let value = parts.count > 1 ? decode(parts[1]) : ""
            // Form values that hold JSON (data) are parsed; the rest stay strings.
            if name == "data", let parsed = try? JSONDecoder().decode(JSONValue.self, from: Data(value.utf8)) {
                result[name] = parsed
            } else {
                result[name] = .string(value)
            }
        }
        return result
    }

    static func decode(_ text: Substring) -> String {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(text)
    }

    /// Events from `data`: an array of objects, of JSON strings, or a JSON string of an array.
    static func events(from data: JSONValue?) -> [JSONValue]? {
        switch data {
        case .array(let elements)?:
            var events: [JSONValue] = []
            for element in elements {
                switch element {
                case .object: events.append(element)
                case .string(let text):
                    guard let event = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)), event.objectValue != nil else { return nil }
                    events.append(event)
                default: return nil
                }
            }
            return events
        case .string(let text)?:
            return (try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))).flatMap { events(from: $0) }
        default:
            return nil
        }
    }
}
