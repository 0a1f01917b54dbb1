import Testing

@testable import BNCKernels

/// IndexedCopy against the definition, y[j] = x[base + Σ_d offset_d(j_d)] (fill where an
/// offset is negative), evaluated index by index; copies are exact, so outputs must be equal.
@Suite struct IndexedCopyTests {
    /// The definition, one output element at a time.
    static func naive(_ axes: [IndexedCopy.Axis], base: Int, _ x: [Float], fill: Float) -> [Float] {
        let shape = axes.map(\.count)
        let total = shape.reduce(1, *)
        var out: [Float] = []
        var idx = [Int](repeating: 0, count: shape.count)
        for _ in 0..<total {
            var o = base
            var filled = false
            for (d, a) in axes.enumerated() {
                let v: Int
                switch a {
                case .affine(_, let s, let st): v = s + idx[d] * st
                case .table(let t): v = t[idx[d]]
                }
                if v < 0 { filled = true } else { o += v }
            }
            out.append(filled ? fill : x[o])
            var d = shape.count - 1
            while d >= 0 {
                idx[d] += 1
                if idx[d] < shape[d] { break }
                idx[d] = 0
                d -= 1
            }
        }
        return out
    }

    /// Random axes: affine ones of any stride sign (0 too) and tables with fills.
    static func randomAxes(_ rng: inout TestRandom, rank: Int) -> [IndexedCopy.Axis] {
        (0..<rank).map { _ in
            let n = Int(rng.next() % 5) + 1
            if rng.next() % 3 == 0 {
                return .table((0..<n).map { _ in rng.next() % 5 == 0 ? -1 : Int(rng.next() % 12) })
            }
            let stride = Int(rng.next() % 7) - 3
            let start = (stride < 0 ? (n - 1) * -stride : 0) + Int(rng.next() % 3)
            return .affine(count: n, start: start, stride: stride)
        }
    }

    @Test func randomCopiesEqualTheDefinition() {
        var rng = TestRandom(11)
        for trial in 0..<400 {
            let axes = Self.randomAxes(&rng, rank: Int(rng.next() % 5))
            let base = Int(rng.next() % 4)
            let copy = IndexedCopy(axes: axes, base: base)
            let x = rng.floats(max(1, copy.largestOffset + 1))
            let want = Self.naive(axes, base: base, x, fill: 7.5)
            #expect(copy.count == want.count)
            #expect(copy.apply(x, fill: 7.5) == want, "trial \(trial): \(axes) base \(base)")
            // The Int64 path and the pointer path agree with the array one.
            let xi = x.map { Int64($0 * 1000) }
            var yi = [Int64](repeating: 0, count: copy.count)
            xi.withUnsafeBufferPointer { p in yi.withUnsafeMutableBufferPointer { copy.run(p.baseAddress!, into: $0.baseAddress!, fill: 7) } }
            #expect(yi == Self.naive(axes, base: base, x, fill: 0.007).map { Int64($0 * 1000) }, "trial \(trial) (Int64)")
        }
    }

    @Test func theLargestOffsetIsWhatTheCopyReads() {
        var rng = TestRandom(3)
        for _ in 0..<200 {
            let axes = Self.randomAxes(&rng, rank: 3)
            let copy = IndexedCopy(axes: axes)
            let x = (0..<max(1, copy.largestOffset + 1)).map(Float.init)
            let read = Self.naive(axes, base: 0, x, fill: -1).filter { $0 >= 0 }
            #expect(Int(read.max() ?? -1) <= copy.largestOffset)
        }
    }

    @Test func contiguousAxesMergeIntoOneRow() {
        // (2, 3, 4) read in order: one row of 24; a transpose of the last two: rows of 3.
        let same = IndexedCopy(axes: [.affine(count: 2, start: 0, stride: 12), .affine(count: 3, start: 0, stride: 4),
                                      .affine(count: 4, start: 0, stride: 1)])
        #expect(same.outer.isEmpty && same.rowLength == 24 && same.runs.count == 1)
        let swapped = IndexedCopy(axes: [.affine(count: 2, start: 0, stride: 12), .affine(count: 4, start: 0, stride: 1),
                                         .affine(count: 3, start: 0, stride: 4)])
        #expect(swapped.outer.count == 2 && swapped.rowLength == 3)
        // Axes of one element only move the base.
        let single = IndexedCopy(axes: [.affine(count: 1, start: 5, stride: 99), .table([3]), .affine(count: 2, start: 0, stride: 1)])
        #expect(single.outer.isEmpty && single.apply((0..<10).map(Float.init), fill: 0) == [8, 9])
    }

    @Test func splitOverTheCoresGivesTheSameResult() {
        // (64, 40, 33) transposed to (33, 64, 40): 84480 elements ≥ splitMinimum.
        var rng = TestRandom(5)
        let dims = [64, 40, 33]
        let x = rng.floats(dims.reduce(1, *))
        let copy = IndexedCopy(axes: [.affine(count: 33, start: 0, stride: 1), .affine(count: 64, start: 0, stride: 40 * 33),
                                      .affine(count: 40, start: 0, stride: 33)])
        #expect(copy.count >= IndexedCopy.splitMinimum)
        var serial = [Float](repeating: 0, count: copy.count), parallel = serial
        x.withUnsafeBufferPointer { p in
            serial.withUnsafeMutableBufferPointer { copy.run(p.baseAddress!, into: $0.baseAddress!, parallel: false) }
            parallel.withUnsafeMutableBufferPointer { copy.run(p.baseAddress!, into: $0.baseAddress!, parallel: true) }
        }
        #expect(serial == parallel)
        #expect(serial == copy.apply(x, fill: 0))
        #expect(serial[1] == x[33] && serial[40] == x[40 * 33])  // y[0, 0, 1] = x[0, 1, 0], y[0, 1, 0] = x[1, 0, 0]
    }
}

/// BlockCopy: rows of `columns` between buffers of different row lengths.
@Suite struct BlockCopyTests {
    @Test func concatenationPlacesEveryBlock() {
        // (2, 3) and (2, 1) side by side: [[a0 a1 a2 b0], [a3 a4 a5 b1]].
        let out = BlockCopy.concatenate([([1, 2, 3, 4, 5, 6] as [Float], 3), ([7, 8], 1), ([], 0)], rows: 2, zero: 0)
        #expect(out == [1, 2, 3, 7, 4, 5, 6, 8])
        let ints = BlockCopy.concatenate([([1, 2] as [Int64], 1), ([3, 4, 5, 6], 2)], rows: 2, zero: 0)
        #expect(ints == [1, 3, 4, 2, 5, 6])
    }

    @Test func parallelAndSerialCopiesAgree() {
        var rng = TestRandom(9)
        let rows = 700, columns = 100, width = 130
        let x = rng.floats(rows * columns)
        var a = [Float](repeating: -1, count: rows * width), b = a
        x.withUnsafeBufferPointer { p in
            a.withUnsafeMutableBufferPointer {
                BlockCopy.copy(rows: rows, columns: columns, from: p.baseAddress!, rowStride: columns, into: $0.baseAddress! + 30, rowStride: width, parallel: false)
            }
            b.withUnsafeMutableBufferPointer {
                BlockCopy.copy(rows: rows, columns: columns, from: p.baseAddress!, rowStride: columns, into: $0.baseAddress! + 30, rowStride: width, parallel: true)
            }
        }
        #expect(a == b)
        for r in [0, 1, 399, 699] {
            #expect(Array(a[(r * width + 30)..<(r * width + 130)]) == Array(x[(r * columns)..<((r + 1) * columns)]))
            #expect(a[r * width + 29] == -1)
        }
    }
}
