import BNCGraph

/// Finds where undecodable bytes go wrong, so a corrupt file's error can name a byte
/// offset and a field instead of protobuf-c's bare failure.
///
/// It walks the protobuf wire format (tag, wire type, length) of `ModelProto` and of the
/// sub-messages bnc's schema declares, checking every length against the bytes left.
enum WireScanner {
    private enum Kind { case message(String), string, bytes, scalar }

    /// Known length-delimited fields per message: number → (name, kind).
    private static let schema: [String: [UInt64: (String, Kind)]] = [
        "ModelProto": [2: ("producer_name", .string), 3: ("producer_version", .string), 4: ("domain", .string),
                       6: ("doc_string", .string), 7: ("graph", .message("GraphProto")),
                       8: ("opset_import", .message("OperatorSetIdProto")),
                       14: ("metadata_props", .message("StringStringEntryProto"))],
        "OperatorSetIdProto": [1: ("domain", .string)],
        "StringStringEntryProto": [1: ("key", .string), 2: ("value", .string)],
        "GraphProto": [1: ("node", .message("NodeProto")), 2: ("name", .string), 5: ("initializer", .message("TensorProto")),
                       10: ("doc_string", .string), 11: ("input", .message("ValueInfoProto")),
                       12: ("output", .message("ValueInfoProto")), 13: ("value_info", .message("ValueInfoProto"))],
        "NodeProto": [1: ("input", .string), 2: ("output", .string), 3: ("name", .string), 4: ("op_type", .string),
                      5: ("attribute", .message("AttributeProto")), 6: ("doc_string", .string), 7: ("domain", .string)],
        "AttributeProto": [1: ("name", .string), 4: ("s", .bytes), 5: ("t", .message("TensorProto")),
                           7: ("floats", .scalar), 8: ("ints", .scalar), 9: ("strings", .bytes), 13: ("doc_string", .string)],
        "ValueInfoProto": [1: ("name", .string), 2: ("type", .message("TypeProto")), 3: ("doc_string", .string)],
        "TypeProto": [1: ("tensor_type", .message("TypeProto.Tensor")), 6: ("denotation", .string)],
        "TypeProto.Tensor": [2: ("shape", .message("TensorShapeProto"))],
        "TensorShapeProto": [1: ("dim", .message("TensorShapeProto.Dimension"))],
        "TensorShapeProto.Dimension": [2: ("dim_param", .string), 3: ("denotation", .string)],
        "TensorProto": [1: ("dims", .scalar), 4: ("float_data", .scalar), 5: ("int32_data", .scalar), 7: ("int64_data", .scalar),
                        8: ("name", .string), 9: ("raw_data", .bytes), 12: ("doc_string", .string),
                        13: ("external_data", .message("StringStringEntryProto"))],
    ]

    /// The error for bytes protobuf-c refused: the first structural fault found, or a
    /// general "not an ONNX model" message when the structure looks intact.
    static func locateDamage(in bytes: [UInt8], message root: String = "ModelProto") -> ModelError {
        if let fault = scan(bytes, from: 0, to: bytes.count, message: root, path: root) {
            return ModelError(.malformed, place: "byte \(fault.offset)", problem: fault.problem)
        }
        return ModelError(.malformed, place: "byte 0",
                          problem: "protobuf-c could not decode the file as an ONNX \(root) (invalid field encoding or UTF-8)")
    }

    private struct Fault { var offset: Int; var problem: String }

    private static func scan(_ b: [UInt8], from start: Int, to end: Int, message: String, path: String) -> Fault? {
        var at = start
        let fields = schema[message] ?? [:]
        while at < end {
            let tagStart = at
            guard let tag = varint(b, &at, end) else {
                return Fault(offset: tagStart, problem: "\(path): field tag runs past the end of its message (truncated or corrupt)")
            }
            let number = tag >> 3, wire = tag & 7
            if number == 0 || number > 536_870_911 {
                return Fault(offset: tagStart, problem: "\(path): invalid field number \(number)")
            }
            let known = fields[number]
            let name = known.map { "\(path).\($0.0)" } ?? "\(path) field \(number)"
            switch wire {
            case 0:
                guard varint(b, &at, end) != nil else {
                    return Fault(offset: tagStart, problem: "\(name): varint runs past the end (truncated)")
                }
            case 1, 5:
                let n = wire == 1 ? 8 : 4
                guard end - at >= n else {
                    return Fault(offset: tagStart, problem: "\(name): needs \(n) bytes, \(end - at) remain (truncated)")
                }
                at += n
            case 2:
                guard let len = varint(b, &at, end) else {
                    return Fault(offset: tagStart, problem: "\(name): length runs past the end (truncated)")
                }
                guard len <= UInt64(end - at) else {
                    return Fault(offset: tagStart, problem: "\(name) declares \(len) bytes but only \(end - at) remain (truncated or corrupt)")
                }
                let bodyEnd = at + Int(len)
                if case .message(let sub)? = known?.1 {
                    if let f = scan(b, from: at, to: bodyEnd, message: sub, path: name) { return f }
                }
                at = bodyEnd
            default:
                return Fault(offset: tagStart, problem: "\(name): wire type \(wire) is not valid here")
            }
        }
        return nil
    }

    private static func varint(_ b: [UInt8], _ at: inout Int, _ end: Int) -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while at < end && shift < 64 {
            let byte = b[at]
            at += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }
}
