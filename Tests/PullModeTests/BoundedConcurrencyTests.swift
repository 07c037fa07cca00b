import Synchronization
import Testing

@testable import PullMode

@Suite("Pixels and accounts polled a few at a time")
struct BoundedConcurrencyTests {
    @Test("every element is worked on once, never more than the limit at a time, and the limit is reached")
    func bounded() async {
        let running = Mutex((now: 0, most: 0))
        var collected: [Int] = []
        await forEach(Array(0..<40), atMost: 8) { element in
            running.withLock {
                $0.now += 1
                $0.most = max($0.most, $0.now)
            }
            try? await Task.sleep(for: .milliseconds(5))
            running.withLock { $0.now -= 1 }
            return element * 2
        } collect: {
            collected.append($0)
        }
        #expect(collected.sorted() == Array(0..<40).map { $0 * 2 })
        #expect(running.withLock { $0.most } == 8)
    }

    @Test("fewer elements than the limit, or none, are all started")
    func few() async {
        var collected: [Int] = []
        await forEach([1, 2, 3], atMost: 8) {
            $0
        } collect: {
            collected.append($0)
        }
        #expect(collected.sorted() == [1, 2, 3])
        await forEach([Int](), atMost: 8) {
            $0
        } collect: {
            collected.append($0)
        }
        #expect(collected.count == 3)
    }
}
