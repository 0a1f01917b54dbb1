import BNCGraph
import BNCModelFile
import Foundation
import Testing

/// NaN and infinite weights are legal ONNX: inspect and verify show the file with a warning;
/// fold, infer and calibrate refuse it (exit 2) naming the tensor and the element.
@Suite struct NonFiniteWeightsTests {
    @Test func warnedOnInspectionRefusedForUse() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var model = InspectTests.smallModel()
        let w = try #require(model.graph.initializers.firstIndex { $0.name == "dense2.weight" })
        var values = try #require(model.graph.initializers[w].floats)
        values[7] = .nan
        values[9] = -.infinity
        model.graph.initializers[w].storage = .float(values)
        let path = dir.appendingPathComponent("nan.pb").path
        try ModelFile.save(model, to: path)
        let detail = "tensor 'dense2.weight': element 7 (index [1, 2]) is NaN (2 non-finite values in this tensor)"

        let inspect = try CLIRunner.run(["inspect", path])
        #expect(inspect.status == 0)
        #expect(inspect.stdout.contains("warning: \(detail); bnc fold, infer and calibrate refuse this model"))
        let verify = try CLIRunner.run(["verify", path])
        #expect(verify.status == 0 && verify.stdout.contains("\(path): warning: \(detail)"))

        let images = dir.appendingPathComponent("images.idx").path
        _ = FileManager.default.createFile(atPath: images, contents: Data([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4]))
        for (command, consequence) in [
            (["fold", path], "bnc fold needs finite weights"),
            (["infer", path, images], "bnc infer needs finite weights"),
            (["calibrate", path, "--dry-run"], "bnc calibrate needs finite weights"),
        ] {
            let r = try CLIRunner.run(command)
            #expect(r.status == 2, "\(command[0]): \(r.stderr)")
            #expect(r.stderr.hasPrefix("bnc: \(path): \(detail); \(consequence)"), "\(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1)
        }
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("nan.folded.pb").path))
    }
}
