import ArgumentParser
import BNCFileSystem
import BNCGraph
import BNCModelFile
import BNCReport
import Foundation

extension ReportError: BadInput {}

/// `bnc report`: draws the report of recorded metrics again, without training.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Draw the report (an HTML page with SVG charts) of recorded training metrics, without training.",
        discussion: """
            Reads the metrics file bnc train --compare writes (<model>.compare.json) and writes \
            <name>.html with the figures inline, plus each figure as <name>-<figure>.svg: training \
            loss, validation accuracy or MSE, histograms of the values entering each activation, \
            and the mean value entering the first units of one activation over time. The page \
            needs no network access.

            It also reads saved bnc train --json output (one JSON object per line): one run, or \
            the two of --compare --json, drawn from their per-epoch figures (the lines carry no \
            per-step losses or activation records).
            """)

    @Argument(help: ArgumentHelp("Metrics: a .compare.json file or saved bnc train --json output.", valueName: "metrics"))
    var metrics: String

    @Option(name: [.short, .customLong("output")],
            help: ArgumentHelp("HTML file to write (default: the metrics file's name with .html); the SVGs go beside it.", valueName: "path"))
    var output: String?

    @Option(help: ArgumentHelp("Activation whose first units' means are drawn over time (default: the second one).", valueName: "name"))
    var unitLayer: String?

    @Option(help: ArgumentHelp("Histogram snapshots to draw: recorded steps, comma-separated, 'last' for the last (default: all).", valueName: "list"))
    var steps: String?

    func validate() throws {
        if output == "" { throw ValidationError("-o needs a file name, e.g. -o report.html") }
        if let steps, steps.split(separator: ",").allSatisfy({ $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            throw ValidationError("--steps needs at least one recorded step, e.g. --steps 0,last")
        }
    }

    func run() throws {
        let m = try MetricsFile.read(path: metrics)
        if let unitLayer, ComparisonReport(m, unitLayer: unitLayer).chosenUnitLayer == nil {
            let names = ComparisonReport(m).activationColumns
            throw ReportError(file: metrics, place: "--unit-layer",
                              problem: "'\(unitLayer)' has no recorded unit means" + (names.isEmpty ? "" : "; recorded: " + names.joined(separator: ", ")))
        }
        let base = output.map { ReportCommand.stripExtension($0, ".html") } ?? ReportCommand.stripExtension(metrics, nil)
        let snapshots = try steps.map { try ReportCommand.snapshotSteps($0, in: m, file: metrics) }
        try ReportCommand.claim(m, base: base, output: output, metrics: metrics, unitLayer: unitLayer, snapshotSteps: snapshots)
        let written = try ReportCommand.writeReport(m, base: base, source: metrics, unitLayer: unitLayer, snapshotSteps: snapshots)
        print("report → \(written[0]) (figures: \(written.dropFirst().joined(separator: ", ")))")
    }

    /// The output-path policy for a report: `-o` must name a file (not a folder: the files
    /// would land beside it), and the HTML page and every figure are checked, kept apart
    /// from the metrics file and from each other, and locked.
    static func claim(
        _ metrics: ComparisonMetrics, base: String, output: String?, metrics path: String, unitLayer: String?, snapshotSteps: [Int]?
    ) throws(ModelError) {
        if let output, output.hasSuffix("/") || BytePath.status(output).map({ ($0.st_mode & S_IFMT) == S_IFDIR }) == true {
            throw ModelError(.io, file: output, place: "-o",
                             problem: "is a directory; give the report's file name, e.g. -o \(output.hasSuffix("/") ? output : output + "/")report.html")
        }
        var report = ComparisonReport(metrics, unitLayer: unitLayer)
        report.snapshotSteps = snapshotSteps
        let outputs = [OutputPaths.Output("the report page", base + ".html")]
            + report.figures.map { OutputPaths.Output("the figure '\($0.id)'", "\(base)-\($0.id).svg") }
        try OutputPaths.claim(outputs, inputs: [.init("the metrics file", path)])
    }

    /// `path` without `ext` (or without its last extension when `ext` is nil).
    static func stripExtension(_ path: String, _ ext: String?) -> String {
        if let ext { return path.hasSuffix(ext) ? String(path.dropLast(ext.count)) : path }
        let name = path.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return path }
        return String(path.dropLast(name.distance(from: dot, to: name.endIndex)))
    }

    /// The steps of `--steps` ("0,last"), each one a recorded snapshot.
    static func snapshotSteps(_ list: String, in m: ComparisonMetrics, file: String) throws(ReportError) -> [Int] {
        let recorded = Array(Set(m.runs.flatMap { $0.snapshots.map(\.step) })).sorted()
        var out: [Int] = []
        for item in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            let step = item == "last" ? recorded.last : Int(item)
            guard let step, recorded.contains(step) else {
                throw ReportError(file: file, place: "--steps", problem: "'\(item)' is not a recorded step; recorded: "
                                  + (recorded.isEmpty ? "none" : recorded.map(String.init).joined(separator: ", ")))
            }
            out.append(step)
        }
        return out
    }

    /// Writes `<base>.html` and `<base>-<figure>.svg` (atomically); returns the paths, HTML first.
    static func writeReport(
        _ metrics: ComparisonMetrics, base: String, source: String?, unitLayer: String?, snapshotSteps: [Int]? = nil
    ) throws -> [String] {
        var report = ComparisonReport(metrics, unitLayer: unitLayer)
        report.snapshotSteps = snapshotSteps
        var links: [String: String] = [:]
        var written: [String] = []
        for figure in report.figures {
            let path = "\(base)-\(figure.id).svg"
            try OutputPaths.write(Array(figure.svg.render().utf8), to: path)
            links[figure.id] = fileName(path)
            written.append(path)
        }
        let html = report.html(svgFiles: links, source: source.map(fileName))
        try OutputPaths.write(Array(html.utf8), to: base + ".html")
        return [base + ".html"] + written
    }

    static func fileName(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }
}
