/// NaN and infinite weights.
///
/// ONNX allows any Float in a tensor, so the loader accepts them: `inspect` and `verify`
/// can still show such a file. But a NaN or ±Inf weight makes every output it reaches NaN
/// or Inf, and `argmax` of NaN is a silent "class 0"; folding would spread it, and a proof
/// cannot compare NaN with NaN. So `fold`, `infer` and `calibrate` refuse these models
/// (`requireFinite`), naming the tensor and the first bad element, and `inspect`/`verify`
/// print a warning (`nonFiniteTensors`).
public enum FiniteWeights {
    /// A Float initializer holding NaN or ±Inf: the first such element and how many there are.
    public struct Finding: Equatable, Sendable {
        public var tensor: String
        public var dims: [Int]
        /// Row-major index of the first non-finite element.
        public var firstIndex: Int
        public var firstValue: Float
        public var count: Int

        /// "NaN", "+Inf" or "-Inf".
        public var valueText: String {
            firstValue.isNaN ? "NaN" : (firstValue > 0 ? "+Inf" : "-Inf")
        }

        /// The index of the first bad element per dim, e.g. [1, 3] for element 7 of dims [2, 4].
        public var firstPosition: [Int] {
            var rest = firstIndex
            var position = [Int](repeating: 0, count: dims.count)
            for axis in dims.indices.reversed() where dims[axis] > 0 {
                position[axis] = rest % dims[axis]
                rest /= dims[axis]
            }
            return position
        }

        /// "element 7 (index [1, 3]) is NaN (2 non-finite values in this tensor)".
        public var summary: String {
            let position = dims.count > 1 ? " (index \(firstPosition))" : ""
            return "element \(firstIndex)\(position) is \(valueText) (\(count) non-finite value\(count == 1 ? "" : "s") in this tensor)"
        }
    }

    /// Every Float initializer with a NaN or infinite element, in graph order.
    public static func nonFiniteTensors(in graph: Graph) -> [Finding] {
        var found: [Finding] = []
        for t in graph.initializers {
            guard let values = t.floats else { continue }
            var first = -1, count = 0
            for (i, v) in values.enumerated() where !v.isFinite {
                if first < 0 { first = i }
                count += 1
            }
            if first >= 0 {
                found.append(Finding(tensor: t.name, dims: t.dims, firstIndex: first, firstValue: values[first], count: count))
            }
        }
        return found
    }

    /// Throws `.badValue` for the first initializer with a NaN or infinite element;
    /// `consequence` says why the operation cannot go on, e.g. "bnc fold needs finite weights".
    public static func requireFinite(_ graph: Graph, _ consequence: String) throws(ModelError) {
        guard let f = nonFiniteTensors(in: graph).first else { return }
        throw ModelError(.badValue, place: "tensor '\(f.tensor)'", problem: "\(f.summary); \(consequence)")
    }
}
