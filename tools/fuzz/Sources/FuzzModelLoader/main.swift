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
        precondition(again.graph.nodes.map(bitwise) == model.graph.nodes.map(bitwise), "nodes changed in a round trip")
    } catch {
        precondition(!error.problem.isEmpty, "error without a problem: \(error)")
    }
    return 0
}

/// The node with every Float in its attributes replaced by its bit pattern, so that `==`
/// compares bits: a NaN attribute (an epsilon of 0xFFFFC5AC, found by the fuzzer) is not
/// `==` itself, yet it must survive a round trip exactly.
func bitwise(_ node: Node) -> Node {
    func bits(_ v: [Float]) -> [Int64] { v.map { Int64($0.bitPattern) } }
    var n = node
    n.attributes = node.attributes.map { a in
        var a = a
        switch a.value {
        case .float(let f): a.value = .ints([Int64(f.bitPattern)])
        case .floats(let v): a.value = .ints(bits(v))
        case .tensor(var t):
            if let v = t.floats { t.storage = .int64(bits(v)) }
            a.value = .tensor(t)
        default: break
        }
        return a
    }
    return n
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzModelLoader(data, size) })
