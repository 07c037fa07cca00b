import CAPICore
import ConnectorRuntime

extension DriftMonitor {
    /// The drift monitor a manifest asks for, notifying its `notify` receiver if it names one;
    /// `nil` when drift alarms are off. `serve` and `poll` both build theirs here.
    public static func configured(by manifest: Manifest, store: any DriftStore & AlarmStore, clock: WallClock = .system) -> DriftMonitor? {
        let registry = manifest.schemaRegistry
        guard registry.alarmsEnabled else { return nil }
        return DriftMonitor(
            store: store,
            configuration: registry,
            pixels: manifest.pixels.map(\.id),
            clock: clock,
            notifier: registry.notify.map { AlarmWebhook(configuration: $0, clock: clock) }
        )
    }
}
