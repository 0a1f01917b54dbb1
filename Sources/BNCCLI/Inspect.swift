import ArgumentParser
import BNCGraph
import BNCJSON
import BNCModelFile
import BNCPasses
import Foundation

/// `bnc inspect model.pb`: a readable table of the graph, or the same as JSON.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a model file's graph: nodes, shapes, parameter counts, BN attributes, metadata.",
        discussion: """
            Loads and validates the file first, so a damaged or unsupported model is reported \
            here with the file, the place and the problem (exit status 2).
            """)

    @Argument(help: "The model file (ONNX).")
    var model: String

    @Flag(help: "Print the same information as one JSON object.")
    var json = false

    func run() throws {
        let loaded = try ModelFile.load(path: model)
        let summary = ModelSummary(loaded, file: model)
        if json {
            print(try summary.jsonText())
        } else {
            print(summary.table())
        }
    }
}

/// What `inspect` shows, computed once and rendered as text or JSON.
struct ModelSummary: Encodable {
    struct NodeRow: Encodable {
        var index: Int
        var name: String
        var op: String
        var inputs: [String]
        var outputs: [String]
        /// Shapes of the initializers this node reads, by name.
        var parameterShapes: [String: [Int]]
        var parameters: Int
        var attributes: [String: String]
    }
    struct Value: Encodable {
        var name: String
        var shape: String
    }
    /// A BatchNormalization that `bnc fold` removed, from its audit record.
    struct FoldedBN: Encodable {
        var bn: String
        var into: String
        var direction: String
        var channels: Int
        var epsilon: Float
        var meanRange: [Float]
        var varianceRange: [Float]
    }

    var file: String
    var irVersion: Int64
    var opset: Int64?
    var producer: String
    var graphName: String
    var inputs: [Value]
    var outputs: [Value]
    var nodes: [NodeRow]
    var totalParameters: Int
    var folded: [FoldedBN]
    var metadata: [String: String]
    /// Initializers with NaN or infinite elements, as warnings ("tensor 'w': element 3 is NaN …").
    var warnings: [String]

    init(_ model: Model, file: String) {
        self.file = file
        irVersion = model.irVersion
        opset = model.defaultOpset
        producer = [model.producerName, model.producerVersion].filter { !$0.isEmpty }.joined(separator: " ")
        graphName = model.graph.name
        let graph = model.graph
        inputs = graph.runtimeInputs.map { Value(name: $0.name, shape: $0.shapeDescription) }
        outputs = graph.outputs.map { Value(name: $0.name, shape: $0.shapeDescription) }
        var byName: [String: Tensor] = [:]
        for t in graph.initializers { byName[t.name] = t }
        var rows: [NodeRow] = []
        for (i, node) in graph.nodes.enumerated() {
            var shapes: [String: [Int]] = [:]
            var count = 0
            for input in node.inputs {
                if let t = byName[input] {
                    shapes[input] = t.dims
                    if t.dataType == DataType.float { count += t.count }
                }
            }
            var attributes: [String: String] = [:]
            for a in node.attributes { attributes[a.name] = ModelSummary.text(a.value) }
            rows.append(NodeRow(index: i, name: node.name, op: node.opType, inputs: node.inputs,
                                outputs: node.outputs, parameterShapes: shapes, parameters: count,
                                attributes: attributes))
        }
        nodes = rows
        // Initializers no node reads (e.g. an audit copy) still count as stored parameters.
        totalParameters = graph.initializers.reduce(0) { $0 + ($1.dataType == DataType.float ? $1.count : 0) }
        folded = FoldAudit.records(in: model).map { record in
            let a = record.audit
            func range(_ v: [Float]) -> [Float] { v.isEmpty ? [] : [v.min()!, v.max()!] }
            return FoldedBN(bn: record.bn, into: a.into, direction: "\(a.direction)", channels: a.mean.count,
                            epsilon: a.epsilon, meanRange: range(a.mean), varianceRange: range(a.variance))
        }
        var meta: [String: String] = [:]
        for e in model.metadata { meta[e.key] = e.value }
        metadata = meta
        warnings = FiniteWeights.nonFiniteTensors(in: graph).map { ModelSummary.warning($0) }
    }

