import ArgumentParser
import BNCData
import BNCGraph
import BNCJSON
import BNCKernels
import BNCModelFile
import BNCOps
import BNCPasses
import BNCRuntime
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `bnc infer model.pb images.idx [--labels labels.idx]`: predictions or accuracy;
/// `bnc infer model.onnx --input x=x.npy --output y.npz`: raw outputs of any model.
struct InferCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infer",
        abstract: "Predict classes for IDX images, or measure accuracy with --labels; write raw outputs with --output.",
        discussion: """
            Images: an IDX file (plain or .gz) of N×H×W unsigned bytes, or one H×W image; the \
            model input must be (N, H·W) or (N, 1, H, W); N single values (IDX dims [N]) feed \
            an (N, 1) input. Pixels are scaled as the model's \
            metadata bnc.input.scaling says (x/255 when absent); IDX files of the other types \
            (i8, i16, i32, f32, f64) are taken as model inputs unchanged. Images are read and \
            run --batch-size at a time, so memory stays flat; BatchNormalization always uses \
            its moving statistics, so one image at a time gives the same predictions as all at once.

            Any input: --input NAME=FILE (repeatable, one per model input; the positional file \
            is the model's single input) with FILE an .npy file, a serialized ONNX TensorProto \
            (.pb, as in ONNX's test data) or IDX. Such a file holds the whole input: its dims \
            must equal the input's full shape, batch dim included. Its values are converted to \
            the input's element type (FLOAT, INT64, INT32, BOOL) where that is exact or a \
            rounding, and refused otherwise.

            --output FILE writes the model's raw outputs for the whole batch: FILE.npy or \
            FILE.pb for a model with one output, FILE.npz for every output under its name \
            (numpy.load(FILE)[name]). The outputs are held in memory until the end. With --quiet (and no --labels or --json) \
            they are written as computed, NaN and ±Inf included; otherwise a non-finite output is refused.

            Output: one line per image (index, class, probability; --top-k more classes), or \
            with --labels the accuracy, per-class accuracy and confusion matrix. --quiet \
            prints the summary only. --json prints one JSON object with "images", \
            "predictions", "probabilities", "outputs" (the model's output rows) and, with \
            labels, "accuracy", "correct", "per_class_accuracy", "confusion". Probabilities \
            are the model's outputs when it ends in Softmax, else the softmax of its outputs.

            --bench times in-process inference instead (file loading and compiling excluded, \
            reported separately): batch-1 latency (median over 1000 runs) and images/s at \
            batch 100 and 10,000 (median of 5 repeats), on up to 10,000 images of the file. \
            --bench-batches 1,8 times those batch sizes instead (median latency of 20 runs \
            each after 3 warm-up runs, on the file's samples repeated as needed): for large \
            models such as a ResNet-50 on 224×224 images. Both name the kernels: OpenBLAS's \
            and oneDNN's instruction set (BNC_ONEDNN=0 runs bnc's own convolution kernels).
            """)

    @Argument(help: "The model file (ONNX).")
    var model: String

    @Argument(help: "IDX images (plain or .gz), or any input file for a one-input model (see --input).")
    var images: String?

    @Option(name: .customLong("input"), help: ArgumentHelp("A model input and its file (.npy, .pb or IDX); repeatable.", valueName: "name=file"))
    var inputs: [String] = []

    @Option(help: ArgumentHelp("Write the raw outputs: .npy or .pb (one output), .npz (all outputs).", valueName: "file"))
    var output: String?

    @Option(help: ArgumentHelp("IDX labels (plain or .gz) for accuracy.", valueName: "file.idx"))
    var labels: String?

    @Option(help: "Images per batch.")
    var batchSize: Int = 256

    @Option(help: "Classes listed per image.")
    var topK: Int = 1

    @Flag(help: "Print one JSON object.")
    var json = false

    @Flag(help: "Print only the summary.")
    var quiet = false

    @Flag(help: "Time in-process inference (batch 1, 100, 10,000) instead of predicting.")
    var bench = false

    @Option(help: ArgumentHelp("With --bench: time these batch sizes only (comma-separated, e.g. 1,8).", valueName: "list"))
    var benchBatches: String?

    func validate() throws {
        guard batchSize >= 1, batchSize <= 1 << 20 else {
            throw ValidationError("--batch-size \(batchSize) must be between 1 and \(1 << 20).")
        }
        guard topK >= 1 else { throw ValidationError("--top-k \(topK) must be at least 1.") }
        if bench && labels != nil { throw ValidationError("--bench measures speed; drop --labels.") }
        if bench && output != nil { throw ValidationError("--bench measures speed; drop --output.") }
        if let benchBatches {
            guard bench else { throw ValidationError("--bench-batches needs --bench.") }
            guard let sizes = InferBatchBench.sizes(benchBatches) else {
                throw ValidationError("--bench-batches '\(benchBatches)' must list batch sizes from 1 to 4096, e.g. 1,8.")
            }
            _ = sizes
        }
        try InferRun.validate(images: images, inputs: inputs, output: output)
    }

    func run() throws {
        let named = inputs.compactMap(TensorInput.parse)
        if bench, let benchBatches, let sizes = InferBatchBench.sizes(benchBatches) {
            let result = try InferBatchBench.perform(modelPath: model, imagesPath: images, inputs: named, batches: sizes)
            print(json ? try JSONText.encode(result, snakeCaseKeys: true) : result.text())
            return
        }
        if bench {
            let result = try InferBench.perform(modelPath: model, imagesPath: images, inputs: named)
            print(json ? try JSONText.encode(result, snakeCaseKeys: true) : result.text())
            return
        }
        _ = try InferRun.perform(
            modelPath: model, imagesPath: images, inputs: named, labelsPath: labels, batchSize: batchSize, topK: topK,
            json: json, quiet: quiet, outputPath: output) { print($0) }
    }
}

