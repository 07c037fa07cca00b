#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// IP address and CIDR syntax checks, for `client_ip_address` and trusted-proxy lists.
public enum NetworkAddress {
    public enum Family: Sendable { case v4, v6 }

    /// The family of a textual IPv4 or IPv6 address, or `nil` when it is neither.
    public static func family(of text: some StringProtocol) -> Family? {
        let string = String(text)
        let length = string.utf8.count
        guard length > 0, length <= 64 else { return nil }
        // One C string for both tries, from the string's own bytes: passing the `String` to each
        // call built a new array per call (a heap allocation per event on the ingest path).
        return string.withCString { address in
            // A NUL would end the C string early: "203.0.113.9\0anything" read as a valid address.
            guard strlen(address) == length else { return nil }
            var v4 = in_addr()
            if inet_pton(AF_INET, address, &v4) == 1 { return .v4 }
            var v6 = in6_addr()
            if inet_pton(AF_INET6, address, &v6) == 1 { return .v6 }
            return nil
        }
    }

    public static func isValid(_ text: some StringProtocol) -> Bool { family(of: text) != nil }

    /// `ADDRESS` or `ADDRESS/PREFIX` with a prefix that fits the family.
    public static func isValidCIDR(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let family = family(of: parts[0]) else { return false }
        guard parts.count == 2 else { return true }
        guard let prefix = Int(parts[1]) else { return false }
        return (0...(family == .v4 ? 32 : 128)).contains(prefix)
    }

    /// The address as 4 or 16 bytes, for prefix matching.
    public static func bytes(of text: some StringProtocol) -> [UInt8]? {
        let string = String(text)
        let length = string.utf8.count
        return string.withCString { address in
            guard strlen(address) == length else { return nil }
            var v4 = in_addr()
            if inet_pton(AF_INET, address, &v4) == 1 {
                return withUnsafeBytes(of: &v4) { Array($0) }
            }
            var v6 = in6_addr()
            if inet_pton(AF_INET6, address, &v6) == 1 {
                return withUnsafeBytes(of: &v6) { Array($0) }
            }
            return nil
        }
    }

    /// Whether `address` falls inside `cidr` (an address alone is a single-host range).
    public static func contains(cidr: String, address: String) -> Bool {
        let parts = cidr.split(separator: "/", omittingEmptySubsequences: false)
        guard let network = bytes(of: parts[0]), let candidate = bytes(of: address), network.count == candidate.count else {
            return false
        }
        let prefix = parts.count == 2 ? (Int(parts[1]) ?? -1) : network.count * 8
        guard prefix >= 0, prefix <= network.count * 8 else { return false }
        var remaining = prefix
        for index in network.indices where remaining > 0 {
            let bits = min(8, remaining)
            let mask: UInt8 = bits == 8 ? 0xFF : ~(0xFF >> UInt8(bits))
            if network[index] & mask != candidate[index] & mask { return false }
            remaining -= bits
        }
        return true
    }
}
