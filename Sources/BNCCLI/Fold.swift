import ArgumentParser
import BNCData
import BNCFileSystem
import BNCGraph
import BNCJSON
import BNCModelFile
import BNCOps
import BNCPasses
import BNCRuntime
import Foundation

/// `bnc fold model.pb [-o out.pb]`: folds BatchNormalization into neighbouring Gemm/MatMul/
/// Conv, proves the outputs unchanged, and writes the folded model.
struct FoldCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fold",
        abstract: "Fold batch normalization into the neighbouring Gemm/MatMul/Conv and prove the outputs unchanged.",
        discussion: """
            Backward folds (Conv 1-D/2-D/3-D, ConvTranspose, Gemm, MatMul → BN) scale the \
            op's output channels; forward folds (BN → Gemm/MatMul, BN → Conv without \
            padding) scale its input channels. Per-channel Add/Sub/Mul/Div by constants \
            around a BN, or after a linear op (MatMul → Mul → Add), compose with it into one \
            affine step, also through Identity, Dropout and reshapes that keep the channel \
            axis; a BN after a Concat of single-reader linear ops splits into each; a chain \
            nothing absorbs collapses into its BN. A fold needs one consumer on every value \
            in between (not a graph output), constant parameters (initializers, or values \
            computed from them only) and a constant weight (a weight shared with another \
            node is cloned). Every BN left in place is listed with its reason. Arithmetic in \
            Double, rounded once to Float. The original BN parameters are kept in the \
            metadata (bnc.fold.<bn name>, JSON) so every fold can be audited.

            Proof: the unfolded and folded models run on probe inputs in every runtime \
            input's shape (symbolic dims 1) — images from --data (IDX, .npy or TensorProto \
            .pb; default: the first --probe-images test images of \(FoldCommand.defaultImages) \
            when present and the model input fits) plus --random-probes seeded random \
            inputs (uniform like x/255 pixels for 28×28 inputs, N(0, 1) otherwise; default \
            100 for inputs of up to 4096 values per sample, else 8) — and every graph output \
            is compared. If the largest difference exceeds --tolerance times the output \
            scale (the largest |output|), nothing is written and the exit status is 1. The \
            default 1e-5 is ≥ 3× the Float rounding a correct fold causes (≈ 1e-7–3e-6 on \
            MLPs and real CNNs) and far below what a wrong one does (≥ 1e-3).

            Output: --output, default <model>.folded.pb beside the input. The input file is \
            never replaced unless --in-place is given (an --output that names the input, also \
            through a link, is refused). The write is atomic: a temporary file beside the \
            target, fsynced, then renamed; on any failure the old file stays as it was.
            """)

    static let defaultImages = MNISTFolder.defaultDirectory + "/t10k-images-idx3-ubyte.gz"

    @Argument(help: "The model file (ONNX).")
    var model: String

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Folded model to write (default: <model>.folded.pb).", valueName: "path"))
    var output: String?

    @Option(help: ArgumentHelp("Probe inputs: IDX images (plain or .gz), or a .npy / TensorProto .pb holding the whole input, batch first.", valueName: "file"))
    var data: String?

    @Option(help: "How many images to probe with (from --data or the default test set).")
    var probeImages: Int = 1000

    @Option(help: "How many seeded random inputs to probe with (default: 100 for inputs of up to 4096 values per sample, else 8).")
    var randomProbes: Int?

    @Option(help: "Largest allowed output difference, relative to the output scale.")
    var tolerance: Double = FoldProof.defaultTolerance

    @Option(help: "A weight shared with another node: clone it for the fold, or skip the BN.")
    var sharedWeights: FoldOptions.SharedWeights = .clone

    @Flag(help: "Replace the input model with the folded one (only when the proof passes).")
    var inPlace = false

    @Flag(help: "Print the report as one JSON object.")
    var json = false

    func validate() throws {
        guard tolerance.isFinite, tolerance > 0 else {
            throw ValidationError("--tolerance \(tolerance) must be a positive number.")
        }
        guard probeImages >= 0 else { throw ValidationError("--probe-images \(probeImages) must not be negative.") }
        if let randomProbes, randomProbes < 0 { throw ValidationError("--random-probes \(randomProbes) must not be negative.") }
        if inPlace, let output, output != model {
            throw ValidationError("--in-place writes the folded model over \(model); drop --output \(output), or drop --in-place.")
        }
        guard probeImages + (randomProbes ?? 1) > 0 else {
            throw ValidationError("--probe-images and --random-probes are both 0: the fold would go unproven.")
        }
    }

    func run() throws {
        let out = inPlace ? model : (output ?? FoldRun.defaultOutput(for: model))
        try FoldRun.refuseReplacingInput(out, modelPath: model, inPlace: inPlace)
        let input = OutputPaths.Input("the input model", model)
        try OutputPaths.claim(
            [.init("-o", out)], inputs: (inPlace ? [] : [input]) + (data.map { [.init("the probe images (--data)", $0)] } ?? []),
            replacing: inPlace ? [input] : [])
        // Many probes take a while: a live count on a terminal (standard error, so that the
        // report on standard output stays clean).
        let progress = Progress(enabled: isatty(STDERR_FILENO) != 0, fd: STDERR_FILENO)
        let outcome = try FoldRun.perform(
            modelPath: model, outputPath: out, dataPath: data, probeImages: probeImages,
            randomProbes: randomProbes, tolerance: tolerance, options: FoldOptions(sharedWeights: sharedWeights),
            inPlace: inPlace, progress: { done, total in progress.draw("proof: \(done)/\(total) probes", fraction: Double(done) / Double(max(total, 1)), final: done == total) })
        progress.finish()
        print(json ? try outcome.jsonText() : outcome.text())
        if !outcome.proof.passed {
            if outcome.proof.probes == 0 {
                throw CheckFailed(
                    "\(model): fold not proven: no probe input ran (\(outcome.imagesNote ?? "no images")); nothing written; give --data images or --random-probes N")
            }
            throw CheckFailed(
                "\(model): fold proof failed: max relative difference \(outcome.proof.maxRelDiff) exceeds the tolerance \(tolerance); nothing written")
        }
    }
}

