import ArgumentParser
import BNCData
import BNCGraph
import BNCModelFile
import BNCRuntime
import Foundation
import Testing

@testable import BNCCLI

/// `bnc infer` with --input NAME=FILE (.npy, .pb, IDX) and --output (.npy, .pb, .npz), in
/// process on FoldInferTests' model ((N, 16) → (N, 3)) and a two-output variant.
@Suite struct InferIOTests {
    /// FoldInferTests' model with its hidden activation `a1` as a second graph output.
    static func twoOutputs() -> Model {
        var m = FoldInferTests.model()
        m.graph.outputs.append(ValueInfo(name: "a1", shape: [.param("N"), .value(8)]))
        return m
    }

    /// Seeded inputs of shape (n, 16).
    static func input(_ n: Int) -> [Float] {
        (0..<(n * 16)).map { Float(($0 * 29 + 7) % 41) / 41 - 0.5 }
    }

    static func quiet(_ model: String, images: String? = nil, inputs: [(name: String, file: String)] = [],
                      output: String? = nil, batchSize: Int = 256) throws -> [String] {
        var lines: [String] = []
        _ = try InferRun.perform(modelPath: model, imagesPath: images, inputs: inputs, labelsPath: nil, batchSize: batchSize,
                                 quiet: true, outputPath: output) { lines.append($0) }
        return lines
    }

    @Test func npyAndPbInputsGiveTheExecutorsOutputsInEveryOutputFormat() throws {
        let f = try FoldInferTests.Files()
        defer { f.remove() }
        let x = Self.input(5)
        let npy = f.dir.appendingPathComponent("x.npy").path
        let pb = f.dir.appendingPathComponent("x.pb").path
        try AtomicFile.write(NPYFile.encoded(NumericArray(dims: [5, 16], elements: .float32(x))), to: npy)
        try TensorFile.save(Tensor(name: "x", dims: [5, 16], floats: x), to: pb)
        let exec = try Executor(graph: FoldInferTests.model().graph, maxBatch: 256)
        let want = exec.run(x)
        for (input, spec) in [(npy, [(name: "x", file: npy)]), (pb, [])] {
            let out = f.dir.appendingPathComponent("y.npy").path
            let lines = try Self.quiet(f.model, images: spec.isEmpty ? input : nil, inputs: spec, output: out)
            #expect(lines.last == "wrote \(out): y 5×3 float32")
            #expect(try NPYFile.read(path: out) == NumericArray(dims: [5, 3], elements: .float32(want)))
            let outPb = f.dir.appendingPathComponent("y.pb").path
            _ = try Self.quiet(f.model, images: input, output: outPb)
            #expect(try TensorFile.load(path: outPb) == Tensor(name: "y", dims: [5, 3], floats: want))
        }
        // .npz: the bytes NPZFile writes for the executor's outputs.
        let npz = f.dir.appendingPathComponent("y.npz").path
        _ = try Self.quiet(f.model, images: npy, output: npz)
        let expected = try NPZFile.encoded([("y", NumericArray(dims: [5, 3], elements: .float32(want)))], path: npz)
        #expect(try AtomicFile.read(npz, limit: 1 << 20) == expected)
    }

    /// Raw outputs written with --output --quiet are the model's values, ±Inf included (log 0
    /// is −inf, as ONNX's empty-set reductions are); printed results refuse them.
    @Test func rawOutputsKeepInfinitiesPrintedResultsRefuseThem() throws {
        let f = try FoldInferTests.Files()
        defer { f.remove() }
        var model = FoldInferTests.model()
        model.graph = Graph(name: "log", nodes: [Node(name: "log", opType: "Log", inputs: ["x"], outputs: ["y"])],
                            initializers: [], inputs: [ValueInfo(name: "x", shape: [.param("N"), .value(4)])],
                            outputs: [ValueInfo(name: "y", shape: [.param("N"), .value(4)])])
        let path = f.dir.appendingPathComponent("log.pb").path
        try ModelFile.save(model, to: path)
        let npy = f.dir.appendingPathComponent("x.npy").path, out = f.dir.appendingPathComponent("y.npy").path
        try AtomicFile.write(NPYFile.encoded(NumericArray(dims: [2, 4], elements: .float32([1, 0, 2, 4, 0, 1, 1, 1]))), to: npy)
        _ = try Self.quiet(path, images: npy, output: out)
        let y = try NPYFile.read(path: out)
        guard case .float32(let v) = y.elements else { Issue.record("\(y)"); return }
        #expect(v[1] == -.infinity && v[4] == -.infinity && v[0] == 0 && abs(v[3] - log(4)) < 1e-6)
        do {
            _ = try InferRun.perform(modelPath: path, imagesPath: npy, inputs: [], labelsPath: nil, batchSize: 256) { _ in }
            Issue.record("printed results of -inf")
        } catch {
            #expect("\(error)".contains("image 0: the model computes -inf"), "\(error)")
        }
    }

