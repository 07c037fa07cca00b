import Foundation

/// How a port held by ``withHeldLoopbackPort(_:_:)`` answers a connection.
public enum HeldPortBehaviour: Sendable {
    /// Bound, not listening: every connection is refused at once, as on a port nobody uses.
    case refusing
    /// Listening, never accepting: the kernel completes connections into its backlog, and no
    /// answer ever comes (a stuck process).
    case silent
}

/// Runs `body` with a loopback TCP port that stays this test's until `body` returns.
///
/// A port found free and then closed can be taken by any other test running at the same time:
/// once, a store "nobody listens on" was another test's silent listener, and answered nothing.
public func withHeldLoopbackPort<T>(_ behaviour: HeldPortBehaviour, _ body: (Int) async throws -> T) async throws -> T {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw TestSetupError("cannot open a socket") }
    defer { _ = close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let held = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(descriptor, $0, length) == 0 && (behaviour == .refusing || listen(descriptor, 8) == 0)
                && getsockname(descriptor, $0, &length) == 0
        }
    }
    guard held else { throw TestSetupError("cannot hold a loopback port") }
    return try await body(Int(UInt16(bigEndian: address.sin_port)))
}
