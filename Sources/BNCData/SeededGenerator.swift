/// A deterministic random number generator: xoshiro256** (Blackman & Vigna, 2018) seeded
/// through SplitMix64.
///
/// Stability guarantee: for a given seed, every output of `next()`, `nextUniform()`,
/// `nextUniformFloat()`, `nextInt(below:)`, `nextGaussian()` and `shuffle(_:)` is the same on
/// every platform and every version of bnc. They use only integer arithmetic and IEEE-754
/// basic operations (+, −, ×, ÷, square root, all correctly rounded); the Gaussian uses the
/// polar form of Box–Muller with a logarithm computed here from those operations, not the C
/// library's `log`, `sin` or `cos` (whose last bits differ between libms). bnc relies on this
/// for byte-identical retraining from a seed and for resuming from a checkpoint (`state`).
///
/// Do not use the standard library's `Float.random(in:using:)` or `shuffled(using:)` where
/// stability matters: their algorithms may change between Swift versions.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Equatable {
    /// The complete generator state, for checkpoints.
    public struct State: Sendable, Equatable, Hashable {
        /// The four xoshiro256** words (never all zero).
        public internal(set) var s0, s1, s2, s3: UInt64
        /// The second value of the last Gaussian pair, not yet returned.
        public internal(set) var cachedGaussian: Double?

        /// The state as 6 words: s0, s1, s2, s3, 1 if a Gaussian is cached else 0, and the
        /// cached Gaussian's bit pattern (0 when none).
        public var words: [UInt64] {
            [s0, s1, s2, s3, cachedGaussian == nil ? 0 : 1, cachedGaussian?.bitPattern ?? 0]
        }

        /// A state from `words` (as produced by `words`); nil unless there are exactly 6
        /// words, the flag is 0 or 1, the xoshiro words are not all zero and a cached
        /// Gaussian is finite.
        public init?(words: [UInt64]) {
            guard words.count == 6, words[4] <= 1, words[0...3].contains(where: { $0 != 0 }) else { return nil }
            let cached = words[4] == 1 ? Double(bitPattern: words[5]) : nil
            if let cached, !cached.isFinite { return nil }
            if words[4] == 0 && words[5] != 0 { return nil }
            (s0, s1, s2, s3) = (words[0], words[1], words[2], words[3])
            cachedGaussian = cached
        }

        init(s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64, cachedGaussian: Double?) {
            (self.s0, self.s1, self.s2, self.s3) = (s0, s1, s2, s3)
            self.cachedGaussian = cachedGaussian
        }
    }

    /// The current state; assign a saved one to continue exactly where it was taken.
    public var state: State

    /// A generator whose whole output sequence is determined by `seed`.
    public init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x = x &+ 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let a = splitMix(), b = splitMix(), c = splitMix(), d = splitMix()
        // SplitMix64 is a bijection of distinct counters, so a, b, c, d are never all zero.
        state = State(s0: a, s1: b, s2: c, s3: d, cachedGaussian: nil)
    }

    /// A generator continuing from a saved state.
    public init(state: State) {
        self.state = state
    }

    /// The next 64 random bits (xoshiro256**).
    public mutating func next() -> UInt64 {
        let result = rotl(state.s1 &* 5, 7) &* 9
        let t = state.s1 << 17
        state.s2 ^= state.s0
        state.s3 ^= state.s1
        state.s1 ^= state.s2
        state.s0 ^= state.s3
        state.s2 ^= t
        state.s3 = rotl(state.s3, 45)
        return result
    }

    /// Uniform on [0, 1), a multiple of 2⁻⁵³ (the top 53 bits of `next()`).
    public mutating func nextUniform() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// Uniform on [0, 1), a multiple of 2⁻²⁴ (the top 24 bits of `next()`).
    public mutating func nextUniformFloat() -> Float {
        Float(next() >> 40) * 0x1p-24
    }

    /// Uniform on `0..<bound`, unbiased (Lemire's multiply-and-reject). Precondition: bound > 0.
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "bound must be positive")
        let n = UInt64(bound)
        var m = next().multipliedFullWidth(by: n)
        if m.low < n {
            let threshold = (0 &- n) % n
            while m.low < threshold {
                m = next().multipliedFullWidth(by: n)
            }
        }
        return Int(m.high)
    }

    /// Standard normal N(0, 1): Marsaglia's polar form of Box–Muller; values come in pairs
    /// and the second is cached for the next call (and kept in `state`).
    public mutating func nextGaussian() -> Double {
        if let cached = state.cachedGaussian {
            state.cachedGaussian = nil
            return cached
        }
        while true {
            let u = 2 * nextUniform() - 1
            let v = 2 * nextUniform() - 1
            let s = u * u + v * v
            if s >= 1 || s == 0 { continue }
            let m = (-2 * portableLog(s) / s).squareRoot()
            state.cachedGaussian = v * m
            return u * m
        }
    }

    /// Fisher–Yates shuffle driven by `nextInt(below:)`; the same seed gives the same order
    /// everywhere.
    public mutating func shuffle<C: MutableCollection & RandomAccessCollection>(_ collection: inout C) {
        let n = collection.count
        guard n > 1 else { return }
        for i in stride(from: n - 1, to: 0, by: -1) {
            let j = nextInt(below: i + 1)
            if j != i {
                collection.swapAt(
                    collection.index(collection.startIndex, offsetBy: i),
                    collection.index(collection.startIndex, offsetBy: j))
            }
        }
    }

    @inline(__always)
    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 {
        (x << k) | (x >> (64 - k))
    }
}

/// Natural logarithm of a positive finite `x` from IEEE-754 basic operations only, so it
/// gives the same bits on every platform (unlike the C library's `log`). Error ≲ 2 ulp.
///
/// x = m · 2ᵉ with m in [√½, √2); ln m = 2 atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.172,
/// summed as an odd series to s²³ (remaining terms < 1e-18 relative).
func portableLog(_ x: Double) -> Double {
    precondition(x > 0 && x.isFinite, "portableLog needs a positive finite argument")
    var m = x.significand  // [1, 2), exact
    var e = Double(x.exponent)  // exact
    if m > 1.4142135623730951 {
        m *= 0.5  // exact
        e += 1
    }
    let s = (m - 1) / (m + 1)
    let s2 = s * s
    // atanh(s)/s = Σ s²ᵏ/(2k+1), k = 0...11, Horner from the smallest term.
    var sum = 1.0 / 23.0
    var k = 21.0
    while k >= 1 {
        sum = sum * s2 + 1.0 / k
        k -= 2
    }
    // ln 2 split in a high part with trailing zero bits (e · ln2Hi is exact for |e| < 2¹¹)
    // and the rest.
    let ln2Hi = 6.93147180369123816490e-01
    let ln2Lo = 1.90821492927058770002e-10
    return e * ln2Hi + (2 * s * sum + e * ln2Lo)
}