/// Model, executor and input batches set up for inference, with the checks shared by
/// predictions and the benchmark.
struct InferSetup {
    let model: Model
    /// Where the outputs come from: an IDX file streamed through an executor a batch at a
    /// time, or whole input tensors run once (any number of inputs, of any supported type).
    enum Source {
        case streamed(Executor, InputBatches)
        case computed([Tensor])
    }
    let source: Source
    /// Which file feeds each model input, in the model's input order.
    let inputFiles: [(name: String, file: String)]
    /// Dims of the first input's file (for messages).
    let firstInputDims: [Int]
    /// The first output's name and its values per row (dim 0 is the row).
    let outputName: String
    let outputCount: Int
    /// Class names from `bnc.task` ("classification: a,b,…"), else "0", "1", ….
    let classNames: [String]
    let isRegression: Bool
    /// Whether the output is already a probability distribution (the graph ends in Softmax).
    let outputsProbabilities: Bool

    /// The streaming executor (nil when the inputs are whole tensors).
    var executor: Executor? {
        if case .streamed(let e, _) = source { return e }
        return nil
    }

    init(modelPath: String, imagesPath: String?, inputs: [(name: String, file: String)] = [], maxBatch: Int, outputPath: String? = nil) throws {
        model = try ModelFile.load(path: modelPath)
        if let outputPath {
            try TensorOutput.check(outputPath, outputs: model.graph.outputs.map(\.name), modelPath: modelPath)
        }
        let files = try InferRun.inputFiles(model.graph, modelPath: modelPath, imagesPath: imagesPath, inputs: inputs)
        if let outputPath {
            for path in [modelPath] + files.map(\.file) where FoldRun.sameFile(outputPath, path) {
                throw ModelError(.io, file: outputPath, place: "", problem: "is the input file \(path); give --output another name")
            }
        }
        inputFiles = files
        do {
            try FiniteWeights.requireFinite(model.graph, "bnc infer needs finite weights (every output the value reaches would be NaN or infinite)")
        } catch {
            throw error.inFile(modelPath)
        }
        let rowCount: Int
        if files.count == 1, TensorInput.format(of: files[0].file) == .idx {
            // One IDX input: streamed, with the image conventions.
            let executor: Executor
            do {
                executor = try Executor(graph: model.graph, opset: try ModelValidator.defaultOpset(model), maxBatch: maxBatch,
                                        memoryLimit: Executor.limit())
            } catch {
                throw error.inFile(modelPath)
            }
            let reader = try IDXReader(path: files[0].file)
            try ModelInput.check(reader, fits: executor, modelPath: modelPath)
            let scale = try ModelInput.scale(expression: model[metadata: MetadataKey.inputScaling], elementType: reader.elementType, modelPath: modelPath)
            source = .streamed(executor, IDXBatches(reader, scale: scale))
            firstInputDims = reader.dims
            rowCount = executor.outputCount
            outputName = executor.outputName
        } else {
            let model = model
            let tensors = try files.map { f in
                try TensorInput.read(f.file, for: model.graph.inputs.first { $0.name == f.name }!, model: model, modelPath: modelPath)
            }
            try TensorInput.checkShapes(tensors, of: model.graph, modelPath: modelPath)
            let outputs = try ExecutorFeed.run(tensors, model: model, maxBatch: maxBatch, modelPath: modelPath)
            source = .computed(outputs)
            firstInputDims = tensors.first?.dims ?? []
            let first = outputs[0]
            let rows = max(1, first.dims.first ?? 1)
            rowCount = first.dims.isEmpty ? 1 : first.count / rows
            outputName = first.name
        }
        outputCount = rowCount
        let k = rowCount
        let task = model[metadata: MetadataKey.task] ?? ""
        isRegression = task == "regression" || k <= 1
        var names = (0..<k).map(String.init)
        if task.hasPrefix("classification:") {
            let listed = task.dropFirst("classification:".count).split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            if listed.count == k { names = listed }
        }
        classNames = names
        let graph = model.graph
        let out = graph.outputs[0].name
        outputsProbabilities = graph.producer(of: out).map { graph.nodes[$0].opType == "Softmax" } ?? false
    }
}

