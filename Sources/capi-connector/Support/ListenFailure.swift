import ConnectorRuntime
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An address a server cannot listen on: configuration, so one line on standard error and exit 2,
/// as a bad manifest is, rather than a raw `bind(descriptor:ptr:bytes:)` error and exit 1.
enum ListenFailure {
    /// The line for `error`, or `nil` when it is not a listen failure.
    /// - Parameter option: where the address is set, for the hint.
    static func line(_ error: any Error, address: ListenAddress, option: String) -> String? {
        if error is SocketAddressError.UnknownHost {
            return "capi-connector: cannot listen on \(address): the host name does not resolve; give an address of this machine (\(option))"
        }
        guard let error = error as? IOError, [EADDRINUSE, EACCES, EADDRNOTAVAIL].contains(error.errnoCode) else { return nil }
        let hint =
            switch error.errnoCode {
            case EADDRINUSE: "another process holds it; stop that one or choose another address (\(option))"
            case EACCES: "ports below 1024 need privileges; choose a higher port (\(option))"
            default: "the host is not an address of this machine (\(option))"
            }
        return "capi-connector: cannot listen on \(address): \(String(cString: strerror(error.errnoCode))): \(hint)"
    }
}
