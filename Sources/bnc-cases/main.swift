// bnc-cases: runs ONNX backend-test cases (a folder per case: model.onnx and
// test_data_set_0/{input,output}_<k>.pb, as tools/check/node-cases writes them and as onnx
// ships its pytorch-converted/pytorch-operator/simple cases) in process, through the same
// loader and GraphRunner as `bnc infer`, for developing operators quickly:
//
//   swift run bnc-cases DIR [SUBSTRING ...]     cases whose name contains a substring
//
// Prints one line per case that does not pass and a summary per operator. The CI check is
// tools/check/conformance, which runs the bnc command itself on every case.
import BNCGraph
import BNCModelFile
import BNCOps
import BNCRuntime
import Foundation

let args = CommandLine.arguments.dropFirst()
guard let root = args.first else {
    FileHandle.standardError.write("usage: bnc-cases DIR [SUBSTRING ...]\n".data(using: .utf8)!)
    exit(2)
}
let filters = Array(args.dropFirst())
let names = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).sorted()
    .filter { n in filters.isEmpty || filters.contains { n.contains($0) } }

enum Outcome { case pass, fail(String), refused(String) }
var byOperator: [String: (pass: Int, fail: Int, refused: Int)] = [:]
var failures = 0

func compare(_ got: Tensor, _ want: Tensor) -> String? {
    guard got.dims == want.dims else { return "shape \(got.dims), expected \(want.dims)" }
    let a: [Double], b: [Double]
    switch (got.storage, want.storage) {
    case (.float(let x), .float(let y)): a = x.map(Double.init); b = y.map(Double.init)
    default:
        guard let x = got.integers, let y = want.integers else { return "type \(DataType.name(got.dataType)), expected \(DataType.name(want.dataType))" }
        return x == y ? nil : "integers differ"
    }
    for (i, (x, y)) in zip(a, b).enumerated() {
        if x.isNaN && y.isNaN { continue }
        if x == y { continue }
        // ONNX's backend tolerances: rtol 1e-3, atol 1e-7.
        if !(abs(x - y) <= 1e-7 + 1e-3 * abs(y)) { return "element \(i): \(x), expected \(y)" }
    }
    return nil
}

for name in names {
    let dir = root + "/" + name
    let run: Outcome
    var ops = "?"
    do {
        let model = try ModelFile.load(path: dir + "/model.onnx")
        ops = Set(model.graph.nodes.map(\.opType)).sorted().joined(separator: "+")
        let runner = try GraphRunner(model: model)
        var feeds: [String: Tensor] = [:]
        for (k, v) in model.graph.inputs.enumerated() where model.graph.initializer(named: v.name) == nil {
            var t = try TensorFile.load(path: "\(dir)/test_data_set_0/input_\(k).pb")
            t.name = v.name
            feeds[v.name] = t
        }
        let outs = try runner.run(feeds)
        var problem: String? = nil
        for (k, o) in outs.enumerated() {
            let want = try TensorFile.load(path: "\(dir)/test_data_set_0/output_\(k).pb")
            if let p = compare(o, want) { problem = "output \(k) '\(o.name)': \(p)"; break }
        }
        run = problem.map { .fail($0) } ?? .pass
    } catch {
        run = .refused(error.description)
    }
    var c = byOperator[ops] ?? (0, 0, 0)
    switch run {
    case .pass: c.pass += 1
    case .fail(let p): c.fail += 1; failures += 1; print("FAIL \(name): \(p)")
    case .refused(let p): c.refused += 1; print("REFUSED \(name): \(p)")
    }
    byOperator[ops] = c
}
print("")
for (op, c) in byOperator.sorted(by: { $0.key < $1.key }) {
    print("\(op): \(c.pass) passed, \(c.fail) failed, \(c.refused) refused")
}
exit(failures == 0 ? 0 : 1)
