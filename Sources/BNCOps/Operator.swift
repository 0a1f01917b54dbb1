import BNCGraph

/// One ONNX operator of the default domain: everything bnc knows about it lives in the
/// type that conforms (one file per operator, listed once in `Registry.operators`).
///
/// The life of a node:
/// 1. `Registry` picks the highest of `versions` that is ≤ the model's opset (as onnx's
///    reference evaluator and tinygrad do) and checks the node against `schema(version)`:
///    arity, attribute names and types (`ModelValidator`, at load).
/// 2. `init(_:)` reads the attributes (ONNX defaults from the schema) into the operator's
///    one internal form, adapting older versions (attributes that became inputs, changed
///    defaults, changed semantics); anything a version offers that bnc does not run is
///    refused by name.
/// 3. `outputs(_:)` is the shape rule (any rank the operator supports): output shapes and
///    element types from the inputs' facts, and the output contents when they can be known
///    while planning (shape arithmetic, `Constant`, int tensors).
/// 4. `lower(_:)` emits the kernel steps that compute the outputs at run time.
///
/// A node whose inputs are all constants is evaluated once while planning: by `outputs`
/// when it fills in contents, otherwise by running its lowered steps on the constants.
public protocol Operator: Sendable {
    /// The ONNX operator name (`op_type`), e.g. "BatchNormalization".
    static var type: String { get }
    /// The ONNX versions (`since_version`) this file implements, ascending: the newest
    /// one ≤ 7 (the oldest opset bnc reads) and every later one.
    static var versions: [Int] { get }
    /// Arity and attributes of one of `versions`.
    static func schema(_ version: Int) -> Schema
    /// Reads the node's attributes into the internal form.
    init(_ node: NodeView) throws(ModelError)
    /// The shape rule: facts about every output, from the facts about the inputs.
    func outputs(_ inputs: Inputs) throws(ModelError) -> [PlanValue]
    /// The kernel steps computing the outputs (not called when every output's contents are
    /// known while planning).
    func lower(_ lowering: inout Lowering) throws(ModelError)
    /// Checks of constant inputs that make a model invalid wherever it is used (e.g. a
    /// BN variance below −ε): run at load by `ModelValidator` on initializer inputs.
    static func checkConstants(_ node: NodeView, _ constants: [Tensor?]) throws(ModelError)
    /// What `bnc fold` may do with this node.
    var foldRole: FoldRole { get }
    /// Inputs whose contents the lowering does not use (Reshape's target shape: the step is
    /// an alias either way), so they may differ with the batch size in a batch plan.
    static var contentsUnusedByLowering: Set<Int> { get }
    /// Inputs of which only the element type is read (CastLike's `target_type`): the outputs
    /// depend on neither their shape nor their contents, so constants in the other inputs
    /// give constant outputs.
    static var typeOnlyInputs: Set<Int> { get }
}

extension Operator {
    public static func checkConstants(_ node: NodeView, _ constants: [Tensor?]) throws(ModelError) {}
    public var foldRole: FoldRole { .barrier }
    public static var contentsUnusedByLowering: Set<Int> { [] }
    public static var typeOnlyInputs: Set<Int> { [] }
}

/// What the BN folding pass may do with a node.
public enum FoldRole: Sendable, Equatable {
    /// Output channel c is a linear function of the input whose weights are the slice c of
    /// input `weight` along `axis` (within each of `groups` groups of that axis), plus
    /// input `bias` (c) when given: a per-channel affine after the node folds into those
    /// slices (Conv: axis 0; ConvTranspose: axis 1 per group; Gemm: axis 1, or 0 with
    /// transB; MatMul: axis 1).
    case linear(weight: Int, axis: Int, groups: Int, bias: Int?)
    /// Changes no value and keeps the channel axis (Identity, Dropout at inference): a
    /// per-channel affine passes through it.
    case transparent
    /// Keeps every value and their order, changes only the shape (Reshape, Flatten,
    /// Squeeze, Unsqueeze): a per-channel affine passes through it when the channel axis
    /// survives — the same number of elements before it and the same channel count — which
    /// the pass checks on the shapes.
    case reshape
    /// Output = input 0 `operation` input 1 elementwise with broadcasting (Add, Sub, Mul,
    /// Div): a per-channel affine step when one operand is a constant that varies along one
    /// axis at most (Div only with the constant as divisor).
    case affine(AffineOperation)
    /// Anything else: folding stops here.
    case barrier
}

