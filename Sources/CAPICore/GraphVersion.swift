/// Graph API versions as Meta writes them, `v<major>.<minor>` (`v26.0`).
public enum GraphVersion {
    public static func isValid(_ text: some StringProtocol) -> Bool {
        let parts = text.utf8.dropFirst().split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        return text.utf8.first == UInt8(ascii: "v") && parts.count == 2
            && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) } }
    }

    /// The version a base URL's path ends in (`https://graph.facebook.com/v26.0`), if any: the
    /// version is added to every path, so such a base would send to `/v26.0/v26.0/…`.
    public static func trailing(inPath path: String) -> Substring? {
        path.split(separator: "/").last.flatMap { isValid($0) ? $0 : nil }
    }
}
