/// Colours and the style sheet every bnc chart carries (so an SVG looks the same alone, in an
/// `<img>`, or inlined in the report page).
public enum ChartStyle {
    /// Okabe–Ito colours (distinguishable with the common colour-vision deficiencies).
    public static let withBN = "#0072B2"
    public static let withoutBN = "#D55E00"
    public static let neutral = "#333333"
    /// Colours for several series of one chart (units of a layer).
    public static let cycle = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442"]

    /// Approximate width in pixels of `text` at `size` px in the chart font (DejaVu/Liberation Sans).
    public static func textWidth(_ text: String, size: Double) -> Double {
        Double(text.count) * size * 0.6
    }

    public static let css = """
        .bnc-chart{font-family:"DejaVu Sans","Liberation Sans",Helvetica,Arial,sans-serif}
        .bnc-chart .background{fill:#fff}
        .bnc-chart .title{font-size:15px;font-weight:bold;fill:#222}
        .bnc-chart .subtitle{font-size:12.5px;fill:#444}
        .bnc-chart .axis-title{font-size:13px;fill:#333}
        .bnc-chart .tick-label{font-size:11.5px;fill:#444}
        .bnc-chart .small .tick-label{font-size:10.5px}
        .bnc-chart .axis{stroke:#666;stroke-width:1}
        .bnc-chart .grid{stroke:#e6e6e6;stroke-width:1}
        .bnc-chart .series{fill:none;stroke-width:2;stroke-linejoin:round;stroke-linecap:round}
        .bnc-chart .band{opacity:0.2}
        .bnc-chart .legend{font-size:12.5px;fill:#222}
        .bnc-chart .panel{fill:#f7f7f7}
        .bnc-chart .zero{stroke:#777;stroke-width:1;stroke-dasharray:3 2}
        .bnc-chart .note{font-size:11px;fill:#222;paint-order:stroke;stroke:#f7f7f7;stroke-width:3px;stroke-linejoin:round}
        .bnc-chart .row-label{font-size:13px;font-weight:bold}
        .bnc-chart .column-label{font-size:12.5px;fill:#222;font-weight:bold}
        .bnc-chart .empty{font-size:12px;fill:#888;font-style:italic}
        """
}

/// A rectangular plot area and the scales that map data into it.
public struct PlotFrame: Sendable {
    public var x: Double, y: Double, width: Double, height: Double
    public var xScale: Scale, yScale: Scale

    public var bottom: Double { y + height }
    public var right: Double { x + width }

    /// `data-x-scale`/`data-y-scale` attributes ("kind lo hi start end"): how to turn the
    /// pixel coordinates of the elements drawn in this frame back into data (tests do).
    public var dataAttributes: [(String, String)] {
        func text(_ s: Scale) -> String {
            "\(s.kind.rawValue) \(s.lo) \(s.hi) \(SVGNumber.format(s.start, decimals: 4)) \(SVGNumber.format(s.end, decimals: 4))"
        }
        return [("x-scale", text(xScale)), ("y-scale", text(yScale))]
    }
}

/// Grid, axis lines, ticks, tick labels and axis titles of a plot frame.
public enum Axes {
    public static func draw(
        _ f: PlotFrame, xTitle: String?, yTitle: String?, xTicks: Int = 5, yTicks: Int = 5, grid: Bool = true,
        xLabels: Bool = true, yLabels: Bool = true, xLabelBounds: ClosedRange<Double>? = nil, xIntegers: Bool = false
    ) -> [SVGElement] {
        var out: [SVGElement] = []
        let xt = fittedTicks(f.xScale, target: xTicks, bounds: xLabelBounds, integers: xIntegers)
        let yt = yLabels || grid ? f.yScale.labeledTicks(target: yTicks) : []
        if grid {
            for t in yt { out.append(.line(x1: f.x, y1: f.yScale.pixel(t.value), x2: f.right, y2: f.yScale.pixel(t.value), cssClass: "grid")) }
            for t in xt { out.append(.line(x1: f.xScale.pixel(t.value), y1: f.y, x2: f.xScale.pixel(t.value), y2: f.bottom, cssClass: "grid")) }
        }
        out.append(.line(x1: f.x, y1: f.bottom, x2: f.right, y2: f.bottom, cssClass: "axis"))
        if yLabels { out.append(.line(x1: f.x, y1: f.y, x2: f.x, y2: f.bottom, cssClass: "axis")) }
        if xLabels {
            for t in xt {
                let px = f.xScale.pixel(t.value)
                out.append(.line(x1: px, y1: f.bottom, x2: px, y2: f.bottom + 4, cssClass: "axis"))
                if !labelFits(t, f.xScale, xLabelBounds) { continue }
                out.append(.text(t.label, x: px, y: f.bottom + 17, anchor: .middle, cssClass: "tick-label"))
            }
        }
        if yLabels {
            for t in yt {
                let py = f.yScale.pixel(t.value)
                out.append(.line(x1: f.x - 4, y1: py, x2: f.x, y2: py, cssClass: "axis"))
                out.append(.text(t.label, x: f.x - 7, y: py + 4, anchor: .end, cssClass: "tick-label"))
            }
        }
        if let xTitle { out.append(.text(xTitle, x: f.x + f.width / 2, y: f.bottom + 38, anchor: .middle, cssClass: "axis-title")) }
        if let yTitle {
            let widest = yt.map { ChartStyle.textWidth($0.label, size: 11.5) }.max() ?? 0
            let x = f.x - 7 - widest - 12
            out.append(.text(yTitle, x: x, y: f.y + f.height / 2, anchor: .middle, cssClass: "axis-title", rotate: -90))
        }
        return out
    }
}

