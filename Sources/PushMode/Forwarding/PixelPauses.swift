import CAPICore

/// Pixels whose sending is paused after Meta refused their credentials, and those that were
/// paused and have not yet delivered since (their alarms clear on the next success).
actor PixelPauses {
    private var until: [String: UnixMillis] = [:]
    private var recovering: Set<String> = []

    func pause(_ pixel: String, until time: UnixMillis) {
        until[pixel] = time
        recovering.insert(pixel)
    }

    func pausedUntil(_ pixel: String, now: UnixMillis) -> UnixMillis? {
        guard let time = until[pixel] else { return nil }
        if time <= now {
            until[pixel] = nil
            return nil
        }
        return time
    }

    /// Whether the pixel was paused since its last successful delivery (asked once per success).
    func recovered(_ pixel: String) -> Bool {
        recovering.remove(pixel) != nil
    }
}
