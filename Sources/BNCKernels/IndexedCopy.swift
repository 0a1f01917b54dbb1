/// Data movement by per-axis offset tables: the one kernel behind Transpose, Slice, Split,
/// Gather, Expand, Tile and Pad.
///
///     y[j₀, …, jᵣ₋₁] = x[base + Σ_d offset_d(j_d)]      (y dense, row-major)
///
/// and `fill` wherever some offset_d(j_d) is negative (Pad's constant mode). Each output axis
/// d gives offset_d either as an affine map `start + j·stride` (Transpose: the input stride
/// of the permuted axis; Slice: start·stride and step·stride; Expand: stride 0) or as an
/// explicit table (Gather's indices, Pad's reflected or clamped positions). The output may
/// have more axes than the input (Tile reads the input through (repeats, dim) pairs).
///
/// The constructor merges neighbouring axes that read contiguously into one and cuts the
/// last axis into runs of constant stride, so the copy is a memcpy per row where the data
/// allows it and one strided loop per run otherwise; nothing is allocated while it runs.
/// Element type agnostic: FLOAT at run time, and the integer tensors of shape arithmetic
/// (`Int64`) while planning, through the same code.
public struct IndexedCopy: Sendable, Equatable {
    /// How one output axis reads the input.
    public enum Axis: Sendable, Equatable {
        /// offset(j) = start + j·stride for j in 0..<count.
        case affine(count: Int, start: Int, stride: Int)
        /// offset(j) = offsets[j]; negative means `fill`.
        case table([Int])

        public var count: Int {
            switch self {
            case .affine(let n, _, _): return n
            case .table(let t): return t.count
            }
        }

        func offset(_ j: Int) -> Int {
            switch self {
            case .affine(_, let start, let stride): return start + j * stride
            case .table(let t): return t[j]
            }
        }

        /// The same map as an affine one when it is (no fill, constant step).
        var normalized: Axis {
            guard case .table(let t) = self else { return self }
            guard let first = t.first, first >= 0 else { return self }
            if t.count == 1 { return .affine(count: 1, start: first, stride: 0) }
            let step = t[1] - t[0]
            for j in 1..<t.count where t[j] < 0 || t[j] - t[j - 1] != step { return self }
            return .affine(count: t.count, start: first, stride: step)
        }
    }

    /// A piece of the last axis: `count` elements from output position `first`.
    struct Run: Sendable, Equatable {
        var first: Int
        var count: Int
        /// Input offset of the first element and the step between elements; nil: fill.
        var offset: Int?
        var stride: Int
    }

    /// Output elements.
    public let count: Int
    /// Outer axes (all but the last, after merging) and the runs of the last one.
    let outer: [Axis]
    let runs: [Run]
    /// Elements per output row (the last merged axis).
    let rowLength: Int
    /// Largest input offset read, −1 when everything is fill: callers check it against the
    /// input's size.
    public let largestOffset: Int
    /// The same, flat for the copy loop: per outer axis (count, start, stride, first entry in
    /// `tables` or −1 when affine); per run (first, count, offset or −1 for fill, stride).
    let axisData: [Int]
    let tables: [Int]
    let runData: [Int]

    /// A copy whose output has one axis per entry of `axes` (outermost first; none for a
    /// scalar), reading the input at `base` plus the axes' offsets.
    public init(axes: [Axis], base: Int = 0) {
        var merged: [Axis] = []
        var pendingBase = base
        for a in axes.map(\.normalized) {
            // A single-element axis only moves the base (or fills everything).
            if a.count == 1, case .affine(_, let start, _) = a {
                pendingBase += start
                continue
            }
            if let last = merged.last, case .affine(let n0, let s0, let st0) = last,
               case .affine(let n1, let s1, let st1) = a, st0 == st1 * n1 {
                merged[merged.count - 1] = .affine(count: n0 * n1, start: s0 + s1, stride: st1)
                continue
            }
            merged.append(a)
        }
        if merged.isEmpty { merged = [.affine(count: 1, start: 0, stride: 0)] }
        // The base goes into the first axis (keeping fills negative).
        switch merged[0] {
        case .affine(let n, let s, let st): merged[0] = .affine(count: n, start: s + pendingBase, stride: st)
        case .table(let t): merged[0] = .table(t.map { $0 < 0 ? $0 : $0 + pendingBase })
        }
        count = merged.reduce(1) { $0 * $1.count }
        let last = merged.removeLast()
        outer = merged
        rowLength = last.count
        runs = IndexedCopy.runs(last)
        var axisData: [Int] = [], tables: [Int] = []
        for a in merged {
            switch a {
            case .affine(let n, let s, let st): axisData += [n, s, st, -1]
            case .table(let t):
                axisData += [t.count, 0, 0, tables.count]
                tables += t
            }
        }
        self.axisData = axisData
        self.tables = tables
        runData = runs.flatMap { [$0.first, $0.count, $0.offset ?? -1, $0.stride] }
        // Largest offset: the sum of each axis' largest (fills never read).
        var largest = 0
        var anyRead = true
        for a in merged + [last] {
            var m = -1
            switch a {
            case .affine(let n, let s, let st):
                precondition(n == 0 || min(s, s + (n - 1) * st) >= 0, "IndexedCopy: an affine axis reads below the input")
                m = n == 0 ? -1 : max(s, s + (n - 1) * st)
            case .table(let t): m = t.max() ?? -1
            }
            if m < 0 { anyRead = false }
            largest += max(m, 0)
        }
        largestOffset = anyRead && count > 0 ? largest : -1
    }

