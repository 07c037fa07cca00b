/// Pixels whose sending is paused after Meta refused their credentials.
actor PixelPauses {
    private var until: [String: Int64] = [:]

    func pause(_ pixel: String, until time: Int64) { until[pixel] = time }

    func pausedUntil(_ pixel: String, now: Int64) -> Int64? {
        guard let time = until[pixel] else { return nil }
        if time <= now {
            until[pixel] = nil
            return nil
        }
        return time
    }
}