/// One `bnc infer` run, streaming: lines go to `emit` as batches finish.
struct InferRun {
    struct Summary {
        var images: Int
        var correct: Int?
        var accuracy: Double?
        var confusion: [[Int]]?
        var seconds: Double
    }

    /// The command line's input and output choices that need no model to check.
    static func validate(images: String?, inputs: [String], output: String?) throws {
        if images != nil && !inputs.isEmpty {
            throw ValidationError("Give the input either as the positional file or with --input NAME=FILE, not both.")
        }
        var seen = Set<String>()
        for spec in inputs {
            guard let (name, _) = TensorInput.parse(spec) else {
                throw ValidationError("--input \(spec): give NAME=FILE, e.g. --input x=input_0.pb.")
            }
            guard seen.insert(name).inserted else { throw ValidationError("--input \(name) is given twice.") }
        }
        if let output, TensorOutput.kind(of: output) == nil {
            throw ValidationError("--output \(output): give a .npy or .pb file (one output) or an .npz file (all outputs).")
        }
    }

    /// Which file feeds each runtime input of `graph`, in the graph's order: the positional
    /// file for a one-input model, else one `--input NAME=FILE` per runtime input.
    static func inputFiles(
        _ graph: Graph, modelPath: String, imagesPath: String?, inputs: [(name: String, file: String)]
    ) throws(ModelError) -> [(name: String, file: String)] {
        let runtime = graph.runtimeInputs.map(\.name)
        let list = runtime.map { "'\($0)'" }.joined(separator: ", ")
        if let imagesPath {
            guard runtime.count == 1 else {
                throw ModelError(.unsupportedModel, file: modelPath, place: "graph",
                                 problem: "has \(runtime.count) inputs (\(list)); give each with --input NAME=FILE")
            }
            return [(runtime[0], imagesPath)]
        }
        for (name, _) in inputs where !runtime.contains(name) {
            let constant = graph.initializer(named: name) != nil
            throw ModelError(.unsupportedModel, file: modelPath, place: "--input \(name)",
                             problem: constant ? "is a constant of the model (an initializer); bnc does not override it"
                                 : "is not an input of the model; its inputs are \(list)")
        }
        let missing = runtime.filter { name in !inputs.contains { $0.name == name } }
        if !missing.isEmpty {
            let how = runtime.count == 1 ? "give the positional file or --input \(runtime[0])=FILE" : "give --input NAME=FILE for each of \(list)"
            throw ModelError(.unsupportedModel, file: modelPath, place: "graph",
                             problem: "input \(missing.map { "'\($0)'" }.joined(separator: ", ")) has no file; \(how)")
        }
        return runtime.map { name in (name, inputs.first { $0.name == name }!.file) }
    }

