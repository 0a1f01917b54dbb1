/// One chart of a report: an SVG, its title and what it shows.
public struct ReportFigure: Sendable {
    /// File-name suffix and HTML id: one of `ids`.
    public var id: String
    /// Every figure a report can have, in page order.
    public static let ids = ["loss", "validation", "histograms", "units"]
    public var title: String
    /// One or two sentences on what is drawn and how to read it.
    public var caption: String
    public var svg: SVGDocument
}

/// The report of a comparison (or of one run): figures drawn from `ComparisonMetrics`.
///
/// Figures: training loss per step (decimated to at most `maxLinePoints` points per run: the
/// mean of each group of steps, with a min–max band), validation accuracy or MSE per epoch,
/// histograms of the values entering every activation at the recorded steps (the two runs
/// in rows, layers in columns), and the mean value entering the first units of one
/// activation over time.
public struct ComparisonReport: Sendable {
    public var metrics: ComparisonMetrics
    /// The activation of the unit-means figure (default: the second one, as in r2rt's
    /// tutorial, or the only one).
    public var unitLayer: String?
    /// Points per run in the loss chart.
    public var maxLinePoints = 240
    /// Figure width in pixels.
    public var width = 1000.0
    /// Histogram snapshots to draw (steps); nil for all recorded.
    public var snapshotSteps: [Int]?

    public init(_ metrics: ComparisonMetrics, unitLayer: String? = nil) {
        self.metrics = metrics
        self.unitLayer = unitLayer
    }

    var isClassification: Bool { metrics.settings.task == .classification }

    static func color(_ run: RunMetrics) -> String {
        switch run.batchNorm {
        case true?: return ChartStyle.withBN
        case false?: return ChartStyle.withoutBN
        case nil: return ChartStyle.neutral
        }
    }

    /// All figures there is data for, in page order.
    public var figures: [ReportFigure] {
        [lossFigure, validationFigure, histogramFigure, unitsFigure].compactMap { $0 }
    }

    // MARK: Loss

    /// Groups of consecutive steps: x is the group's middle step (steps count from 1), mean
    /// nil when a value in the group is missing (not finite).
    public static func decimate(_ values: [Double?], maxPoints: Int) -> [(x: Double, mean: Double?, lo: Double?, hi: Double?)] {
        guard !values.isEmpty else { return [] }
        let k = (values.count + maxPoints - 1) / max(maxPoints, 1)
        var out: [(x: Double, mean: Double?, lo: Double?, hi: Double?)] = []
        var start = 0
        while start < values.count {
            let end = min(start + k, values.count)
            let group = values[start..<end]
            let x = Double(start + 1 + end) / 2
            if group.allSatisfy({ $0 != nil }) {
                let v = group.map { $0! }
                out.append((x, v.reduce(0, +) / Double(v.count), v.min(), v.max()))
            } else {
                out.append((x, nil, nil, nil))
            }
            start = end
        }
        return out
    }

    var lossName: String { isClassification ? "cross-entropy" : "squared error" }

