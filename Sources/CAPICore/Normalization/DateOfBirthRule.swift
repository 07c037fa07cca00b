/// `db`: `YYYYMMDD` from the layouts people type.
///
/// `YYYYMMDD`, `YYYY-MM-DD` (also `/` and `.`, or an ISO timestamp), `MM/DD/YYYY` (US order, also
/// with `-`), `DD/MM/YYYY` when the first number cannot be a month, `DD.MM.YYYY`, month names
/// (`January 15, 1990`, `15 Jan 1990`, `16th of February 1997`, and the months of French, German,
/// Spanish, Italian, Portuguese and Dutch: `16 février 1997`, `16. Februar 1997`, `16 de febrero de
/// 1997`), and `1997年2月16日`. Two-digit years are refused as ambiguous; so are impossible dates,
/// years before 1900 and dates after today.
enum DateOfBirthRule {
    static let months: [String: Int] = {
        let names = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"]
        var table: [String: Int] = [:]
        for (index, name) in names.enumerated() {
            table[name] = index + 1
            table[String(name.prefix(3))] = index + 1
        }
        table["sept"] = 9
        // Full names in the languages of the forms most often met after English, with and without
        // their accents; none is another language's name of another month.
        let other: [[String]] = [
            ["janvier", "janeiro", "januar", "januari", "jänner", "enero", "gennaio"],
            ["février", "fevrier", "februar", "februari", "febrero", "febbraio", "fevereiro"],
            ["mars", "märz", "maerz", "maart", "marzo", "março", "marco"],
            ["avril", "abril", "aprile"],
            ["mai", "mei", "mayo", "maggio", "maio"],
            ["juin", "juni", "junio", "giugno", "junho"],
            ["juillet", "juli", "julio", "luglio", "julho"],
            ["août", "aout", "augustus", "agosto"],
            ["septembre", "septiembre", "setiembre", "settembre", "setembro"],
            ["octobre", "oktober", "octubre", "ottobre", "outubro"],
            ["novembre", "noviembre", "novembro"],
            ["décembre", "decembre", "dezember", "diciembre", "dicembre", "dezembro"],
        ]
        for (index, names) in other.enumerated() {
            for name in names { table[name] = index + 1 }
        }
        return table
    }()

    /// Words around a date that carry no part of it: ordinal endings (`16th`), `of` and `de`
    /// (`16 de febrero de 1997`), weekdays, and the year, month and day marks of Chinese,
    /// Japanese and Korean (`1997年2月16日`, `1997년 2월 16일`).
    static let fillerWords: Set<String> = [
        "st", "nd", "rd", "th", "of", "the", "de", "del", "mon", "monday", "tue", "tues", "tuesday", "wed", "wednesday", "thu",
        "thur", "thurs", "thursday", "fri", "friday", "sat", "saturday", "sun", "sunday", "年", "月", "日", "년", "월", "일",
    ]

    private enum Token: Equatable {
        case number(String)
        case word(String)
    }

    /// Runs of digits, runs of letters, and the separators between them (white space and commas
    /// separate without counting).
    private static func unicodeTokens(_ text: Substring) -> ([Token], Set<Unicode.Scalar>) {
        var tokens: [Token] = []
        var separators: Set<Unicode.Scalar> = []
        var current = String.UnicodeScalarView()
        var currentIsDigit = false
        func flush() {
            guard !current.isEmpty else { return }
            tokens.append(currentIsDigit ? .number(String(current)) : .word(String(current)))
            current = String.UnicodeScalarView()
        }
        for scalar in text.unicodeScalars {
            if TextFolding.isASCIIDigit(scalar) {
                if !currentIsDigit { flush() }
                currentIsDigit = true
                current.append(scalar)
            } else if scalar.properties.isAlphabetic {
                if currentIsDigit { flush() }
                currentIsDigit = false
                current.append(scalar)
            } else {
                flush()
                if !TextFolding.isSpace(scalar) && scalar != "," { separators.insert(scalar) }
            }
        }
        flush()
        return (tokens, separators)
    }

