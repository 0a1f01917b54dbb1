import Foundation

/// Maps data values to pixels along one axis, linearly or logarithmically (base 10), and
/// chooses readable ("nice") ticks.
public struct Scale: Equatable, Sendable {
    public enum Kind: String, Sendable {
        case linear, log
    }

    public var kind: Kind
    /// Data interval [lo, hi], lo < hi (lo > 0 for log).
    public var lo: Double, hi: Double
    /// Pixel interval the domain maps onto (`start` for lo, `end` for hi; end < start for y).
    public var start: Double, end: Double

    public init(kind: Kind, lo: Double, hi: Double, start: Double, end: Double) {
        precondition(lo < hi && (kind == .linear || lo > 0), "Scale: bad domain [\(lo), \(hi)] for \(kind)")
        self.kind = kind
        self.lo = lo
        self.hi = hi
        self.start = start
        self.end = end
    }

    private func t(_ v: Double) -> Double { kind == .log ? log10(v) : v }

    /// The pixel of value `v` (values outside the domain map outside the pixel interval).
    public func pixel(_ v: Double) -> Double {
        let a = t(lo), b = t(hi)
        return start + (t(v) - a) / (b - a) * (end - start)
    }

    /// The value at pixel `p` (inverse of `pixel`).
    public func value(_ p: Double) -> Double {
        let a = t(lo), b = t(hi)
        let u = a + (p - start) / (end - start) * (b - a)
        return kind == .log ? pow(10, u) : u
    }

    /// Tick values inside the domain (about 6).
    public var ticks: [Double] { tickValues().values }

    /// About `target` + 1 ticks inside the domain and the step between them (linear), for
    /// label formatting.
    public func tickValues(target: Int = 5) -> (values: [Double], step: Double) {
        switch kind {
        case .linear:
            let step = Scale.niceStep((hi - lo) / Double(max(1, target)))
            let first = (lo / step - 1e-9).rounded(.up)
            let last = (hi / step + 1e-9).rounded(.down)
            guard first <= last, last - first < 1000 else { return ([lo, hi], hi - lo) }
            return (stride(from: first, through: last, by: 1).map { $0 * step }, step)
        case .log:
            let a = Int((log10(lo) - 1e-9).rounded(.up))
            let b = Int((log10(hi) + 1e-9).rounded(.down))
            guard a <= b else { return ([lo, hi], 0) }
            let every = max(1, (b - a + 9) / 10)
            var out: [Double] = []
            var e = a
            while e <= b {
                out.append(pow(10, Double(e)))
                e += every
            }
            return (out, 0)
        }
    }

    /// 1, 2, 2.5 or 5 × 10^k, the nice number nearest above `raw`.
    public static func niceStep(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let e = floor(log10(raw))
        let p = pow(10, e)
        let f = raw / p
        let nice: Double = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10
        return nice * p
    }

    /// A linear scale over [lo, hi] widened to whole nice steps (and to a non-empty interval).
    public static func niceLinear(_ lo: Double, _ hi: Double, start: Double, end: Double, includeZero: Bool = false) -> Scale {
        var a = lo, b = hi
        if includeZero {
            a = min(a, 0)
            b = max(b, 0)
        }
        if !(a < b) {
            let pad = a == 0 ? 1 : abs(a) * 0.1
            a -= pad
            b += pad
        }
        let step = niceStep((b - a) / 5)
        let na = floor(a / step + 1e-9) * step, nb = ceil(b / step - 1e-9) * step
        return Scale(kind: .linear, lo: na, hi: nb > na ? nb : na + step, start: start, end: end)
    }

    /// A log scale over whole decades around [lo, hi] (lo > 0).
    public static func niceLog(_ lo: Double, _ hi: Double, start: Double, end: Double) -> Scale {
        let a = pow(10, floor(log10(lo) + 1e-9))
        var b = pow(10, ceil(log10(hi) - 1e-9))
        if !(b > a) { b = a * 10 }
        return Scale(kind: .log, lo: a, hi: b, start: start, end: end)
    }

