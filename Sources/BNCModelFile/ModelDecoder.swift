import BNCGraph
import COnnxProto
import CProtobufC

/// Turns bytes into a `Model` through protobuf-c, copying everything into Swift values
/// before the unpacked C message is freed (exactly once, on every path).
///
/// Checks here are the wire-level ones: required fields present, supported element
/// types, dims valid and matching the data length *before* any array sized from the file
/// is allocated. Graph semantics are `ModelValidator`'s job (BNCOps).
enum ModelDecoder {
    static func decode(_ bytes: [UInt8]) throws(ModelError) -> Model {
        if bytes.isEmpty {
            throw ModelError(.malformed, place: "byte 0", problem: "the file is empty; an ONNX model starts with ir_version and a graph")
        }
        let message: UnsafeMutablePointer<Onnx__ModelProto>? = bytes.withUnsafeBufferPointer { buf in
            onnx__model_proto__unpack(nil, buf.count, buf.baseAddress)
        }
        guard let message else {
            throw WireScanner.locateDamage(in: bytes)
        }
        defer { onnx__model_proto__free_unpacked(message, nil) }
        return try model(message.pointee)
    }

    // MARK: - Messages

    private static func model(_ m: Onnx__ModelProto) throws(ModelError) -> Model {
        guard m.has_ir_version != 0 else {
            throw ModelError(.missingField, place: "ModelProto", problem: "ir_version is missing (every ONNX model must state its IR version)")
        }
        guard let g = m.graph else {
            throw ModelError(.missingField, place: "ModelProto", problem: "graph is missing")
        }
        var opsets: [OpsetImport] = []
        for p in try messages(m.opset_import, m.n_opset_import, "opset_import") {
            let o = p.pointee
            opsets.append(OpsetImport(
                domain: try string(o.domain, "opset_import domain"),
                version: o.has_version != 0 ? o.version : 0,
                unknownFields: unknown(o.base)))
        }
        var metadata: [MetadataEntry] = []
        for p in try messages(m.metadata_props, m.n_metadata_props, "metadata_props") {
            let e = p.pointee
            metadata.append(MetadataEntry(
                key: try string(e.key, "metadata_props key"),
                value: try string(e.value, "metadata_props value"),
                unknownFields: unknown(e.base)))
        }
        return Model(
            graph: try graph(g.pointee),
            irVersion: m.ir_version,
            opsetImports: opsets,
            producerName: try string(m.producer_name, "producer_name"),
            producerVersion: try string(m.producer_version, "producer_version"),
            domain: try string(m.domain, "domain"),
            modelVersion: m.has_model_version != 0 ? m.model_version : 0,
            docString: try string(m.doc_string, "doc_string"),
            metadata: metadata,
            unknownFields: unknown(m.base))
    }

    private static func graph(_ g: Onnx__GraphProto) throws(ModelError) -> Graph {
        if g.base.n_unknown_fields > 0 {
            let u = unknown(g.base)
            if u.contains(15) {
                throw ModelError(.unsupportedDataType, place: "graph", problem: "has sparse initializers (sparse_initializer), which bnc does not support")
            }
        }
        var initializers: [Tensor] = []
        initializers.reserveCapacity(g.n_initializer)
        for p in try messages(g.initializer, g.n_initializer, "initializer") {
            initializers.append(try tensor(p.pointee, place: nil))
        }
        var nodes: [Node] = []
        nodes.reserveCapacity(g.n_node)
        for (i, p) in try messages(g.node, g.n_node, "node").enumerated() {
            nodes.append(try node(p.pointee, index: i))
        }
        return Graph(
            name: try string(g.name, "graph name"),
            nodes: nodes,
            initializers: initializers,
            inputs: try valueInfos(g.input, g.n_input, "graph input"),
            outputs: try valueInfos(g.output, g.n_output, "graph output"),
            valueInfo: try valueInfos(g.value_info, g.n_value_info, "value_info"),
            docString: try string(g.doc_string, "graph doc_string"),
            unknownFields: unknown(g.base))
    }

    private static func node(_ n: Onnx__NodeProto, index: Int) throws(ModelError) -> Node {
        let opType = try string(n.op_type, "node #\(index) op_type")
        let name = try string(n.name, "node #\(index) name")
        var node = Node(name: name, opType: opType, inputs: [], outputs: [])
        let place = node.label(index: index)
        if opType.isEmpty {
            throw ModelError(.missingField, place: place, problem: "op_type is missing")
        }
        node.domain = try string(n.domain, "\(place) domain")
        node.inputs = try strings(n.input, n.n_input, "\(place) input")
        node.outputs = try strings(n.output, n.n_output, "\(place) output")
        node.docString = try string(n.doc_string, "\(place) doc_string")
        node.unknownFields = unknown(n.base)
        for p in try messages(n.attribute, n.n_attribute, "\(place) attribute") {
            node.attributes.append(try attribute(p.pointee, nodePlace: place))
        }
        return node
    }