extension Axes {
    /// Whether a tick label stays within `bounds` (pixels).
    static func labelFits(_ t: (value: Double, label: String), _ scale: Scale, _ bounds: ClosedRange<Double>?) -> Bool {
        guard let bounds else { return true }
        let px = scale.pixel(t.value), half = ChartStyle.textWidth(t.label, size: 11) / 2
        return px - half >= bounds.lowerBound && px + half <= bounds.upperBound
    }

    /// About `target` + 1 x ticks whose labels neither overlap nor leave `bounds`: the
    /// densest such choice up to `target`, or a denser one when that labels fewer than two.
    static func fittedTicks(
        _ scale: Scale, target: Int, bounds: ClosedRange<Double>?, integers: Bool = false
    ) -> [(value: Double, label: String)] {
        var fallback: [(value: Double, label: String)]?
        // Sparser first; denser only when no sparser choice labels two ticks.
        let targets = Array(stride(from: max(target, 1), through: 1, by: -1)) + Array((max(target, 1) + 1)...10)
        for t in targets {
            if integers && scale.kind == .linear && scale.tickValues(target: t).step < 1 { continue }
            let ticks = scale.labeledTicks(target: t)
            let visible = ticks.filter { labelFits($0, scale, bounds) }
            let clear = zip(visible, visible.dropFirst()).allSatisfy { a, b in
                abs(scale.pixel(b.value) - scale.pixel(a.value))
                    >= (ChartStyle.textWidth(a.label, size: 11) + ChartStyle.textWidth(b.label, size: 11)) / 2 + 8
            }
            guard clear else { continue }
            if visible.count >= 2 { return ticks }
            if fallback == nil { fallback = ticks }
        }
        return fallback ?? scale.labeledTicks(target: 1)
    }
}

/// One line of a line chart.
public struct LineSeries: Sendable {
    public var name: String
    public var color: String
    /// Points in data units; a nil y breaks the line (a diverged or missing value).
    public var points: [(x: Double, y: Double?)]
    /// A shaded min–max band around the line (empty for none).
    public var band: [(x: Double, lo: Double, hi: Double)]
    /// Whether each point gets a dot.
    public var markers: Bool

    public init(name: String, color: String, points: [(x: Double, y: Double?)],
                band: [(x: Double, lo: Double, hi: Double)] = [], markers: Bool = false) {
        self.name = name
        self.color = color
        self.points = points
        self.band = band
        self.markers = markers
    }
}

/// A legend entry: a coloured line sample and a name.
public struct LegendItem: Sendable {
    public var name: String
    public var color: String
    public init(name: String, color: String) {
        self.name = name
        self.color = color
    }

    /// Items laid out left to right from (x, y) (y is the text baseline).
    public static func row(_ items: [LegendItem], x: Double, y: Double) -> SVGElement {
        var children: [SVGElement] = []
        var cx = x
        for item in items {
            children.append(.line(x1: cx, y1: y - 4, x2: cx + 22, y2: y - 4, cssClass: "series", stroke: item.color,
                                  extra: [("stroke-width", "3")]))
            children.append(.text(item.name, x: cx + 28, y: y, cssClass: "legend"))
            cx += 28 + ChartStyle.textWidth(item.name, size: 12.5) + 22
        }
        return .group(children, cssClass: "legend-row")
    }

    /// Width of `row`.
    public static func width(_ items: [LegendItem]) -> Double {
        items.reduce(0) { $0 + 28 + ChartStyle.textWidth($1.name, size: 12.5) + 22 } - 22
    }
}