    static func perform(
        modelPath: String, imagesPath: String?, inputs: [(name: String, file: String)] = [], labelsPath: String?,
        batchSize: Int = 256, topK: Int = 1, json: Bool = false, quiet: Bool = false, outputPath: String? = nil,
        emit: (String) -> Void
    ) throws -> Summary {
        let setup = try InferSetup(modelPath: modelPath, imagesPath: imagesPath, inputs: inputs, maxBatch: batchSize, outputPath: outputPath)
        let inputsText = setup.inputFiles.map(\.file).joined(separator: ", ")
        let k = setup.outputCount
        // The first output's rows: streamed from the executor, or all of a computed tensor.
        var computedRows: [Float] = []
        let n: Int
        switch setup.source {
        case .streamed(_, let batches): n = batches.count
        case .computed(let outputs):
            let first = outputs[0]
            computedRows = first.floats ?? (first.integers ?? []).map { Float($0) }
            n = first.dims.isEmpty ? 1 : max(0, first.dims[0])
        }
        var labelReader: IDXReader? = nil
        if let labelsPath {
            guard !setup.isRegression else {
                throw ModelError(.unsupportedModel, file: modelPath, place: "graph output '\(setup.outputName)'",
                                 problem: "gives one value per input (regression); --labels needs a classifier")
            }
            let lr = try IDXReader(path: labelsPath)
            guard lr.itemDims.isEmpty, lr.elementType == .uint8 else {
                throw DataError(file: labelsPath, place: "dims \(lr.dims)", problem: "labels must be a 1-D file of unsigned bytes")
            }
            guard lr.count == n else {
                throw DataError(file: labelsPath, place: "dims \(lr.dims)", problem: "\(lr.count) labels for \(n) images in \(inputsText)")
            }
            labelReader = lr
            if n == 0 {
                throw DataError(file: setup.inputFiles.first?.file ?? modelPath, place: "dims \(setup.firstInputDims)", problem: "holds no images, so there is no accuracy to measure")
            }
        }
        let kTop = min(topK, k)
        // Buffers for one batch, never more than the file holds or than the executor's
        // memory budget of input (sizes come from the files; results do not depend on it).
        let inputCount = setup.executor?.inputCount ?? 0
        let batchSize = setup.executor == nil ? max(1, n)
            : max(1, min(batchSize, n, Executor.defaultMemoryBudget / max(1, inputCount * MemoryLayout<Float>.size)))
        var input = [Float](repeating: 0, count: setup.executor == nil ? 0 : batchSize * inputCount)
        var output = [Float](repeating: 0, count: setup.executor == nil ? 0 : batchSize * k)
        var labelBuffer = [UInt8](repeating: 0, count: batchSize)
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: k), count: labelReader == nil ? 0 : k)
        var predictions: [Int32] = []
        var probabilities: [Float] = []
        var topLists: [[Int]] = []
        var collected = [[Float]](repeating: [], count: outputPath == nil ? 0 : setup.executor?.outputNames.count ?? 0)
        if json {
            let files = setup.inputFiles.map { "\(JSONText.string($0.name)):\(JSONText.string($0.file))" }.joined(separator: ",")
            emit("{\"model\":\(JSONText.string(modelPath)),\"images_file\":\(JSONText.string(setup.inputFiles.first?.file ?? "")),\"inputs\":{\(files)},\"images\":\(n),\"outputs\":[")
        }
        let start = monotonicSeconds()
        var index = 0
        var softmax = [Float](repeating: 0, count: k)
        while true {
            let got: Int
            switch setup.source {
            case .streamed(let exec, let batches):
                got = try input.withUnsafeMutableBufferPointer { b in try batches.read(maxCount: batchSize, into: b) }
                if got == 0 { break }
                if outputPath != nil {
                    let all = exec.runAll(Array(input[0..<(got * exec.inputCount)]))
                    for (o, values) in all.enumerated() { collected[o] += values }
                    output.replaceSubrange(0..<(got * k), with: all[0])
                } else {
                    input.withUnsafeBufferPointer { i in
                        output.withUnsafeMutableBufferPointer { o in exec.run(i, batch: got, output: o) }
                    }
                }
            case .computed:
                got = index == 0 ? n : 0
                output = computedRows
            }
            if got == 0 { break }
            if let lr = labelReader {
                let l = try labelBuffer.withUnsafeMutableBufferPointer { b throws(DataError) in try lr.readBatch(maxCount: got, into: b) }
                guard l == got else {
                    throw DataError(file: lr.path, place: "item \(index + l)", problem: "labels ended before the images")
                }
            }
            // Raw outputs written to a file with nothing printed from them (--output --quiet, no
            // labels, no JSON) are the model's values as computed, ±Inf and NaN included (the
            // maximum over an empty set is −inf); anything printed or scored must be finite.
            if !(outputPath != nil && quiet && labelReader == nil && !json) {
                try InferRun.requireFinite(output, count: got * k, outputs: k, first: index, output: setup.outputName, modelPath: modelPath)
            }
            for r in 0..<got {
                let row = output[(r * k)..<((r + 1) * k)]
                if json {
                    let sep = index + r + 1 < n ? "," : ""
                    emit("[" + row.map { JSONText.number($0) }.joined(separator: ",") + "]" + sep)
                }
                if setup.isRegression {
                    if json { predictions.append(0) } else if !quiet, let v = row.first { emit("\(index + r)\t\(v)") }
                    continue
                }
                // Probabilities: the outputs when the graph ends in Softmax, else softmax(outputs).
                let probs: ArraySlice<Float>
                if setup.outputsProbabilities {
                    probs = row
                } else {
                    row.withUnsafeBufferPointer { x in
                        softmax.withUnsafeMutableBufferPointer { Softmax.forward(x.baseAddress!, rows: 1, columns: k, into: $0.baseAddress!) }
                    }
                    probs = softmax[0..<k]
                }
                let top = row.withUnsafeBufferPointer { Softmax.top($0.baseAddress!, columns: k, count: kTop) }
                let best = top[0]
                func probability(_ j: Int) -> Float { probs[probs.startIndex + j] }
                if labelReader != nil {
                    let truth = Int(labelBuffer[r])
                    guard truth < k else {
                        throw DataError(file: labelsPath ?? "", place: "item \(index + r)", problem: "label \(truth) is not a class of this \(k)-class model")
                    }
                    confusion[truth][best] += 1
                }
                if json {
                    predictions.append(Int32(best))
                    probabilities.append(probability(best))
                    if kTop > 1 { topLists.append(top) }
                } else if !quiet && labelReader == nil {
                    var line = "\(index + r)\t\(best)\t\(setup.classNames[best])\t" + String(format: "%.4f", Double(probability(best)))
                    if kTop > 1 {
                        line += "\ttop \(kTop): " + top.map { "\($0) " + String(format: "%.4f", Double(probability($0))) }.joined(separator: ", ")
                    }
                    emit(line)
                }
            }
            index += got
        }
        let seconds = monotonicSeconds() - start
        var summary = Summary(images: index, seconds: seconds)
        if labelReader != nil {
            let correct = (0..<k).reduce(0) { $0 + confusion[$1][$1] }
            summary.correct = correct
            summary.accuracy = index == 0 ? 0 : Double(correct) / Double(index)
            summary.confusion = confusion
        }
        var written: String? = nil
        if let outputPath {
            let outputs: [(name: String, dims: [Int], storage: Tensor.Storage)]
            switch setup.source {
            case .streamed(let exec, _):
                outputs = zip(exec.outputNames, zip(exec.outputShapes, collected)).map { name, shapeRows in
                    (name, [index] + shapeRows.0, .float(shapeRows.1))
                }
            case .computed(let tensors):
                outputs = tensors.map { ($0.name, $0.dims, $0.storage) }
            }
            try TensorOutput.write(outputs, to: outputPath)
            written = "wrote \(outputPath): " + outputs.map(TensorOutput.describe).joined(separator: ", ")
        }
        if json {
            var tail = jsonTail(summary, predictions: predictions, probabilities: probabilities, topLists: topLists, setup: setup, kTop: kTop)
            if let outputPath { tail = String(tail.dropLast()) + ",\"output_file\":\(JSONText.string(outputPath))}" }
            emit(tail)
        } else {
            emit(textSummary(summary, setup: setup, quiet: quiet))
            if let written { emit(written) }
        }
        return summary
    }

    /// Refuses non-finite outputs: a NaN or ±Inf is never printed as a result (its argmax
    /// would be a silent "class 0" and its probability "-nan"). Lines of earlier images,
    /// already printed, are finite.
    static func requireFinite(_ output: [Float], count: Int, outputs k: Int, first: Int, output name: String, modelPath: String) throws(ModelError) {
        for i in 0..<count where !output[i].isFinite {
            throw ModelError(
                .badValue, file: modelPath, place: "graph output '\(name)', image \(first + i / k)",
                problem: "the model computes \(output[i]) (not a number a result can be: a BN variance + epsilon ≤ 0, or values beyond Float's range, reach the output); no result from this image on is printed")
        }
    }

    private static func jsonTail(
        _ s: Summary, predictions: [Int32], probabilities: [Float], topLists: [[Int]], setup: InferSetup, kTop: Int
    ) -> String {
        var out = "],\"predictions\":[" + predictions.map(String.init).joined(separator: ",") + "]"
        if !setup.isRegression {
            out += ",\"probabilities\":[" + probabilities.map { JSONText.number($0) }.joined(separator: ",") + "]"
            out += ",\"classes\":[" + setup.classNames.map(JSONText.string).joined(separator: ",") + "]"
        }
        if kTop > 1 {
            out += ",\"top_k\":[" + topLists.map { "[" + $0.map(String.init).joined(separator: ",") + "]" }.joined(separator: ",") + "]"
        }
        out += ",\"regression\":\(setup.isRegression)"
        if let acc = s.accuracy, let correct = s.correct, let confusion = s.confusion {
            out += ",\"accuracy\":\(acc),\"correct\":\(correct)"
            out += ",\"per_class_accuracy\":[" + perClass(confusion).map { $0.map { "\($0)" } ?? "null" }.joined(separator: ",") + "]"
            out += ",\"confusion\":[" + confusion.map { "[" + $0.map(String.init).joined(separator: ",") + "]" }.joined(separator: ",") + "]"
        }
        out += ",\"seconds\":\(s.seconds)}"
        return out
    }

    /// Accuracy per true class (nil for a class with no images).
    static func perClass(_ confusion: [[Int]]) -> [Double?] {
        confusion.indices.map { c in
            let total = confusion[c].reduce(0, +)
            return total == 0 ? nil : Double(confusion[c][c]) / Double(total)
        }
    }

    private static func textSummary(_ s: Summary, setup: InferSetup, quiet: Bool) -> String {
        let rate = s.seconds > 0 ? Double(s.images) / s.seconds : 0
        var lines = [String(format: "%d images in %.3f s (%.0f images/s)", s.images, s.seconds, rate)]
        if let acc = s.accuracy, let correct = s.correct, let confusion = s.confusion {
            lines.append(String(format: "accuracy %.2f %% (%d/%d)", acc * 100, correct, s.images))
            if !quiet {
                lines.append("per class:")
                for (c, a) in perClass(confusion).enumerated() {
                    let name = setup.classNames[c]
                    lines.append("  \(c) \(name): " + (a.map { String(format: "%.2f %%", $0 * 100) } ?? "no images"))
                }
                lines.append("confusion matrix (rows: true class, columns: predicted class):")
                let width = max(4, String(confusion.flatMap { $0 }.max() ?? 0).count + 1)
                func pad(_ s: String) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }
                lines.append("    " + confusion.indices.map { pad(String($0)) }.joined())
                for (c, row) in confusion.enumerated() {
                    lines.append(pad(String(c)) + row.map { pad(String($0)) }.joined())
                }
            }
        }
        return lines.joined(separator: "\n")
    }
}

