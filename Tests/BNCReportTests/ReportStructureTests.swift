import Foundation
import Testing
@testable import BNCReport

/// The report's figures read back from their SVG text: every chart present and well-formed,
/// titles, axis titles and legends there, and every plotted point where the recorded metrics
/// put it (points are mapped back through the scale each plot states in `data-x-scale` /
/// `data-y-scale`; coordinates are written with 2 decimals, so 0.006 px is the tolerance).
struct ReportStructureTests {
    static let pixelTolerance = 0.006

    func figure(_ report: ComparisonReport, _ id: String) throws -> (ReportFigure, XMLNode) {
        let f = try #require(report.figures.first { $0.id == id }, "no figure \(id)")
        return (f, try XMLTree.parse(f.svg.render()))
    }

    func scales(_ node: XMLNode) throws -> (x: Scale, y: Scale) {
        func scale(_ text: String?) throws -> Scale {
            let parts = try #require(text).split(separator: " ").map(String.init)
            #expect(parts.count == 5)
            let kind = try #require(Scale.Kind(rawValue: parts[0]))
            let n = parts.dropFirst().compactMap(Double.init)
            return Scale(kind: kind, lo: n[0], hi: n[1], start: n[2], end: n[3])
        }
        return (try scale(node["data-x-scale"]), try scale(node["data-y-scale"]))
    }

