import Foundation

/// The wall clock as Unix time, read at the edges (services, commands) and handed inward as a
/// value, so pure code stays reproducible.
public enum UnixClock {
    public static func seconds() -> Int64 { Int64(Date().timeIntervalSince1970) }
    public static func milliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}