/// Seconds on the monotonic clock.
func monotonicSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// `bnc infer --bench`: in-process timings, file loading and compiling excluded.
struct InferBench: Encodable {
    var model: String
    var images: Int
    var loadSeconds: Double
    var compileSeconds: Double
    var batchCapacity: Int
    var steps: Int
    var batch1Runs: Int
    var batch1MedianMicroseconds: Double
    var batch1P90Microseconds: Double
    var batch100ImagesPerSecond: Double
    var batch10000ImagesPerSecond: Double
    /// OpenBLAS kernel family in use (see `BLASKernels`).
    var blasKernels: String
    /// oneDNN's instruction set ("off" with BNC_ONEDNN=0), and the steps it runs.
    var onednnIsa: String
    var onednnSteps: Int
    /// Split kernel jobs of the timed runs that ran on one thread because of the load.
    var loadFallbacks: LoadFallbacks

    static func perform(modelPath: String, imagesPath: String?, inputs: [(name: String, file: String)] = []) throws -> InferBench {
        let t0 = monotonicSeconds()
        let setup = try InferSetup(modelPath: modelPath, imagesPath: imagesPath, inputs: inputs, maxBatch: 1)
        guard case .streamed(let planned, let batches) = setup.source else {
            throw ModelError(.unsupportedModel, file: modelPath, place: "--bench",
                             problem: "times a one-input model on an IDX file of samples; give the images as the positional file")
        }
        let available = min(batches.count, 10_000)
        guard available > 0 else {
            throw DataError(file: setup.inputFiles.first?.file ?? modelPath, place: "", problem: "no images to time")
        }
        let perImage = planned.inputCount
        var loaded = [Float](repeating: 0, count: available * perImage)
        _ = try loaded.withUnsafeMutableBufferPointer { b in try batches.read(maxCount: available, into: b) }
        // 10,000 inputs: the file's images, repeated when it has fewer.
        var inputs = [Float](repeating: 0, count: 10_000 * perImage)
        for i in 0..<10_000 {
            let src = (i % available) * perImage
            for j in 0..<perImage { inputs[i * perImage + j] = loaded[src + j] }
        }
        let t1 = monotonicSeconds()
        let exec: Executor
        do {
            // The default capacity (1024): a batch of 10,000 runs in cache-sized chunks,
            // measured ≈ 5–10 % faster on the MLP than one 10,000-row pass.
            exec = try Executor(graph: setup.model.graph, opset: try ModelValidator.defaultOpset(setup.model), maxBatch: Executor.defaultMaxBatch)
        } catch {
            throw error.inFile(modelPath)
        }
        let t2 = monotonicSeconds()
        let k = exec.outputCount
        var out = [Float](repeating: 0, count: 10_000 * k)
        func runBatch(_ start: Int, _ batch: Int) {
            inputs.withUnsafeBufferPointer { i in
                out.withUnsafeMutableBufferPointer { o in
                    let ib = UnsafeBufferPointer(rebasing: i[(start * perImage)..<((start + batch) * perImage)])
                    exec.run(ib, batch: batch, output: o)
                }
            }
        }
        // Batch 1: 100 warm-up runs, then 1000 timed runs over different images.
        for i in 0..<100 { runBatch(i % 10_000, 1) }
        var latencies: [Double] = []
        latencies.reserveCapacity(1000)
        for i in 0..<1000 {
            let s = monotonicSeconds()
            runBatch(i % 10_000, 1)
            latencies.append(monotonicSeconds() - s)
        }
        latencies.sort()
        // Batch 100 over 10,000 images; batch 10,000 once; 5 repeats each (after one warm-up).
        func rate(_ batch: Int) -> Double {
            var rates: [Double] = []
            for repeatIndex in 0..<6 {
                let s = monotonicSeconds()
                var start = 0
                while start < 10_000 {
                    runBatch(start, batch)
                    start += batch
                }
                let e = monotonicSeconds() - s
                if repeatIndex > 0 { rates.append(10_000 / e) }
            }
            rates.sort()
            return rates[rates.count / 2]
        }
        let r100 = rate(100), r10k = rate(10_000)
        return InferBench(
            model: modelPath, images: available, loadSeconds: t1 - t0, compileSeconds: t2 - t1,
            batchCapacity: exec.batchCapacity, steps: exec.stepCount, batch1Runs: latencies.count,
            batch1MedianMicroseconds: latencies[latencies.count / 2] * 1e6,
            batch1P90Microseconds: latencies[latencies.count * 9 / 10] * 1e6,
            batch100ImagesPerSecond: r100, batch10000ImagesPerSecond: r10k, blasKernels: BLASKernels.loaded,
            onednnIsa: DNNL.isAvailable ? DNNL.isa : "off", onednnSteps: exec.stepKernels.filter { $0.hasPrefix("onednn") }.count,
            loadFallbacks: LoadFallbacks())
    }

