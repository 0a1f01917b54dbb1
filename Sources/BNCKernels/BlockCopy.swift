/// Copies of row blocks between buffers with different row lengths: Concat writes each input
/// into its columns of the output.
///
///     y[r·yRow + c] = x[r·xRow + c]      for r in 0..<rows, c in 0..<columns
///
/// (for Concat along an axis: rows = the product of the dims before it, columns = the
/// input's dim there times the product of the dims after it, yRow the same for the output).
/// Element type agnostic: FLOAT at run time, `Int64` for the shape arithmetic of planning.
public enum BlockCopy {
    /// Smallest copy (elements) split over the cores.
    public static let splitMinimum = IndexedCopy.splitMinimum

    /// The copy, over both cores when `parallel` and it is large.
    public static func copy(
        rows: Int, columns: Int, from x: UnsafePointer<Float>, rowStride xRow: Int,
        into y: UnsafeMutablePointer<Float>, rowStride yRow: Int, parallel: Bool
    ) {
        if parallel && rows >= 2 && rows * columns >= splitMinimum {
            Parallel.forEachSlice { slice in
                copy(Parallel.range(slice, of: rows), columns, x, xRow, y, yRow)
            }
        } else {
            copy(0..<rows, columns, x, xRow, y, yRow)
        }
    }

    /// The copy over integer elements.
    public static func copy(
        rows: Int, columns: Int, from x: UnsafePointer<Int64>, rowStride xRow: Int,
        into y: UnsafeMutablePointer<Int64>, rowStride yRow: Int
    ) {
        copy(0..<rows, columns, x, xRow, y, yRow)
    }

    private static func copy<T>(
        _ rows: Range<Int>, _ columns: Int, _ x: UnsafePointer<T>, _ xRow: Int, _ y: UnsafeMutablePointer<T>, _ yRow: Int
    ) {
        if columns == xRow && columns == yRow {
            (y + rows.lowerBound * yRow).update(from: x + rows.lowerBound * xRow, count: rows.count * columns)
            return
        }
        for r in rows { (y + r * yRow).update(from: x + r * xRow, count: columns) }
    }

    /// Concatenation of arrays viewed as (rows, columns_i) into (rows, Σ columns_i), for the
    /// constants of planning.
    public static func concatenate<T>(_ parts: [(values: [T], columns: Int)], rows: Int, zero: T) -> [T] {
        let total = parts.reduce(0) { $0 + $1.columns }
        var out = [T](repeating: zero, count: rows * total)
        out.withUnsafeMutableBufferPointer { y in
            var at = 0
            for p in parts where p.columns > 0 {
                p.values.withUnsafeBufferPointer { x in
                    copy(0..<rows, p.columns, x.baseAddress!, p.columns, y.baseAddress! + at, total)
                }
                at += p.columns
            }
        }
        return out
    }
}
