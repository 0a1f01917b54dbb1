import BNCGraph
import COnnxProto
import CProtobufC

/// Turns a `Model` into bytes through protobuf-c.
///
/// The whole C message tree is built in a `CArena` (copies of every string, array and
/// tensor), packed into a Swift-owned byte array, and freed with the arena. Tensors are
/// written as little-endian `raw_data`; `dims` unpacked, as ONNX declares them. Unknown
/// fields carried by the model are written back after the known ones.
///
/// The graph is written last, after the metadata (protobuf-c would put metadata_props,
/// field 14, after it): protobuf has no end marker, so a file cut exactly before a trailing
/// field still parses. With the graph last, every cut loses part of the graph and is
/// refused, instead of silently dropping the metadata (input scaling, integrity digest).
/// Fields may come in any order on the wire; readers merge them into one message.
enum ModelEncoder {
    static func encode(_ model: Model) -> [UInt8] {
        let arena = CArena()
        let head = modelMessage(model, arena)
        let graph = head.pointee.graph
        head.pointee.graph = nil
        let tail = arena.message(Onnx__ModelProto.self) { onnx__model_proto__init($0) }
        tail.pointee.graph = graph
        let headSize = onnx__model_proto__get_packed_size(head)
        let size = headSize + onnx__model_proto__get_packed_size(tail)
        return [UInt8](unsafeUninitializedCapacity: size) { buf, initialized in
            initialized = onnx__model_proto__pack(head, buf.baseAddress)
            initialized += onnx__model_proto__pack(tail, buf.baseAddress! + initialized)
        }
    }

    /// A serialized `TensorProto` on its own (ONNX's test-data `.pb` files).
    static func encode(_ tensor: Tensor) -> [UInt8] {
        let arena = CArena()
        let t = tensorMessage(tensor, arena)
        let size = onnx__tensor_proto__get_packed_size(t)
        return [UInt8](unsafeUninitializedCapacity: size) { buf, initialized in
            initialized = onnx__tensor_proto__pack(t, buf.baseAddress)
        }
    }

    private static func modelMessage(_ model: Model, _ a: CArena) -> UnsafeMutablePointer<Onnx__ModelProto> {
        let m = a.message(Onnx__ModelProto.self) { onnx__model_proto__init($0) }
        m.pointee.has_ir_version = 1
        m.pointee.ir_version = model.irVersion
        m.pointee.producer_name = a.string(model.producerName)
        m.pointee.producer_version = a.string(model.producerVersion)
        m.pointee.domain = a.string(model.domain)
        if model.modelVersion != 0 {
            m.pointee.has_model_version = 1
            m.pointee.model_version = model.modelVersion
        }
        m.pointee.doc_string = a.string(model.docString)
        m.pointee.graph = graphMessage(model.graph, a)
        let opsets = model.opsetImports.map { o in
            let p = a.message(Onnx__OperatorSetIdProto.self) { onnx__operator_set_id_proto__init($0) }
            p.pointee.domain = a.cString(o.domain)
            p.pointee.has_version = 1
            p.pointee.version = o.version
            setUnknown(&p.pointee.base, o.unknownFields, a)
            return p
        }
        m.pointee.n_opset_import = opsets.count
        m.pointee.opset_import = a.pointers(opsets)
        let entries = model.metadata.map { e in
            let p = a.message(Onnx__StringStringEntryProto.self) { onnx__string_string_entry_proto__init($0) }
            p.pointee.key = a.cString(e.key)
            p.pointee.value = a.cString(e.value)
            setUnknown(&p.pointee.base, e.unknownFields, a)
            return p
        }
        m.pointee.n_metadata_props = entries.count
        m.pointee.metadata_props = a.pointers(entries)
        setUnknown(&m.pointee.base, model.unknownFields, a)
        return m
    }

