import BNCGraph

/// Options of `BNFolding`.
public struct FoldOptions: Sendable, Equatable {
    /// What to do when the weight (or bias) a BN would fold into is also read by another
    /// node: fold into a private copy (the report says so), or leave the BN.
    public enum SharedWeights: String, Sendable, Equatable {
        case clone, skip
    }

    public var sharedWeights: SharedWeights
    /// Fold BN into the linear op before it (Conv/Gemm/MatMul → BN).
    public var backward: Bool
    /// Fold BN into the linear op after it (BN → Gemm/MatMul/Conv).
    public var forward: Bool

    public init(sharedWeights: SharedWeights = .clone, backward: Bool = true, forward: Bool = true) {
        self.sharedWeights = sharedWeights
        self.backward = backward
        self.forward = forward
    }
}

/// What `BNFolding` did: every fold, every BatchNormalization left in place with its
/// reasons, and warnings about the statistics or the folded values.
public struct FoldReport: Equatable, Sendable {
    /// Whether the BN sat after the op it was folded into (backward) or before it (forward).
    public enum Direction: String, Equatable, Sendable {
        case backward, forward
    }

    /// One BatchNormalization folded into a neighbouring linear op.
    public struct Fold: Equatable, Sendable {
        /// The BN node's name (its output value's name when the node has none).
        public var bn: String
        public var direction: Direction
        /// Name of the node that now carries the BN (its output value's name when unnamed).
        public var into: String
        /// Operator of that node before the fold ("Conv", "Gemm", "MatMul").
        public var intoOpBefore: String
        /// Operator after the fold (MatMul becomes "Gemm" when a bias had to be added).
        public var intoOpAfter: String
        /// Number of BN channels.
        public var channels: Int
        /// The folded weight initializer's name and shape.
        public var weight: String
        public var weightShape: [Int]
        /// The folded bias initializer's name and shape.
        public var bias: String
        public var biasShape: [Int]
        /// Whether the op had no bias and one was created.
        public var createdBias: Bool
        /// Whether the weight (or bias) was shared with another node and a copy was folded.
        public var clonedWeight: Bool
        /// Free-form details (e.g. "MatMul rewritten as Gemm", "MatMul 'm' + Add 'a'").
        public var note: String
        /// Largest |value| among the folded weight and bias.
        public var maxAbsFolded: Double
        /// The audit record stored in the model metadata under `auditKey`.
        public var audit: FoldAudit
        /// The other steps of the affine chain folded with this BN ("Mul 'scale1'",
        /// "BatchNormalization 'bn2'"); empty for a BN folded alone. A chain folded forward
        /// was first merged into the BN (a collapse): its audit then holds the merged BN's
        /// parameters (γ' = S·√(var + ε), β' = T, μ' = 0, the original var and ε).
        public var chain: [String] = []
        /// For a BN after a Concat: the ops that each took their channel range ("Conv 'b1'");
        /// `into` is then the Concat.
        public var splitInto: [String] = []
        /// How, in one word: "backward", "forward", "chain" (backward with other steps),
        /// "concat-split".
        public var method: String {
            if !splitInto.isEmpty { return "concat-split" }
            if !chain.isEmpty { return "chain" }
            return direction.rawValue
        }
        /// `MetadataKey.foldPrefix + bn`.
        public var auditKey: String { MetadataKey.foldPrefix + bn }
    }

    /// An affine chain without a BN (tf2onnx's `MatMul → Mul → Add`, a `Conv → Mul`)
    /// folded backward into a linear op.
    public struct AffineFold: Equatable, Sendable {
        /// The chain's steps ("Mul 'dense/mul'", "Add 'dense/add'").
        public var nodes: [String]
        public var into: String
        public var intoOpBefore: String
        public var intoOpAfter: String
        public var channels: Int
        public var note: String
    }

    /// One BatchNormalization left in place.
    public struct Skip: Equatable, Sendable {
        public var bn: String
        /// Steps of its chain merged into it (a collapse: `BN → Mul → Add` became one BN).
        public var merged: [String] = []
        /// A reason that rules out folding in either direction, if any.
        public var general: SkipReason?
        /// Why it could not fold into the op before it (nil when `general` is set or
        /// backward folding is off).
        public var backward: SkipReason?
        /// Why it could not fold into the op after it.
        public var forward: SkipReason?