    /// Issue 19, row 15: a float32 IDX of dims [N] holds N single values, and feeds a model
    /// whose input is (N, 1) (the toy regression's) as N×1×1 does; a model with wider items
    /// refuses it naming both shapes.
    @Test func singleValuesFeedAOneFeatureModel() throws {
        let f = try FoldInferTests.Files()
        defer { f.remove() }
        let logs = f.dir.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        let toy = f.dir.appendingPathComponent("toy.pb").path
        let trained = try ChildProcess.runBNC(["train", "--dataset", "toy", "--epochs", "1", "-o", toy], outputs: logs)
        try #require(trained.status == 0, "\(trained.stderr)")
        let values: [Float] = [-7, -1.5, 0, 2.25, 10]
        let flat = f.dir.appendingPathComponent("x.idx").path, cube = f.dir.appendingPathComponent("x111.idx").path
        try AtomicFile.write(IDXFile(path: "", dims: [5], elements: .float32(values)).encoded(), to: flat)
        try AtomicFile.write(IDXFile(path: "", dims: [5, 1, 1], elements: .float32(values)).encoded(), to: cube)
        var lines: [String] = []
        _ = try InferRun.perform(modelPath: toy, imagesPath: flat, inputs: [], labelsPath: nil, batchSize: 2) { lines.append($0) }
        var want: [String] = []
        _ = try InferRun.perform(modelPath: toy, imagesPath: cube, inputs: [], labelsPath: nil, batchSize: 2) { want.append($0) }
        #expect(lines.count == 6 && lines.prefix(5) == want.prefix(5), "\(lines) vs \(want)")
        #expect(lines.first?.hasPrefix("0\t") == true)
        do {
            _ = try Self.quiet(f.model, images: flat)
            Issue.record("a [5] IDX fed a 16-feature model")
        } catch {
            #expect("\(error)".contains("dims [5]: items are single values"), "\(error)")
            #expect("\(error)".contains("N×16"), "\(error)")
        }
    }

    @Test func idxImagesStreamedInBatchesGiveEveryBatchsOutputsInOrder() throws {
        let f = try FoldInferTests.Files(count: 23)
        defer { f.remove() }
        // The pixels scaled as x/255, through an executor that runs the same chunks (BLAS
        // kernels differ by batch size, so each batch size is compared with its own chunking).
        let x = f.pixels.map { Float($0) / 255 }
        for batch in [1, 7, 23] {
            let out = f.dir.appendingPathComponent("y\(batch).npy").path
            let lines = try Self.quiet(f.model, images: f.images, output: out, batchSize: batch)
            #expect(lines.last == "wrote \(out): y 23×3 float32")
            let want = try Executor(graph: FoldInferTests.model().graph, maxBatch: batch).run(x)
            #expect(try NPYFile.read(path: out) == NumericArray(dims: [23, 3], elements: .float32(want)), "batch \(batch)")
        }
    }