    /// ``unicodeTokens(_:)`` for ASCII text, on bytes: the same classes (letters are `A`–`Z`, `a`–`z`),
    /// without a Unicode property lookup per character. Birth dates are nearly always ASCII.
    private static func asciiTokens(_ text: Substring) -> ([Token], Set<Unicode.Scalar>) {
        var tokens: [Token] = []
        var separators: Set<Unicode.Scalar> = []
        let bytes = text.utf8
        var start = bytes.startIndex
        var runIsDigit = false
        var inRun = false
        func flush(upTo end: Substring.UTF8View.Index) {
            guard inRun else { return }
            let run = String(text[start..<end])
            tokens.append(runIsDigit ? .number(run) : .word(run))
            inRun = false
        }
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            let isDigit = (0x30...0x39).contains(byte)
            let isLetter = (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
            if isDigit || isLetter {
                if inRun && runIsDigit != isDigit { flush(upTo: index) }
                if !inRun {
                    start = index
                    inRun = true
                    runIsDigit = isDigit
                }
            } else {
                flush(upTo: index)
                if !TextFolding.isASCIISpace(byte) && byte != UInt8(ascii: ",") { separators.insert(Unicode.Scalar(byte)) }
            }
            bytes.formIndex(after: &index)
        }
        flush(upTo: bytes.endIndex)
        return (tokens, separators)
    }

    static func canonical(_ folded: String, today: CalendarDate) -> Result<String, RuleFailure> {
        var text = Substring(folded)
        // ISO timestamp: keep the date.
        if text.utf8.count > 10, let t = text.firstIndex(where: { $0 == "t" || $0 == " " }), text.distance(from: text.startIndex, to: t) == 10 {
            text = text[..<t]
        }
        let (tokens, separators) = TextFolding.isASCII(text) ? asciiTokens(text) : unicodeTokens(text)

        let date: (year: Int, month: Int, day: Int)?
        let numbers = tokens.compactMap { if case .number(let n) = $0 { n } else { nil } }
        let words = tokens.compactMap { if case .word(let w) = $0, !fillerWords.contains(w) { w } else { nil } }
        // No part of a date is longer than eight digits; a longer run is not a date (and must not
        // reach integer conversion).
        guard numbers.allSatisfy({ $0.utf8.count <= 8 }) else {
            return .failure(RuleFailure("is not a recognised date layout (YYYYMMDD, YYYY-MM-DD, MM/DD/YYYY, DD.MM.YYYY, January 15, 1990)"))
        }
        switch (numbers.count, words.count) {
        case (1, 0) where numbers[0].count == 8:
            let n = numbers[0]
            let a = Int(n.prefix(4))!
            let b = Int(n.dropFirst(4).prefix(2))!
            let c = Int(n.suffix(2))!
            let p = Int(n.prefix(2))!
            let q = Int(n.dropFirst(2).prefix(2))!
            let y = Int(n.suffix(4))!
            date = [(a, b, c), (y, p, q), (y, q, p)].first { isValid($0, today: today) }
        case (3, 0):
            let values = numbers.map { Int($0)! }
            if numbers[0].count == 4 {
                date = (values[0], values[1], values[2])
            } else if numbers[2].count == 4, numbers[0].count <= 2, numbers[1].count <= 2 {
                if separators == ["."] || values[0] > 12 {
                    date = (values[2], values[1], values[0])
                } else {
                    date = (values[2], values[0], values[1])
                }
            } else {
                return .failure(RuleFailure("must have a four-digit year (YYYYMMDD, YYYY-MM-DD, MM/DD/YYYY)"))
            }
        case (2, 1):
            guard let month = months[words[0]] else { return .failure(RuleFailure("has an unknown month name")) }
            guard let yearIndex = numbers.firstIndex(where: { $0.count == 4 }), numbers[1 - yearIndex].count <= 2 else {
                return .failure(RuleFailure("must have a four-digit year and a day"))
            }
            date = (Int(numbers[yearIndex])!, month, Int(numbers[1 - yearIndex])!)
        default:
            return .failure(RuleFailure("is not a recognised date layout (YYYYMMDD, YYYY-MM-DD, MM/DD/YYYY, DD.MM.YYYY, January 15, 1990)"))
        }
        guard let date, isValid(date, today: today) else {
            return .failure(RuleFailure("is not a real date between 1900 and today"))
        }
        return .success(compact(date))
    }

