import CFuzzerDriver
import Foundation
import BNCData

/// Bytes → IDX file (plain or gzip). Must parse or throw a `DataError`, never crash or
/// allocate more than the (bounded) declared size.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIDX(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    do {
        let file = try IDXFile.parse(bytes, path: "fuzz.idx")
        var n = 1
        for d in file.dims { n *= d }
        switch file.elements {
        case .uint8(let v): precondition(v.count == n, "element count \(v.count) ≠ dims product \(n)")
        case .float32(let v): precondition(v.count == n, "element count \(v.count) ≠ dims product \(n)")
        }
    } catch {
        precondition(!error.description.isEmpty)
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzIDX(data, size) })
