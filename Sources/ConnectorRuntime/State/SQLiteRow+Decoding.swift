import CAPICore
import SQLiteNIO

/// Strict column reads: a missing column, a NULL where a value belongs or a value of the wrong type
/// is an error naming the column, never a silent `""` or `0` that would pass as data.
extension SQLiteRow {
    func text(_ column: String) throws(StateError) -> String {
        guard let value = try optionalText(column) else { throw Self.bad(column, "is NULL") }
        return value
    }

    func optionalText(_ column: String) throws(StateError) -> String? {
        switch self.column(column) {
        case .text(let value)?: return value
        case .null?: return nil
        case nil: throw Self.bad(column, "is missing")
        case let other?: throw Self.bad(column, "holds \(other) where text belongs")
        }
    }

    func int64(_ column: String) throws(StateError) -> Int64 {
        guard let value = try optionalInt64(column) else { throw Self.bad(column, "is NULL") }
        return value
    }

    func optionalInt64(_ column: String) throws(StateError) -> Int64? {
        switch self.column(column) {
        case .integer(let value)?: return Int64(value)
        case .null?: return nil
        case nil: throw Self.bad(column, "is missing")
        case .text?, .float?, .blob?: throw Self.bad(column, "holds a non-integer value")
        }
    }

    func int(_ column: String) throws(StateError) -> Int { Int(try int64(column)) }
    func optionalInt(_ column: String) throws(StateError) -> Int? { try optionalInt64(column).map { Int($0) } }
    func millis(_ column: String) throws(StateError) -> UnixMillis { UnixMillis(try int64(column)) }
    func optionalMillis(_ column: String) throws(StateError) -> UnixMillis? { try optionalInt64(column).map { UnixMillis($0) } }
    func seconds(_ column: String) throws(StateError) -> UnixSeconds { UnixSeconds(try int64(column)) }

    /// A text column holding one of a vocabulary's values.
    func value<Value: RawRepresentable<String>>(_ column: String, as type: Value.Type) throws(StateError) -> Value {
        try StateColumns.value(try text(column), column: column, as: type)
    }

    /// `pixel_id`, `event_id` and `event_time`.
    func eventKey() throws(StateError) -> EventKey {
        EventKey(pixelID: try text("pixel_id"), eventID: try text("event_id"), eventTime: try seconds("event_time"))
    }

    static func bad(_ column: String, _ problem: String) -> StateError {
        StateError(.query, "sqlite: column `\(column)` \(problem)")
    }
}