    var lossFigure: ReportFigure? {
        let perStep = metrics.runs.allSatisfy { !$0.stepLoss.isEmpty }
        var series: [LineSeries] = []
        var group = 1
        for run in metrics.runs {
            if perStep {
                let d = ComparisonReport.decimate(run.stepLoss, maxPoints: maxLinePoints)
                group = max(group, (run.stepLoss.count + maxLinePoints - 1) / maxLinePoints)
                let band = group > 1
                    ? d.compactMap { p -> (x: Double, lo: Double, hi: Double)? in
                        guard let lo = p.lo, let hi = p.hi else { return nil }
                        return (p.x, lo, hi)
                    } : []
                series.append(LineSeries(name: run.label, color: ComparisonReport.color(run),
                                         points: d.map { ($0.x, $0.mean) }, band: band))
            } else {
                series.append(LineSeries(name: run.label, color: ComparisonReport.color(run),
                                         points: run.epochs.map { (Double($0.epoch), $0.trainLoss) }, markers: run.epochs.count <= 30))
            }
        }
        guard series.contains(where: { $0.points.contains { $0.y != nil } }) else { return nil }
        var chart = LineChart(title: "Training loss", xTitle: perStep ? "training step" : "epoch",
                              yTitle: "\(lossName) loss" + (perStep ? " (batch mean)" : " (epoch mean)"),
                              series: series, width: width, height: 400)
        if !perStep { chart.xDomain = epochDomain }
        var caption = perStep
            ? "Mean \(lossName) of each training batch, both networks on the same batches in the same order."
            : "Mean \(lossName) over each epoch's training batches (the input has no per-step losses)."
        if perStep && group > 1 {
            caption += " Each point is the mean of \(group) consecutive steps; the shaded band spans their smallest and largest value."
        }
        if chart.usesLogY { caption += " The loss axis is logarithmic." }
        caption += diverged
        return ReportFigure(id: "loss", title: "Training loss", caption: caption, svg: chart.document())
    }

    /// A note naming runs whose loss stopped being finite.
    var diverged: String {
        var notes: [String] = []
        for run in metrics.runs {
            if let i = run.stepLoss.firstIndex(where: { $0 == nil }) {
                let n = run.stepLoss.filter { $0 == nil }.count
                notes.append(" The loss of the run \(run.label) is not finite at \(n) step\(n == 1 ? "" : "s"), the first at step \(i + 1) (it diverged); the line has gaps there.")
            }
        }
        return notes.joined()
    }

    var epochDomain: (lo: Double, hi: Double) {
        let last = metrics.runs.flatMap { $0.epochs.map(\.epoch) }.max() ?? 1
        return (0, Double(max(last, 1)))
    }

    // MARK: Validation

    var validationFigure: ReportFigure? {
        let series = metrics.runs.map { run in
            LineSeries(
                name: run.label, color: ComparisonReport.color(run),
                points: run.epochs.map { e in
                    (Double(e.epoch), isClassification ? e.validationAccuracy.map { $0 * 100 } : e.validationLoss)
                },
                markers: run.epochs.count <= 30)
        }
        guard series.contains(where: { $0.points.contains { $0.y != nil } }) else { return nil }
        let title = isClassification ? "Validation accuracy" : "Validation error"
        var chart = LineChart(title: title, xTitle: "epoch",
                              yTitle: isClassification ? "validation accuracy (%)" : "validation MSE",
                              series: series, width: width, height: 340)
        chart.xDomain = epochDomain
        var caption = isClassification
            ? "Share of the validation examples classified correctly after each epoch (BN with its moving averages, as evaluated during training)."
            : "Mean squared error on the validation examples after each epoch (BN with its moving averages, as evaluated during training)."
        if chart.usesLogY { caption += " The error axis is logarithmic." }
        return ReportFigure(id: "validation", title: title, caption: caption, svg: chart.document())
    }

    // MARK: Histograms

    /// Activation names in column order (the first run's order, then any others).
    public var activationColumns: [String] {
        var names: [String] = []
        for run in metrics.runs { for a in run.activations where !names.contains(a.name) { names.append(a.name) } }
        return names
    }

    /// Steps per epoch, when the runs say.
    var stepsPerEpoch: Int? {
        guard let run = metrics.runs.first, !run.stepLoss.isEmpty, !run.epochs.isEmpty else { return nil }
        return run.stepLoss.count / run.epochs.count
    }

    var totalSteps: Int? { metrics.runs.map(\.stepLoss.count).max().flatMap { $0 > 0 ? $0 : nil } }

    func stepTitle(_ step: Int) -> String {
        if step == 0 { return "Step 0: the initial weights" }
        var text = "After step \(step)"
        if let total = totalSteps {
            text += " of \(total)"
            if step == total { return text + ": end of training" }
        }
        if let k = stepsPerEpoch, k > 0 {
            let epoch = Double(step) / Double(k)
            text += epoch == epoch.rounded() ? " (end of epoch \(Int(epoch)))" : " (in epoch \(step / k + 1))"
        }
        return text
    }