extension FoldOptions.SharedWeights: ExpressibleByArgument {}

/// One `bnc fold` run as values, so tests can run it in process.
struct FoldRun {
    var modelPath: String
    var outputPath: String
    var report: FoldReport
    var proof: FoldProof
    /// Where the image probes came from (nil: random probes only), and why not when skipped.
    var imagesSource: String?
    var imagesNote: String?
    var written: Bool
    /// Wall time of the whole run (load, fold, proof, write) and of the proof alone.
    var seconds: Double = 0
    var proofSeconds: Double = 0

    /// `x.pb` → `x.folded.pb`; `x.onnx` → `x.folded.onnx`; `x` → `x.folded`.
    static func defaultOutput(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let ext = url.pathExtension
        let base = ext.isEmpty ? path : String(path.dropLast(ext.count + 1))
        return base + ".folded" + (ext.isEmpty ? "" : "." + ext)
    }

    /// Loads, folds, proves and (when the proof passes and `write`) saves. `randomProbes` nil:
    /// `FoldProof.defaultRandomProbes` for the model's input size.
    static func perform(
        modelPath: String, outputPath: String?, dataPath: String?, probeImages: Int = 1000, randomProbes: Int? = nil,
        tolerance: Double = FoldProof.defaultTolerance, options: FoldOptions = FoldOptions(), write: Bool = true,
        defaultImages: String = FoldCommand.defaultImages, inPlace: Bool = false, progress: ((Int, Int) -> Void)? = nil
    ) throws -> FoldRun {
        let clock = ContinuousClock(), started = clock.now
        let out = outputPath ?? defaultOutput(for: modelPath)
        if write { try refuseReplacingInput(out, modelPath: modelPath, inPlace: inPlace) }
        let model = try ModelFile.load(path: modelPath)
        do {
            try FiniteWeights.requireFinite(model.graph, "bnc fold needs finite weights (the fold would spread the value and the proof cannot compare NaN outputs)")
        } catch {
            throw error.inFile(modelPath)
        }
        let (folded, report) = BNFolding.fold(model, options: options)
        let opset: Int
        do {
            opset = try ModelValidator.defaultOpset(model)
        } catch {
            throw error.inFile(modelPath)
        }
        var proof: FoldProof
        var source: String? = nil, note: String? = nil
        var proofSeconds = 0.0
        if folded.graph == model.graph {
            // Nothing changed: the folded graph is the original, identical by construction.
            proof = FoldProof.unchanged(tolerance: tolerance)
            note = "nothing folded: the graph is unchanged, no probes needed"
        } else {
            let proofStarted = clock.now
            // Image probes: --data (errors are the user's), else the default test set if it fits.
            var images: [Float] = []
            if probeImages > 0 {
                if let dataPath {
                    images = try readProbes(dataPath, count: probeImages, model: model, opset: opset, modelPath: modelPath)
                    source = dataPath
                } else if BytePath.status(defaultImages) != nil {
                    do {
                        images = try readProbes(defaultImages, count: probeImages, model: model, opset: opset, modelPath: modelPath)
                        source = defaultImages
                    } catch let error as DataError {
                        note = "default test images not used: \(error.problem)"
                    } catch let error as ModelError {
                        note = "default test images not used: \(error.problem)"
                    }
                } else {
                    note = "no default test images at \(defaultImages)"
                }
            }
            // Random probes: uniform like x/255 images for a 28×28 model, N(0, 1) for any other.
            let perSample = model.graph.runtimeInputs.reduce(0) { sum, v in
                sum + (v.shape ?? []).dropFirst().reduce(1) { p, d in if case .value(let n) = d, n > 0 { return p * Int(n) } else { return p } }
            }
            let scaled = model[metadata: MetadataKey.inputScaling].map { $0 != "x/255" } ?? false
            let distribution: FoldProof.Distribution = perSample == 28 * 28 ? .uniform(scaled ? -1...1 : 0...1) : .normal
            do {
                proof = try FoldProof.run(
                    original: model.graph, folded: folded.graph, images: images,
                    randomProbes: randomProbes ?? FoldProof.defaultRandomProbes(elementsPerSample: perSample),
                    distribution: distribution, tolerance: tolerance, memoryLimit: Executor.limit(), opset: opset,
                    progress: progress)
            } catch {
                throw error.inFile(modelPath)
            }
            proofSeconds = seconds(clock.now - proofStarted)
        }
        var written = false
        if proof.passed && write {
            try OutputPaths.save(folded, to: out)
            written = true
        }
        return FoldRun(modelPath: modelPath, outputPath: out, report: report, proof: proof,
                       imagesSource: source, imagesNote: note, written: written,
                       seconds: seconds(clock.now - started), proofSeconds: proofSeconds)
    }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    /// Refuses an output that is the input model unless `inPlace`.
    static func refuseReplacingInput(_ out: String, modelPath: String, inPlace: Bool) throws(ModelError) {
        if !inPlace && sameFile(out, modelPath) {
            throw ModelError(.io, file: out, place: "",
                             problem: "is the input model; bnc fold does not replace its input unless --in-place is given")
        }
    }