        /// All reasons as one line, e.g. "backward: …; forward: …".
        public var reason: String {
            if let general { return general.description }
            var parts: [String] = []
            if let backward { parts.append("backward: \(backward)") }
            if let forward { parts.append("forward: \(forward)") }
            return parts.isEmpty ? "folding disabled" : parts.joined(separator: "; ")
        }

        /// Every reason given, general first.
        public var reasons: [SkipReason] { [general, backward, forward].compactMap { $0 } }
    }

    /// Something a user should look at, folded or not.
    public struct Warning: Equatable, Sendable, CustomStringConvertible {
        public enum Kind: String, Equatable, Sendable {
            /// All means are 0 and all variances 1: the moving statistics were never updated.
            case untrainedStatistics
            /// A parameter is NaN or infinite.
            case nonFiniteParameters
            /// A folded weight or bias exceeds 65504, the largest Float16.
            case beyondFloat16
        }
        public var bn: String
        public var kind: Kind
        public var message: String
        public var description: String { "\(bn): \(message)" }
    }

    public var folded: [Fold] = []
    /// Chains without a BN folded into a linear op.
    public var affineFolds: [AffineFold] = []
    public var skipped: [Skip] = []
    public var warnings: [Warning] = []

    public init() {}
}

/// Why a BatchNormalization was not folded.
public enum SkipReason: Error, Equatable, Sendable, CustomStringConvertible {
    /// training_mode = 1: the node normalizes with batch statistics.
    case trainingMode
    /// A BN parameter is computed by a node or fed by the caller, not an initializer.
    case parameterNotConstant(String)
    /// A BN parameter initializer is also a graph input, so a caller may override it.
    case parameterOverridable(String)
    /// The four parameters are not 1-D Float tensors of one length.
    case parameterShape(String)
    /// A parameter is NaN or infinite.
    case nonFiniteParameters
    /// var + ε ≤ 0 for some channel.
    case nonPositiveVariance(channel: Int)
    /// The input comes from the graph input or an op bnc cannot fold into.
    case noLinearProducer(String)
    /// The output feeds something other than exactly one foldable op.
    case noLinearConsumer(String)
    /// The value between the BN and the linear op has other readers.
    case sharedValue(value: String, readers: Int)
    /// The value between the BN and the linear op is a graph output.
    case graphOutput(String)
    /// The linear op's weight or bias is not a constant initializer (or is overridable).
    case weightNotConstant(node: String, tensor: String)
    /// The weight is shared and `FoldOptions.sharedWeights` is `.skip`.
    case weightShared(node: String, tensor: String)
    /// BN → Conv with padding: padded zeros would become −μγ/σ + β after the fold.
    case zeroPaddingWouldShift(node: String)
    /// BN channels do not match the op's output (backward) or input (forward) channels.
    case channelMismatch(node: String, bnChannels: Int, opChannels: Int)
    /// A layout the fold cannot express (transA, rank > 2, a row-varying bias …).
    case unsupportedLayout(node: String, detail: String)
    /// A folded value is too large for Float.
    case foldedValueOverflow(node: String)

    public var description: String {
        switch self {
        case .trainingMode: return "training_mode is 1 (batch statistics), not an inference BN"
        case .parameterNotConstant(let n): return "parameter '\(n)' is not an initializer"
        case .parameterOverridable(let n): return "parameter '\(n)' is an initializer that is also a graph input, so a caller may override it"
        case .parameterShape(let d): return "parameters are not four 1-D FLOAT tensors of one length (\(d))"
        case .nonFiniteParameters: return "parameters contain NaN or Inf"
        case .nonPositiveVariance(let c): return "var + epsilon ≤ 0 at channel \(c)"
        case .noLinearProducer(let d): return d
        case .noLinearConsumer(let d): return d
        case .sharedValue(let v, let n): return "value '\(v)' has \(n) consumers (folding needs exactly one)"
        case .graphOutput(let v): return "value '\(v)' is a graph output"
        case .weightNotConstant(let node, let t): return "'\(t)' of \(node) is not a constant initializer"
        case .weightShared(let node, let t): return "'\(t)' of \(node) is shared with another node (cloning disabled)"
        case .zeroPaddingWouldShift(let node): return "\(node) pads its input: zero padding would be shifted"
        case .channelMismatch(let node, let b, let o): return "\(b) BN channels vs \(o) channels of \(node)"
        case .unsupportedLayout(let node, let d): return "\(node): \(d)"
        case .foldedValueOverflow(let node): return "folded values for \(node) overflow Float"
        }
    }
}