    /// Ticks with their labels, in one style for the whole axis.
    public func labeledTicks(target: Int = 5) -> [(value: Double, label: String)] {
        let (values, step) = tickValues(target: target)
        return Array(zip(values, TickFormat.labels(values, step: step, log: kind == .log)))
    }
}

/// Readable tick labels: plain decimals for ordinary numbers, k/M for thousands and millions,
/// and "2e9" beyond; one unit for every tick of an axis.
public enum TickFormat {
    public static func labels(_ values: [Double], step: Double, log: Bool) -> [String] {
        if log {
            // Powers of ten: plain while they are short, 10ⁿ for the whole axis otherwise.
            let plain = values.allSatisfy { $0 >= 1e-3 && $0 < 1e5 }
            return values.map { plain ? compact($0) : power(of: $0) }
        }
        let biggest = values.map(abs).max() ?? 0
        let (divisor, suffix): (Double, String) =
            biggest >= 1e9 ? (0, "") : biggest >= 1e6 ? (1e6, "M") : biggest >= 1e4 ? (1e3, "k") : (1, "")
        if divisor == 0 { return values.map { scientific($0) } }
        let s = step / divisor
        var decimals = 0
        if s > 0 && s < 1 {
            decimals = Int((-log10(s)).rounded(.up))
            // 0.25, 2.5 steps need one more place than their decade.
            let scaled = s * pow(10, Double(decimals))
            if abs(scaled - scaled.rounded()) > 1e-6 { decimals += 1 }
        } else if s >= 1, abs(s - s.rounded()) > 1e-6 {
            decimals = 1
        }
        return values.map { v in
            let text = SVGNumber.format(v / divisor, decimals: min(decimals, 10))
            return text == "0" ? "0" : text + suffix
        }
    }

    /// One value in few characters: 0.001 … 9999, 12k, 3.5M, 2e9, 1e-5.
    public static func compact(_ v: Double) -> String {
        let a = abs(v)
        if a == 0 { return "0" }
        if a >= 1e9 || a < 1e-4 { return scientific(v) }
        if a >= 1e6 { return SVGNumber.format(v / 1e6, decimals: 2) + "M" }
        if a >= 1e4 { return SVGNumber.format(v / 1e3, decimals: 1) + "k" }
        if a >= 100 { return SVGNumber.format(v, decimals: 0) }
        if a >= 1 { return SVGNumber.format(v, decimals: 2) }
        let places = Int((-log10(a)).rounded(.up)) + 1
        return SVGNumber.format(v, decimals: min(places, 8))
    }

    /// Three significant digits: 0.983, 5.93, 18.7, 213, 2572, 11.3k, 4.21M, 2.5e9.
    public static func significant(_ v: Double) -> String {
        let a = abs(v)
        if a == 0 { return "0" }
        if a >= 1e9 || a < 1e-3 { return scientific(v) }
        if a >= 1e6 { return SVGNumber.format(v / 1e6, decimals: 2) + "M" }
        if a >= 1e4 { return SVGNumber.format(v / 1e3, decimals: a >= 1e5 ? 0 : 1) + "k" }
        if a >= 100 { return SVGNumber.format(v, decimals: 0) }
        if a >= 10 { return SVGNumber.format(v, decimals: 1) }
        if a >= 1 { return SVGNumber.format(v, decimals: 2) }
        return SVGNumber.format(v, decimals: 2 - Int(log10(a).rounded(.down)))
    }

    /// "10⁶", "10⁻³" for a power of ten.
    public static func power(of v: Double) -> String {
        let e = Int(log10(v).rounded())
        let digits: [Character] = ["⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"]
        let exponent = String(String(abs(e)).map { digits[Int(String($0))!] })
        return "10" + (e < 0 ? "⁻" : "") + exponent
    }

    /// "2.5e9", "1e-5": mantissa with at most 2 decimals.
    public static func scientific(_ v: Double) -> String {
        guard v != 0, v.isFinite else { return v == 0 ? "0" : "∞" }
        var e = Int(floor(log10(abs(v))))
        var m = v / pow(10, Double(e))
        if abs(m) >= 9.995 {
            e += 1
            m /= 10
        }
        return SVGNumber.format(m, decimals: 2) + "e" + String(e)
    }
}