    private static func attribute(_ a: Onnx__AttributeProto, nodePlace: String) throws(ModelError) -> Attribute {
        let name = try string(a.name, "\(nodePlace) attribute name")
        let place = "\(nodePlace) attribute '\(name)'"
        if name.isEmpty {
            throw ModelError(.missingField, place: "\(nodePlace) attribute", problem: "has no name")
        }
        guard a.has_type != 0 else {
            throw ModelError(.missingField, place: place, problem: "has no type field (required since ONNX IR 2)")
        }
        let code = Int32(bitPattern: a.type.rawValue)
        let present: [(Int32, Bool)] = [(1, a.has_f != 0), (2, a.has_i != 0), (3, a.has_s != 0), (4, a.t != nil),
                                         (6, a.n_floats > 0), (7, a.n_ints > 0), (8, a.n_strings > 0)]
        if let stray = present.first(where: { $0.1 && $0.0 != code }) {
            throw ModelError(.wrongAttributeType, place: place,
                             problem: "has type \(AttributeValue.typeName(code)) but also a \(AttributeValue.typeName(stray.0)) value")
        }
        let value: AttributeValue
        switch code {
        case 1: value = .float(a.f)
        case 2: value = .int(a.i)
        case 3: value = .string(a.has_s != 0 ? bytesOf(a.s) : [])
        case 4:
            guard let t = a.t else {
                throw ModelError(.missingField, place: place, problem: "has type TENSOR but no tensor")
            }
            value = .tensor(try tensor(t.pointee, place: place))
        case 6: value = .floats(array(a.floats, a.n_floats))
        case 7: value = .ints(array(a.ints, a.n_ints))
        case 8:
            var list: [[UInt8]] = []
            if a.n_strings > 0, let s = a.strings {
                for i in 0..<a.n_strings { list.append(bytesOf(s[i])) }
            }
            value = .strings(list)
        default:
            throw ModelError(.wrongAttributeType, place: place,
                             problem: "has type \(AttributeValue.typeName(code)), which bnc does not support (no supported operator takes it)")
        }
        return Attribute(name, value, docString: try string(a.doc_string, "\(place) doc_string"), unknownFields: unknown(a.base))
    }

    private static func valueInfos(
        _ list: UnsafeMutablePointer<UnsafeMutablePointer<Onnx__ValueInfoProto>?>?, _ count: Int, _ what: String
    ) throws(ModelError) -> [ValueInfo] {
        var out: [ValueInfo] = []
        for p in try messages(list, count, what) {
            let v = p.pointee
            let name = try string(v.name, what)
            let place = "\(what) '\(name)'"
            var info = ValueInfo(name: name, elemType: DataType.undefined, shape: nil,
                                 docString: try string(v.doc_string, "\(place) doc_string"),
                                 unknownFields: unknown(v.base))
            if let t = v.type {
                let type = t.pointee
                try rejectUnknown(type.base, place: place, message: "TypeProto",
                                  why: "a non-tensor type (sequence, map, optional or sparse); bnc handles tensor values only")
                info.denotation = try string(type.denotation, "\(place) denotation")
                if type.value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE, let tt = type.tensor_type {
                    try rejectUnknown(tt.pointee.base, place: place, message: "TypeProto.Tensor", why: nil)
                    info.elemType = tt.pointee.has_elem_type != 0 ? tt.pointee.elem_type : DataType.undefined
                    if let s = tt.pointee.shape {
                        try rejectUnknown(s.pointee.base, place: place, message: "TensorShapeProto", why: nil)
                        var dims: [ValueInfo.Dimension] = []
                        var denotations: [String] = []
                        for dp in try messages(s.pointee.dim, s.pointee.n_dim, "\(place) shape") {
                            let d = dp.pointee
                            try rejectUnknown(d.base, place: place, message: "TensorShapeProto.Dimension", why: nil)
                            switch d.value_case {
                            case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE:
                                dims.append(.value(d.dim_value))
                            case ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM:
                                dims.append(.param(try string(d.dim_param, "\(place) dim_param")))
                            default:
                                dims.append(.unknown)
                            }
                            denotations.append(try string(d.denotation, "\(place) dimension denotation"))
                        }
                        info.shape = dims
                        info.dimensionDenotations = denotations.allSatisfy(\.isEmpty) ? [] : denotations
                    }
                }
            }
            out.append(info)
        }
        return out
    }