/// A line chart: titled, with axes, grid and legend; log y when the data spans decades.
public struct LineChart: Sendable {
    public enum YScale: Sendable {
        /// Log when every value is positive and they span more than a factor of 50.
        case automatic
        case linear
        case log
    }

    public var title: String?
    public var xTitle: String
    public var yTitle: String
    public var series: [LineSeries]
    public var width: Double, height: Double
    public var yScale: YScale = .automatic
    /// Include 0 in a linear y-axis.
    public var yIncludesZero = false
    public var legend = true
    /// Fixed x domain (else the data's, widened to nice ticks).
    public var xDomain: (lo: Double, hi: Double)?
    /// x values are counts (steps, epochs): no fractional ticks.
    public var xIntegers = true

    public init(title: String?, xTitle: String, yTitle: String, series: [LineSeries], width: Double, height: Double) {
        self.title = title
        self.xTitle = xTitle
        self.yTitle = yTitle
        self.series = series
        self.width = width
        self.height = height
    }

    /// The y values a scale must cover.
    private var yValues: [Double] {
        series.flatMap { s in s.points.compactMap(\.y) + s.band.flatMap { [$0.lo, $0.hi] } }.filter(\.isFinite)
    }

    /// Whether the y-axis is logarithmic.
    public var usesLogY: Bool {
        let ys = yValues
        guard let lo = ys.min(), let hi = ys.max(), lo > 0 else { return false }
        switch yScale {
        case .linear: return false
        case .log: return true
        case .automatic: return hi / lo > 50
        }
    }

    /// The plot frame inside a chart drawn at the origin.
    public var frame: PlotFrame {
        let top = (title == nil ? 10.0 : 30.0) + (legend && !series.isEmpty ? 24 : 0) + 6
        let ys = yValues
        let xs = series.flatMap { $0.points.map(\.x) }
        let left = 78.0, right = 18.0, bottom = 50.0
        let x0 = left, x1 = width - right, y0 = top, y1 = height - bottom
        let xScale: Scale
        if let d = xDomain {
            xScale = Scale(kind: .linear, lo: d.lo, hi: d.hi, start: x0, end: x1)
        } else {
            xScale = .niceLinear(xs.min() ?? 0, xs.max() ?? 1, start: x0, end: x1)
        }
        let yScale: Scale
        if usesLogY, let lo = ys.min(), let hi = ys.max() {
            yScale = .niceLog(lo, hi, start: y1, end: y0)
        } else {
            yScale = .niceLinear(ys.min() ?? 0, ys.max() ?? 1, start: y1, end: y0, includeZero: yIncludesZero)
        }
        return PlotFrame(x: x0, y: y0, width: x1 - x0, height: y1 - y0, xScale: xScale, yScale: yScale)
    }

    /// The chart as a group at (x, y).
    public func element(x: Double = 0, y: Double = 0, cssClass: String = "line-chart") -> SVGElement {
        let f = frame
        var children: [SVGElement] = []
        if let title { children.append(.text(title, x: f.x, y: 20, cssClass: "title")) }
        if legend && !series.isEmpty {
            let items = series.map { LegendItem(name: $0.name, color: $0.color) }
            children.append(LegendItem.row(items, x: f.x, y: (title == nil ? 10 : 30) + 16))
        }
        children += Axes.draw(f, xTitle: xTitle, yTitle: yTitle, xIntegers: xIntegers)
        for s in series { children.append(draw(s, in: f)) }
        return .group(children, x: x, y: y, cssClass: cssClass, data: f.dataAttributes)
    }

    private func draw(_ s: LineSeries, in f: PlotFrame) -> SVGElement {
        var children: [SVGElement] = []
        func clampY(_ v: Double) -> Double { min(max(f.yScale.pixel(v), f.y - 2), f.bottom + 2) }
        if !s.band.isEmpty {
            // One polygon per run of finite band values.
            var run: [(x: Double, lo: Double, hi: Double)] = []
            func flush() {
                if run.count >= 2 {
                    let upper = run.map { (f.xScale.pixel($0.x), clampY($0.hi)) }
                    let lower = run.reversed().map { (f.xScale.pixel($0.x), clampY($0.lo)) }
                    children.append(.polygon(upper + lower, cssClass: "band", fill: s.color))
                }
                run = []
            }
            for b in s.band {
                if b.lo.isFinite && b.hi.isFinite && (!usesLogY || b.lo > 0) { run.append(b) } else { flush() }
            }
            flush()
        }
        var segment: [(Double, Double)] = []
        func flushLine() {
            if segment.count >= 2 {
                children.append(.polyline(segment, cssClass: "series", stroke: s.color))
            } else if segment.count == 1 {
                children.append(.circle(x: segment[0].0, y: segment[0].1, r: 2.5, cssClass: "point", fill: s.color))
            }
            segment = []
        }
        for p in s.points {
            if let y = p.y, y.isFinite, !usesLogY || y > 0 {
                segment.append((f.xScale.pixel(p.x), f.yScale.pixel(y)))
            } else {
                flushLine()
            }
        }
        flushLine()
        if s.markers {
            for p in s.points {
                if let y = p.y, y.isFinite, !usesLogY || y > 0 {
                    children.append(.circle(x: f.xScale.pixel(p.x), y: f.yScale.pixel(y), r: 3, cssClass: "marker", fill: s.color))
                }
            }
        }
        return .group(children, cssClass: "series-group", data: [("series", s.name)])
    }

