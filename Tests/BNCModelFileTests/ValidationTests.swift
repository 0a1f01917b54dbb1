import BNCGraph
import Testing

@testable import BNCModelFile

/// Semantic problems found on load, each named precisely.
@Suite struct ValidationTests {
    func error(_ model: Model) -> ModelError? {
        do {
            _ = try ModelFile.decode(ModelFile.encode(model), path: "m.pb")
            return nil
        } catch {
            return error
        }
    }

    @Test func danglingInput() {
        var m = SampleModels.convDense()
        m.graph.nodes[2].inputs = ["nowhere"]
        #expect(error(m)?.description == "m.pb: node 'relu1' (Relu): input 'nowhere' is not a graph input, an initializer or an earlier node's output")
    }

    @Test func cycle() {
        var m = SampleModels.convDense()
        m.graph.nodes[0].inputs[0] = "relu1.out"  // conv reads relu's output, which depends on conv
        #expect(error(m)?.kind == .cycle)
        #expect(error(m)?.problem.contains("cycle") == true)
    }

    @Test func unsortedButAcyclic() {
        var m = SampleModels.convDense()
        m.graph.nodes.swapAt(2, 3)  // flatten before relu
        let e = error(m)
        #expect(e?.kind == .cycle)
        #expect(e?.problem.contains("topologically sorted") == true)
    }

    @Test func duplicateNames() {
        var m = SampleModels.convDense()
        m.graph.initializers.append(m.graph.initializers[0])
        #expect(error(m)?.description == "m.pb: tensor 'conv1.weight': two initializers have this name")
        var n = SampleModels.convDense()
        n.graph.nodes[3].outputs = ["relu1.out"]
        #expect(error(n)?.kind == .duplicateName)
    }

    @Test func unsupportedOperatorAndDomain() {
        var m = SampleModels.convDense()
        m.graph.nodes[2].opType = "LeakyRelu"
        #expect(error(m)?.problem.hasPrefix("operator 'LeakyRelu' is not supported") == true)
        var d = SampleModels.convDense()
        d.graph.nodes[2].domain = "com.microsoft"
        #expect(error(d)?.kind == .unsupportedOperator)
    }

    @Test func wrongAttributeType() {
        var m = SampleModels.convDense()
        m.graph.nodes[1].attributes[0] = Attribute("epsilon", .int(1))
        #expect(error(m)?.description == "m.pb: node 'bn1' (BatchNormalization) attribute 'epsilon': has type INT, expected FLOAT")
    }

    @Test func missingOrUnsupportedOpset() {
        var m = SampleModels.convDense()
        m.opsetImports = []
        #expect(error(m)?.kind == .badOpset)
        m.opsetImports = [OpsetImport(domain: "", version: 6)]
        #expect(error(m)?.problem.contains("opset 6 is not supported") == true)
        m.opsetImports = [OpsetImport(domain: "", version: 29)]
        #expect(error(m)?.problem.contains("opset 29 is not supported; bnc reads opsets 7–28") == true)
        for opset in [14, 15, 21, 28] {
            m.opsetImports = [OpsetImport(domain: "", version: Int64(opset))]
            #expect(error(m) == nil, "opset \(opset)")
        }
        // Opsets 7–13 are read too, with their own operator versions: BatchNormalization-9
        // has no training_mode (it came in 14), so bnc's own BN node is refused by name there.
        m.opsetImports = [OpsetImport(domain: "", version: 9)]
        #expect(error(m)?.description == "m.pb: node 'bn1' (BatchNormalization) attribute 'training_mode': is not an attribute of BatchNormalization-9")
        // … and Gemm-9 requires its C input, which bnc's bias-free dense layer omits.
        m.graph.nodes[1].attributes.removeAll { $0.name == "training_mode" }
        #expect(error(m)?.description == "m.pb: node 'dense1' (Gemm): has 2 inputs; Gemm-9 takes 3")
    }

    @Test func trainingModeBatchNormIsRejected() {
        var m = SampleModels.convDense()
        m.graph.nodes[1].setAttribute(Attribute("training_mode", .int(1)))
        #expect(error(m)?.kind == .unsupportedModel)
    }

    @Test func undefinedGraphOutput() {
        var m = SampleModels.convDense()
        m.graph.outputs[0].name = "missing"
        #expect(error(m)?.description == "m.pb: graph output 'missing': nothing produces this value")
    }
}
