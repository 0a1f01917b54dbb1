/// Hand-written protobuf wire encoding for tests that need bytes the encoder would never
/// produce (packed dims, corrupt lengths, fields of the wrong type).
struct WireWriter {
    var bytes: [UInt8] = []

    mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func tag(_ field: UInt64, _ wire: UInt64) { varint(field << 3 | wire) }

    mutating func int(_ field: UInt64, _ v: Int64) {
        tag(field, 0)
        varint(UInt64(bitPattern: v))
    }

    mutating func bytes(_ field: UInt64, _ b: [UInt8]) {
        tag(field, 2)
        varint(UInt64(b.count))
        bytes += b
    }

    mutating func fixed32(_ field: UInt64, _ v: Float) {
        tag(field, 5)
        withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 }
    }

    mutating func string(_ field: UInt64, _ s: String) { bytes(field, Array(s.utf8)) }

    mutating func message(_ field: UInt64, _ build: (inout WireWriter) -> Void) {
        var w = WireWriter()
        build(&w)
        bytes(field, w.bytes)
    }

    /// A minimal valid ModelProto around one Identity node, with `tensor` as an extra
    /// initializer; callers corrupt the tensor.
    static func model(tensor: (inout WireWriter) -> Void) -> [UInt8] {
        var m = WireWriter()
        m.int(1, 8)  // ir_version
        m.message(8) { o in o.string(1, ""); o.int(2, 15) }  // opset_import
        m.message(7) { g in
            g.message(1) { n in n.string(1, "x"); n.string(2, "y"); n.string(4, "Identity") }
            g.message(5, tensor)
            g.message(11) { v in v.string(1, "x") }
            g.message(12) { v in v.string(1, "y") }
        }
        return m.bytes
    }
}
