import ArgumentParser
import BNCGraph
import BNCModelFile
import BNCOps

/// `bnc verify model.pb`: checks a file's structure and its tensor digest.
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a model file: it decodes, validates, and its tensors match the stored SHA-256 digest.",
        discussion: """
            Exit status 0: the file is valid and its digest matches (or it has none, as files \
            from other tools; this is said). Exit status 1: the digest does not match — a \
            weight changed after the file was written. Exit status 2: the file is not a valid model.
            """)

    @Argument(help: "The model file to check.")
    var model: String

    func run() throws {
        let bytes = try AtomicFile.read(model, limit: ModelFile.maximumFileSize)
        let decoded = try ModelFile.decodeUnvalidated(bytes, path: model)
        do {
            try ModelValidator.validate(decoded)
        } catch {
            throw error.inFile(model)
        }
        for finding in FiniteWeights.nonFiniteTensors(in: decoded.graph) {
            print("\(model): warning: \(ModelSummary.warning(finding))")
        }
        switch TensorDigest.status(of: decoded) {
        case .absent:
            print("\(model): valid; no bnc integrity digest stored (not written by bnc), tensors not checked")
        case .verified(let digest):
            print("\(model): valid; tensors match sha256 \(digest)")
        case .mismatch(let stored, let computed):
            throw CheckFailed("\(model): tensors do not match the stored digest (stored sha256 \(stored), tensors hash to \(computed)): a weight was changed or damaged after the file was written")
        }
    }
}