    /// Whether two paths name one file (the same bytes, or links to one inode).
    static func sameFile(_ a: String, _ b: String) -> Bool {
        if BytePath.same(a, b) { return true }
        guard let x = FileIdentity(path: a), let y = FileIdentity(path: b) else { return false }
        return x == y
    }

    /// Probe inputs from `path` for a model with one runtime input: IDX images (any rank,
    /// scaled as the model's `bnc.input.scaling` says), or a `.npy` / ONNX TensorProto `.pb`
    /// tensor holding the whole input, batch dim first; the first `count` items.
    private static func readProbes(_ path: String, count: Int, model: Model, opset: Int, modelPath: String) throws -> [Float] {
        if TensorInput.format(of: path) != .idx {
            let inputs = model.graph.runtimeInputs
            guard inputs.count == 1, let input = inputs.first else {
                throw DataError(file: path, place: "", problem: "probes from a file need a model with one runtime input; \(modelPath) has \(inputs.count)")
            }
            let t = try TensorInput.read(path, for: input, model: model, modelPath: modelPath)
            try TensorInput.checkShapes([t], of: model.graph, modelPath: modelPath)
            guard case .float(let values) = t.storage, let items = t.dims.first, items > 0 else {
                throw DataError(file: path, place: "dims \(t.dims)", problem: "holds no FLOAT probe")
            }
            let per = values.count / items
            return Array(values.prefix(min(count, items) * per))
        }
        let executor = try Executor(graph: model.graph, opset: opset, maxBatch: 1, memoryLimit: Executor.limit())
        let reader = try IDXReader(path: path)
        try ModelInput.check(reader, fits: executor, modelPath: modelPath)
        let scale = try ModelInput.scale(expression: model[metadata: MetadataKey.inputScaling], elementType: reader.elementType, modelPath: modelPath)
        let n = min(count, reader.count)
        var buffer = [Float](repeating: 0, count: n * reader.itemElements)
        let read = try buffer.withUnsafeMutableBufferPointer { b throws(DataError) in
            try reader.readBatch(maxCount: n, into: b, scale: scale)
        }
        return Array(buffer[0..<(read * reader.itemElements)])
    }