    /// The last axis as maximal runs of constant stride (fills as runs of their own).
    private static func runs(_ axis: Axis) -> [Run] {
        switch axis {
        case .affine(let n, let s, let st):
            return n == 0 ? [] : [Run(first: 0, count: n, offset: s, stride: st)]
        case .table(let t):
            var runs: [Run] = []
            var j = 0
            while j < t.count {
                if t[j] < 0 {
                    var k = j + 1
                    while k < t.count && t[k] < 0 { k += 1 }
                    runs.append(Run(first: j, count: k - j, offset: nil, stride: 0))
                    j = k
                    continue
                }
                var k = j + 1
                let step = k < t.count && t[k] >= 0 ? t[k] - t[j] : 0
                while k < t.count && t[k] >= 0 && t[k] - t[k - 1] == step { k += 1 }
                runs.append(Run(first: j, count: k - j, offset: t[j], stride: step))
                j = k
            }
            return runs
        }
    }

    /// Whether the copy gives back an input of `inputCount` elements unchanged (its output
    /// may then be the input's memory).
    public func isIdentity(inputCount: Int) -> Bool {
        count == inputCount && outer.isEmpty && runs == [Run(first: 0, count: count, offset: 0, stride: 1)]
    }

    /// Smallest copy (elements) split over the cores: below it one fork/join costs more
    /// than the second core saves.
    public static let splitMinimum = 1 << 16

    /// Runs the copy from `x` into `y` (`count` elements), over both cores when `parallel`
    /// and the copy is large.
    public func run(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, fill: Float = 0, parallel: Bool) {
        let rows = count / max(1, rowLength)
        if parallel && count >= IndexedCopy.splitMinimum && rows >= 2 {
            Parallel.forEachSlice { slice in
                copy(x, into: y, fill: fill, rows: Parallel.range(slice, of: rows))
            }
        } else {
            copy(x, into: y, fill: fill, rows: 0..<rows)
        }
    }

    /// The copy over integer elements (shape arithmetic while planning).
    public func run(_ x: UnsafePointer<Int64>, into y: UnsafeMutablePointer<Int64>, fill: Int64 = 0) {
        copy(x, into: y, fill: fill, rows: 0..<(count / max(1, rowLength)))
    }

    /// The copy of an array (the constants of planning).
    public func apply<T>(_ x: [T], fill: T) -> [T] {
        precondition(largestOffset < x.count, "IndexedCopy: reads offset \(largestOffset) of \(x.count)")
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            x.withUnsafeBufferPointer { src in
                guard let base = buffer.baseAddress else { return }
                base.initialize(repeating: fill, count: count)
                copy(src.baseAddress ?? UnsafePointer(base), into: base, fill: fill, rows: 0..<(count / max(1, rowLength)))
            }
            initialized = count
        }
    }

    /// Rows `rows` of the output (a row is `rowLength` elements of the last merged axis).
    private func copy<T>(_ x: UnsafePointer<T>, into y: UnsafeMutablePointer<T>, fill: T, rows: Range<Int>) {
        if rows.isEmpty || rowLength == 0 { return }
        let r = outer.count
        let rowLength = rowLength
        axisData.withUnsafeBufferPointer { axes in
        tables.withUnsafeBufferPointer { tables in
        runData.withUnsafeBufferPointer { runs in
            let runCount = runs.count / 4
            // An odometer over the outer axes: each one's index and its offset there.
            withUnsafeTemporaryAllocation(of: Int.self, capacity: max(1, 2 * r)) { scratch in
                let index = scratch.baseAddress!, part = index + r
                var rest = rows.lowerBound
                for d in stride(from: r - 1, through: 0, by: -1) {
                    let n = axes[4 * d]
                    index[d] = rest % n
                    rest /= n
                }
                var fills = 0
                var base = 0
                for d in 0..<r {
                    let at = axes[4 * d + 3]
                    part[d] = at < 0 ? axes[4 * d + 1] + index[d] * axes[4 * d + 2] : tables[at + index[d]]
                    if part[d] < 0 { fills += 1 } else { base += part[d] }
                }
                for row in rows {
                    let out = y + row * rowLength
                    if fills > 0 {
                        out.update(repeating: fill, count: rowLength)
                    } else {
                        for k in 0..<runCount {
                            let o = out + runs[4 * k], n = runs[4 * k + 1], start = runs[4 * k + 2], s = runs[4 * k + 3]
                            if start < 0 {
                                o.update(repeating: fill, count: n)
                                continue
                            }
                            let src = x + base + start
                            if s == 1 {
                                o.update(from: src, count: n)
                            } else if s == 0 {
                                o.update(repeating: src.pointee, count: n)
                            } else {
                                for i in 0..<n { o[i] = src[i * s] }
                            }
                        }
                    }
                    // Next row: advance the innermost outer axis, carrying outward.
                    var d = r - 1
                    while d >= 0 {
                        if part[d] < 0 { fills -= 1 } else { base -= part[d] }
                        index[d] += 1
                        if index[d] == axes[4 * d] { index[d] = 0 }
                        let at = axes[4 * d + 3]
                        part[d] = at < 0 ? axes[4 * d + 1] + index[d] * axes[4 * d + 2] : tables[at + index[d]]
                        if part[d] < 0 { fills += 1 } else { base += part[d] }
                        if index[d] != 0 { break }
                        d -= 1
                    }
                }
            }
        }
        }
        }
    }
}
