import Testing
@testable import BNCReport

/// Number and tick formatting: fixed decimals, no exponent, no locale; readable tick labels.
struct SVGNumberTests {
    @Test(arguments: [
        (0.0, 2, "0"), (-0.001, 2, "0"), (1.5, 2, "1.5"), (1.005, 1, "1"), (-12.345, 2, "-12.35"), (0.07, 2, "0.07"),
        (123456.0, 0, "123456"), (0.000123, 6, "0.000123"), (2.0, 3, "2"), (-0.5, 0, "-1"),
    ])
    func formatsFixedDecimals(_ value: Double, _ decimals: Int, _ expected: String) {
        #expect(SVGNumber.format(value, decimals: decimals) == expected)
    }

    @Test func nonFiniteNumbersAreWrittenAsZero() {
        #expect(SVGNumber.format(.nan) == "0")
        #expect(SVGNumber.format(.infinity) == "0")
    }

    @Test(arguments: [(0.7, 1.0), (1.0, 1.0), (1.3, 2.0), (2.2, 2.5), (3.0, 5.0), (7.0, 10.0), (0.031, 0.05), (4200.0, 5000.0)])
    func niceSteps(_ raw: Double, _ nice: Double) {
        #expect(abs(Scale.niceStep(raw) - nice) < 1e-12 * nice)
    }

    @Test func tickLabelsShareOneStyleAcrossAnAxis() {
        #expect(TickFormat.labels([0, 0.25, 0.5, 0.75], step: 0.25, log: false) == ["0", "0.25", "0.5", "0.75"])
        #expect(TickFormat.labels([0, 5000, 10000, 15000], step: 5000, log: false) == ["0", "5k", "10k", "15k"])
        #expect(TickFormat.labels([-2e6, 0, 2e6], step: 2e6, log: false) == ["-2M", "0", "2M"])
        #expect(TickFormat.labels([0, 2.5e9, 5e9], step: 2.5e9, log: false) == ["0", "2.5e9", "5e9"])
        #expect(TickFormat.labels([0.01, 1, 100, 1e4], step: 0, log: true) == ["0.01", "1", "100", "10k"])
        #expect(TickFormat.labels([0.01, 1, 100, 1e4, 1e6], step: 0, log: true) == ["10⁻²", "10⁰", "10²", "10⁴", "10⁶"])
    }

    @Test func linearScaleRoundTripsAndTicksStayInside() {
        let s = Scale.niceLinear(0.37, 9.2, start: 300, end: 20)
        #expect(s.lo == 0 && s.hi == 10)
        for v in [0.0, 3.3, 10] { #expect(abs(s.value(s.pixel(v)) - v) < 1e-9) }
        #expect(s.pixel(0) == 300 && s.pixel(10) == 20)
        let ticks = s.ticks
        #expect(ticks == [0, 2, 4, 6, 8, 10])
    }

    @Test func logScaleCoversWholeDecades() {
        let s = Scale.niceLog(0.3, 4.2e7, start: 400, end: 0)
        #expect(s.lo == 0.1 && s.hi == 1e8)
        // 10^3 is 4 of the 9 decades from 10^-1 to 10^8.
        #expect(abs(s.pixel(1e3) - (400 - 400 * 4.0 / 9.0)) < 1e-9)
        #expect(abs(s.value(s.pixel(1e3)) - 1e3) < 1e-6)
        #expect(s.ticks.first == 0.1 && s.ticks.last == 1e8)
        #expect(s.ticks.count <= 10)
    }

    @Test func escapesMarkup() {
        #expect(XML.escape("a<b & \"c\">", attribute: true) == "a&lt;b &amp; &quot;c&quot;&gt;")
        #expect(XML.escape("\"q\"", attribute: false) == "\"q\"")
    }
}
