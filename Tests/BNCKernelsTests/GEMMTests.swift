import Testing
@testable import BNCKernels

/// GEMM against a naive Double triple loop. Tolerance: 1e-5 mixed error (Float rounding
/// over k ≤ 800 products of values in [−1, 1]).
struct GEMMTests {
    func reference(
        transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: [Float], lda: Int,
        b: [Float], ldb: Int, beta: Float, c: [Float], ldc: Int
    ) -> [Double] {
        var out = c.map(Double.init)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let av = transA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                    s += Double(av) * Double(bv)
                }
                out[i * ldc + j] = Double(alpha) * s + Double(beta) * Double(c[i * ldc + j])
            }
        }
        return out
    }

    func check(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, beta: Float, pad: Int, seed: UInt64) {
        var rng = TestRandom(seed)
        let lda = (transA ? m : k) + pad, ldb = (transB ? k : n) + pad, ldc = n + pad
        let a = rng.floats((transA ? k : m) * lda)
        let b = rng.floats((transB ? n : k) * ldb)
        var c = rng.floats(m * ldc)
        let expected = reference(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                                 b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    GEMM.multiply(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                                  a: ap.baseAddress!, lda: lda, b: bp.baseAddress!, ldb: ldb,
                                  beta: beta, c: cp.baseAddress!, ldc: ldc)
                }
            }
        }
        let err = maxError(c, expected)
        #expect(err < 1e-5, "transA \(transA) transB \(transB) \(m)×\(n)×\(k): error \(err)")
    }

    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func smallAllTransposes(_ t: (Bool, Bool)) {
        check(transA: t.0, transB: t.1, m: 5, n: 7, k: 3, alpha: 1, beta: 0, pad: 0, seed: 1)
        check(transA: t.0, transB: t.1, m: 4, n: 9, k: 11, alpha: 0.5, beta: -2, pad: 3, seed: 2)
    }

    /// Large enough to be split over two threads, by rows and by columns.
    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func splitProductsAllTransposes(_ t: (Bool, Bool)) {
        check(transA: t.0, transB: t.1, m: 67, n: 101, k: 90, alpha: 1, beta: 0, pad: 1, seed: 3)  // rows
        check(transA: t.0, transB: t.1, m: 3, n: 530, k: 300, alpha: 1, beta: 1, pad: 2, seed: 4)  // columns
    }

    @Test func zeroInnerDimensionScalesC() {
        var c: [Float] = [1, 2, 3, 4]
        let a: [Float] = [0], b: [Float] = [0]
        GEMM.multiply(m: 2, n: 2, k: 0, a: a, lda: 1, b: b, ldb: 2, beta: 0.5, c: &c, ldc: 2)
        #expect(c == [0.5, 1, 1.5, 2])
    }

    /// The split is fixed by shape: serial and concurrent runs give identical bits.
    @Test func splitIsDeterministic() {
        var rng = TestRandom(9)
        let m = 128, n = 100, k = 784
        let a = rng.floats(m * k), b = rng.floats(n * k)
        var c1 = [Float](repeating: 0, count: m * n), c2 = c1
        GEMM.multiply(transB: true, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, c: &c1, ldc: n)
        for i in 0..<m {  // one row at a time, never split
            a.withUnsafeBufferPointer { ap in
                c2.withUnsafeMutableBufferPointer { cp in
                    GEMM.multiplySerial(transB: true, m: 1, n: n, k: k, a: ap.baseAddress! + i * k, lda: k,
                                        b: b, ldb: k, c: cp.baseAddress! + i * n, ldc: n)
                }
            }
        }
        let err = maxError(c1, c2.map(Double.init))
        #expect(err < 1e-5)
    }

    @Test func parallelRangesCoverInOrder() {
        for count in [0, 1, 2, 7, 100, 101] {
            for alignment in [1, 16] {
                var next = 0
                for s in 0..<Parallel.ways {
                    let r = Parallel.range(s, of: count, alignment: alignment)
                    #expect(r.lowerBound == next)
                    if s < Parallel.ways - 1 && r.upperBound < count { #expect(r.upperBound % alignment == 0) }
                    next = r.upperBound
                }
                #expect(next == count)
            }
        }
    }
}