/// The arithmetic of an `.affine` fold role.
public enum AffineOperation: String, Sendable, Equatable {
    case add, sub, mul, div
}

/// Arity and attributes of one operator version.
public struct Schema: Sendable {
    /// Allowed number of inputs, counting an omitted optional input in the middle as present
    /// and trailing omitted ones ("") as absent.
    public var inputs: ClosedRange<Int>
    /// Allowed number of outputs (trailing "" outputs are absent).
    public var outputs: ClosedRange<Int>
    public var attributes: [AttributeSpec]

    public init(inputs: ClosedRange<Int>, outputs: ClosedRange<Int> = 1...1, attributes: [AttributeSpec] = []) {
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
    }

    /// Any number of inputs from `min` (Sum, Concat, …).
    public static let variadic = Int(Int32.max)

    public func attribute(_ name: String) -> AttributeSpec? {
        attributes.first { $0.name == name }
    }
}

/// One attribute of a schema: name, type and ONNX default.
public struct AttributeSpec: Sendable {
    public var name: String
    public var type: AttributeType
    /// ONNX's default when the attribute is absent; nil when it has none (the operator
    /// then decides, e.g. `strides` defaults to 1 along every axis).
    public var defaultValue: AttributeValue?
    /// Whether the attribute must be present.
    public var required: Bool

    public init(_ name: String, _ type: AttributeType, default defaultValue: AttributeValue? = nil, required: Bool = false) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.required = required
    }

    public static func int(_ name: String, default d: Int64? = nil, required: Bool = false) -> AttributeSpec {
        AttributeSpec(name, .int, default: d.map { .int($0) }, required: required)
    }
    public static func float(_ name: String, default d: Float? = nil) -> AttributeSpec {
        AttributeSpec(name, .float, default: d.map { .float($0) })
    }
    public static func ints(_ name: String, required: Bool = false) -> AttributeSpec {
        AttributeSpec(name, .ints, required: required)
    }
    public static func floats(_ name: String, required: Bool = false) -> AttributeSpec {
        AttributeSpec(name, .floats, required: required)
    }
    public static func string(_ name: String, default d: String? = nil) -> AttributeSpec {
        AttributeSpec(name, .string, default: d.map { .string(Array($0.utf8)) })
    }
    public static func tensor(_ name: String, required: Bool = false) -> AttributeSpec {
        AttributeSpec(name, .tensor, required: required)
    }
}

/// ONNX `AttributeProto.AttributeType` (the ones bnc's schema can carry).
public enum AttributeType: Int32, Sendable {
    case float = 1, int = 2, string = 3, tensor = 4, graph = 5, floats = 6, ints = 7, strings = 8
    case tensors = 9, graphs = 10, sparseTensor = 11, sparseTensors = 12

    public var name: String { AttributeValue.typeName(rawValue) }
}

/// A node as an operator sees it: the node, its position, the selected version and a
/// typed reader of its attributes.
public struct NodeView: Sendable {
    public let node: Node
    public let index: Int
    /// The operator version chosen for the model's opset.
    public let version: Int
    /// The model's default-domain opset.
    public let opset: Int
    public let schema: Schema

    public init(node: Node, index: Int, version: Int, opset: Int, schema: Schema) {
        self.node = node
        self.index = index
        self.version = version
        self.opset = opset
        self.schema = schema
    }

    /// `node 'bn1' (BatchNormalization)` or `node #3 (Gemm)`.
    public var label: String { node.label(index: index) }

    /// An error about this node.
    public func fail(_ problem: String, kind: ModelError.Kind = .unsupportedModel) -> ModelError {
        ModelError(kind, place: label, problem: problem)
    }

    /// An error about one of its attributes.
    public func fail(attribute: String, _ problem: String, kind: ModelError.Kind = .wrongAttributeType) -> ModelError {
        ModelError(kind, place: "\(label) attribute '\(attribute)'", problem: problem)
    }

    /// The node's attributes with the schema's defaults.
    public var attributes: AttributeReader { AttributeReader(self) }

    /// Refuses an attribute this version defines but bnc does not run (given with a
    /// value other than `allowed`, or at all when `allowed` is nil): never ignored.
    public func refuse(_ name: String, unless allowed: AttributeValue? = nil, because reason: String) throws(ModelError) {
        guard let a = node.attribute(name) else { return }
        if let allowed, a.value == allowed { return }
        throw fail(attribute: name, "\(reason) (\(node.opType)-\(version))", kind: .unsupportedOperator)
    }
}
