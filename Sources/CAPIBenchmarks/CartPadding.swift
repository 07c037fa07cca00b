/// A cart of `custom_data.contents` items, to measure with events the size of large orders.
enum CartPadding {
    static let item = #"{"id":"sku-0000","quantity":1,"item_price":19.5}"#

    /// `,"contents":[…]`, with its leading comma, of at least `bytes` bytes; nothing when `bytes`
    /// is not positive.
    static func contents(bytes: Int) -> String {
        guard bytes > 0 else { return "" }
        let frame = #","contents":[]"#.utf8.count
        let each = item.utf8.count + 1  // with the comma between items
        let count = max(1, (bytes - frame + 1 + each - 1) / each)
        return #","contents":["# + Array(repeating: item, count: count).joined(separator: ",") + "]"
    }
}
