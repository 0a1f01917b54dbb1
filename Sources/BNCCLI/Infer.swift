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

/// `bnc infer model.pb images.idx [--labels labels.idx]`: predictions or accuracy.
struct InferCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infer",
        abstract: "Predict classes for IDX images, or measure accuracy with --labels.",
        discussion: """
            Images: an IDX file (plain or .gz) of N×H×W unsigned bytes, or one H×W image; the \
            model input must be (N, H·W) or (N, 1, H, W). Pixels are scaled as the model's \
            metadata bnc.input.scaling says (x/255 when absent); float32 IDX files are taken \
            as model inputs unchanged. Images are read and run --batch-size at a time, so \
            memory stays flat; BatchNormalization always uses its moving statistics, so one \
            image at a time gives the same predictions as all at once.

            Output: one line per image (index, class, probability; --top-k more classes), or \
            with --labels the accuracy, per-class accuracy and confusion matrix. --quiet \
            prints the summary only. --json prints one JSON object with "images", \
            "predictions", "probabilities", "outputs" (the model's output rows) and, with \
            labels, "accuracy", "correct", "per_class_accuracy", "confusion". Probabilities \
            are the model's outputs when it ends in Softmax, else the softmax of its outputs.

            --bench times in-process inference instead (file loading and compiling excluded, \
            reported separately): batch-1 latency (median over 1000 runs) and images/s at \
            batch 100 and 10,000 (median of 5 repeats), on up to 10,000 images of the file.
            """)

    @Argument(help: "The model file (ONNX).")
    var model: String

    @Argument(help: "IDX images (plain or .gz).")
    var images: String

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

    func validate() throws {
        guard batchSize >= 1, batchSize <= 1 << 20 else {
            throw ValidationError("--batch-size \(batchSize) must be between 1 and \(1 << 20).")
        }
        guard topK >= 1 else { throw ValidationError("--top-k \(topK) must be at least 1.") }
        if bench && labels != nil { throw ValidationError("--bench measures speed; drop --labels.") }
    }

    func run() throws {
        if bench {
            let result = try InferBench.perform(modelPath: model, imagesPath: images)
            print(json ? try JSONText.encode(result, snakeCaseKeys: true) : result.text())
            return
        }
        _ = try InferRun.perform(
            modelPath: model, imagesPath: images, labelsPath: labels, batchSize: batchSize, topK: topK,
            json: json, quiet: quiet) { print($0) }
    }
}

/// Model, executor and image reader set up for inference, with the checks shared by
/// predictions and the benchmark.
struct InferSetup {
    let model: Model
    let executor: Executor
    let reader: IDXReader
    let scale: Float?
    /// Class names from `bnc.task` ("classification: a,b,…"), else "0", "1", ….
    let classNames: [String]
    let isRegression: Bool
    /// Whether the output is already a probability distribution (the graph ends in Softmax).
    let outputsProbabilities: Bool

