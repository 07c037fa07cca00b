/// Runs `work` for every element, at most `limit` at once, and hands each result to `collect` as
/// it comes (in the order they finish).
///
/// A pull over every pixel or ad account of a manifest: a hundred of them must not open a hundred
/// Graph calls and as many store transactions in the same instant, on a task sized for a few.
func forEach<Element: Sendable, Result: Sendable>(
    _ elements: [Element],
    atMost limit: Int,
    _ work: @escaping @Sendable (Element) async -> Result,
    collect: (Result) -> Void
) async {
    await withTaskGroup(of: Result.self) { group in
        var waiting = elements[...]
        func startNext() {
            guard let element = waiting.popFirst() else { return }
            group.addTask { await work(element) }
        }
        for _ in 0..<max(1, limit) { startNext() }
        for await result in group {
            collect(result)
            startNext()
        }
    }
}
