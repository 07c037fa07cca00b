import GraphAPI
import Logging
import Metrics
import Synchronization

/// What Meta says beside accepting a batch: warnings in `messages`, and an `events_received`
/// below the events sent.
///
/// Neither changes the batch's outcome: Meta took the request, and a short count does not say
/// which events it left out, so the batch stays forwarded. Both used to be dropped without a word.
/// Now each distinct message is logged the first time a pixel gets it (Meta repeats a warning on
/// every batch until the sender changes), a short count at most once a minute per pixel with the
/// events left unconfirmed since the last line, and both are counted:
/// `capi_meta_messages_total` and `capi_events_unconfirmed_total`, by pixel.
final class MetaAnswerNotes: Sendable {
    private struct State {
        /// Pixel and message text of every message logged; past ``maximumRemembered`` new ones are
        /// only counted, so a message that varies per batch cannot grow memory.
        var loggedMessages: Set<String> = []
        /// Per pixel: when a short count was last logged, and events unconfirmed since.
        var shortCounts: [String: (lastLine: ContinuousClock.Instant, unconfirmed: Int)] = [:]
    }

    static let maximumRemembered = 1000
    /// Meta's messages are a sentence or two; a longer one is cut for the log.
    static let maximumMessageLength = 500

    let logger: Logger
    let shortCountInterval: Duration
    private let state = Mutex(State())

    init(logger: Logger, shortCountInterval: Duration = .seconds(60)) {
        self.logger = logger
        self.shortCountInterval = shortCountInterval
    }

    func record(pixelID: String, sent: Int, receipt: SendEventsReceipt, now: ContinuousClock.Instant = .now) {
        let unconfirmed = max(0, sent - receipt.eventsReceived)
        guard unconfirmed > 0 || !receipt.messages.isEmpty else { return }
        if !receipt.messages.isEmpty {
            Counter(label: "capi_meta_messages_total", dimensions: [("pixel_id", pixelID)]).increment(by: receipt.messages.count)
        }
        if unconfirmed > 0 {
            Counter(label: "capi_events_unconfirmed_total", dimensions: [("pixel_id", pixelID)]).increment(by: unconfirmed)
        }
        let (newMessages, shortCountLine) = state.withLock { state -> ([String], Int?) in
            var fresh: [String] = []
            for message in receipt.messages where state.loggedMessages.count < Self.maximumRemembered {
                if state.loggedMessages.insert(pixelID + "\u{0}" + message).inserted { fresh.append(message) }
            }
            guard unconfirmed > 0 else { return (fresh, nil) }
            guard let last = state.shortCounts[pixelID] else {
                state.shortCounts[pixelID] = (now, 0)
                return (fresh, unconfirmed)
            }
            let total = last.unconfirmed + unconfirmed
            guard now - last.lastLine >= shortCountInterval else {
                state.shortCounts[pixelID] = (last.lastLine, total)
                return (fresh, nil)
            }
            state.shortCounts[pixelID] = (now, 0)
            return (fresh, total)
        }
        let trace = receipt.fbtraceID ?? ""
        for message in newMessages {
            logger.warning(
                "Meta accepted a batch with a message (logged once per pixel and text; counted in capi_meta_messages_total)",
                metadata: ["pixel_id": "\(pixelID)", "meta_message": "\(message.prefix(Self.maximumMessageLength))", "fbtrace_id": "\(trace)"]
            )
        }
        if let shortCountLine {
            logger.warning(
                "Meta reported fewer events received than were sent; the batches stay forwarded, since Meta does not say which it left out",
                metadata: [
                    "pixel_id": "\(pixelID)", "events_unconfirmed": "\(shortCountLine)", "last_batch_sent": "\(sent)",
                    "last_batch_received": "\(receipt.eventsReceived)", "fbtrace_id": "\(trace)",
                ]
            )
        }
    }
}
