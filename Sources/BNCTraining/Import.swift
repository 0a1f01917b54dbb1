import BNCGraph
import BNCKernels

/// ONNX inference graph → `Network`, for graphs that are a single chain of the operators bnc
/// trains (Gemm, Conv, BatchNormalization, Relu/Sigmoid/Tanh, MaxPool, Flatten, Dropout/
/// Identity, a final Softmax). Used by `bnc calibrate` on files `bnc train` wrote.
public enum ModelImport {
    /// The network and, per BN unit, the names of the model's mean and variance initializers.
    public struct Imported {
        public var network: Network
        /// Unit name ("bn1") → (node name, mean initializer, variance initializer) in the model.
        public var batchNorms: [(unit: String, node: String, mean: String, variance: String)]
    }

    /// The network of `model`. Its task is classification when the graph ends in Softmax,
    /// else regression, unless `task` says otherwise (a classifier whose graph ends in its
    /// logits: the softmax cross-entropy of training and the argmax are the same on them).
    public static func network(from model: Model, task forcedTask: Task? = nil) throws(TrainingError) -> Imported {
        let graph = model.graph
        guard let input = graph.runtimeInputs.first, graph.runtimeInputs.count == 1,
              let shape = input.shape, shape.count == 2 || shape.count == 4 else {
            throw TrainingError(place: "graph input", problem: "expected one input of shape (N, K) or (N, C, H, W)")
        }
        var inputShape: [Int] = []
        for d in shape.dropFirst() {
            guard case .value(let v) = d, v > 0 else {
                throw TrainingError(place: "graph input '\(input.name)'", problem: "dimensions after the batch must be fixed, got \(input.shapeDescription)")
            }
            inputShape.append(Int(v))
        }
        var specs: [LayerSpec] = []
        var tensorsPerUnit: [[(suffix: String, initializer: String)]] = []
        var bnNodes: [(node: String, mean: String, variance: String)] = []
        var settings: BatchNormSettings?
        var task = Task.regression
        var current = input.name
        func tensor(_ name: String, _ place: String) throws(TrainingError) -> Tensor {
            guard let t = graph.initializer(named: name), t.floats != nil else {
                throw TrainingError(place: place, problem: "input '\(name)' must be a FLOAT initializer")
            }
            return t
        }
        for (index, node) in graph.nodes.enumerated() {
            let place = node.label(index: index)
            guard node.inputs.first == current, task == .regression else {
                throw TrainingError(place: place, problem: "bnc can only import a single chain of layers ending in Softmax")
            }
            current = node.outputs[0]
            do {
                switch node.opType {
                case "Gemm":
                    guard try node.int("transA", default: 0) == 0, try node.int("transB", default: 0) == 1,
                          try node.float("alpha", default: 1) == 1, try node.float("beta", default: 1) == 1 else {
                        throw TrainingError(place: place, problem: "only Gemm with transA 0, transB 1, alpha 1, beta 1 is imported")
                    }
                    let w = try tensor(node.inputs[1], place)
                    guard w.dims.count == 2 else { throw TrainingError(place: place, problem: "weight must be 2-D") }
                    var list = [("weight", node.inputs[1])]
                    let hasBias = node.inputs.count > 2 && !node.inputs[2].isEmpty
                    if hasBias { list.append(("bias", node.inputs[2])) }
                    specs.append(.dense(units: w.dims[0], bias: hasBias))
                    tensorsPerUnit.append(list)
                case "Conv":
                    let w = try tensor(node.inputs[1], place)
                    guard w.dims.count == 4 else { throw TrainingError(place: place, problem: "only 2-D convolutions are imported") }
                    if let pad = try node.string("auto_pad"), pad != "NOTSET" {
                        throw TrainingError(place: place, problem: "auto_pad \(pad) is not imported; use explicit pads")
                    }
                    let k = try node.ints("kernel_shape") ?? [Int64(w.dims[2]), Int64(w.dims[3])]
                    let s = try node.ints("strides") ?? [1, 1]
                    let p = try node.ints("pads") ?? [0, 0, 0, 0]
                    let d = try node.ints("dilations") ?? [1, 1]
                    guard k.count == 2, s.count == 2, p.count == 4, d.count == 2 else {
                        throw TrainingError(place: place, problem: "kernel_shape, strides, dilations need 2 values and pads 4")
                    }
                    let hasBias = node.inputs.count > 2 && !node.inputs[2].isEmpty
                    specs.append(.conv(ConvSpec(
                        filters: w.dims[0], kernel: (Int(k[0]), Int(k[1])), strides: (Int(s[0]), Int(s[1])),
                        padding: .explicit(p.map { Int($0) }), dilations: (Int(d[0]), Int(d[1])),
                        groups: Int(try node.int("group", default: 1)), bias: hasBias)))
                    var list = [("weight", node.inputs[1])]
                    if hasBias { list.append(("bias", node.inputs[2])) }
                    tensorsPerUnit.append(list)
                case "BatchNormalization":
                    let s = BatchNormSettings(
                        epsilon: try node.float("epsilon", default: 1e-5), momentum: try node.float("momentum", default: 0.9),
                        unbiasedVariance: model[metadata: MetadataKey.bnVarianceEstimator] == "unbiased")
                    if let settings, settings != s {
                        throw TrainingError(place: place, problem: "epsilon/momentum differ from an earlier BatchNormalization; bnc trains one setting per network")
                    }
                    settings = s
                    for name in node.inputs[1...4] { _ = try tensor(name, place) }
                    specs.append(.batchNorm(center: true, scale: true))
                    tensorsPerUnit.append([("scale", node.inputs[1]), ("bias", node.inputs[2]),
                                           ("mean", node.inputs[3]), ("var", node.inputs[4])])
                    bnNodes.append((node.name, node.inputs[3], node.inputs[4]))
                case "Relu", "Sigmoid", "Tanh":
                    let a: Activation = node.opType == "Relu" ? .relu : node.opType == "Sigmoid" ? .sigmoid : .tanh
                    specs.append(.activation(a))
                    tensorsPerUnit.append([])
                case "MaxPool":
                    guard try node.int("ceil_mode", default: 0) == 0, (try node.ints("dilations") ?? [1, 1]) == [1, 1],
                          try node.int("storage_order", default: 0) == 0,
                          (try node.string("auto_pad") ?? "NOTSET") == "NOTSET" else {
                        throw TrainingError(place: place, problem: "only MaxPool without ceil_mode, dilations or auto_pad is imported")
                    }
                    guard let k = try node.ints("kernel_shape"), k.count == 2 else {
                        throw TrainingError(place: place, problem: "kernel_shape must have 2 values")
                    }
                    let s = try node.ints("strides") ?? [1, 1]
                    let p = try node.ints("pads") ?? [0, 0, 0, 0]
                    guard s.count == 2, p.count == 4 else { throw TrainingError(place: place, problem: "strides need 2 values, pads 4") }
                    specs.append(.maxPool(PoolSpec(kernel: (Int(k[0]), Int(k[1])), strides: (Int(s[0]), Int(s[1])),
                                                   pads: p.map { Int($0) })))
                    tensorsPerUnit.append([])
                case "Flatten":
                    guard try node.int("axis", default: 1) == 1 else {
                        throw TrainingError(place: place, problem: "only Flatten with axis 1 is imported")
                    }
                    specs.append(.flatten)
                    tensorsPerUnit.append([])
                case "Dropout", "Identity":
                    continue
                case "Softmax":
                    guard try node.int("axis", default: -1) == 1 || node.int("axis", default: -1) == -1 else {
                        throw TrainingError(place: place, problem: "only Softmax over axis 1 is imported")
                    }
                    task = .classification
                default:
                    throw TrainingError(place: place, problem: "operator \(node.opType) is not imported")
                }
            } catch let e as TrainingError {
                throw e
            } catch {
                throw TrainingError(place: place, problem: "\(error)")
            }
        }
        if let out = graph.outputs.first, out.name != current || graph.outputs.count != 1 {
            throw TrainingError(place: "graph output '\(out.name)'", problem: "must be the single output of the last node")
        }
        let network = try Network(inputShape: inputShape, layers: specs, batchNorm: settings ?? BatchNormSettings(),
                                  task: forcedTask ?? task, initializer: .glorot, seed: 0)
        var bns: [(String, String, String, String)] = []
        var bnIndex = 0
        for (unit, list) in zip(network.units, tensorsPerUnit) {
            for (suffix, initializer) in list {
                let t = try tensor(initializer, "tensor '\(initializer)'")
                let expected = network.namedTensors().first { $0.name == "\(unit.name).\(suffix)" }
                guard let expected, expected.dims.reduce(1, *) == t.count else {
                    throw TrainingError(place: "tensor '\(initializer)'", problem: "has dims \(t.dims); \(unit.name) needs \(expected?.dims ?? [])")
                }
                try network.setTensor("\(unit.name).\(suffix)", t.floats!)
            }
            if case .batchNorm = unit.spec {
                let n = bnNodes[bnIndex]
                bns.append((unit.name, n.node, n.mean, n.variance))
                bnIndex += 1
            }
        }
        return Imported(network: network, batchNorms: bns)
    }
}
