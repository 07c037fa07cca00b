import CAPICore

/// Which failures the sandbox injects, how often, from which seed: `rate=0.3,kinds=5xx+throttle+timeout+reset+invalid`.
///
/// Request-level kinds (5xx, throttle, timeout, reset) hit a share `rate` of Graph calls. `invalid`
/// marks a share `rate` of event ids (decided from the seed and the id, so the same event is always
/// marked): a batch holding a marked event is refused with code 100, as Meta refuses a whole batch
/// for one bad event.
public struct FaultPlan: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case serverError = "5xx"
        case throttle
        case timeout
        /// The real answer, held `timeoutDelay` first: a slow Graph read, past the send timeout and
        /// within the read timeout.
        case slow
        case reset
        case invalid
        /// `200` with a body that is not JSON (a proxy's error page).
        case garbage
        /// `200` with no data and a `paging.next` that points back at the same request.
        case pagingLoop = "paging_loop"
        /// Read answers in a changed shape, as when Meta renames a field: stats entries name the
        /// event in `event_name` instead of `value`, quality scores arrive as strings.
        case reshape
        /// Insights requests refused with Meta's "Please reduce the amount of data you're asking
        /// for" (code 1); other calls are not affected.
        case reduceData = "reduce_data"
        /// Accepted event batches answered with a warning in `messages`.
        case warning
        /// Accepted event batches answered with `events_received` one below the events sent
        /// (all of them are kept).
        case shortCount = "short_count"
    }

    public var rate: Double
    public var kinds: Set<Kind>

    public static let none = FaultPlan(rate: 0, kinds: [])

    public init(rate: Double, kinds: Set<Kind>) {
        self.rate = rate
        self.kinds = kinds
    }

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case malformed(String)
        public var description: String {
            if case .malformed(let reason) = self { return reason }
            return ""
        }
    }

    /// Parses `rate=R[,kinds=a+b]`, or the short `R[,a+b]`; kinds default to the request-level
    /// kinds (5xx, throttle, timeout, reset).
    public init(parsing text: String) throws(ParseError) {
        var rate: Double?
        var kinds: Set<Kind> = [.serverError, .throttle, .timeout, .reset]
        for part in text.split(separator: ",") {
            var pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            // The short forms: a bare rate (`0.3`), bare kinds (`5xx+throttle`).
            if pair.count == 1 {
                if Double(pair[0]) != nil {
                    pair = ["rate", pair[0]]
                } else if pair[0].split(separator: "+").allSatisfy({ Kind(rawValue: String($0)) != nil }) {
                    pair = ["kinds", pair[0]]
                }
            }
            guard pair.count == 2 else {
                throw .malformed("expected key=value in `\(part)`: rate=0.3,kinds=5xx+throttle, or 0.3 for the rate alone")
            }
            switch pair[0] {
            case "rate":
                guard let value = Double(pair[1]), (0...1).contains(value) else { throw .malformed("rate must be a number from 0 to 1") }
                rate = value
            case "kinds":
                kinds = []
                for name in pair[1].split(separator: "+") {
                    guard let kind = Kind(rawValue: String(name)) else {
                        throw .malformed("unknown fault kind `\(name)`; known: \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    kinds.insert(kind)
                }
            default:
                throw .malformed("unknown key `\(pair[0])`; expected rate and kinds")
            }
        }
        guard let rate else { throw .malformed("rate is required, e.g. rate=0.3") }
        self.init(rate: rate, kinds: kinds)
    }

    var requestKinds: [Kind] { Kind.allCases.filter { !Self.answerKinds.contains($0) && kinds.contains($0) } }

    /// Kinds that change how an answer looks rather than fail the request.
    static let answerKinds: Set<Kind> = [.invalid, .reshape, .warning, .shortCount]

    /// Whether the event id is marked invalid under this plan and seed (stable per id).
    func marksInvalid(eventID: String, seed: UInt64) -> Bool {
        guard kinds.contains(.invalid), rate > 0 else { return false }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ seed
        for byte in eventID.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        var generator = SeededGenerator(seed: hash)
        return Double(generator.next() >> 11) / Double(1 << 53) < rate
    }
}
