import BNCGraph

/// Every operator bnc runs: the one list (`--help`, the README table and the conformance
/// run are generated from it), and the choice of version for a model's opset.
public enum Registry {
    /// The operators, alphabetically. Adding an operator is its file plus one line here.
    public static let operators: [any Operator.Type] = [
        Abs.self,
        Add.self,
        AveragePool.self,
        BatchNormalization.self,
        Cast.self,
        CastLike.self,
        Ceil.self,
        Celu.self,
        Clip.self,
        Concat.self,
        Constant.self,
        ConstantOfShape.self,
        Conv.self,
        ConvTranspose.self,
        Div.self,
        Dropout.self,
        Elu.self,
        Erf.self,
        Exp.self,
        Expand.self,
        Flatten.self,
        Floor.self,
        Gather.self,
        Gelu.self,
        Gemm.self,
        GlobalAveragePool.self,
        GlobalMaxPool.self,
        HardSigmoid.self,
        HardSwish.self,
        Identity.self,
        LeakyRelu.self,
        Log.self,
        LogSoftmax.self,
        LRN.self,
        MatMul.self,
        Max.self,
        MaxPool.self,
        Mean.self,
        Min.self,
        Mish.self,
        Mul.self,
        Neg.self,
        Pad.self,
        Pow.self,
        PRelu.self,
        RangeOperator.self,
        Reciprocal.self,
        ReduceL1.self,
        ReduceL2.self,
        ReduceLogSum.self,
        ReduceLogSumExp.self,
        ReduceMax.self,
        ReduceMean.self,
        ReduceMin.self,
        ReduceProd.self,
        ReduceSum.self,
        ReduceSumSquare.self,
        Relu.self,
        Reshape.self,
        Round.self,
        Selu.self,
        Shape.self,
        Sigmoid.self,
        Sign.self,
        Slice.self,
        Softmax.self,
        Softplus.self,
        Softsign.self,
        Split.self,
        Sqrt.self,
        Squeeze.self,
        Sub.self,
        Sum.self,
        Swish.self,
        Tanh.self,
        ThresholdedRelu.self,
        Tile.self,
        Transpose.self,
        Unsqueeze.self,
    ]

    /// Default-domain opsets bnc reads: 7 (the oldest in the model zoo) to the newest the
    /// `onnx` package defines.
    public static let opsets: ClosedRange<Int> = 7...28

    private static let byType: [String: any Operator.Type] = {
        var d: [String: any Operator.Type] = [:]
        for op in operators { d[op.type] = op }
        return d
    }()

    /// Operator names, sorted, for messages.
    public static var names: [String] { operators.map { $0.type }.sorted() }

    /// The operator named `type`, if bnc has it.
    public static func operatorType(_ type: String) -> (any Operator.Type)? { byType[type] }

    /// The version of `op` a model with default-domain opset `opset` uses: the highest
    /// `since` version ≤ opset; nil when every version is newer (the operator did not exist).
    public static func version(of op: any Operator.Type, opset: Int) -> Int? {
        op.versions.last { $0 <= opset }
    }

    /// The operator and view for a node of a model with `opset`, or an error naming the
    /// node: unknown domain or operator, or an operator newer than the model's opset.
    public static func resolve(_ node: Node, index: Int, opset: Int) throws(ModelError) -> (any Operator.Type, NodeView) {
        let place = node.label(index: index)
        guard node.domain.isEmpty || node.domain == "ai.onnx" else {
            throw ModelError(.unsupportedOperator, place: place,
                             problem: "domain '\(node.domain)' is not supported; bnc runs default-domain ONNX operators")
        }
        guard let op = byType[node.opType] else {
            throw ModelError(.unsupportedOperator, place: place,
                             problem: "operator '\(node.opType)' is not supported; bnc runs \(names.joined(separator: ", "))")
        }
        guard let version = version(of: op, opset: opset) else {
            throw ModelError(.unsupportedOperator, place: place,
                             problem: "\(node.opType) first appears in opset \(op.versions[0]); the model imports opset \(opset)")
        }
        return (op, NodeView(node: node, index: index, version: version, opset: opset, schema: op.schema(version)))
    }

    /// Rows of the operator table: name, versions, fold role summary.
    public static var table: [(type: String, versions: [Int])] {
        operators.map { ($0.type, $0.versions) }.sorted { $0.type < $1.type }
    }
}
