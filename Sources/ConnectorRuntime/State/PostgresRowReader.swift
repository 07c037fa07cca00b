import PostgresNIO

/// Reads a row's cells in column order, each with its concrete type.
///
/// PostgresNIO's tuple `decode` goes through a parameter pack that is not specialized per column:
/// every cell looked up its type's metadata at run time. On the forwarder's claim, 4,000 rows of
/// nine columns at a time, that was 4.3% of the machine's samples in `bench ingest`.
struct PostgresRowReader {
    private var cells: PostgresRow.Iterator

    init(_ row: PostgresRow) {
        cells = row.makeIterator()
    }

    /// The next cell. The statements that use this have fixed column lists, so a missing cell is
    /// a programming error, as PostgresNIO's own tuple `decode` treats it.
    mutating func next<Value: PostgresDecodable>(_: Value.Type = Value.self) throws -> Value {
        guard let cell = cells.next() else { preconditionFailure("the row has fewer columns than the statement returns") }
        return try cell.decode(Value.self)
    }
}
