import Testing

@testable import BNCData

@Suite struct ToyRegressionTests {
    @Test func defaultSizeAndDeterminism() {
        let a = ToyRegression.generate(seed: 1)
        let b = ToyRegression.generate(seed: 1)
        let c = ToyRegression.generate(seed: 2)
        #expect(a.x.count == 500 && a.y.count == 500)
        #expect(a.x == b.x && a.y == b.y)
        #expect(a.x != c.x)
    }

    @Test func statistics() {
        let n = 100_000
        let (x, y) = ToyRegression.generate(count: n, seed: 77)
        #expect(x.allSatisfy { $0 >= -7 && $0 <= 10 })
        #expect(x.min()! < -6.99 && x.max()! > 9.99)
        let xm = x.reduce(0.0) { $0 + Double($1) } / Double(n)
        // Uniform on [−7, 10]: mean 1.5, sd 17/√12 ≈ 4.91; 5 standard errors ≈ 0.078.
        #expect(abs(xm - 1.5) < 0.078)
        var s1 = 0.0, s2 = 0.0
        for i in 0..<n {
            let xd = Double(x[i])
            let noise = Double(y[i]) - (xd * xd - 5)
            s1 += noise
            s2 += noise * noise
        }
        let mean = s1 / Double(n)
        let sd = (s2 / Double(n) - mean * mean).squareRoot()
        // Noise N(0, 8²): mean within 5 · 8/√n ≈ 0.126, sd within 5 · 8/√(2n) ≈ 0.089.
        #expect(abs(mean) < 0.126)
        #expect(abs(sd - 8) < 0.09)
    }
}
