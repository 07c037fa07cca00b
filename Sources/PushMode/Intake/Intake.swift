import CAPICore
import ConnectorRuntime
import Crypto
import Foundation
import Logging

/// Accepts mirrored events: validate, normalize and hash in memory, then commit ledger, outbox and
/// stream record durably (through the group committer) before anyone is told "accepted".
public struct Intake: Sendable {
    /// The result for one event, in the shape the push routes answer with.
    public enum Result: Sendable, Equatable {
        /// Committed now (`duplicate` false) or earlier (`duplicate` true); the answer body.
        case accepted(answer: JSONValue, duplicate: Bool)
        /// Same key, different content.
        case conflict(eventID: String)
        /// Invalid; nothing was stored. The warnings are what acceptance would have remarked on.
        case rejected([EventProblem], warnings: [String] = [])
    }

    let committer: GroupCommitter
    /// What intake needs of each configured pixel, looked up per event: a reference, so a lookup
    /// does not copy (and later destroy) the whole configuration with its token.
    let pixels: [String: PixelIntake]
    /// HMAC keyed with the mirror salt, copied per identifier.
    let mirrorMAC: HMAC<SHA256>
    let maxFutureSkew: Duration
    let externalID: ExternalIDPolicy
    let clock: WallClock
    let drift: DriftMonitor?
    /// Commits the store could not make, logged as one outage rather than a line per request.
    let commitFailures: OutageLog

    /// - Parameter drift: counts every event, accepted or refused, for the schema drift alarms.
    public init(
        committer: GroupCommitter,
        manifest: Manifest,
        push: PushConfiguration,
        drift: DriftMonitor? = nil,
        clock: WallClock = .system,
        logger: Logger = Logger(label: "capi.push")
    ) {
        self.committer = committer
        self.pixels = Dictionary(uniqueKeysWithValues: manifest.pixels.map { ($0.id, PixelIntake($0)) })
        self.mirrorMAC = HMAC<SHA256>(key: SymmetricKey(data: Array(push.mirrorSalt.revealed.utf8)))
        self.maxFutureSkew = push.maxFutureSkew
        self.externalID = push.externalID
        self.clock = clock
        self.drift = drift
        self.commitFailures = OutageLog.stateStore(
            logger: logger,
            work: "intake commits",
            consequence: "events are answered 503 with Retry-After (the sender retries) until it commits again"
        )
    }

    /// Judges each event on its own and commits the valid ones in one shared transaction.
    /// Throws only when the state store cannot commit (the sender should retry).
    /// - Parameters:
    ///   - allOrNothing: Meta's own rule for its events endpoint: one invalid event refuses the
    ///     request, and nothing is committed.
    ///   - testEventCode: the request's own code (the Graph route), sent with its events instead of
    ///     an event's own (the mirror routes) or the pixel's.
    public func accept(
        _ events: [JSONValue],
        pixelFromPath: String? = nil,
        source: String,
        allOrNothing: Bool = false,
        testEventCode: String? = nil
    ) async throws -> [Result] {
        let receivedAt = clock.now()
        let seconds = receivedAt.seconds
        let normalizer = Normalizer(today: CalendarDate(seconds), externalIDPolicy: externalID)
        let receivedAtText = receivedAt.iso8601
        var results = [Result?](repeating: nil, count: events.count)
        var items: [IntakeItem] = []
        var itemIndex: [Int] = []
        var answers: [JSONValue] = []
        for (index, raw) in events.enumerated() {
            let pixel = (pixelFromPath ?? Self.pixelID(of: raw)).flatMap { pixels[$0] }
            let policy = EventPolicy(now: seconds, maxFutureSkew: maxFutureSkew, defaultCountry: pixel?.defaultCountry, normalizer: normalizer)
            switch EventPreparer.prepare(raw, pixelID: pixelFromPath, policy: policy) {
            case .failure(let rejection):
                results[index] = .rejected(rejection.problems, warnings: rejection.warnings)
                observe(raw, problems: rejection.problems, pixelID: pixel?.id ?? pixelFromPath ?? Self.pixelID(of: raw))
            case .success(let event):
                observe(raw, problems: nil, pixelID: event.pixelID)
                guard let pixel = pixels[event.pixelID] else {
                    results[index] = .rejected([
                        EventProblem(field: "pixel_id", code: .invalidValue, message: "is not a pixel configured in the manifest")
                    ])
                    continue
                }
                let payload = event.payloadText
                let answer: JSONValue = .object([
                    "status": .string("accepted"), "event_id": .string(event.eventID),
                    "warnings": .array(event.warnings.map(JSONValue.string)),
                ])
                var storedAnswer = JSONObjectText(capacity: 96)
                storedAnswer.add("event_id", string: event.eventID)
                storedAnswer.add("status", string: "accepted")
                storedAnswer.add("warnings", strings: event.warnings)
                items.append(
                    IntakeItem(
                        key: event.key,
                        contentHash: SHA256Hex.digest(payload),
                        payload: payload,
                        answer: storedAnswer.finish(),
                        deliveredRecord: MirrorRecord.text(
                            event,
                            source: source,
                            receivedAt: receivedAtText,
                            keyedMAC: mirrorMAC,
                            testEventCode: testEventCode ?? event.testEventCode ?? pixel.testEventCode
                        ),
                        receivedAt: receivedAt,
                        expiresAt: MetaLimits.expiry(of: event.key.eventTime, actionSource: event.actionSource),
                        testEventCode: testEventCode ?? event.testEventCode
                    )
                )
                itemIndex.append(index)
                answers.append(answer)
            }
        }
        if allOrNothing, items.count < events.count {
            return results.map { $0 ?? .rejected([]) }
        }
        if !items.isEmpty {
            let outcomes: [IntakeOutcome]
            do {
                outcomes = try await committer.commit(items)
                commitFailures.succeeded()
            } catch {
                commitFailures.failed(error)
                throw error
            }
            for (position, outcome) in outcomes.enumerated() {
                let index = itemIndex[position]
                switch outcome {
                case .accepted:
                    results[index] = .accepted(answer: Self.answer(answers[position], duplicate: false), duplicate: false)
                case .duplicate(let stored):
                    results[index] = .accepted(answer: Self.answer((try? JSONValue(parsing: stored)) ?? .null, duplicate: true), duplicate: true)
                case .conflict:
                    results[index] = .conflict(eventID: items[position].key.eventID)
                }
            }
        }
        return results.map { $0! }
    }

    /// The per-pixel settings intake reads.
    final class PixelIntake: Sendable {
        let id: String
        let defaultCountry: String
        let testEventCode: String?

        init(_ configuration: PixelConfiguration) {
            id = configuration.id
            defaultCountry = configuration.defaultCountry
            testEventCode = configuration.testEventCode
        }
    }

    func observe(_ raw: JSONValue, problems: [EventProblem]?, pixelID: String?) {
        guard let drift else { return }
        drift.record(
            DriftObservation.observe(raw, problems: problems),
            stream: StateStream.deliveredEvents.rawValue,
            pixelID: pixelID,
            eventName: raw["event_name"]?.stringValue
        )
    }

    static func pixelID(of event: JSONValue) -> String? {
        switch event["pixel_id"] {
        case .string(let text)?: text
        case .integer(let number)?: String(number)
        default: nil
        }
    }

    static func answer(_ stored: JSONValue, duplicate: Bool) -> JSONValue {
        var object = stored.objectValue ?? [:]
        object["duplicate"] = .bool(duplicate)
        return .object(object)
    }
}
