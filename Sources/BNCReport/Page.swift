/// The report as one self-contained HTML page: inline SVG figures, the final figures and the
/// settings as tables; no scripts, no fonts or files fetched.
extension ComparisonReport {
    /// The page. `svgFiles` maps figure ids to the names of the standalone SVG files (linked
    /// under each figure when given); `source` names the metrics file in the footer.
    public func html(svgFiles: [String: String] = [:], source: String? = nil) -> String {
        var body = ""
        body += "<h1>\(XML.escape(heading, attribute: false))</h1>\n"
        if let summary { body += "<p class=\"lead\">\(XML.escape(summary, attribute: false))</p>\n" }
        for figure in figures {
            body += "<section id=\"\(figure.id)\">\n<figure>\n"
            body += figure.svg.renderInline()
            body += "<figcaption>\(XML.escape(figure.caption, attribute: false))"
            if let file = svgFiles[figure.id] {
                body += " <a href=\"\(XML.escape(file, attribute: true))\">SVG</a>"
            }
            body += "</figcaption>\n</figure>\n</section>\n"
        }
        body += "<section id=\"figures\">\n<h2>Final figures</h2>\n" + table(resultRows, header: [""] + metrics.runs.map(\.label)) + "</section>\n"
        body += "<section id=\"settings\">\n<h2>Settings</h2>\n" + table(settingRows, header: nil) + "</section>\n"
        var footer = "Written by bnc from recorded metrics"
        if let source { footer += " (\(source)); re-render with: bnc report \(source)" }
        body += "<footer>\(XML.escape(footer, attribute: false))</footer>\n"
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(XML.escape(heading, attribute: false))</title>
            <style>
            \(ComparisonReport.pageCSS)
            </style>
            </head>
            <body>
            <main>
            \(body)</main>
            </body>
            </html>

            """
    }

    static let pageCSS = """
        body{margin:0;background:#fff;color:#222;font-family:"DejaVu Sans","Liberation Sans",Helvetica,Arial,sans-serif}
        main{max-width:1040px;margin:0 auto;padding:22px 20px 40px}
        h1{font-size:25px;margin:0 0 8px}
        h2{font-size:19px;margin:30px 0 10px;padding-bottom:4px;border-bottom:1px solid #ddd}
        p.lead{font-size:15px;line-height:1.5;margin:0 0 8px}
        figure{margin:28px 0 0}
        figure svg{display:block;max-width:100%;height:auto}
        figcaption{font-size:13.5px;line-height:1.45;color:#444;margin-top:6px}
        table{border-collapse:collapse;font-size:14px}
        th,td{padding:5px 14px 5px 0;border-bottom:1px solid #e5e5e5;text-align:left;vertical-align:top}
        td.num{text-align:right;font-variant-numeric:tabular-nums}
        code{font-size:13px}
        footer{margin-top:30px;font-size:12.5px;color:#666}
        """

    var heading: String {
        let what = metrics.settings.dataset ?? (isClassification ? "classification" : "regression")
        let act = metrics.settings.activation.map { ", \($0)" } ?? ""
        if metrics.runs.count == 2 { return "With and without batch normalization: \(what)\(act)" }
        return "Training report: \(what)\(act)"
    }

    /// One sentence with the final validation figures.
    var summary: String? {
        let finals = metrics.runs.compactMap { run -> (String, Double, Int)? in
            guard let e = run.epochs.last else { return nil }
            let v = isClassification ? e.validationAccuracy : e.validationLoss
            return v.map { (run.label, $0, e.epoch) }
        }
        guard let first = finals.first else { return nil }
        let measure = isClassification ? "validation accuracy" : "validation MSE"
        func value(_ v: Double) -> String {
            isClassification ? SVGNumber.format(v * 100, decimals: 2) + "%" : ComparisonReport.number(v)
        }
        if finals.count == 2 {
            return "After \(first.2) epochs the \(measure) is \(value(finals[0].1)) \(finals[0].0) and \(value(finals[1].1)) \(finals[1].0)."
        }
        return "After \(first.2) epochs the \(measure) is \(value(first.1))."
    }

    /// About 4 significant digits; scientific notation for very large or small values.
    public static func number(_ v: Double?) -> String {
        guard let v, v.isFinite else { return v == nil ? "–" : "not finite" }
        let a = abs(v)
        if a == 0 { return "0" }
        if a >= 1e6 || a < 1e-3 { return TickFormat.scientific(v) }
        let digits = 3 - Int((a).magnitude.exponentOfTen)
        return SVGNumber.format(v, decimals: max(0, digits))
    }

    var resultRows: [[String]] {
        let runs = metrics.runs
        var rows: [[String]] = []
        func row(_ name: String, _ f: (RunMetrics) -> String) { rows.append([name] + runs.map(f)) }
        row("training loss, last epoch") { ComparisonReport.number($0.epochs.last?.trainLoss) }
        if isClassification {
            row("validation accuracy, last epoch") { r in r.epochs.last?.validationAccuracy.map { SVGNumber.format($0 * 100, decimals: 2) + "%" } ?? "–" }
            row("best validation accuracy") { r in
                guard let best = r.epochs.filter({ $0.validationAccuracy != nil }).max(by: { $0.validationAccuracy! < $1.validationAccuracy! })
                else { return "–" }
                return SVGNumber.format(best.validationAccuracy! * 100, decimals: 2) + "% (epoch \(best.epoch))"
            }
            row("validation loss, last epoch") { ComparisonReport.number($0.epochs.last?.validationLoss) }
            row("test accuracy") { r in r.test?.accuracy.map { SVGNumber.format($0 * 100, decimals: 2) + "%" } ?? "–" }
            if runs.contains(where: { $0.test?.movingAverageAccuracy != nil }) {
                row("test accuracy with BN's moving averages") { r in
                    r.test?.movingAverageAccuracy.map { SVGNumber.format($0 * 100, decimals: 2) + "%" } ?? "–"
                }
            }
            row("test loss") { ComparisonReport.number($0.test?.loss) }
        } else {
            row("validation MSE, last epoch") { ComparisonReport.number($0.epochs.last?.validationLoss) }
            row("lowest validation MSE") { r in
                guard let best = r.epochs.filter({ $0.validationLoss != nil }).min(by: { $0.validationLoss! < $1.validationLoss! })
                else { return "–" }
                return ComparisonReport.number(best.validationLoss) + " (epoch \(best.epoch))"
            }
            row("test MSE") { ComparisonReport.number($0.test?.loss) }
            if runs.contains(where: { $0.test?.movingAverageLoss != nil }) {
                row("test MSE with BN's moving averages") { ComparisonReport.number($0.test?.movingAverageLoss) }
            }
        }
        row("epochs") { "\($0.epochs.count)" }
        if runs.contains(where: { !$0.stepLoss.isEmpty }) { row("optimizer steps") { "\($0.stepLoss.count)" } }
        if runs.contains(where: { $0.epochs.contains { $0.seconds != nil } }) {
            row("training time") { r in SVGNumber.format(r.epochs.compactMap(\.seconds).reduce(0, +), decimals: 1) + " s" }
        }
        if runs.contains(where: { $0.parameters != nil }) { row("parameters") { $0.parameters.map(String.init) ?? "–" } }
        let digests = runs.compactMap(\.initialWeightsSHA256)
        if !digests.isEmpty {
            let same = digests.count == runs.count && Set(digests).count == 1
            row("initial dense/conv weights, SHA-256") { r in
                (r.initialWeightsSHA256.map { String($0.prefix(16)) + "…" } ?? "–") + (same && runs.count > 1 ? " (identical)" : "")
            }
        }
        if runs.contains(where: { $0.model != nil }) { row("model file") { $0.model ?? "–" } }
        return rows
    }

    var settingRows: [[String]] {
        let s = metrics.settings
        var rows: [[String]] = []
        func add(_ name: String, _ value: String?) { if let value { rows.append([name, value]) } }
        add("data", s.dataset)
        add("task", s.task.rawValue)
        add("training / validation examples", s.trainExamples.map { t in "\(t) / \(s.validationExamples.map(String.init) ?? "–")" })
        add("architecture", s.arch)
        for run in metrics.runs {
            if let arch = run.arch { add("layers " + run.label, arch) }
        }
        add("activation", s.activation)
        add("weight initializer", s.initializer)
        add("optimizer", s.optimizer)
        add("weight decay", s.weightDecay.map { SVGNumber.format($0, decimals: 10) })
        add("batch size", s.batchSize.map(String.init))
        add("epochs", s.epochs.map(String.init))
        add("seed", s.seed.map(String.init))
        add("BN momentum (weight of the old moving value)", s.bnMomentum.map { SVGNumber.format($0, decimals: 8) })
        add("BN epsilon", s.bnEpsilon.map { SVGNumber.format($0, decimals: 10) })
        add("BN moving variance", s.bnVariance)
        add("BN statistics saved", s.bnStatistics)
        add("activation inputs recorded on", s.probe ?? s.probeExamples.map { "\($0) examples" })
        add("command", s.command)
        return rows
    }

    func table(_ rows: [[String]], header: [String]?) -> String {
        var out = "<table>\n"
        if let header {
            out += "<tr>" + header.map { "<th>\(XML.escape($0, attribute: false))</th>" }.joined() + "</tr>\n"
        }
        for row in rows {
            out += "<tr>"
            for (i, cell) in row.enumerated() {
                let numeric = header != nil && i > 0 && cell.first.map { $0.isNumber || $0 == "-" || $0 == "–" } == true
                let text = XML.escape(cell, attribute: false)
                out += i == 0 && header != nil ? "<th>\(text)</th>" : numeric ? "<td class=\"num\">\(text)</td>" : "<td>\(text)</td>"
            }
            out += "</tr>\n"
        }
        return out + "</table>\n"
    }
}

extension Double {
    /// ⌊log10 |self|⌋ for positive finite values.
    var exponentOfTen: Double {
        var e = 0.0, v = self
        while v >= 10 {
            v /= 10
            e += 1
        }
        while v < 1 && v > 0 {
            v *= 10
            e -= 1
        }
        return e
    }
}
