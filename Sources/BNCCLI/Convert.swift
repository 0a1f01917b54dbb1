import ArgumentParser
import BNCGraph
import BNCModelFile
import Foundation

/// `bnc convert in.pb -o out.pb`: load, validate and re-save a model in bnc's canonical
/// encoding (tensors as little-endian raw_data, unknown fields kept).
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-save a model file in bnc's encoding (raw_data tensors), keeping every tensor and unknown field.",
        discussion: """
            Use it to normalize ONNX files from other tools (float_data tensors become raw_data) \
            or to check that a file survives a load/save round trip. Tensors stored as external \
            data (a side file) are read and written inside the output, which must then stay \
            below protobuf's 2 GiB. The output is written atomically; the input is never \
            replaced unless -o names it.
            """)

    @Argument(help: "The model file to read.")
    var model: String

    @Option(name: .shortAndLong, help: "Where to write the result.")
    var output: String

    @Flag(help: "Print how long reading, decoding, encoding and writing took.")
    var timings = false

    func validate() throws {
        if output.isEmpty {
            throw ValidationError("-o needs a file name, e.g. -o converted.pb")
        }
    }

    func run() throws {
        // -o may name the input (a re-save in place, as documented), nothing else it reads.
        let input = OutputPaths.Input("the input model", model)
        try OutputPaths.claim([.init("-o", output)], replacing: [input])
        let clock = ContinuousClock()
        let t0 = clock.now
        let bytes = try AtomicFile.read(model, limit: ModelFile.maximumFileSize)
        let t1 = clock.now
        let loaded = try ModelFile.decode(bytes, path: model, externalDataFolder: ModelFile.folder(of: model))
        let t2 = clock.now
        let encoded = ModelFile.encode(loaded)
        let t3 = clock.now
        if encoded.count > ModelFile.maximumFileSize {
            throw ModelError(.unsupportedModel, file: model, place: "",
                             problem: "with its external data inside, the model would be \(encoded.count) bytes, more than an ONNX file holds (\(ModelFile.maximumFileSize)); nothing written")
        }
        try OutputPaths.write(encoded, to: output)
        let t4 = clock.now
        print("wrote \(output) (\(encoded.count) bytes, \(loaded.graph.nodes.count) nodes, \(loaded.graph.initializers.count) tensors)")
        if timings {
            func ms(_ d: Duration) -> String { String(format: "%.1f ms", Double(d.components.attoseconds) / 1e15 + Double(d.components.seconds) * 1e3) }
            print("read \(ms(t1 - t0)), decode+validate \(ms(t2 - t1)), encode \(ms(t3 - t2)), write+fsync+rename \(ms(t4 - t3))")
        }
    }
}