    init(modelPath: String, imagesPath: String, maxBatch: Int) throws {
        model = try ModelFile.load(path: modelPath)
        do {
            try FiniteWeights.requireFinite(model.graph, "bnc infer needs finite weights (every output the value reaches would be NaN or infinite)")
            executor = try Executor(graph: model.graph, opset: try ModelValidator.defaultOpset(model), maxBatch: maxBatch)
        } catch {
            throw error.inFile(modelPath)
        }
        reader = try IDXReader(path: imagesPath)
        try ModelInput.check(reader, fits: executor, modelPath: modelPath)
        scale = try ModelInput.scale(expression: model[metadata: MetadataKey.inputScaling], elementType: reader.elementType, modelPath: modelPath)
        let k = executor.outputCount
        let task = model[metadata: MetadataKey.task] ?? ""
        isRegression = task == "regression" || k == 1
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

    static func perform(
        modelPath: String, imagesPath: String, labelsPath: String?, batchSize: Int = 256, topK: Int = 1,
        json: Bool = false, quiet: Bool = false, emit: (String) -> Void
    ) throws -> Summary {
        let setup = try InferSetup(modelPath: modelPath, imagesPath: imagesPath, maxBatch: batchSize)
        let exec = setup.executor, reader = setup.reader
        let n = reader.count, k = exec.outputCount
        var labelReader: IDXReader? = nil
        if let labelsPath {
            guard !setup.isRegression else {
                throw ModelError(.unsupportedModel, file: modelPath, place: "graph output '\(exec.outputName)'",
                                 problem: "gives one value per input (regression); --labels needs a classifier")
            }
            let lr = try IDXReader(path: labelsPath)
            guard lr.itemDims.isEmpty, lr.elementType == .uint8 else {
                throw DataError(file: labelsPath, place: "dims \(lr.dims)", problem: "labels must be a 1-D file of unsigned bytes")
            }
            guard lr.count == n else {
                throw DataError(file: labelsPath, place: "dims \(lr.dims)", problem: "\(lr.count) labels for \(n) images in \(imagesPath)")
            }
            labelReader = lr
        }
        let kTop = min(topK, k)
        // Buffers for one batch, never more than the file holds or than the executor's
        // memory budget of input (sizes come from the files; results do not depend on it).
        let batchSize = max(1, min(batchSize, n, Executor.defaultMemoryBudget / max(1, exec.inputCount * MemoryLayout<Float>.size)))
        var input = [Float](repeating: 0, count: batchSize * exec.inputCount)
        var output = [Float](repeating: 0, count: batchSize * k)
        var labelBuffer = [UInt8](repeating: 0, count: batchSize)
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: k), count: labelReader == nil ? 0 : k)
        var predictions: [Int32] = []
        var probabilities: [Float] = []
        var topLists: [[Int]] = []
        if json {
            emit("{\"model\":\(JSONText.string(modelPath)),\"images_file\":\(JSONText.string(imagesPath)),\"images\":\(n),\"outputs\":[")
        }
        let start = monotonicSeconds()
        var index = 0
        var probs = [Double](repeating: 0, count: k)
        while true {
            let got = try input.withUnsafeMutableBufferPointer { b throws(DataError) in
                try reader.readBatch(maxCount: batchSize, into: b, scale: setup.scale)
            }
            if got == 0 { break }
            if let lr = labelReader {
                let l = try labelBuffer.withUnsafeMutableBufferPointer { b throws(DataError) in try lr.readBatch(maxCount: got, into: b) }
                guard l == got else {
                    throw DataError(file: lr.path, place: "item \(index + l)", problem: "labels ended before the images")
                }
            }
            input.withUnsafeBufferPointer { i in
                output.withUnsafeMutableBufferPointer { o in exec.run(i, batch: got, output: o) }
            }
            for r in 0..<got {
                let row = output[(r * k)..<((r + 1) * k)]
                if json {
                    let sep = index + r + 1 < n ? "," : ""
                    emit("[" + row.map { JSONText.number($0) }.joined(separator: ",") + "]" + sep)
                }
                if setup.isRegression {
                    if json { predictions.append(0) } else if !quiet { emit("\(index + r)\t\(row[row.startIndex])") }
                    continue
                }
                // Probabilities: the outputs when the graph ends in Softmax, else softmax(outputs).
                let base = row.startIndex
                if setup.outputsProbabilities {
                    for j in 0..<k { probs[j] = Double(row[base + j]) }
                } else {
                    let mx = row.max().map(Double.init) ?? 0
                    var total = 0.0
                    for j in 0..<k { probs[j] = exp(Double(row[base + j]) - mx); total += probs[j] }
                    for j in 0..<k { probs[j] /= total }
                }
                var best = 0
                for j in 1..<k where row[base + j] > row[base + best] { best = j }
                var top: [Int] = [best]
                if kTop > 1 {
                    top = Array((0..<k).sorted { probs[$0] != probs[$1] ? probs[$0] > probs[$1] : $0 < $1 }.prefix(kTop))
                    if top[0] != best { top.removeAll { $0 == best }; top.insert(best, at: 0); top = Array(top.prefix(kTop)) }
                }
                if labelReader != nil {
                    let truth = Int(labelBuffer[r])
                    guard truth < k else {
                        throw DataError(file: labelsPath ?? "", place: "item \(index + r)", problem: "label \(truth) is not a class of this \(k)-class model")
                    }
                    confusion[truth][best] += 1
                }
                if json {
                    predictions.append(Int32(best))
                    probabilities.append(Float(probs[best]))
                    if kTop > 1 { topLists.append(top) }
                } else if !quiet && labelReader == nil {
                    var line = "\(index + r)\t\(best)\t\(setup.classNames[best])\t" + String(format: "%.4f", probs[best])
                    if kTop > 1 {
                        line += "\ttop \(kTop): " + top.map { "\($0) " + String(format: "%.4f", probs[$0]) }.joined(separator: ", ")
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
        if json {
            emit(jsonTail(summary, predictions: predictions, probabilities: probabilities, topLists: topLists, setup: setup, kTop: kTop))
        } else {
            emit(textSummary(summary, setup: setup, quiet: quiet))
        }
        return summary
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
    /// Split kernel jobs of the timed runs that ran on one thread because of the load.
    var loadFallbacks: LoadFallbacks

    static func perform(modelPath: String, imagesPath: String) throws -> InferBench {
        let t0 = monotonicSeconds()
        let setup = try InferSetup(modelPath: modelPath, imagesPath: imagesPath, maxBatch: 1)
        let available = min(setup.reader.count, 10_000)
        guard available > 0 else {
            throw DataError(file: imagesPath, place: "dims \(setup.reader.dims)", problem: "no images to time")
        }
        let perImage = setup.executor.inputCount
        var loaded = [Float](repeating: 0, count: available * perImage)
        _ = try loaded.withUnsafeMutableBufferPointer { b throws(DataError) in
            try setup.reader.readBatch(maxCount: available, into: b, scale: setup.scale)
        }
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
            loadFallbacks: LoadFallbacks())
    }

    func text() -> String {
        ([
            "\(model): \(steps) kernel steps, batch capacity \(batchCapacity); \(images) images loaded in "
                + String(format: "%.3f s, compiled in %.4f s", loadSeconds, compileSeconds) + "; OpenBLAS kernels \(blasKernels)",
            String(format: "batch 1:      %.2f µs per image (median of %d; p90 %.2f µs)", batch1MedianMicroseconds, batch1Runs, batch1P90Microseconds),
            String(format: "batch 100:    %.0f images/s", batch100ImagesPerSecond),
            String(format: "batch 10000:  %.0f images/s", batch10000ImagesPerSecond),
        ] + (loadFallbacks.warning.map { [$0] } ?? [])).joined(separator: "\n")
    }
}