    @Test func everyOutputGoesToNpzAndOneArrayFilesAreRefusedForTwoOutputs() throws {
        let f = try FoldInferTests.Files(count: 4)
        defer { f.remove() }
        let model = f.dir.appendingPathComponent("two.pb").path
        try ModelFile.save(Self.twoOutputs(), to: model)
        let npz = f.dir.appendingPathComponent("all.npz").path
        let lines = try Self.quiet(model, images: f.images, output: npz)
        #expect(lines.last == "wrote \(npz): y 4×3 float32, a1 4×8 float32")
        let exec = try Executor(graph: Self.twoOutputs().graph, maxBatch: 256)
        let all = exec.runAll(f.pixels.map { Float($0) / 255 })
        let expected = try NPZFile.encoded([("y", NumericArray(dims: [4, 3], elements: .float32(all[0]))),
                                            ("a1", NumericArray(dims: [4, 8], elements: .float32(all[1])))], path: npz)
        #expect(try AtomicFile.read(npz, limit: 1 << 20) == expected)
        let npy = f.dir.appendingPathComponent("one.npy").path
        #expect {
            try Self.quiet(model, images: f.images, output: npy)
        } throws: { error in
            (error as? ModelError)?.description == "\(model): graph outputs: the model has 2 outputs (y, a1) and --output \(npy) holds one; use an .npz file for all of them"
        }
        #expect(!FileManager.default.fileExists(atPath: npy))
    }

    @Test func aFileMustHoldTheWholeInputBatchIncluded() throws {
        let f = try FoldInferTests.Files(count: 2)
        defer { f.remove() }
        let npy = f.dir.appendingPathComponent("x.npy").path
        try AtomicFile.write(NPYFile.encoded(NumericArray(dims: [16], elements: .float32(Self.input(1)))), to: npy)
        #expect {
            try Self.quiet(f.model, images: npy)
        } throws: { error in
            (error as? DataError)?.description == "\(npy): dims [16]: do not match \(f.model) input 'x' (N×16); the file holds the whole input, batch dim included"
        }
        try AtomicFile.write(NPYFile.encoded(NumericArray(dims: [2, 15], elements: .float32([Float](repeating: 0, count: 30)))), to: npy)
        #expect {
            try Self.quiet(f.model, images: npy)
        } throws: { error in
            (error as? DataError)?.description == "\(npy): dims [2, 15]: do not match \(f.model) input 'x' (N×16): dim 1 is 15, not 16; the file holds the whole input, batch dim included"
        }
    }

    @Test func symbolicDimsTakeOneSizeAcrossInputs() throws {
        let graph = Graph(inputs: [ValueInfo(name: "a", shape: [.param("N"), .value(2)]), ValueInfo(name: "b", shape: [.param("N"), .value(3)])])
        let a = InputTensor(name: "a", file: "a.npy", dims: [4, 2], storage: .float([Float](repeating: 0, count: 8)))
        var b = InputTensor(name: "b", file: "b.npy", dims: [4, 3], storage: .float([Float](repeating: 0, count: 12)))
        try TensorInput.checkShapes([a, b], of: graph, modelPath: "m.onnx")
        b.dims = [5, 3]
        #expect(throws: DataError(file: "b.npy", place: "dims [5, 3]", problem: "do not match m.onnx input 'b' (N×3): dim 0 'N' is 5 here but 4 in a.npy; the file holds the whole input, batch dim included")) {
            try TensorInput.checkShapes([a, b], of: graph, modelPath: "m.onnx")
        }
    }

    @Test func valuesConvertToTheInputsTypeOrAreRefusedNamingBoth() throws {
        func convert(_ e: NumericArray.Elements, to type: Int32) throws -> Tensor.Storage {
            try TensorInput.convert(NumericArray(dims: [e.count], elements: e), file: "v.npy",
                                    to: ValueInfo(name: "x", elemType: type, shape: nil), modelPath: "m.onnx")
        }
        func refusal(_ e: NumericArray.Elements, to type: Int32) -> String? {
            do {
                _ = try convert(e, to: type)
                return nil
            } catch {
                return "\(error)"
            }
        }
        #expect(try convert(.float64([0.1, -2]), to: DataType.float) == .float([Float(0.1), -2]))
        #expect(try convert(.uint8([0, 255]), to: DataType.float) == .float([0, 255]))
        #expect(try convert(.int32([-3, 4]), to: DataType.int64) == .int64([-3, 4]))
        #expect(try convert(.bool([true, false]), to: DataType.int64) == .int64([1, 0]))
        #expect(try convert(.int64([-5, 2_147_483_647]), to: DataType.int32) == .int32([-5, .max]))
        #expect(try convert(.bool([true]), to: DataType.bool) == .bool([true]))
        #expect(refusal(.float64([1, 1e300]), to: DataType.float) == "v.npy: element 1: 1e+300 is beyond the float32 range of m.onnx input 'x'")
        #expect(refusal(.bool([true]), to: DataType.float) == "v.npy: bool elements: m.onnx input 'x' is FLOAT, which takes float or integer values")
        #expect(refusal(.float32([1]), to: DataType.int64) == "v.npy: float32 elements: m.onnx input 'x' is INT64, which takes integer or bool values")
        #expect(refusal(.int64([1, 1 << 31]), to: DataType.int32) == "v.npy: element 1: 2147483648 does not fit m.onnx input 'x' (INT32)")
        #expect(refusal(.uint8([1]), to: DataType.bool) == "v.npy: uint8 elements: m.onnx input 'x' is BOOL, which takes bool values")
        #expect(refusal(.float32([1]), to: DataType.double) == "m.onnx: graph input 'x': has element type DOUBLE; bnc feeds FLOAT, INT64, INT32 and BOOL inputs")
    }

    @Test func namedInputsMatchTheModelsRuntimeInputs() throws {
        let graph = Graph(initializers: [Tensor(name: "w", dims: [1], floats: [1])],
                          inputs: [ValueInfo(name: "a", shape: nil), ValueInfo(name: "b", shape: nil), ValueInfo(name: "w", shape: nil)])
        func files(_ images: String?, _ inputs: [(name: String, file: String)]) throws -> [String] {
            try InferRun.inputFiles(graph, modelPath: "m.onnx", imagesPath: images, inputs: inputs).map { "\($0.name)=\($0.file)" }
        }
        #expect(try files(nil, [("b", "b.npy"), ("a", "a.pb")]) == ["a=a.pb", "b=b.npy"])
        #expect(throws: ModelError(.unsupportedModel, file: "m.onnx", place: "graph", problem: "has 2 inputs ('a', 'b'); give each with --input NAME=FILE")) {
            try files("x.npy", [])
        }
        #expect(throws: ModelError(.unsupportedModel, file: "m.onnx", place: "graph", problem: "input 'b' has no file; give --input NAME=FILE for each of 'a', 'b'")) {
            try files(nil, [("a", "a.npy")])
        }
        #expect(throws: ModelError(.unsupportedModel, file: "m.onnx", place: "graph", problem: "input 'a', 'b' has no file; give --input NAME=FILE for each of 'a', 'b'")) {
            try files(nil, [])
        }
        #expect(throws: ModelError(.unsupportedModel, file: "m.onnx", place: "--input c", problem: "is not an input of the model; its inputs are 'a', 'b'")) {
            try files(nil, [("a", "a.npy"), ("b", "b.npy"), ("c", "c.npy")])
        }
        #expect(throws: ModelError(.unsupportedModel, file: "m.onnx", place: "--input w", problem: "is a constant of the model (an initializer); bnc does not override it")) {
            try files(nil, [("w", "w.npy")])
        }
    }

    @Test func theCommandLineRefusesAmbiguousInputsAndUnknownOutputKinds() {
        func message(_ args: [String]) -> String? {
            do {
                _ = try InferCommand.parse(args)
                return nil
            } catch {
                return InferCommand.message(for: error)
            }
        }
        #expect(message(["m.onnx", "x.npy", "--input", "x=x.npy"]) == "Give the input either as the positional file or with --input NAME=FILE, not both.")
        #expect(message(["m.onnx", "--input", "x"]) == "--input x: give NAME=FILE, e.g. --input x=input_0.pb.")
        #expect(message(["m.onnx", "--input", "x=a.npy", "--input", "x=b.npy"]) == "--input x is given twice.")
        #expect(message(["m.onnx", "x.npy", "--output", "y.txt"]) == "--output y.txt: give a .npy or .pb file (one output) or an .npz file (all outputs).")
        #expect(message(["m.onnx", "x.idx", "--bench", "--output", "y.npy"]) == "--bench measures speed; drop --output.")
        #expect(message(["m.onnx", "--input", "x=a=b.npy", "--output", "Y.NPZ"]) == nil)
    }

    @Test func theOutputMayNotReplaceAnInput() throws {
        let f = try FoldInferTests.Files(count: 2)
        defer { f.remove() }
        let npy = f.dir.appendingPathComponent("x.npy").path
        try AtomicFile.write(NPYFile.encoded(NumericArray(dims: [2, 16], elements: .float32(Self.input(2)))), to: npy)
        let before = try AtomicFile.read(npy, limit: 1 << 20)
        #expect(throws: ModelError(.io, file: npy, place: "", problem: "is the input file \(npy); give --output another name")) {
            try Self.quiet(f.model, images: npy, output: npy)
        }
        #expect(try AtomicFile.read(npy, limit: 1 << 20) == before)
    }

    @Test func jsonKeepsItsFieldsAndNamesTheFiles() throws {
        let f = try FoldInferTests.Files(count: 3)
        defer { f.remove() }
        let out = f.dir.appendingPathComponent("y.npz").path
        var text = ""
        _ = try InferRun.perform(modelPath: f.model, imagesPath: f.images, labelsPath: f.labels, json: true, outputPath: out) { text += $0 + "\n" }
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        for key in ["images", "predictions", "probabilities", "outputs", "accuracy", "confusion", "images_file"] {
            #expect(object[key] != nil, "\(key)")
        }
        #expect(object["inputs"] as? [String: String] == ["x": f.images])
        #expect(object["output_file"] as? String == out)
    }
}
