import BNCGraph
import BNCJSON
import Foundation

/// The original parameters of a folded BatchNormalization, kept in the folded model so
/// the fold can be audited or undone.
///
/// Stored in `metadata_props` under `bnc.fold.<bn name>` (see `MetadataKey.foldPrefix`;
/// the BN output value's name stands in for an unnamed node) as one line of compact JSON:
///
///     {"into":"fc1","direction":"backward","epsilon":1e-05,"momentum":0.9,
///      "names":["bn1.scale","bn1.bias","bn1.mean","bn1.var"],
///      "input":"h1","output":"h1n",
///      "scale":[…],"B":[…],"mean":[…],"var":[…]}
///
/// Floats are written in Swift's shortest round-trip form, so decoding gives the exact
/// original Float values. Metadata was chosen over a doc_string because it survives
/// node renames and other tools keep `metadata_props` untouched.
public struct FoldAudit: Equatable, Sendable, Codable {
    /// The node the BN was folded into.
    public var into: String
    public var direction: FoldReport.Direction
    public var epsilon: Float
    /// The momentum attribute, when the node had one.
    public var momentum: Float?
    /// Initializer names of scale, B, mean and var.
    public var names: [String]
    /// The BN's input and output value names (the output name lives on in the graph).
    public var input: String
    public var output: String
    /// γ, β, μ, σ² per channel.
    public var scale: [Float]
    public var B: [Float]
    public var mean: [Float]
    public var variance: [Float]

    enum CodingKeys: String, CodingKey {
        case into, direction, epsilon, momentum, names, input, output, scale, B, mean
        case variance = "var"
    }

    public init(
        into: String, direction: FoldReport.Direction, epsilon: Float, momentum: Float?, names: [String],
        input: String, output: String, scale: [Float], B: [Float], mean: [Float], variance: [Float]
    ) {
        self.into = into
        self.direction = direction
        self.epsilon = epsilon
        self.momentum = momentum
        self.names = names
        self.input = input
        self.output = output
        self.scale = scale
        self.B = B
        self.mean = mean
        self.variance = variance
    }

    /// Compact one-line JSON (keys in the order documented above).
    public var json: String {
        func str(_ s: String) -> String { JSONText.string(s) }
        func floats(_ v: [Float]) -> String { "[" + v.map(JSONText.number).joined(separator: ",") + "]" }
        var out = "{\"into\":\(str(into)),\"direction\":\(str(direction.rawValue)),\"epsilon\":\(JSONText.number(epsilon))"
        if let momentum { out += ",\"momentum\":\(JSONText.number(momentum))" }
        out += ",\"names\":[" + names.map(str).joined(separator: ",") + "]"
        out += ",\"input\":\(str(input)),\"output\":\(str(output))"
        out += ",\"scale\":\(floats(scale)),\"B\":\(floats(B)),\"mean\":\(floats(mean)),\"var\":\(floats(variance))}"
        return out
    }

    /// Parses a record written by `json`; nil when the text is not one.
    public static func decode(_ text: String) -> FoldAudit? {
        try? JSONDecoder().decode(FoldAudit.self, from: Data(text.utf8))
    }

    /// Every audit record in a model's metadata, keyed by BN name, in file order.
    public static func records(in model: Model) -> [(bn: String, audit: FoldAudit)] {
        model.metadata.compactMap { entry in
            guard entry.key.hasPrefix(MetadataKey.foldPrefix), let a = decode(entry.value) else { return nil }
            return (String(entry.key.dropFirst(MetadataKey.foldPrefix.count)), a)
        }
    }
}

extension FoldReport.Direction: Codable {}