    private static func graphMessage(_ graph: Graph, _ a: CArena) -> UnsafeMutablePointer<Onnx__GraphProto> {
        let g = a.message(Onnx__GraphProto.self) { onnx__graph_proto__init($0) }
        g.pointee.name = a.string(graph.name)
        g.pointee.doc_string = a.string(graph.docString)
        let nodes = graph.nodes.map { nodeMessage($0, a) }
        g.pointee.n_node = nodes.count
        g.pointee.node = a.pointers(nodes)
        let initializers = graph.initializers.map { tensorMessage($0, a) }
        g.pointee.n_initializer = initializers.count
        g.pointee.initializer = a.pointers(initializers)
        let inputs = graph.inputs.map { valueInfoMessage($0, a) }
        g.pointee.n_input = inputs.count
        g.pointee.input = a.pointers(inputs)
        let outputs = graph.outputs.map { valueInfoMessage($0, a) }
        g.pointee.n_output = outputs.count
        g.pointee.output = a.pointers(outputs)
        let infos = graph.valueInfo.map { valueInfoMessage($0, a) }
        g.pointee.n_value_info = infos.count
        g.pointee.value_info = a.pointers(infos)
        setUnknown(&g.pointee.base, graph.unknownFields, a)
        return g
    }

    private static func nodeMessage(_ node: Node, _ a: CArena) -> UnsafeMutablePointer<Onnx__NodeProto> {
        let n = a.message(Onnx__NodeProto.self) { onnx__node_proto__init($0) }
        n.pointee.name = a.string(node.name)
        n.pointee.op_type = a.cString(node.opType)
        n.pointee.domain = a.string(node.domain)
        n.pointee.doc_string = a.string(node.docString)
        n.pointee.n_input = node.inputs.count
        n.pointee.input = a.array(node.inputs.map { Optional(a.cString($0)) })
        n.pointee.n_output = node.outputs.count
        n.pointee.output = a.array(node.outputs.map { Optional(a.cString($0)) })
        let attributes = node.attributes.map { attributeMessage($0, a) }
        n.pointee.n_attribute = attributes.count
        n.pointee.attribute = a.pointers(attributes)
        setUnknown(&n.pointee.base, node.unknownFields, a)
        return n
    }

    private static func attributeMessage(_ attribute: Attribute, _ a: CArena) -> UnsafeMutablePointer<Onnx__AttributeProto> {
        let p = a.message(Onnx__AttributeProto.self) { onnx__attribute_proto__init($0) }
        p.pointee.name = a.cString(attribute.name)
        p.pointee.doc_string = a.string(attribute.docString)
        p.pointee.has_type = 1
        p.pointee.type = Onnx__AttributeProto__AttributeType(rawValue: UInt32(attribute.value.typeCode))
        switch attribute.value {
        case .float(let v):
            p.pointee.has_f = 1
            p.pointee.f = v
        case .int(let v):
            p.pointee.has_i = 1
            p.pointee.i = v
        case .string(let v):
            p.pointee.has_s = 1
            p.pointee.s = binary(v, a)
        case .tensor(let t):
            p.pointee.t = tensorMessage(t, a)
        case .floats(let v):
            p.pointee.n_floats = v.count
            p.pointee.floats = a.array(v)
        case .ints(let v):
            p.pointee.n_ints = v.count
            p.pointee.ints = a.array(v)
        case .strings(let v):
            p.pointee.n_strings = v.count
            p.pointee.strings = a.array(v.map { binary($0, a) })
        }
        setUnknown(&p.pointee.base, attribute.unknownFields, a)
        return p
    }

