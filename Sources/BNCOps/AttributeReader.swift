import BNCGraph

/// Typed access to a node's attributes, with the ONNX defaults of its schema: the one place
/// an operator reads attributes, so no default is written twice.
///
/// Every getter throws when the attribute is present with another type (the validator has
/// usually refused that already) or absent while required; numbers are range-checked where
/// the getter says so, and the errors name the node and the attribute.
public struct AttributeReader: Sendable {
    let view: NodeView

    init(_ view: NodeView) { self.view = view }

    private var node: Node { view.node }

    private func spec(_ name: String) -> AttributeSpec? { view.schema.attribute(name) }

    /// The attribute's value, or the schema default, or nil.
    private func value(_ name: String) throws(ModelError) -> AttributeValue? {
        if let a = node.attribute(name) { return a.value }
        guard let s = spec(name) else { return nil }
        if s.required {
            throw view.fail(attribute: name, "is required by \(node.opType)-\(view.version) and missing", kind: .missingField)
        }
        return s.defaultValue
    }

    private func wrong(_ name: String, _ v: AttributeValue, _ expected: String) -> ModelError {
        view.fail(attribute: name, "has type \(v.typeName), expected \(expected)")
    }

    /// Whether the node carries the attribute (defaults do not count).
    public func has(_ name: String) -> Bool { node.attribute(name) != nil }

    /// An INT attribute (or its default); nil when absent without a default.
    public func int(_ name: String) throws(ModelError) -> Int64? {
        guard let v = try value(name) else { return nil }
        guard case .int(let i) = v else { throw wrong(name, v, "INT") }
        return i
    }

    /// An INT attribute that must exist (given or by default), as an `Int` within `range`.
    public func int(_ name: String, in range: ClosedRange<Int>) throws(ModelError) -> Int {
        guard let v = try int(name) else {
            throw view.fail(attribute: name, "is missing and has no default", kind: .missingField)
        }
        guard let i = Int(exactly: v), range.contains(i) else {
            throw view.fail(attribute: name, "is \(v); it must be in \(range.lowerBound)…\(range.upperBound)", kind: .badValue)
        }
        return i
    }

    /// An INT attribute used as a flag: 0 or 1 (or its default).
    public func flag(_ name: String) throws(ModelError) -> Bool {
        try int(name, in: 0...1) == 1
    }

    /// A FLOAT attribute (or its default); nil when absent without a default.
    public func float(_ name: String) throws(ModelError) -> Float? {
        guard let v = try value(name) else { return nil }
        guard case .float(let f) = v else { throw wrong(name, v, "FLOAT") }
        return f
    }

    /// A FLOAT attribute that must exist (given or by default) and be finite.
    public func finiteFloat(_ name: String) throws(ModelError) -> Float {
        guard let f = try float(name) else {
            throw view.fail(attribute: name, "is missing and has no default", kind: .missingField)
        }
        guard f.isFinite else { throw view.fail(attribute: name, "is \(f); it must be finite", kind: .badValue) }
        return f
    }

    /// An INTS attribute; nil when absent.
    public func ints(_ name: String) throws(ModelError) -> [Int64]? {
        guard let v = try value(name) else { return nil }
        guard case .ints(let i) = v else { throw wrong(name, v, "INTS") }
        return i
    }

    /// An INTS attribute as `Int`s, each within `range`; nil when absent.
    public func ints(_ name: String, each range: ClosedRange<Int>) throws(ModelError) -> [Int]? {
        guard let v = try ints(name) else { return nil }
        var out: [Int] = []
        out.reserveCapacity(v.count)
        for x in v {
            guard let i = Int(exactly: x), range.contains(i) else {
                throw view.fail(attribute: name, "is \(v); each value must be in \(range.lowerBound)…\(range.upperBound)", kind: .badValue)
            }
            out.append(i)
        }
        return out
    }

    /// A FLOATS attribute; nil when absent.
    public func floats(_ name: String) throws(ModelError) -> [Float]? {
        guard let v = try value(name) else { return nil }
        guard case .floats(let f) = v else { throw wrong(name, v, "FLOATS") }
        return f
    }

    /// A STRING attribute decoded as UTF-8 (or its default); nil when absent.
    public func string(_ name: String) throws(ModelError) -> String? {
        guard let v = try value(name) else { return nil }
        guard case .string(let s) = v else { throw wrong(name, v, "STRING") }
        return String(decoding: s, as: UTF8.self)
    }

    /// A STRING attribute that must be one of `choices` (given or by default).
    public func choice(_ name: String, _ choices: [String]) throws(ModelError) -> String {
        guard let s = try string(name) else {
            throw view.fail(attribute: name, "is missing and has no default", kind: .missingField)
        }
        guard choices.contains(s) else {
            throw view.fail(attribute: name, "is '\(s)'; bnc runs \(choices.map { "'\($0)'" }.joined(separator: ", "))", kind: .unsupportedOperator)
        }
        return s
    }

    /// A TENSOR attribute; nil when absent.
    public func tensor(_ name: String) throws(ModelError) -> Tensor? {
        guard let v = try value(name) else { return nil }
        guard case .tensor(let t) = v else { throw wrong(name, v, "TENSOR") }
        return t
    }
}
