import Yams

/// A block mapping's repeated keys, found in the manifest's text so the loader can rename them and
/// go on checking everything else.
///
/// Yams refuses a mapping with a repeated key before any value is read, naming the repeated keys
/// and only where the first of them is. `validate` promises every problem at once, so the repeats
/// are looked up here, on the lines of that mapping, and each is renamed to a placeholder. A
/// mapping this cannot read with certainty (flow style, a key spanning lines) gets `nil`: the
/// loader then reports the repeat alone, as Yams does.
enum DuplicateKeys {
    struct Repeat {
        var name: String
        /// Where the repeat is, 1-based.
        var line: Int
        var column: Int
        /// The line of the name's first occurrence, 1-based.
        var firstLine: Int
        var placeholder: String
    }

    /// - Parameters:
    ///   - names: the keys Yams found repeated in one mapping.
    ///   - mark: where Yams says the first of them is (the first occurrence of the least name).
    ///   - placeholderStart: a number not used by an earlier call, so placeholders stay unique.
    static func renamingRepeats(
        of names: [String],
        in text: String,
        firstKeyAt mark: Mark,
        placeholderStart: Int
    ) -> (text: String, repeats: [Repeat])? {
        // Split on scalars: "\r\n" is one `Character`, which a split on "\n" would not cut.
        var lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map(Array.init)
        let (keyLine, column) = (mark.line - 1, mark.column - 1)
        guard lines.indices.contains(keyLine), column < lines[keyLine].count, startsMapping(lines[keyLine], keyColumn: column) else { return nil }

        // The mapping's lines: back to its first key (after `- ` when it is a list item), and on
        // until a line indented less than its keys.
        var first = keyLine
        while first > lines.startIndex, !isItemStart(lines[first], keyColumn: column) {
            let previous = lines[first - 1]
            guard
                isIgnorable(previous) || indentation(previous) > column || isKeyLine(previous, keyColumn: column)
                    || isItemStart(previous, keyColumn: column)
            else { break }
            first -= 1
        }
        var last = keyLine
        while last + 1 < lines.endIndex {
            let next = lines[last + 1]
            if next.starts(with: Array("---".unicodeScalars)) || next.starts(with: Array("...".unicodeScalars)) { break }
            guard isIgnorable(next) || indentation(next) >= column else { break }
            last += 1
        }

        var occurrences: [String: [Int]] = [:]
        for index in first...last {
            let line = lines[index]
            guard isKeyLine(line, keyColumn: column) || (index == first && isItemStart(line, keyColumn: column)),
                let key = key(in: line, at: column), names.contains(key.name)
            else { continue }
            occurrences[key.name, default: []].append(index)
        }
        var repeats: [Repeat] = []
        for name in names {
            guard let found = occurrences[name], found.count > 1 else { return nil }
            for index in found.dropFirst() {
                let placeholder = "capi_repeated_key_\(placeholderStart + repeats.count + 1)"
                guard let key = key(in: lines[index], at: column) else { return nil }
                lines[index].replaceSubrange(column..<column + key.length, with: placeholder.unicodeScalars)
                repeats.append(Repeat(name: name, line: index + 1, column: column + 1, firstLine: found[0] + 1, placeholder: placeholder))
            }
        }
        var renamed = String.UnicodeScalarView()
        for (index, line) in lines.enumerated() {
            if index > 0 { renamed.append("\n") }
            renamed.append(contentsOf: line)
        }
        return (String(renamed), repeats.sorted { $0.line < $1.line })
    }

    /// Whether the line holds a key at `keyColumn` after nothing but indentation or a list item's `- `.
    private static func startsMapping(_ line: [Unicode.Scalar], keyColumn: Int) -> Bool {
        isKeyLine(line, keyColumn: keyColumn) || isItemStart(line, keyColumn: keyColumn)
    }

    private static func isKeyLine(_ line: [Unicode.Scalar], keyColumn: Int) -> Bool {
        guard line.count > keyColumn, indentation(line) == keyColumn else { return false }
        return !(line[keyColumn] == "-" && (line.count == keyColumn + 1 || line[keyColumn + 1] == " "))
    }

    /// `- key: …`, with the key at `keyColumn`.
    private static func isItemStart(_ line: [Unicode.Scalar], keyColumn: Int) -> Bool {
        guard keyColumn >= 2, line.count > keyColumn, line[keyColumn - 2] == "-", line[keyColumn - 1] == " ", line[keyColumn] != " " else {
            return false
        }
        return line[..<(keyColumn - 2)].allSatisfy { $0 == " " }
    }

    private static func indentation(_ line: [Unicode.Scalar]) -> Int {
        line.prefix { $0 == " " }.count
    }

    private static func isIgnorable(_ line: [Unicode.Scalar]) -> Bool {
        let rest = line.drop { $0 == " " || $0 == "\r" || $0 == "\t" }
        return rest.isEmpty || rest.first == "#"
    }

    /// The key at `column` (plain, or in single or double quotes without escapes) when a `:` follows it.
    private static func key(in line: [Unicode.Scalar], at column: Int) -> (name: String, length: Int)? {
        var end = column
        var name = String.UnicodeScalarView()
        let quote = line[column]
        if quote == "\"" || quote == "'" {
            end += 1
            while end < line.count, line[end] != quote {
                if line[end] == "\\" { return nil }
                name.append(line[end])
                end += 1
            }
            guard end < line.count else { return nil }
            end += 1
        } else {
            while end < line.count, !(line[end] == ":" && (end + 1 == line.count || line[end + 1] == " " || line[end + 1] == "\r")) {
                end += 1
            }
            name.append(contentsOf: line[column..<end])
            while let last = name.last, last == " " || last == "\t" { name.removeLast() }
        }
        let afterKey = line[end...].drop { $0 == " " }
        guard afterKey.first == ":" else { return nil }
        return (String(name), end - column)
    }
}
