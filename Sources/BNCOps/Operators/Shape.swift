import BNCGraph

/// ONNX Shape: the input's dimensions as a 1-D INT64 tensor, known while planning (a
/// batch plan sees the batch of the plan: one sample, or the whole batch when the graph is
/// planned for it). From version 15, `start` (default 0) and `end` (default the rank) take
/// a slice of the dimensions: negative values count from the end and both are clamped to
/// 0…rank.
struct Shape: Operator {
    static let type = "Shape"
    static let versions = [1, 13, 15, 19, 21, 23, 24, 25]
    static func schema(_ version: Int) -> Schema {
        Schema(inputs: 1...1, attributes: version >= 15 ? [.int("start", default: 0), .int("end")] : [])
    }
    let start: Int64
    let end: Int64?

    init(_ node: NodeView) throws(ModelError) {
        let sliced = node.schema.attribute("start") != nil
        start = sliced ? try node.attributes.int("start") ?? 0 : 0
        end = sliced ? try node.attributes.int("end") : nil
    }

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        let x = try inputs.value(0)
        let r = Int64(x.rank)
        func clamp(_ v: Int64) -> Int {
            let w = v < 0 ? v + r : v
            return Int(min(max(w, 0), r))
        }
        let s = clamp(start), e = clamp(end ?? r)
        let dims = s < e ? x.shape[s..<e].map(Int64.init) : []
        return [PlanValue(shape: [dims.count], ints: dims)]
    }

    func lower(_ l: inout Lowering) throws(ModelError) {
        throw l.fail("a Shape has no run-time step")
    }
}