    /// The chart alone as an SVG document.
    public func document() -> SVGDocument {
        SVGDocument(width: width, height: height, title: title ?? yTitle, elements: [element()])
    }
}

/// One histogram drawn in a small panel: bars scaled to the fullest bin, a few x ticks, a
/// dashed line at 0, and notes (spread, share of dead or saturated units) in the corner.
public struct HistogramPanel: Sendable {
    public var histogram: Histogram
    public var color: String
    public var width: Double, height: Double
    public var notes: [String]
    /// Extra data attributes for the panel group (layer, run, step).
    public var data: [(String, String)]
    /// How far tick labels may reach beyond the panel's sides.
    public var labelOverhang = 7.0

    public init(histogram: Histogram, color: String, width: Double, height: Double, notes: [String],
                data: [(String, String)] = []) {
        self.histogram = histogram
        self.color = color
        self.width = width
        self.height = height
        self.notes = notes
        self.data = data
    }

    /// Pixels above the tallest bar kept free for the notes.
    static func noteSpace(_ notes: [String]) -> Double { Double(notes.count) * 13 + 4 }

    /// The frame the bars are drawn in, for a panel at the origin.
    public var frame: PlotFrame {
        let lo = histogram.min, hi = histogram.max > histogram.min ? histogram.max : histogram.min + 1
        let top = HistogramPanel.noteSpace(notes)
        let peak = Double(histogram.counts.max() ?? 0)
        return PlotFrame(
            x: 0, y: top, width: width, height: height - top,
            xScale: Scale(kind: .linear, lo: lo, hi: hi, start: 0, end: width),
            yScale: Scale(kind: .linear, lo: 0, hi: max(peak, 1), start: height, end: top))
    }

    public func element(x: Double, y: Double) -> SVGElement {
        let f = frame
        var children: [SVGElement] = [.rect(x: 0, y: 0, width: width, height: height, cssClass: "panel")]
        let bins = histogram.counts.count
        let binWidth = width / Double(max(bins, 1))
        // The bars as one outline: up to each bin's height (V, skipped when unchanged), across
        // the bin (H, one per bin), back down at the end.
        var d = "M0 " + SVGNumber.format(height)
        var level = height
        for (i, c) in histogram.counts.enumerated() {
            let top = c > 0 ? f.yScale.pixel(Double(c)) : height
            if SVGNumber.format(top) != SVGNumber.format(level) { d += "V" + SVGNumber.format(top) }
            level = top
            d += "H" + SVGNumber.format(Double(i + 1) * binWidth)
        }
        d += "V" + SVGNumber.format(height) + "Z"
        children.append(SVGElement("path", [("class", "bars"), ("fill", color), ("d", d)]))
        if histogram.min < 0 && histogram.max > 0 {
            let z = f.xScale.pixel(0)
            children.append(.line(x1: z, y1: 0, x2: z, y2: height, cssClass: "zero"))
        }
        let axisFrame = PlotFrame(x: 0, y: 0, width: width, height: height, xScale: f.xScale, yScale: f.yScale)
        children += Axes.draw(axisFrame, xTitle: nil, yTitle: nil, xTicks: width < 170 ? 3 : 4, grid: false, yLabels: false,
                              xLabelBounds: -labelOverhang...(width + labelOverhang))
        for (i, note) in notes.enumerated() {
            children.append(.text(note, x: width - 4, y: 13 + Double(i) * 13, anchor: .end, cssClass: "note"))
        }
        var attrs = f.dataAttributes
        attrs += [("min", "\(histogram.min)"), ("max", "\(histogram.max)"), ("bins", "\(bins)")]
        attrs += data
        return .group(children, x: x, y: y, cssClass: "histogram small", data: attrs)
    }
}