    func text() -> String {
        ([
            "\(model): \(steps) kernel steps, batch capacity \(batchCapacity); \(images) images loaded in "
                + String(format: "%.3f s, compiled in %.4f s", loadSeconds, compileSeconds) + "; OpenBLAS kernels \(blasKernels)"
                + "; oneDNN \(onednnIsa) (\(onednnSteps) steps)",
            String(format: "batch 1:      %.2f µs per image (median of %d; p90 %.2f µs)", batch1MedianMicroseconds, batch1Runs, batch1P90Microseconds),
            String(format: "batch 100:    %.0f images/s", batch100ImagesPerSecond),
            String(format: "batch 10000:  %.0f images/s", batch10000ImagesPerSecond),
        ] + (loadFallbacks.warning.map { [$0] } ?? [])).joined(separator: "\n")
    }
}

/// `bnc infer --bench --bench-batches 1,8`: the median latency of given batch sizes, for
/// models too large for the 10,000-image figures (a ResNet-50 on 224×224 images).
struct InferBatchBench: Encodable {
    struct Row: Encodable {
        var batch: Int
        var runs: Int
        var medianMilliseconds: Double
        var imagesPerSecond: Double
    }

    var model: String
    var samples: Int
    var compileSeconds: Double
    var steps: Int
    var batches: [Row]
    var blasKernels: String
    /// oneDNN's instruction set, and how many steps run on oneDNN.
    var onednnIsa: String
    var onednnSteps: Int
    var loadFallbacks: LoadFallbacks

