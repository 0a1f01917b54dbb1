import BNCGraph
import BNCKernels

/// What the data-movement operators (Transpose, Slice, Split, Gather, Expand, Tile, Pad,
/// Concat) share: each describes its output as an `IndexedCopy` of its input, which runs on
/// the contents while planning when they are known (any element type: shape arithmetic is
/// integer) and as an `IndexedCopyStep` on FLOAT data at run time.
enum DataMovement {
    /// Row-major element strides of a dense tensor of `shape`.
    static func strides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            s[d] = acc
            acc *= shape[d]
        }
        return s
    }

    /// The number of elements of an output of `shape` computed while planning, or an error
    /// naming the node when it overflows or exceeds `PlanValue.maximumConstantElements`
    /// (checked before anything is allocated from the file's sizes).
    static func planningCount(_ shape: [Int], _ inputs: Inputs) throws(ModelError) -> Int {
        guard let n = Tensor.checkedElementCount(shape), n <= PlanValue.maximumConstantElements else {
            throw inputs.fail("its output \(shapeText(shape)) would have \(elementText(shape)) elements computed while planning; bnc computes at most \(PlanValue.maximumConstantElements)", kind: .badValue)
        }
        return n
    }

    /// The element count of `shape` as text, without overflowing.
    static func elementText(_ shape: [Int]) -> String {
        if let n = Tensor.checkedElementCount(shape) { return "\(n)" }
        return "more than \(Int.max)"
    }

    /// The output of shape `shape` that `copy` makes of `x`: contents when x's are known
    /// (computed here, after the size check) or when the output is empty, otherwise the
    /// shape and type alone (the step computes it at run time). `fill` and `fillInt` are
    /// Pad's value for FLOAT and integer data.
    static func move(
        _ x: PlanValue, to shape: [Int], _ inputs: Inputs, fill: Float = 0, fillInt: Int64 = 0,
        copy: () throws(ModelError) -> IndexedCopy
    ) throws(ModelError) -> PlanValue {
        guard let n = Tensor.checkedElementCount(shape) else {
            throw inputs.fail("its output \(shapeText(shape)) overflows", kind: .badValue)
        }
        if n == 0 { return PlanValue(shape: shape, type: x.type, contents: x.type == .float ? .floats([]) : .ints([])) }
        switch x.contents {
        case nil:
            return PlanValue(shape: shape, type: x.type)
        case .floats(let v)?:
            _ = try planningCount(shape, inputs)
            return PlanValue(shape: shape, type: x.type, contents: .floats(try copy().apply(v, fill: fill)))
        case .ints(let v)?:
            _ = try planningCount(shape, inputs)
            return PlanValue(shape: shape, type: x.type, contents: .ints(try copy().apply(v, fill: fillInt)))
        }
    }

    /// Lowers output `k` as `copy` of input 0: the input's memory when the copy changes
    /// nothing and leaves dim 0 alone (a copy that moves dim 0 keeps its step even when it is
    /// the identity for one sample, so that the plan runs whole tensors), a step otherwise.
    static func lower(
        _ l: inout Lowering, output k: Int = 0, copy: IndexedCopy, fill: Float = 0, fillValue: ValueID? = nil,
        perUnit: Bool, summary: String
    ) throws(ModelError) {
        let x = try l.inputs.value(0)
        if perUnit, fillValue == nil, !l.isConstant(0), copy.isIdentity(inputCount: x.count) {
            l.alias(output: k, input: 0)
            return
        }
        l.emit(IndexedCopyStep(x: try l.value(0), y: l.output(k), copy: copy, fill: fill, fillValue: fillValue,
                               perUnit: perUnit, summary: summary))
    }

    /// The axes of a copy that reads a dense tensor of `shape` unchanged.
    static func identity(_ shape: [Int]) -> [IndexedCopy.Axis] {
        zip(shape, strides(shape)).map { .affine(count: $0, start: 0, stride: $1) }
    }
}