    // MARK: - Tensors

    /// Copies a tensor after checking type, dims and data length; nothing is allocated
    /// from the file's claims before they are checked against the bytes present.
    ///
    /// FLOAT, INT64, INT32 and BOOL are read, each from `raw_data` (little-endian; BOOL one
    /// byte per element) or from the typed field ONNX assigns it: `float_data`,
    /// `int64_data`, `int32_data` (INT32 and BOOL). A BOOL element must be 0 or 1.
    static func tensor(_ t: Onnx__TensorProto, place outer: String?) throws(ModelError) -> Tensor {
        let name = try string(t.name, "tensor name")
        let place = outer.map { "\($0) tensor '\(name)'" } ?? "tensor '\(name)'"
        let extra = unknown(t.base)
        if t.n_external_data > 0 || (t.has_data_location != 0 && t.data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
            throw ModelError(.unsupportedDataType, place: place,
                             problem: "stores its data in an external file (external_data); bnc reads tensors stored inside the model")
        }
        for (number, field) in [(6 as UInt32, "string_data"), (10, "double_data"), (11, "uint64_data"), (3, "segment")]
        where extra.contains(number) {
            throw ModelError(.unsupportedDataType, place: place, problem: "uses \(field), which bnc does not read")
        }
        let dataType = t.has_data_type != 0 ? t.data_type : DataType.undefined
        guard let form = ElementForm(dataType) else {
            throw ModelError(.unsupportedDataType, place: place,
                             problem: "has data_type \(DataType.name(dataType)); bnc reads FLOAT, INT64, INT32 and BOOL tensors")
        }
        var dims: [Int] = []
        dims.reserveCapacity(t.n_dims)
        for i in 0..<t.n_dims {
            let d = t.dims[i]
            guard d >= 0, let di = Int(exactly: d) else {
                throw ModelError(.badShape, place: place, problem: "dimension \(i) is \(d); dims must be ≥ 0")
            }
            dims.append(di)
        }
        guard let count = Tensor.checkedElementCount(dims) else {
            throw ModelError(.badShape, place: place, problem: "the product of dims \(dims) overflows")
        }
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: form.byteWidth)
        let typed: [(field: String, count: Int)] = [("float_data", t.n_float_data), ("int32_data", t.n_int32_data), ("int64_data", t.n_int64_data)]
        if let stray = typed.first(where: { $0.count > 0 && $0.field != form.field }) {
            throw ModelError(.unsupportedDataType, place: place,
                             problem: "is \(DataType.name(dataType)) but has \(stray.field)")
        }
        let typedCount = typed.first { $0.field == form.field }!.count
        let hasRaw = t.has_raw_data != 0
        if hasRaw && typedCount > 0 {
            throw ModelError(.badShape, place: place, problem: "has both raw_data and \(form.field); ONNX allows one")
        }
        if hasRaw {
            guard !overflow, t.raw_data.len == byteCount else {
                throw ModelError(.badShape, place: place,
                                 problem: "raw_data has \(t.raw_data.len) bytes; dims \(dims) of \(DataType.name(dataType)) need \(overflow ? "more than Int.max" : String(byteCount))")
            }
        } else if typedCount != count {
            throw ModelError(.badShape, place: place,
                             problem: "has \(typedCount) values; dims \(dims) need \(count)")
        }
        let storage: Tensor.Storage
        switch form {
        case .float:
            storage = .float(hasRaw ? littleEndian(t.raw_data, count: count) : array(t.float_data, count))
        case .int64:
            storage = .int64(hasRaw ? littleEndian(t.raw_data, count: count) : array(t.int64_data, count))
        case .int32:
            storage = .int32(hasRaw ? littleEndian(t.raw_data, count: count) : array(t.int32_data, count))
        case .bool:
            let bytes: [UInt8] = hasRaw ? littleEndian(t.raw_data, count: count) : []
            var values = [Bool](repeating: false, count: count)
            for i in 0..<count {
                let v = hasRaw ? Int32(bytes[i]) : t.int32_data[i]
                guard v == 0 || v == 1 else {
                    throw ModelError(.badValue, place: place,
                                     problem: "BOOL element \(i) is \(v) in \(hasRaw ? "raw_data" : "int32_data"); a BOOL is 0 or 1")
                }
                values[i] = v == 1
            }
            storage = .bool(values)
        }
        return Tensor(name: name, dims: dims, storage: storage,
                      docString: try string(t.doc_string, "\(place) doc_string"), unknownFields: extra)
    }

    /// The element types bnc reads, with their raw width and ONNX's typed field.
    private enum ElementForm {
        case float, int64, int32, bool

        init?(_ dataType: Int32) {
            switch dataType {
            case DataType.float: self = .float
            case DataType.int64: self = .int64
            case DataType.int32: self = .int32
            case DataType.bool: self = .bool
            default: return nil
            }
        }

        var byteWidth: Int {
            switch self {
            case .float, .int32: return 4
            case .int64: return 8
            case .bool: return 1
            }
        }

        /// The typed field ONNX stores this element type in when raw_data is not used.
        var field: String {
            switch self {
            case .float: return "float_data"
            case .int64: return "int64_data"
            case .int32, .bool: return "int32_data"
            }
        }
    }

    /// Elements of fixed-width little-endian raw data (length already checked).
    private static func littleEndian<T: FixedWidthInteger>(_ data: ProtobufCBinaryData, count: Int) -> [T] {
        guard count > 0, let base = data.data else { return [] }
        return [T](unsafeUninitializedCapacity: count) { buf, initialized in
            UnsafeMutableRawBufferPointer(buf).copyMemory(from: UnsafeRawBufferPointer(start: base, count: count * MemoryLayout<T>.size))
            #if _endian(big)
            for i in 0..<count { buf[i] = T(littleEndian: buf[i]) }
            #endif
            initialized = count
        }
    }

    private static func littleEndian(_ data: ProtobufCBinaryData, count: Int) -> [Float] {
        let bits: [UInt32] = littleEndian(data, count: count)
        #if _endian(little)
        return bits.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        #else
        return bits.map { Float(bitPattern: $0) }
        #endif
    }

    // MARK: - Helpers

    private static func messages<T>(
        _ list: UnsafeMutablePointer<UnsafeMutablePointer<T>?>?, _ count: Int, _ what: String
    ) throws(ModelError) -> [UnsafeMutablePointer<T>] {
        guard count > 0 else { return [] }
        guard let list else {
            throw ModelError(.malformed, place: what, problem: "count \(count) without entries")
        }
        var out: [UnsafeMutablePointer<T>] = []
        out.reserveCapacity(count)
        for i in 0..<count {
            guard let p = list[i] else {
                throw ModelError(.malformed, place: "\(what) #\(i)", problem: "entry is missing")
            }
            out.append(p)
        }
        return out
    }

    private static func array<T>(_ p: UnsafeMutablePointer<T>?, _ count: Int) -> [T] {
        guard count > 0, let p else { return [] }
        return Array(UnsafeBufferPointer(start: p, count: count))
    }

    private static func bytesOf(_ d: ProtobufCBinaryData) -> [UInt8] {
        guard d.len > 0, let p = d.data else { return [] }
        return Array(UnsafeBufferPointer(start: p, count: d.len))
    }

    /// A string field; "" when unset. Invalid UTF-8 is an error, never silently repaired.
    private static func string(_ p: UnsafeMutablePointer<CChar>?, _ what: String) throws(ModelError) -> String {
        guard let p else { return "" }
        guard let s = String(validatingCString: p) else {
            throw ModelError(.malformed, place: what, problem: "is not valid UTF-8")
        }
        return s
    }

    private static func strings(_ list: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ count: Int, _ what: String) throws(ModelError) -> [String] {
        guard count > 0, let list else { return [] }
        var out: [String] = []
        out.reserveCapacity(count)
        for i in 0..<count { out.append(try string(list[i], what)) }
        return out
    }

    /// Messages whose unknown fields bnc cannot carry: reject rather than drop them.
    private static func rejectUnknown(_ base: ProtobufCMessage, place: String, message: String, why: String?) throws(ModelError) {
        guard base.n_unknown_fields > 0, let u = base.unknown_fields else { return }
        throw ModelError(.unsupportedModel, place: place,
                         problem: "\(message) has field \(u[0].tag), " + (why ?? "which bnc's schema does not carry"))
    }

    private static func unknown(_ base: ProtobufCMessage) -> UnknownFields {
        guard base.n_unknown_fields > 0, let u = base.unknown_fields else { return UnknownFields() }
        var fields: [UnknownFields.Field] = []
        for i in 0..<Int(base.n_unknown_fields) {
            let f = u[i]
            let bytes = f.len > 0 && f.data != nil ? Array(UnsafeBufferPointer(start: f.data, count: f.len)) : []
            fields.append(UnknownFields.Field(number: f.tag, wireType: UInt8(truncatingIfNeeded: f.wire_type.rawValue), bytes: bytes))
        }
        return UnknownFields(fields)
    }
}
