import CAPICore
import Foundation

/// Pure bookkeeping for an intake commit: which items the ledger took, which must be compared
/// with an existing row, and the outcome of each, in the caller's order.
struct IntakePlan {
    let items: [IntakeItem]
    /// Indexes of items that are new (the first occurrence of each inserted key).
    private(set) var accepted: [Int] = []
    /// Keys whose ledger row existed before this commit.
    private(set) var lookups: [EventKey] = []
    private var firstIndexOf: [EventKey: Int] = [:]

    init(items: [IntakeItem], insertedKeys: Set<EventKey>) {
        self.items = items
        var lookupSet = Set<EventKey>()
        for (index, item) in items.enumerated() {
            if firstIndexOf[item.key] == nil {
                firstIndexOf[item.key] = index
                if insertedKeys.contains(item.key) {
                    accepted.append(index)
                } else if lookupSet.insert(item.key).inserted {
                    lookups.append(item.key)
                }
            }
        }
    }

    /// Outcomes in item order; `existing` holds the stored hash and answer of looked-up keys.
    func outcomes(existing: [EventKey: (hash: String, answer: String)]) -> [IntakeOutcome] {
        let acceptedSet = Set(accepted)
        return items.enumerated().map { index, item in
            if acceptedSet.contains(index) { return .accepted }
            let reference: (hash: String, answer: String)
            if let stored = existing[item.key] {
                reference = stored
            } else if let first = firstIndexOf[item.key], acceptedSet.contains(first) {
                reference = (items[first].contentHash, items[first].answer)
            } else {
                return .conflict
            }
            return reference.hash == item.contentHash ? .duplicate(answer: reference.answer) : .conflict
        }
    }
}
