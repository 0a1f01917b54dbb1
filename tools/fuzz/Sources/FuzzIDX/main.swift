import BNCData
import CFuzzerDriver
import Foundation

/// Bytes → IDX file (plain or gzip), read whole (`IDXFile.parse`, or `IDXTensor.parse` for
/// the element types IDXFile does not read) and streamed in small
/// batches (`IDXReader`, as `bnc infer` reads). Properties: both either succeed or throw a
/// `DataError` with a problem, never crash or allocate more than the (bounded) declared
/// size; whole and streamed agree on success or failure and, on success, on every value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIDX(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    var whole: [Float]? = nil
    do {
        let file = try IDXFile.parse(bytes, path: "fuzz.idx")
        var n = 1
        for d in file.dims { n *= d }
        switch file.elements {
        case .uint8(let v):
            precondition(v.count == n, "element count \(v.count) ≠ dims product \(n)")
            whole = v.map { Float($0) }
        case .float32(let v):
            precondition(v.count == n, "element count \(v.count) ≠ dims product \(n)")
            whole = v
        }
    } catch {
        precondition(!error.description.isEmpty)
        // IDXFile (training data) reads bytes and float32 only; for the other element types
        // the whole-file read is IDXTensor's (one read of every item, values as infer takes
        // them), so the streamed batches are still compared with a read of the whole file.
        if let type = try? IDXReader(bytes: bytes, path: "fuzz.idx").elementType, type != .uint8, type != .float32 {
            whole = try? IDXTensor.parse(bytes, path: "fuzz.idx", scale: 1).values
        }
    }
    var streamed: [Float]? = nil
    do {
        let reader = try IDXReader(bytes: bytes, path: "fuzz.idx")
        // Small files only: the streamed copy is kept to compare with the whole read (and
        // a file of 2³² empty items would take 2³² reads).
        if reader.count <= 1 << 16, reader.itemElements <= 1 << 16, reader.count * reader.itemElements <= 1 << 20 {
            var values: [Float] = []
            var batch = [Float](repeating: -1, count: 3 * max(1, reader.itemElements))
            while true {
                let got = try batch.withUnsafeMutableBufferPointer { b throws(DataError) in
                    try reader.readBatch(maxCount: 3, into: b, scale: 1)
                }
                if got == 0 { break }
                values += batch[0..<(got * reader.itemElements)]
            }
            streamed = values
        }
    } catch {
        precondition(!error.description.isEmpty)
        precondition(whole == nil, "the whole-file read succeeded, the streamed read failed: \(error)")
    }
    if let streamed {
        precondition(whole == streamed, "the streamed read differs from the whole-file read")
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzIDX(data, size) })