    static func notes(_ d: Distribution, activation: String) -> [String] {
        var out: [String] = []
        if let std = d.std { out.append("σ " + TickFormat.significant(std)) }
        if activation == "relu", let f = d.nonPositive {
            out.append(percent(f) + " ≤ 0")
        } else if let f = d.saturated, let t = d.saturationThreshold {
            out.append(percent(f) + " |x|>" + SVGNumber.format(t, decimals: 1))
        }
        if d.nonFinite > 0 { out.append("\(d.nonFinite) NaN/∞") }
        return out
    }

    static func percent(_ f: Double) -> String { SVGNumber.format(f * 100, decimals: f < 0.1 && f > 0 ? 1 : 0) + "%" }

    var histogramFigure: ReportFigure? {
        let runs = metrics.runs.filter { !$0.snapshots.isEmpty }
        guard !runs.isEmpty else { return nil }
        let columns = activationColumns
        guard !columns.isEmpty else { return nil }
        let steps = Array(Set(runs.flatMap { $0.snapshots.map(\.step) })).sorted().filter { snapshotSteps?.contains($0) ?? true }
        guard !steps.isEmpty else { return nil }
        let labelWidth = 118.0, gap = 16.0
        let panelWidth = min(240, max(96, ((width - labelWidth - 10) / Double(columns.count)) - gap))
        let panelHeight = 96.0, rowGap = 30.0, blockTitle = 34.0, header = 20.0
        let blockHeight = blockTitle + header + Double(runs.count) * (panelHeight + rowGap) + 8
        let figureWidth = max(width, labelWidth + Double(columns.count) * (panelWidth + gap) + 10)
        let top = 56.0
        var elements: [SVGElement] = [
            .text("Values entering each activation", x: 12, y: 22, cssClass: "title"),
            .text("Histogram per layer of the values its activation receives, over the \(probeText); x-axes differ per panel.",
                  x: 12, y: 42, cssClass: "subtitle"),
        ]
        for (b, step) in steps.enumerated() {
            var block: [SVGElement] = [.text(stepTitle(step), x: 12, y: 22, cssClass: "title")]
            for (c, name) in columns.enumerated() {
                let x = labelWidth + Double(c) * (panelWidth + gap) + panelWidth / 2
                block.append(.text(name, x: x, y: blockTitle + 12, anchor: .middle, cssClass: "column-label"))
            }
            for (r, run) in runs.enumerated() {
                let y = blockTitle + header + Double(r) * (panelHeight + rowGap)
                let color = ComparisonReport.color(run)
                block.append(.text(run.label, x: 12, y: y + panelHeight / 2 - 2, cssClass: "row-label", fill: color))
                let inputs = run.batchNorm == true ? "input γx̂ + β" : run.batchNorm == false ? "input Wx + b" : ""
                if !inputs.isEmpty { block.append(.text(inputs, x: 12, y: y + panelHeight / 2 + 15, cssClass: "note")) }
                guard let snapshot = run.snapshots.first(where: { $0.step == step }) else { continue }
                for (c, name) in columns.enumerated() {
                    let x = labelWidth + Double(c) * (panelWidth + gap)
                    guard let i = run.activations.firstIndex(where: { $0.name == name }), i < snapshot.layers.count else { continue }
                    let d = snapshot.layers[i]
                    guard let h = d.histogram else {
                        block.append(.rect(x: x, y: y, width: panelWidth, height: panelHeight, cssClass: "panel"))
                        block.append(.text(d.nonFinite > 0 ? "all NaN/∞" : "no values", x: x + panelWidth / 2, y: y + panelHeight / 2,
                                           anchor: .middle, cssClass: "empty"))
                        continue
                    }
                    let panel = HistogramPanel(
                        histogram: h, color: color, width: panelWidth, height: panelHeight,
                        notes: ComparisonReport.notes(d, activation: run.activations[i].activation),
                        data: [("run", run.label), ("layer", name), ("step", "\(step)")])
                    block.append(panel.element(x: x, y: y))
                }
            }
            elements.append(.group(block, y: top + Double(b) * blockHeight, cssClass: "snapshot", data: [("step", "\(step)")]))
        }
        let height = top + Double(steps.count) * blockHeight
        let caption = "The Morvan figure: each panel is a histogram (bars scaled to the fullest bin) of the values entering one activation, for the \(probeText), with the network as it was at that step. BN normalizes with the statistics of this batch, as in training, and its moving statistics are left alone. σ is the standard deviation; for ReLU the share of values ≤ 0 (units that pass nothing and get no gradient), for tanh and sigmoid the share in the flat tails. The dashed line marks 0."
        return ReportFigure(
            id: "histograms", title: "Values entering each activation", caption: caption,
            svg: SVGDocument(width: figureWidth, height: height, title: "Values entering each activation", elements: elements))
    }