    // MARK: Rendering

    func text() -> String {
        var lines: [String] = []
        let total = report.folded.count + report.skipped.count
        lines.append("\(modelPath): folded \(report.folded.count) of \(total) BatchNormalization node\(total == 1 ? "" : "s")")
        let split = report.folded.filter { !$0.splitInto.isEmpty }.count
        let chains = report.folded.filter { !$0.chain.isEmpty }.count
        let merged = report.skipped.reduce(0) { $0 + $1.merged.count }
        lines.append("  \(report.folded.count - split - chains) alone, \(chains) in affine chains, \(split) split across Concat; \(report.affineFolds.count) chains without BN folded; \(merged) steps merged into BNs left")
        for f in report.folded {
            var detail = "\(f.direction.rawValue) into \(f.intoOpAfter) '\(f.into)'"
            if f.intoOpBefore != f.intoOpAfter { detail += " (was \(f.intoOpBefore))" }
            detail += ", \(f.channels) channels; weight '\(f.weight)' \(shape(f.weightShape)), bias '\(f.bias)' \(shape(f.biasShape))"
            if f.createdBias { detail += " (created)" }
            if f.clonedWeight { detail += "; shared weight cloned" }
            if !f.chain.isEmpty { detail += "; chain with \(f.chain.joined(separator: ", "))" }
            if !f.splitInto.isEmpty { detail += "; split into \(f.splitInto.joined(separator: ", "))" }
            if !f.note.isEmpty { detail += "; \(f.note)" }
            lines.append("  folded  \(f.bn): \(detail)")
        }
        for a in report.affineFolds {
            var detail = "backward into \(a.intoOpAfter) '\(a.into)'"
            if a.intoOpBefore != a.intoOpAfter { detail += " (was \(a.intoOpBefore))" }
            detail += ", \(a.channels) channels"
            if !a.note.isEmpty { detail += "; \(a.note)" }
            lines.append("  folded  chain \(a.nodes.joined(separator: " → ")): \(detail)")
        }
        for s in report.skipped {
            let merged = s.merged.isEmpty ? "" : " (merged into it: \(s.merged.joined(separator: ", ")))"
            lines.append("  skipped \(s.bn): \(s.reason)\(merged)")
        }
        for w in report.warnings {
            lines.append("  warning \(w.bn): \(w.message)")
        }
        var probes = "\(proof.probes) probes ("
        if let imagesSource { probes += "\(proof.realProbes) images from \(imagesSource), " }
        probes += "\(proof.randomProbes) seeded random"
        if proof.randomProbes > 0 { probes += String(format: ", %@, seed 0x%llX", proof.distribution.description, proof.seed) }
        probes += ")"
        lines.append("proof: \(probes)" + (proof.probes > 0 ? String(format: " in %.2f s", proofSeconds) : ""))
        if let imagesNote { lines.append("  note: \(imagesNote)") }
        if proof.probes == 0 {
            lines.append(written ? "wrote \(outputPath)" : "nothing written")
            return lines.joined(separator: "\n")
        }
        lines.append(String(format: "  max abs diff %.3g, max rel diff %.3g (output scale %.4g), argmax agreement %.2f %%",
                            proof.maxAbsDiff, proof.maxRelDiff, proof.outputScale, proof.argmaxAgreement * 100))
        lines.append(String(format: "  tolerance %.3g: %@", proof.tolerance, proof.passed ? "passed" : "FAILED"))
        lines.append((written ? "wrote \(outputPath)" : "nothing written") + String(format: " (%.2f s in all)", seconds))
        return lines.joined(separator: "\n")
    }

