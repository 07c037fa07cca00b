import Foundation

/// The fields of a `multipart/form-data` body (RFC 7578), for the Graph-compatible route.
///
/// Written here rather than taken from MultipartKit: the mirrored version (4.7.1) traps on a part
/// header whose name holds a byte of 0x80 or more (its character table has 128 entries), which the
/// parser fuzz test hit at once, and a request must never stop the process. The format needs
/// little: delimiters, header lines, and the `name` of each part's `Content-Disposition`.
enum MultipartFormFields {
    struct Part {
        var name: String
        var value: ArraySlice<UInt8>
        /// The `charset` of the part's `Content-Type`, lowercased, when it gives one.
        var charset: String?

        /// The value as text: UTF-8, or ISO-8859-1 when it is not UTF-8 and the part names no
        /// other charset. The Java SDK writes each character of a value as its low byte (Latin-1
        /// for "é"), so that reading gives back what the app sent; `nil` for any other charset.
        var text: String? {
            if charset == nil || charset == "utf-8" || charset == "utf8", let text = String(validating: value, as: UTF8.self) { return text }
            guard charset == nil || charset == "iso-8859-1" || charset == "latin1" else { return nil }
            return String(decoding: value.map { UInt16($0) }, as: UTF16.self)
        }
    }

    /// Each part's name and value bytes, in order; refused when the body is no complete multipart
    /// body: no opening or closing delimiter, a header line without a colon or not UTF-8, or a part
    /// without a `name`. The boundary is printable ASCII (``GraphEventsRequest/multipartBoundary(_:)``),
    /// so the delimiter holds its CR only first and every search is linear however the body is
    /// crafted.
    static func parse(_ body: [UInt8], boundary: String) throws(GraphEventsRequest.BodyProblem) -> [Part] {
        func refused(_ reason: String) -> GraphEventsRequest.BodyProblem { GraphEventsRequest.BodyProblem(reason: "multipart/form-data: " + reason) }
        let dashBoundary = Array("--\(boundary)".utf8)
        let delimiter = [0x0D, 0x0A] + dashBoundary
        let lineEnd: [UInt8] = [0x0D, 0x0A]
        // The first delimiter opens the body, or ends a preamble.
        var index: Int
        if body.starts(with: dashBoundary) {
            index = dashBoundary.count
        } else if let found = find(delimiter, in: body, from: 0) {
            index = found + delimiter.count
        } else {
            throw refused("the boundary of the content type does not open the body")
        }
        var fields: [Part] = []
        while true {
            // After a delimiter: `--` closes the body (an epilogue after it is ignored); otherwise
            // optional padding, a line end and a part.
            if body[index...].starts(with: [0x2D, 0x2D]) { return fields }
            while index < body.count, body[index] == 0x20 || body[index] == 0x09 { index += 1 }
            guard body[index...].starts(with: lineEnd) else { throw refused("a delimiter is followed by neither a line end nor `--`") }
            index += lineEnd.count
            var name: String?
            var charset: String?
            while true {
                guard let end = find(lineEnd, in: body, from: index) else { throw refused("the body ends inside a part's headers") }
                let line = body[index..<end]
                index = end + lineEnd.count
                if line.isEmpty { break }
                guard let header = String(validating: line, as: UTF8.self), let colon = header.firstIndex(of: ":") else {
                    throw refused("a part's header line is not `Name: value` in UTF-8")
                }
                switch header[..<colon].lowercased() {
                case "content-disposition": name = parameter("name", in: header[header.index(after: colon)...])
                case "content-type": charset = parameter("charset", in: header[header.index(after: colon)...])?.lowercased()
                default: break
                }
            }
            guard let name, !name.isEmpty else { throw refused("a part has no name in its Content-Disposition") }
            // Without its closing delimiter the last part (say test_event_code) would vanish unseen.
            guard let end = find(delimiter, in: body, from: index) else { throw refused("the body ends before its closing delimiter") }
            fields.append(Part(name: name, value: body[index..<end], charset: charset))
            index = end + delimiter.count
        }
    }

    /// A parameter of a header value such as `form-data; name="data"`, quoted or not (a quoted one
    /// may escape a quote with a backslash); the name compares without case.
    static func parameter(_ wanted: String, in value: Substring) -> String? {
        var rest = value.drop { $0 != ";" }
        while !rest.isEmpty {
            rest = rest.dropFirst().drop { $0 == " " || $0 == "\t" }
            guard let equals = rest.firstIndex(of: "=") else { return nil }
            let key = rest[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            rest = rest[rest.index(after: equals)...]
            var text = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                var escaped = false
                while let character = rest.first {
                    rest = rest.dropFirst()
                    if escaped {
                        text.append(character)
                        escaped = false
                    } else if character == "\\" {
                        escaped = true
                    } else if character == "\"" {
                        break
                    } else {
                        text.append(character)
                    }
                }
                rest = rest.drop { $0 != ";" }
            } else {
                let end = rest.firstIndex(of: ";") ?? rest.endIndex
                text = rest[..<end].trimmingCharacters(in: .whitespaces)
                rest = rest[end...]
            }
            if key == wanted { return text }
        }
        return nil
    }

    /// Where `needle` first occurs in `haystack` at or after `start`.
    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard let first = needle.first, start >= 0 else { return nil }
        let last = haystack.count - needle.count
        var position = start
        while position <= last {
            guard let candidate = haystack[position...last].firstIndex(of: first) else { return nil }
            if haystack[candidate..<(candidate + needle.count)].elementsEqual(needle) { return candidate }
            position = candidate + 1
        }
        return nil
    }
}
