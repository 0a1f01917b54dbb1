import BNCGraph

/// ONNX Flatten: (d0, …, dr−1) → (d0·…·d(axis−1), d(axis)·…·d(r−1)); the memory is the
/// input's. `axis` defaults to 1; from version 11 it may be negative.
struct Flatten: Operator {
    static let type = "Flatten"
    static let versions = [1, 9, 11, 13, 21, 23, 24, 25]
    static func schema(_ version: Int) -> Schema { Schema(inputs: 1...1, attributes: [.int("axis", default: 1)]) }
    let axis: Int64
    let negativeAllowed: Bool

    var foldRole: FoldRole { .reshape }
    init(_ node: NodeView) throws(ModelError) {
        axis = try node.attributes.int("axis") ?? 1
        negativeAllowed = node.version >= 11
    }

    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue] {
        let x = try inputs.value(0)
        let r = x.rank
        guard let a = Int(exactly: axis), a <= r, a >= (negativeAllowed ? -r : 0) else {
            throw inputs.view.fail(attribute: "axis", "is \(axis); for rank \(r) it must be in \(negativeAllowed ? -r : 0)…\(r)", kind: .badValue)
        }
        let at = a < 0 ? a + r : a
        var out = x
        out.shape = [x.shape[..<at].reduce(1, *), x.shape[at...].reduce(1, *)]
        return [out]
    }

    func lower(_ l: inout Lowering) throws(ModelError) { l.alias() }
}
