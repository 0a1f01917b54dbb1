import BNCGraph
import BNCKernels

/// Network → ONNX inference graph (`BNCGraph.Model`), the format `bnc fold`, `bnc infer` and
/// onnxruntime read.
///
/// - graph input `input` FLOAT (N, K) or (N, C, H, W), N symbolic;
/// - Dense → `Gemm` (transB = 1; weight (out, in); bias input only when the layer has one);
///   BN → `BatchNormalization` (scale, B, input_mean, input_var, epsilon, momentum,
///   training_mode 0; ones/zeros when γ/β are not learned); Conv → `Conv`; pooling → `MaxPool`;
///   `Flatten` axis 1; Relu/Sigmoid/Tanh; Dropout is omitted;
/// - classification ends with `Softmax` axis 1 → output `probabilities` (N, classes);
///   regression's last Gemm writes `prediction` (N, 1).
/// Node names are the unit names (dense1, bn1, relu1, conv1, pool1, flatten1, softmax);
/// initializers `<node>.weight`, `.bias`, `.scale`, `.mean`, `.var`.
/// No timestamps or other varying data: the same network gives the same bytes.
public enum ModelExport {
    public static let inputName = "input"
    public static let probabilitiesName = "probabilities"
    public static let predictionName = "prediction"

    /// The inference model with `metadata` (appended after the BN convention entries).
    public static func model(_ network: Network, metadata: [(String, String)] = []) -> Model {
        var nodes: [Node] = []
        var initializers: [Tensor] = []
        let tensors = network.namedTensors()
        func addInitializer(_ name: String) {
            guard let t = tensors.first(where: { $0.name == name }) else { preconditionFailure("no tensor \(name)") }
            initializers.append(Tensor(name: t.name, dims: t.dims, floats: t.values))
        }
        var current = inputName
        let lastIndex = network.units.lastIndex { unit in
            if case .dropout = unit.spec { return false }
            return true
        } ?? 0
        for (i, unit) in network.units.enumerated() {
            let isLast = i == lastIndex
            let out = isLast && network.task == .regression ? predictionName : unit.name
            switch unit.spec {
            case .dense(_, let bias):
                addInitializer("\(unit.name).weight")
                var inputs = [current, "\(unit.name).weight"]
                if bias {
                    addInitializer("\(unit.name).bias")
                    inputs.append("\(unit.name).bias")
                }
                nodes.append(Node(name: unit.name, opType: "Gemm", inputs: inputs, outputs: [out],
                                  attributes: [Attribute("transB", .int(1))]))
            case .conv(let c):
                addInitializer("\(unit.name).weight")
                var inputs = [current, "\(unit.name).weight"]
                if c.bias {
                    addInitializer("\(unit.name).bias")
                    inputs.append("\(unit.name).bias")
                }
                let g = network.convGeometry(unit.name)!
                nodes.append(Node(
                    name: unit.name, opType: "Conv", inputs: inputs, outputs: [out],
                    attributes: [
                        Attribute("kernel_shape", .ints([Int64(g.kernelHeight), Int64(g.kernelWidth)])),
                        Attribute("strides", .ints([Int64(g.strideH), Int64(g.strideW)])),
                        Attribute("pads", .ints([g.padTop, g.padLeft, g.padBottom, g.padRight].map(Int64.init))),
                        Attribute("dilations", .ints([Int64(g.dilationH), Int64(g.dilationW)])),
                        Attribute("group", .int(Int64(g.groups))),
                    ]))
            case .maxPool(let p):
                nodes.append(Node(
                    name: unit.name, opType: "MaxPool", inputs: [current], outputs: [out],
                    attributes: [
                        Attribute("kernel_shape", .ints([Int64(p.kernel.h), Int64(p.kernel.w)])),
                        Attribute("strides", .ints([Int64(p.strides.h), Int64(p.strides.w)])),
                        Attribute("pads", .ints(p.pads.map(Int64.init))),
                    ]))
            case .flatten:
                nodes.append(Node(name: unit.name, opType: "Flatten", inputs: [current], outputs: [out],
                                  attributes: [Attribute("axis", .int(1))]))
            case .dropout:
                continue
            case .activation(let a):
                let op: String
                switch a {
                case .relu: op = "Relu"
                case .sigmoid: op = "Sigmoid"
                case .tanh: op = "Tanh"
                case .identity: op = "Identity"
                default: preconditionFailure("Export: \(a.name) is not a training activation")
                }
                nodes.append(Node(name: unit.name, opType: op, inputs: [current], outputs: [out]))
            case .batchNorm:
                let names = ["scale", "bias", "mean", "var"].map { "\(unit.name).\($0)" }
                names.forEach(addInitializer)
                nodes.append(Node(
                    name: unit.name, opType: "BatchNormalization", inputs: [current] + names, outputs: [out],
                    attributes: [
                        Attribute("epsilon", .float(network.batchNorm.epsilon)),
                        Attribute("momentum", .float(network.batchNorm.momentum)),
                        Attribute("training_mode", .int(0)),
                    ]))
            }
            current = out
        }
        let n = ValueInfo.Dimension.param("N")
        var outputName = current
        if network.task == .classification {
            nodes.append(Node(name: "softmax", opType: "Softmax", inputs: [current], outputs: [probabilitiesName],
                              attributes: [Attribute("axis", .int(1))]))
            outputName = probabilitiesName
        }
        let graph = Graph(
            name: "bnc",
            nodes: nodes, initializers: initializers,
            inputs: [ValueInfo(name: inputName, shape: [n] + network.inputShape.map { .value(Int64($0)) })],
            outputs: [ValueInfo(name: outputName, shape: [n, .value(Int64(network.outputCount))])])
        var model = Model(graph: graph, producerName: "bnc")
        var entries: [(String, String)] = []
        if !network.batchNormLayers.isEmpty {
            entries += [
                (MetadataKey.bnVarianceEstimator, network.batchNorm.varianceEstimator),
                (MetadataKey.bnMomentumConvention, BatchNormSettings.momentumConvention),
                (MetadataKey.bnMomentum, "\(network.batchNorm.momentum)"),
                (MetadataKey.bnEpsilon, "\(network.batchNorm.epsilon)"),
            ]
        }
        entries += metadata
        for (k, v) in entries { model[metadata: k] = v }
        return model
    }
}

extension Network {
    /// The geometry of the convolution unit `name`.
    func convGeometry(_ name: String) -> ConvGeometry? {
        var index = 0
        for unit in units {
            if case .conv = unit.spec {
                if unit.name == name {
                    return (layers.compactMap { $0 as? ConvLayer })[index].geometry
                }
                index += 1
            }
        }
        return nil
    }
}