    static let warmUp = 3, runs = 20

    /// "1,8" → [1, 8]; nil unless every entry is a size from 1 to 4096.
    static func sizes(_ list: String) -> [Int]? {
        let sizes = list.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !sizes.isEmpty, sizes.allSatisfy({ $0 != nil && (1...4096).contains($0!) }) else { return nil }
        return sizes.map { $0! }
    }

    static func perform(modelPath: String, imagesPath: String?, inputs: [(name: String, file: String)], batches: [Int]) throws -> InferBatchBench {
        let largest = batches.max() ?? 1
        let setup = try InferSetup(modelPath: modelPath, imagesPath: imagesPath, inputs: inputs, maxBatch: 1)
        guard case .streamed(let planned, let source) = setup.source else {
            throw ModelError(.unsupportedModel, file: modelPath, place: "--bench",
                             problem: "times a one-input model on an IDX file of samples; give the samples as the positional file")
        }
        let available = min(source.count, largest)
        guard available > 0 else {
            throw DataError(file: setup.inputFiles.first?.file ?? modelPath, place: "", problem: "no samples to time")
        }
        let perSample = planned.inputCount
        var loaded = [Float](repeating: 0, count: available * perSample)
        _ = try loaded.withUnsafeMutableBufferPointer { b in try source.read(maxCount: available, into: b) }
        var samples = [Float](repeating: 0, count: largest * perSample)
        for i in 0..<largest {
            for j in 0..<perSample { samples[i * perSample + j] = loaded[(i % available) * perSample + j] }
        }
        let t0 = monotonicSeconds()
        let exec: Executor
        do {
            exec = try Executor(graph: setup.model.graph, opset: try ModelValidator.defaultOpset(setup.model), maxBatch: largest)
        } catch {
            throw error.inFile(modelPath)
        }
        let compile = monotonicSeconds() - t0
        var out = [Float](repeating: 0, count: largest * exec.outputCount)
        var rows: [Row] = []
        for batch in batches {
            func once() {
                samples.withUnsafeBufferPointer { i in
                    out.withUnsafeMutableBufferPointer { o in
                        exec.run(UnsafeBufferPointer(rebasing: i[0..<(batch * perSample)]), batch: batch, output: o)
                    }
                }
            }
            for _ in 0..<warmUp { once() }
            var times: [Double] = []
            for _ in 0..<runs {
                let s = monotonicSeconds()
                once()
                times.append(monotonicSeconds() - s)
            }
            times.sort()
            let median = times[times.count / 2]
            rows.append(Row(batch: batch, runs: runs, medianMilliseconds: median * 1e3, imagesPerSecond: Double(batch) / median))
        }
        return InferBatchBench(
            model: modelPath, samples: available, compileSeconds: compile, steps: exec.stepCount, batches: rows,
            blasKernels: BLASKernels.loaded, onednnIsa: DNNL.isAvailable ? DNNL.isa : "off",
            onednnSteps: exec.stepKernels.filter { $0.hasPrefix("onednn") }.count, loadFallbacks: LoadFallbacks())
    }

    func text() -> String {
        (["\(model): \(steps) kernel steps (\(onednnSteps) on oneDNN \(onednnIsa)), compiled in "
            + String(format: "%.3f s", compileSeconds) + "; OpenBLAS kernels \(blasKernels)"]
            + batches.map { String(format: "batch %d: %.2f ms (median of %d; %.1f images/s)", $0.batch, $0.medianMilliseconds, $0.runs, $0.imagesPerSecond) }
            + (loadFallbacks.warning.map { [$0] } ?? [])).joined(separator: "\n")
    }
}