    /// The warning `inspect` and `verify` print for a tensor with NaN or infinite elements.
    static func warning(_ f: FiniteWeights.Finding) -> String {
        "tensor '\(f.tensor)': \(f.summary); bnc fold, infer and calibrate refuse this model"
    }

    static func text(_ v: AttributeValue) -> String {
        switch v {
        case .float(let f): return "\(f)"
        case .int(let i): return "\(i)"
        case .string(let s): return String(decoding: s, as: UTF8.self)
        case .floats(let f): return "[" + f.map { "\($0)" }.joined(separator: ", ") + "]"
        case .ints(let i): return "[" + i.map { "\($0)" }.joined(separator: ", ") + "]"
        case .strings(let s): return "[" + s.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ", ") + "]"
        case .tensor(let t): return "tensor \(t.dims)"
        }
    }

    func jsonText() throws -> String {
        try JSONText.encode(self, pretty: true, nonFinite: .refuse)
    }

    func table() -> String {
        var out: [String] = []
        out.append("\(file): ONNX IR \(irVersion), opset \(opset.map(String.init) ?? "none")"
            + (producer.isEmpty ? "" : ", produced by \(producer)"))
        out.append("inputs:  " + inputs.map { "\($0.name) [\($0.shape)]" }.joined(separator: ", "))
        out.append("outputs: " + outputs.map { "\($0.name) [\($0.shape)]" }.joined(separator: ", "))
        out.append("")
        var lines: [[String]] = [["#", "node", "op", "inputs → outputs", "parameters", "attributes"]]
        for n in nodes {
            let ins = n.inputs.map { name -> String in
                if let s = n.parameterShapes[name] { return "\(name)(\(s.map(String.init).joined(separator: "×")))" }
                return name
            }
            let attrs = n.attributes.keys.sorted().map { "\($0)=\(n.attributes[$0]!)" }.joined(separator: " ")
            lines.append([String(n.index), n.name.isEmpty ? "-" : n.name, n.op,
                          ins.joined(separator: ", ") + " → " + n.outputs.joined(separator: ", "),
                          n.parameters == 0 ? "" : String(n.parameters), attrs])
        }
        out.append(contentsOf: ModelSummary.align(lines))
        out.append("")
        out.append("\(nodes.count) nodes, \(totalParameters) parameters")
        if !folded.isEmpty {
            out.append("")
            out.append("folded batch normalizations (original parameters in metadata bnc.fold.*):")
            for f in folded {
                out.append("  \(f.bn) → \(f.into) (\(f.direction)), \(f.channels) channels, epsilon \(f.epsilon), "
                    + "mean \(f.meanRange.map { String(format: "%.4g", $0) }.joined(separator: "…")), "
                    + "variance \(f.varianceRange.map { String(format: "%.4g", $0) }.joined(separator: "…"))")
            }
        }
        if !warnings.isEmpty {
            out.append("")
            out.append(contentsOf: warnings.map { "warning: \($0)" })
        }
        if !metadata.isEmpty {
            out.append("")
            out.append("metadata:")
            for key in metadata.keys.sorted() where !(key.hasPrefix(MetadataKey.foldPrefix) && !folded.isEmpty) {
                let value = metadata[key]!
                let shown = value.count > 200 ? String(value.prefix(200)) + "… (\(value.count) chars)" : value
                out.append("  \(key) = \(shown)")
            }
        }
        return out.joined(separator: "\n")
    }

    /// Left-aligns columns (the last column is not padded).
    static func align(_ rows: [[String]]) -> [String] {
        guard let columns = rows.first?.count else { return [] }
        var widths = [Int](repeating: 0, count: columns)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        return rows.map { r in
            r.enumerated().map { i, c in
                i == columns - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
    }
}
