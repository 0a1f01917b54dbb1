import BNCGraph

/// ONNX Dropout at inference: the output is the input, and the optional mask is all true.
///
/// Versions 7 and 10 carry `ratio` as an attribute; from 12 `ratio` and `training_mode` are
/// inputs, and `training_mode` must be false (absent, or a constant 0): bnc runs inference.
struct Dropout: Operator {
    static let type = "Dropout"
    static let versions = [7, 10, 12, 13, 22]
    static func schema(_ version: Int) -> Schema {
        version >= 12
            ? Schema(inputs: 1...3, outputs: 1...2, attributes: [.int("seed")])
            : Schema(inputs: 1...1, outputs: 1...2, attributes: [.float("ratio", default: 0.5)])
    }
    var foldRole: FoldRole { .transparent }
    init(_ node: NodeView) throws(ModelError) {}

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        let x = try inputs.value(0)
        if inputs.has(2) {
            let mode = try inputs.value(2)
            guard let on = mode.ints ?? mode.floats.map({ $0.map { $0 != 0 ? 1 : 0 } }) else {
                throw inputs.fail("training_mode input '\(inputs.name(2))' is computed at run time; bnc runs Dropout in inference mode only")
            }
            if on.contains(where: { $0 != 0 }) {
                throw inputs.fail("training_mode input '\(inputs.name(2))' is true; bnc runs Dropout in inference mode only")
            }
        }
        let mask = PlanValue(shape: x.shape, ints: [Int64](repeating: 1, count: x.count), type: .bool)
        return [x, mask]
    }

    func lower(_ l: inout Lowering) throws(ModelError) { l.alias() }
}
