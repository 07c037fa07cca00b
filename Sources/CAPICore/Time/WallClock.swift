import Foundation

/// The wall clock, injected: services and commands take one (`.system` by default) and tests pin
/// it, so nothing below the edges reads the time by itself.
public struct WallClock: Sendable {
    private let read: @Sendable () -> UnixMillis

    public init(_ read: @escaping @Sendable () -> UnixMillis) { self.read = read }

    public static let system = WallClock { UnixMillis(Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))) }

    /// A clock that always answers `instant`.
    public static func fixed(_ instant: UnixMillis) -> WallClock { WallClock { instant } }

    public func now() -> UnixMillis { read() }
    /// The current second.
    public func seconds() -> UnixSeconds { read().seconds }
}