    /// Plotted (x, y) of one series group, in data units, all polylines in order.
    func plotted(_ chart: XMLNode, series: String) throws -> [(Double, Double)] {
        let group = try #require(chart.descendants("g") { $0.hasClass("series-group") && $0["data-series"] == series }.first,
                                 "no series \(series)")
        return group.children.filter { $0.name == "polyline" }.flatMap(\.points)
    }

    func expectNear(_ px: (Double, Double), _ value: (Double, Double), _ s: (x: Scale, y: Scale),
                    sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(abs(px.0 - s.x.pixel(value.0)) <= Self.pixelTolerance, "x \(px.0) vs \(value.0)", sourceLocation: sourceLocation)
        #expect(abs(px.1 - s.y.pixel(value.1)) <= Self.pixelTolerance, "y \(px.1) vs \(value.1)", sourceLocation: sourceLocation)
    }

    @Test func everyFigureIsThereWithTitlesAxesAndLegend() throws {
        let report = ComparisonReport(SampleMetrics.make())
        #expect(report.figures.map(\.id) == ["loss", "validation", "histograms", "units"])
        for f in report.figures {
            let svg = try XMLTree.parse(f.svg.render())
            #expect(svg.name == "svg" && svg["xmlns"] == "http://www.w3.org/2000/svg")
            #expect(svg.descendants("title").first?.text == f.svg.title)
            let texts = svg.descendants("text").map(\.allText)
            switch f.id {
            case "loss":
                #expect(texts.contains("Training loss") && texts.contains("training step"))
                #expect(texts.contains("squared error loss (batch mean)"))
            case "validation":
                #expect(texts.contains("validation MSE") && texts.contains("epoch"))
            case "histograms":
                #expect(texts.contains("Step 0: the initial weights"))
                #expect(texts.contains("After step 600 of 600: end of training"))
                #expect(texts.filter { $0 == "relu2" }.count == 4)  // a column label per snapshot
            default:
                #expect(texts.contains("Mean value entering relu2 for its first 5 units, over training"))
                #expect(texts.contains("unit 5"))
            }
            if f.id != "histograms" {
                let legend = try #require(svg.descendants("g") { $0.hasClass("legend-row") }.first)
                let names = legend.descendants("text").map(\.allText)
                #expect(names == (f.id == "units" ? (1...5).map { "unit \($0)" } : ["without BN", "with BN"]))
            } else {
                #expect(texts.contains("without BN") && texts.contains("with BN"))
            }
            // Tick labels on both axes of the line charts.
            if f.id == "loss" || f.id == "validation" {
                #expect(svg.descendants("text") { $0.hasClass("tick-label") }.count >= 6)
            }
        }
    }

    @Test func lossPointsAreTheMeansOfTheRecordedSteps() throws {
        let metrics = SampleMetrics.make(steps: 600)
        let report = ComparisonReport(metrics)
        let (f, svg) = try figure(report, "loss")
        let chart = try #require(svg.descendants("g") { $0.hasClass("line-chart") }.first)
        let s = try scales(chart)
        #expect(s.y.kind == .log)  // 1e8 down to ~3
        #expect(f.caption.contains("mean of 3 consecutive steps"))
        for run in metrics.runs {
            // 600 steps into at most 240 points: groups of 3, x at the middle step.
            let expected = stride(from: 0, to: 600, by: 3).map { i -> (Double, Double, Double, Double) in
                let group = run.stepLoss[i..<(i + 3)].map { $0! }
                return (Double(i + 2), group.reduce(0, +) / 3, group.min()!, group.max()!)
            }
            let points = try plotted(chart, series: run.label)
            #expect(points.count == expected.count)
            for (p, e) in zip(points, expected) { expectNear(p, (e.0, e.1), s) }
            #expect(s.y.lo <= expected.map(\.2).min()! && s.y.hi >= expected.map(\.3).max()!)
            // The band: upper edge left to right, then lower edge back.
            let group = try #require(chart.descendants("g") { $0["data-series"] == run.label }.first)
            let band = try #require(group.descendants("polygon").first).points
            #expect(band.count == 2 * expected.count)
            for (p, e) in zip(band, expected) { expectNear(p, (e.0, e.3), s) }
            for (p, e) in zip(band.reversed(), expected) { expectNear(p, (e.0, e.2), s) }
        }
    }

    @Test func aMissingLossBreaksTheLine() throws {
        let metrics = SampleMetrics.make(steps: 200, gapAt: 100)
        let (f, svg) = try figure(ComparisonReport(metrics), "loss")
        let group = try #require(svg.descendants("g") { $0["data-series"] == "without BN" }.first)
        #expect(group.children.filter { $0.name == "polyline" }.count == 2)
        #expect(f.caption.contains("is not finite at 7 steps, the first at step 100"))
        // 200 steps are drawn one by one: no band.
        #expect(group.descendants("polygon").isEmpty)
        #expect(try plotted(svg, series: "without BN").count == 193)
    }

    @Test(arguments: [TaskKind.classification, .regression])
    func validationPointsAreTheEpochFigures(_ task: TaskKind) throws {
        let metrics = SampleMetrics.make(task: task, epochs: 6)
        let (_, svg) = try figure(ComparisonReport(metrics), "validation")
        let chart = try #require(svg.descendants("g") { $0.hasClass("line-chart") }.first)
        let s = try scales(chart)
        let texts = svg.descendants("text").map(\.allText)
        #expect(texts.contains(task == .classification ? "validation accuracy (%)" : "validation MSE"))
        for run in metrics.runs {
            let points = try plotted(chart, series: run.label)
            let expected = run.epochs.map { e in
                (Double(e.epoch), task == .classification ? e.validationAccuracy! * 100 : e.validationLoss!)
            }
            #expect(points.count == 6)
            for (p, e) in zip(points, expected) { expectNear(p, e, s) }
            // A dot on every epoch.
            let group = try #require(chart.descendants("g") { $0["data-series"] == run.label }.first)
            #expect(group.descendants("circle").count == 6)
        }
    }

    @Test(arguments: ["relu", "tanh"])
    func histogramBarsAreTheRecordedCounts(_ activation: String) throws {
        let metrics = SampleMetrics.make(activation: activation)
        let (_, svg) = try figure(ComparisonReport(metrics), "histograms")
        let panels = svg.descendants("g") { $0.hasClass("histogram") }
        #expect(panels.count == 2 * 3 * 4)  // runs × layers × snapshots
        for panel in panels {
            let run = try #require(metrics.runs.first { $0.label == panel["data-run"] })
            let layer = try #require(run.activations.firstIndex { $0.name == panel["data-layer"] })
            let snapshot = try #require(run.snapshots.first { "\($0.step)" == panel["data-step"] })
            let d = snapshot.layers[layer]
            let h = try #require(d.histogram)
            #expect(panel.number("data-min") == h.min && panel.number("data-max") == h.max)
            let s = try scales(panel)
            let frame = try #require(panel.children.first { $0.name == "rect" && $0.hasClass("panel") })
            let width = try #require(frame.number("width")), height = try #require(frame.number("height"))
            // The outline "M0 h V… H… … V h Z": one H per bin, at that bin's height.
            let outline = try #require(panel.children.first { $0.hasClass("bars") }?["d"])
            var level = height, levels: [Double] = [], ends: [Double] = []
            for command in ReportStructureTests.pathCommands(outline) {
                switch command.letter {
                case "V": level = command.value
                case "H":
                    levels.append(level)
                    ends.append(command.value)
                default: break
                }
            }
            #expect(outline.hasPrefix("M0 \(SVGNumber.format(height))") && outline.hasSuffix("V\(SVGNumber.format(height))Z"))
            #expect(levels.count == h.counts.count)
            let binWidth = width / Double(h.counts.count)
            for (bin, count) in h.counts.enumerated() {
                #expect(abs(ends[bin] - Double(bin + 1) * binWidth) <= Self.pixelTolerance)
                let expected = count > 0 ? s.y.pixel(Double(count)) : height
                #expect(abs(levels[bin] - expected) <= Self.pixelTolerance, "bin \(bin): \(levels[bin]) vs \(expected)")
            }
            // The fullest bin reaches the top of the bar area.
            #expect(s.y.hi == Double(h.counts.max()!))
            let notes = panel.descendants("text") { $0.hasClass("note") }.map(\.allText)
            #expect(notes.first == "σ " + TickFormat.significant(d.std!))
            if activation == "relu" {
                #expect(notes.contains(ComparisonReport.percent(d.nonPositive!) + " ≤ 0"))
            } else {
                #expect(notes.contains(ComparisonReport.percent(d.saturated!) + " |x|>2"))
            }
        }
    }

    /// (letter, first number) of each command of a path like "M0 96V50H2.8Z".
    static func pathCommands(_ d: String) -> [(letter: Character, value: Double)] {
        var out: [(Character, Double)] = []
        var letter: Character?, number = ""
        for c in d + "Z" {
            if c.isLetter {
                if let l = letter { out.append((l, Double(number.split(separator: " ").first.map(String.init) ?? "") ?? .nan)) }
                letter = c
                number = ""
            } else {
                number.append(c)
            }
        }
        return out
    }

    @Test func unitMeansAreDrawnPerUnitForEachRun() throws {
        let metrics = SampleMetrics.make()
        let report = ComparisonReport(metrics)
        #expect(report.chosenUnitLayer == "relu2")
        let (_, svg) = try figure(report, "units")
        let panels = svg.descendants("g") { $0.hasClass("units-panel") }
        #expect(panels.count == 2)
        for (panel, run) in zip(panels, metrics.runs) {
            let s = try scales(panel)
            let layer = try #require(run.unitMeans?.layers.first { $0.activation == "relu2" })
            let steps = run.unitMeans!.steps
            for u in 0..<5 {
                let points = try plotted(panel, series: "unit \(u + 1)")
                #expect(points.count == steps.count)
                for (p, e) in zip(points, zip(steps, layer.means[u])) { expectNear(p, (Double(e.0), e.1!), s) }
            }
            #expect(panel.descendants("text").contains { $0.allText == "\(run.label) (from \(run.activations[1].source))" })
        }
        // Another layer on request; an unknown one draws nothing.
        #expect(ComparisonReport(metrics, unitLayer: "relu3").chosenUnitLayer == "relu3")
        #expect(ComparisonReport(metrics, unitLayer: "relu9").figures.map(\.id) == ["loss", "validation", "histograms"])
    }

    @Test func pageIsSelfContainedWithTablesAndEscapedText() throws {
        var metrics = SampleMetrics.make(task: .classification)
        metrics.runs[0].label = "without <BN> & co"
        let html = ComparisonReport(metrics).html(svgFiles: ["loss": "x-loss.svg"], source: "x.json")
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.components(separatedBy: "<svg ").count - 1 == 4)
        #expect(!html.contains("<script") && !html.contains("src=") && !html.contains("@import") && !html.contains("url("))
        let links = html.components(separatedBy: "http").dropFirst().map { String($0.prefix(22)) }
        #expect(links.allSatisfy { $0 == "://www.w3.org/2000/svg" }, "\(links)")
        #expect(html.contains("without &lt;BN&gt; &amp; co"))
        #expect(!html.contains("without <BN>"))
        #expect(html.contains("<a href=\"x-loss.svg\">SVG</a>"))
        #expect(html.contains("re-render with: bnc report x.json"))
        #expect(html.contains("<th>test accuracy</th><td class=\"num\">88%</td><td class=\"num\">88%</td>"))
        #expect(html.contains("After 6 epochs the validation accuracy is 85% without &lt;BN&gt; &amp; co and 90% with BN."))
        // Each inlined SVG is well-formed.
        for part in html.components(separatedBy: "<svg ").dropFirst() {
            let svg = "<svg " + part.components(separatedBy: "</svg>")[0] + "</svg>"
            _ = try XMLTree.parse(svg)
        }
    }

    @Test func oneRunFromEpochLinesDrawsEpochCharts() throws {
        var settings = RunSettings(task: .classification)
        settings.epochs = 3
        var run = RunMetrics(label: "bnc train", batchNorm: nil)
        run.epochs = (1...3).map { EpochMetrics(epoch: $0, trainLoss: 1 / Double($0), validationLoss: 1, validationAccuracy: 0.7, seconds: 1) }
        let report = ComparisonReport(ComparisonMetrics(settings: settings, runs: [run]))
        #expect(report.figures.map(\.id) == ["loss", "validation"])
        let (f, svg) = try figure(report, "loss")
        #expect(f.caption.contains("epoch's training batches"))
        let chart = try #require(svg.descendants("g") { $0.hasClass("line-chart") }.first)
        let s = try scales(chart)
        for (p, e) in zip(try plotted(chart, series: "bnc train"), run.epochs) { expectNear(p, (Double(e.epoch), e.trainLoss!), s) }
    }

    @Test func renderingIsDeterministic() {
        let a = ComparisonReport(SampleMetrics.make()).figures.map { $0.svg.render() }
        let b = ComparisonReport(SampleMetrics.make()).figures.map { $0.svg.render() }
        #expect(a == b)
    }
}