    private static func tensorMessage(_ tensor: Tensor, _ a: CArena) -> UnsafeMutablePointer<Onnx__TensorProto> {
        let t = a.message(Onnx__TensorProto.self) { onnx__tensor_proto__init($0) }
        t.pointee.name = a.string(tensor.name)
        t.pointee.doc_string = a.string(tensor.docString)
        t.pointee.has_data_type = 1
        t.pointee.data_type = tensor.dataType
        t.pointee.n_dims = tensor.dims.count
        t.pointee.dims = a.array(tensor.dims.map { Int64($0) })
        t.pointee.has_raw_data = 1
        switch tensor.storage {
        case .float(let v):
            #if _endian(big)
            let (p, n) = a.bytes(of: v.map { $0.bitPattern.littleEndian })
            #else
            let (p, n) = a.bytes(of: v)
            #endif
            t.pointee.raw_data = ProtobufCBinaryData(len: n, data: p)
        case .int64(let v):
            let (p, n) = a.bytes(of: v.map { $0.littleEndian })
            t.pointee.raw_data = ProtobufCBinaryData(len: n, data: p)
        case .int32(let v):
            let (p, n) = a.bytes(of: v.map { $0.littleEndian })
            t.pointee.raw_data = ProtobufCBinaryData(len: n, data: p)
        case .bool(let v):
            let (p, n) = a.bytes(of: v.map { UInt8($0 ? 1 : 0) })
            t.pointee.raw_data = ProtobufCBinaryData(len: n, data: p)
        }
        setUnknown(&t.pointee.base, tensor.unknownFields, a)
        return t
    }

    private static func valueInfoMessage(_ info: ValueInfo, _ a: CArena) -> UnsafeMutablePointer<Onnx__ValueInfoProto> {
        let v = a.message(Onnx__ValueInfoProto.self) { onnx__value_info_proto__init($0) }
        v.pointee.name = a.cString(info.name)
        v.pointee.doc_string = a.string(info.docString)
        if info.elemType != DataType.undefined || info.shape != nil || !info.denotation.isEmpty {
            let type = a.message(Onnx__TypeProto.self) { onnx__type_proto__init($0) }
            type.pointee.denotation = a.string(info.denotation)
            v.pointee.type = type
        }
        if info.elemType != DataType.undefined || info.shape != nil, let type = v.pointee.type {
            let tt = a.message(Onnx__TypeProto__Tensor.self) { onnx__type_proto__tensor__init($0) }
            if info.elemType != DataType.undefined {
                tt.pointee.has_elem_type = 1
                tt.pointee.elem_type = info.elemType
            }
            if let shape = info.shape {
                let s = a.message(Onnx__TensorShapeProto.self) { onnx__tensor_shape_proto__init($0) }
                let dims = shape.enumerated().map { i, d in
                    let dp = a.message(Onnx__TensorShapeProto__Dimension.self) { onnx__tensor_shape_proto__dimension__init($0) }
                    if i < info.dimensionDenotations.count {
                        dp.pointee.denotation = a.string(info.dimensionDenotations[i])
                    }
                    switch d {
                    case .value(let n):
                        dp.pointee.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE
                        dp.pointee.dim_value = n
                    case .param(let name):
                        dp.pointee.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM
                        dp.pointee.dim_param = a.cString(name)
                    case .unknown:
                        break
                    }
                    return dp
                }
                s.pointee.n_dim = dims.count
                s.pointee.dim = a.pointers(dims)
                tt.pointee.shape = s
            }
            type.pointee.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE
            type.pointee.tensor_type = tt
        }
        setUnknown(&v.pointee.base, info.unknownFields, a)
        return v
    }

    private static func binary(_ bytes: [UInt8], _ a: CArena) -> ProtobufCBinaryData {
        let (p, n) = a.bytes(of: bytes)
        return ProtobufCBinaryData(len: n, data: p)
    }

    private static func setUnknown(_ base: inout ProtobufCMessage, _ unknown: UnknownFields, _ a: CArena) {
        guard !unknown.isEmpty else { return }
        let fields = unknown.fields.map { f in
            let (p, n) = a.bytes(of: f.bytes)
            return ProtobufCMessageUnknownField(
                tag: f.number, wire_type: ProtobufCWireType(rawValue: UInt32(f.wireType)), len: n, data: p)
        }
        base.n_unknown_fields = UInt32(fields.count)
        base.unknown_fields = a.array(fields)
    }
}