    /// "500 validation examples", "first 128 validation examples".
    var probeText: String { metrics.settings.probe ?? "probe examples" }

    // MARK: Unit means

    /// The activation the unit-means figure shows.
    public var chosenUnitLayer: String? {
        let available = metrics.runs.compactMap(\.unitMeans).flatMap { $0.layers.map(\.activation) }
        if let unitLayer { return available.contains(unitLayer) ? unitLayer : nil }
        let names = activationColumns.filter { available.contains($0) }
        return names.count >= 2 ? names[1] : names.first
    }

    var unitsFigure: ReportFigure? {
        guard let layer = chosenUnitLayer else { return nil }
        let runs = metrics.runs.filter { $0.unitMeans?.layers.contains { $0.activation == layer } == true }
        guard !runs.isEmpty else { return nil }
        let panelWidth = width / Double(runs.count)
        var elements: [SVGElement] = []
        var legend: [LegendItem] = []
        var unitCount = 0
        var conv = false
        for (r, run) in runs.enumerated() {
            guard let u = run.unitMeans, let l = u.layers.first(where: { $0.activation == layer }) else { continue }
            unitCount = max(unitCount, l.means.count)
            let site = run.activations.first { $0.name == layer }
            conv = conv || (site?.shape.count ?? 1) == 3
            let series = l.means.enumerated().map { k, means in
                LineSeries(name: "\(conv ? "channel" : "unit") \(k + 1)", color: ChartStyle.cycle[k % ChartStyle.cycle.count],
                           points: zip(u.steps, means).map { (Double($0), $1) })
            }
            var chart = LineChart(
                title: "\(run.label)" + (site.map { " (from \($0.source))" } ?? ""), xTitle: "training step",
                yTitle: "mean value entering \(layer)", series: series, width: panelWidth, height: 370)
            chart.yScale = .linear
            chart.legend = false
            if series.count > legend.count { legend = series.map { LegendItem(name: $0.name, color: $0.color) } }
            elements.append(chart.element(x: Double(r) * panelWidth, y: 58, cssClass: "line-chart units-panel"))
        }
        elements.insert(.text("Mean value entering \(layer) for its first \(unitCount) \(conv ? "channels" : "units"), over training",
                              x: 12, y: 22, cssClass: "title"), at: 0)
        elements.insert(LegendItem.row(legend, x: 78, y: 48), at: 1)
        let caption = "The r2rt figure: the mean, over the \(probeText), of the value entering each of the first \(unitCount) \(conv ? "channels" : "units") of \(layer), recorded every few steps. Each panel has its own y-axis. With BN the mean is β (the batch is normalized), and it moves only as training changes β."
        return ReportFigure(id: "units", title: "Mean value entering \(layer) over time", caption: caption,
                            svg: SVGDocument(width: width, height: 428, title: "Mean value entering \(layer)", elements: elements))
    }
}
