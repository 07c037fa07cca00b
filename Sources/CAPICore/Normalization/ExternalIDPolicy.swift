/// What happens to `external_id` (manifest `push.external_id`): hashed like other identifiers
/// (Meta's recommendation), or passed through for advertisers who already send Meta their own ids.
public enum ExternalIDPolicy: String, Sendable, CaseIterable {
    case hash
    case passthrough
}