    private func shape(_ s: [Int]) -> String { "(" + s.map(String.init).joined(separator: ", ") + ")" }

    /// The `--json` report (contract used by tools/check/e2e).
    struct JSONReport: Encodable {
        struct Folded: Encodable {
            var bn: String, into: String, direction: String
            var opBefore: String, opAfter: String, channels: Int
            var weight: String, weightShape: [Int], bias: String, biasShape: [Int]
            var createdBias: Bool, clonedWeight: Bool, note: String
            var auditKey: String
            var method: String, chain: [String], splitInto: [String]
        }
        struct AffineFolded: Encodable {
            var nodes: [String], into: String, opBefore: String, opAfter: String, channels: Int, note: String
        }
        struct Skipped: Encodable {
            var bn: String, reason: String
            var backward: String?, forward: String?
            var merged: [String]
        }
        struct Totals: Encodable {
            var batchNorms: Int, folded: Int, left: Int
            var alone: Int, inChains: Int, splitAcrossConcat: Int, chainsWithoutBN: Int, mergedIntoLeft: Int
        }
        struct Warning: Encodable {
            var bn: String, kind: String, message: String
        }
        struct Proof: Encodable {
            var maxAbsDiff: Double, maxRelDiff: Double, outputScale: Double, argmaxAgreement: Double
            var probes: Int, imageProbes: Int, randomProbes: Int, imagesFile: String?, imagesNote: String?
            var tolerance: Double, passed: Bool
            var distribution: String, seed: UInt64, seconds: Double
        }
        var model: String
        var totals: Totals
        var folded: [Folded]
        var affineFolded: [AffineFolded]
        var skipped: [Skipped]
        var warnings: [Warning]
        var proof: Proof
        var output: String
        var written: Bool
        var seconds: Double
    }

    func jsonText() throws -> String {
        let r = JSONReport(
            model: modelPath,
            totals: .init(
                batchNorms: report.folded.count + report.skipped.count, folded: report.folded.count, left: report.skipped.count,
                alone: report.folded.filter { $0.chain.isEmpty && $0.splitInto.isEmpty }.count,
                inChains: report.folded.filter { !$0.chain.isEmpty && $0.splitInto.isEmpty }.count,
                splitAcrossConcat: report.folded.filter { !$0.splitInto.isEmpty }.count,
                chainsWithoutBN: report.affineFolds.count, mergedIntoLeft: report.skipped.reduce(0) { $0 + $1.merged.count }),
            folded: report.folded.map {
                .init(bn: $0.bn, into: $0.into, direction: $0.direction.rawValue, opBefore: $0.intoOpBefore, opAfter: $0.intoOpAfter,
                      channels: $0.channels, weight: $0.weight, weightShape: $0.weightShape, bias: $0.bias, biasShape: $0.biasShape,
                      createdBias: $0.createdBias, clonedWeight: $0.clonedWeight, note: $0.note, auditKey: $0.auditKey,
                      method: $0.method, chain: $0.chain, splitInto: $0.splitInto)
            },
            affineFolded: report.affineFolds.map {
                .init(nodes: $0.nodes, into: $0.into, opBefore: $0.intoOpBefore, opAfter: $0.intoOpAfter, channels: $0.channels, note: $0.note)
            },
            skipped: report.skipped.map {
                .init(bn: $0.bn, reason: $0.reason, backward: $0.backward?.description, forward: $0.forward?.description, merged: $0.merged)
            },
            warnings: report.warnings.map { .init(bn: $0.bn, kind: $0.kind.rawValue, message: $0.message) },
            proof: .init(maxAbsDiff: proof.maxAbsDiff, maxRelDiff: proof.maxRelDiff, outputScale: proof.outputScale,
                         argmaxAgreement: proof.argmaxAgreement, probes: proof.probes, imageProbes: proof.realProbes,
                         randomProbes: proof.randomProbes, imagesFile: imagesSource, imagesNote: imagesNote,
                         tolerance: proof.tolerance, passed: proof.passed,
                         distribution: proof.distribution.description, seed: proof.seed, seconds: proofSeconds),
            output: outputPath, written: written, seconds: seconds)
        return try JSONText.encode(r, snakeCaseKeys: true)
    }
}
