import CFuzzerDriver
import Foundation
import BNCGraph
import BNCModelFile

/// Bytes → validated model. Any input must either load or throw a `ModelError` with a
/// problem; a loaded model must re-encode, load back, and re-encode to the same bytes
/// (bytes, not values: a NaN weight is not == itself).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzModelLoader(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    do {
        let model = try ModelFile.decode(bytes, path: "fuzz.pb")
        let encoded = ModelFile.encode(model)
        let again = try ModelFile.decode(encoded, path: "re-encoded.pb")
        precondition(ModelFile.encode(again) == encoded, "re-encoding is not stable")
        precondition(again.graph.nodes == model.graph.nodes, "nodes changed in a round trip")
    } catch {
        precondition(!error.problem.isEmpty, "error without a problem: \(error)")
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzModelLoader(data, size) })
