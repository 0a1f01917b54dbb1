/// The operators bnc reads, writes and runs (ONNX default domain), with the arity and
/// attribute types the validator enforces.
public struct OperatorSchema: Sendable {
    public var opType: String
    /// Allowed number of inputs (omitted trailing optional inputs count as absent).
    public var inputs: ClosedRange<Int>
    /// Allowed number of outputs.
    public var outputs: ClosedRange<Int>
    /// Allowed attributes and their ONNX `AttributeType` codes.
    public var attributes: [String: Int32]

    /// Every supported operator by name.
    public static let all: [String: OperatorSchema] = {
        let f: Int32 = 1, i: Int32 = 2, s: Int32 = 3, ints: Int32 = 7
        let list = [
            OperatorSchema(opType: "Gemm", inputs: 2...3, outputs: 1...1,
                           attributes: ["alpha": f, "beta": f, "transA": i, "transB": i]),
            OperatorSchema(opType: "MatMul", inputs: 2...2, outputs: 1...1, attributes: [:]),
            OperatorSchema(opType: "Add", inputs: 2...2, outputs: 1...1, attributes: [:]),
            OperatorSchema(opType: "Conv", inputs: 2...3, outputs: 1...1,
                           attributes: ["auto_pad": s, "dilations": ints, "group": i,
                                        "kernel_shape": ints, "pads": ints, "strides": ints]),
            OperatorSchema(opType: "BatchNormalization", inputs: 5...5, outputs: 1...1,
                           attributes: ["epsilon": f, "momentum": f, "training_mode": i]),
            OperatorSchema(opType: "Relu", inputs: 1...1, outputs: 1...1, attributes: [:]),
            OperatorSchema(opType: "Sigmoid", inputs: 1...1, outputs: 1...1, attributes: [:]),
            OperatorSchema(opType: "Tanh", inputs: 1...1, outputs: 1...1, attributes: [:]),
            OperatorSchema(opType: "MaxPool", inputs: 1...1, outputs: 1...1,
                           attributes: ["auto_pad": s, "ceil_mode": i, "dilations": ints,
                                        "kernel_shape": ints, "pads": ints, "storage_order": i,
                                        "strides": ints]),
            OperatorSchema(opType: "Flatten", inputs: 1...1, outputs: 1...1, attributes: ["axis": i]),
            OperatorSchema(opType: "Reshape", inputs: 2...2, outputs: 1...1, attributes: ["allowzero": i]),
            OperatorSchema(opType: "Softmax", inputs: 1...1, outputs: 1...1, attributes: ["axis": i]),
            OperatorSchema(opType: "Identity", inputs: 1...1, outputs: 1...1, attributes: [:]),
            OperatorSchema(opType: "Dropout", inputs: 1...3, outputs: 1...2, attributes: ["seed": i]),
        ]
        return Dictionary(uniqueKeysWithValues: list.map { ($0.opType, $0) })
    }()

    /// Supported operator names, sorted, for messages.
    public static var names: [String] { all.keys.sorted() }
}