    /// ``canonical(_:today:)`` on bytes for folded ASCII written with digits and separators only,
    /// the usual birth date. `nil` for text with letters (a month name) or a carriage return (which
    /// `Character` counting joins with a line feed): the general rule reads those.
    static func canonical(ascii folded: UnsafeBufferPointer<UInt8>, today: CalendarDate) -> Result<String, RuleFailure>? {
        guard !folded.contains(UInt8(ascii: "\r")) else { return nil }
        var end = folded.count
        // ISO timestamp: keep the date.
        if end > 10, folded.firstIndex(where: { $0 == UInt8(ascii: "t") || $0 == UInt8(ascii: " ") }) == 10 { end = 10 }
        let text = UnsafeBufferPointer(rebasing: folded[..<end])
        guard !text.contains(where: { ASCIIBytes.isLowercaseLetter($0) || (0x41...0x5A).contains($0) }) else { return nil }

        // The first three runs of digits (more is no layout), and which separators came between.
        var runs = (first: 0..<0, second: 0..<0, third: 0..<0)
        var runCount = 0
        var longRun = false
        var onlyDots = true
        var sawSeparator = false
        var index = 0
        while index < text.count {
            if ASCIIBytes.isDigit(text[index]) {
                let start = index
                while index < text.count, ASCIIBytes.isDigit(text[index]) { index += 1 }
                switch runCount {
                case 0: runs.first = start..<index
                case 1: runs.second = start..<index
                case 2: runs.third = start..<index
                default: break
                }
                runCount += 1
                longRun = longRun || index - start > 8
                continue
            }
            let byte = text[index]
            if !TextFolding.isASCIISpace(byte) && byte != UInt8(ascii: ",") {
                sawSeparator = true
                onlyDots = onlyDots && byte == UInt8(ascii: ".")
            }
            index += 1
        }
        func number(_ range: Range<Int>) -> Int { text[range].reduce(0) { $0 * 10 + Int($1 &- 0x30) } }
        let layoutFailure = RuleFailure("is not a recognised date layout (YYYYMMDD, YYYY-MM-DD, MM/DD/YYYY, DD.MM.YYYY, January 15, 1990)")
        guard !longRun else { return .failure(layoutFailure) }

        let date: (year: Int, month: Int, day: Int)?
        switch runCount {
        case 1 where runs.first.count == 8:
            let start = runs.first.lowerBound
            let a = number(start..<(start + 4))
            let b = number((start + 4)..<(start + 6))
            let c = number((start + 6)..<(start + 8))
            let p = number(start..<(start + 2))
            let q = number((start + 2)..<(start + 4))
            let y = number((start + 4)..<(start + 8))
            date = [(a, b, c), (y, p, q), (y, q, p)].first { isValid($0, today: today) }
        case 3:
            let values = (number(runs.first), number(runs.second), number(runs.third))
            if runs.first.count == 4 {
                date = (values.0, values.1, values.2)
            } else if runs.third.count == 4, runs.first.count <= 2, runs.second.count <= 2 {
                if (sawSeparator && onlyDots) || values.0 > 12 {
                    date = (values.2, values.1, values.0)
                } else {
                    date = (values.2, values.0, values.1)
                }
            } else {
                return .failure(RuleFailure("must have a four-digit year (YYYYMMDD, YYYY-MM-DD, MM/DD/YYYY)"))
            }
        default:
            return .failure(layoutFailure)
        }
        guard let date, isValid(date, today: today) else {
            return .failure(RuleFailure("is not a real date between 1900 and today"))
        }
        return .success(compact(date))
    }

    static func isValid(_ date: (year: Int, month: Int, day: Int), today: CalendarDate) -> Bool {
        guard (1900...today.year).contains(date.year), (1...12).contains(date.month) else { return false }
        guard (1...UTCTimestamp.daysIn(month: date.month, year: date.year)).contains(date.day) else { return false }
        return (date.year, date.month, date.day) <= (today.year, today.month, today.day)
    }

    /// `dobd`, `dobm`, `doby`: digits within `range`, zero-padded to `width`.
    static func part(_ folded: String, range: ClosedRange<Int>, width: Int) -> Result<String, RuleFailure> {
        guard !folded.isEmpty, folded.utf8.count <= width, folded.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
            let value = Int(folded), range.contains(value)
        else {
            return .failure(RuleFailure("between \(range.lowerBound) and \(range.upperBound)"))
        }
        return .success(pad(value, width))
    }

    /// A valid date as `YYYYMMDD`, written digit by digit: padding three numbers as strings and
    /// joining them was over half of this rule's time in `bench normalize`.
    static func compact(_ date: (year: Int, month: Int, day: Int)) -> String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 8) { text in
            var year = date.year
            for index in stride(from: 3, through: 0, by: -1) {
                text[index] = 0x30 + UInt8(year % 10)
                year /= 10
            }
            text[4] = 0x30 + UInt8(date.month / 10)
            text[5] = 0x30 + UInt8(date.month % 10)
            text[6] = 0x30 + UInt8(date.day / 10)
            text[7] = 0x30 + UInt8(date.day % 10)
            return String(decoding: UnsafeBufferPointer(text), as: UTF8.self)
        }
    }

    static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
