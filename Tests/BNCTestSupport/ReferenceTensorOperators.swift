import BNCGraph

/// The shape and data-movement operators in the reference evaluator: each written from the
/// ONNX operator docs as a loop over output indices (no offset tables, no shared code with
/// BNCOps or BNCKernels). Integer tensors are held as Doubles (exact below 2^53).
extension ReferenceEvaluator {
    /// Every output of `node`, or nil when it is not one of these operators.
    static func tensorOperator(_ node: Node, _ ins: [RefTensor?]) throws -> [RefTensor]? {
        func attr(_ n: String) -> AttributeValue? { node.attribute(n)?.value }
        func int(_ n: String) -> Int? {
            if case .int(let v)? = attr(n) { return Int(v) }
            return nil
        }
        func ints(_ n: String) -> [Int]? {
            if case .ints(let v)? = attr(n) { return v.map { Int($0) } }
            return nil
        }
        func input(_ i: Int) -> RefTensor? { i < ins.count ? ins[i] : nil }
        // INT64_MAX and INT64_MIN (Slice's "to the end") do not survive as Doubles: clamp.
        func values(_ i: Int) -> [Int]? { input(i).map { $0.data.map { Int(max(min($0, 0x1p62), -0x1p62)) } } }
        func norm(_ a: Int, _ rank: Int) -> Int { a < 0 ? a + rank : a }

        switch node.opType {
        case "Constant":
            if case .tensor(let t)? = attr("value") {
                return [RefTensor(shape: t.dims, data: t.floats?.map(Double.init) ?? t.integers!.map(Double.init))]
            }
            if case .float(let f)? = attr("value_float") { return [RefTensor(shape: [], data: [Double(f)])] }
            if case .floats(let f)? = attr("value_floats") { return [RefTensor(shape: [f.count], data: f.map(Double.init))] }
            if let i = int("value_int") { return [RefTensor(shape: [], data: [Double(i)])] }
            if let i = ints("value_ints") { return [RefTensor(shape: [i.count], data: i.map(Double.init))] }
            throw RefError.unsupported("Constant without a value")
        case "ConstantOfShape":
            let shape = values(0)!
            var fill = 0.0
            if case .tensor(let t)? = attr("value") { fill = t.floats.map { Double($0[0]) } ?? Double(t.integers![0]) }
            return [RefTensor(shape: shape, data: [Double](repeating: fill, count: shape.reduce(1, *)))]
        case "Shape":
            let x = input(0)!
            let r = x.shape.count
            func clamp(_ v: Int) -> Int { min(max(norm(v, r), 0), r) }
            let s = clamp(int("start") ?? 0), e = clamp(int("end") ?? r)
            let dims = s < e ? Array(x.shape[s..<e]) : []
            return [RefTensor(shape: [dims.count], data: dims.map(Double.init))]
        case "Cast", "CastLike":
            let x = input(0)!
            // RefTensor carries no element type: CastLike is taken to cast to FLOAT, its one
            // run-time use (a FLOAT target such as the dynamo exporter's Conv bias).
            let to = node.opType == "Cast" ? int("to")! : 1
            return [RefTensor(shape: x.shape, data: x.data.map { v in
                switch to {
                case 1: return Double(Float(v))
                case 6: return Double(Int32(truncatingIfNeeded: Int64(v.rounded(.towardZero))))
                case 7: return v.rounded(.towardZero)
                case 9: return v != 0 ? 1 : 0
                default: return .nan
                }
            })]
        case "Squeeze":
            let x = input(0)!
            let axes = (values(1) ?? ints("axes")).map { Set($0.map { norm($0, x.shape.count) }) }
            let shape = x.shape.enumerated().filter { d in axes.map { !$0.contains(d.offset) } ?? (d.element != 1) }.map(\.element)
            return [RefTensor(shape: shape, data: x.data)]
        case "Unsqueeze":
            let x = input(0)!
            let given = values(1) ?? ints("axes")!
            let r = x.shape.count + given.count
            let axes = Set(given.map { norm($0, r) })
            var shape: [Int] = []
            var k = 0
            for d in 0..<r {
                if axes.contains(d) { shape.append(1) } else { shape.append(x.shape[k]); k += 1 }
            }
            return [RefTensor(shape: shape, data: x.data)]
        case "Transpose":
            let x = input(0)!
            let r = x.shape.count
            let perm = ints("perm") ?? Array((0..<r).reversed())
            let shape = perm.map { x.shape[$0] }
            let xs = RefTensor.strides(x.shape)
            return [mapIndices(shape) { idx in
                var o = 0
                for d in 0..<r { o += idx[d] * xs[perm[d]] }
                return x.data[o]
            }]
        case "Concat":
            let parts = ins.compactMap { $0 }
            let r = parts[0].shape.count
            let a = norm(int("axis")!, r)
            var shape = parts[0].shape
            shape[a] = parts.reduce(0) { $0 + $1.shape[a] }
            return [mapIndices(shape) { idx in
                var i = idx
                for p in parts {
                    if i[a] < p.shape[a] { return p.data[flat(i, p.shape)] }
                    i[a] -= p.shape[a]
                }
                return .nan
            }]
        case "Split":
            let x = input(0)!
            let r = x.shape.count
            let a = norm(int("axis") ?? 0, r)
            let n = node.outputs.count
            let dim = x.shape[a]
            var lengths = values(1) ?? ints("split") ?? []
            if lengths.isEmpty {
                if int("num_outputs") != nil {
                    let chunk = (dim + n - 1) / n
                    lengths = Array(repeating: chunk, count: n - 1) + [dim - chunk * (n - 1)]
                } else {
                    lengths = Array(repeating: dim / n, count: n)
                }
            }
            var start = 0
            var outs: [RefTensor] = []
            for l in lengths {
                var shape = x.shape
                shape[a] = l
                let s = start
                outs.append(mapIndices(shape) { idx in
                    var i = idx
                    i[a] += s
                    return x.data[flat(i, x.shape)]
                })
                start += l
            }
            return outs
        case "Gather":
            let x = input(0)!, ind = input(1)!
            let r = x.shape.count
            let a = norm(int("axis") ?? 0, r)
            let shape = Array(x.shape[..<a]) + ind.shape + Array(x.shape[(a + 1)...])
            let q = ind.shape.count
            return [mapIndices(shape) { idx in
                let j = Array(idx[a..<(a + q)])
                var k = Int(ind.data[flat(j, ind.shape)])
                if k < 0 { k += x.shape[a] }
                let i = Array(idx[..<a]) + [k] + Array(idx[(a + q)...])
                return x.data[flat(i, x.shape)]
            }]
        case "Slice":
            let x = input(0)!
            let r = x.shape.count
            let starts = values(1) ?? ints("starts")!, ends = values(2) ?? ints("ends")!
            let axes = values(3) ?? ints("axes") ?? Array(0..<starts.count)
            let steps = values(4) ?? Array(repeating: 1, count: starts.count)
            var first = [Int](repeating: 0, count: r), step = [Int](repeating: 1, count: r), shape = x.shape
            for k in starts.indices {
                let a = norm(axes[k], r), d = x.shape[a], st = steps[k]
                func fix(_ v: Int) -> Int { v < 0 ? v + d : v }
                var s = fix(starts[k]), e = fix(ends[k])
                if st > 0 {
                    s = min(max(s, 0), d); e = min(max(e, 0), d)
                    shape[a] = e > s ? (e - s + st - 1) / st : 0
                } else {
                    s = min(max(s, 0), d - 1); e = min(max(e, -1), d - 1)
                    shape[a] = s > e ? (s - e - st - 1) / -st : 0
                }
                first[a] = s; step[a] = st
            }
            return [mapIndices(shape) { idx in
                x.data[flat((0..<r).map { first[$0] + idx[$0] * step[$0] }, x.shape)]
            }]
        case "Expand":
            let x = input(0)!
            let target = values(1)!
            let r = max(x.shape.count, target.count)
            let px = Array(repeating: 1, count: r - x.shape.count) + x.shape
            let pt = Array(repeating: 1, count: r - target.count) + target
            let shape = zip(px, pt).map { max($0, $1) }
            return [mapIndices(shape) { idx in x.data[flat((0..<r).map { px[$0] == 1 ? 0 : idx[$0] }, px)] }]
        case "Tile":
            let x = input(0)!
            let reps = values(1)!
            let shape = zip(x.shape, reps).map { $0 * $1 }
            return [mapIndices(shape) { idx in x.data[flat(zip(idx, x.shape).map { $0 % $1 }, x.shape)] }]
        case "Pad":
            let x = input(0)!
            let r = x.shape.count
            var mode = "constant"
            if case .string(let s)? = attr("mode") { mode = String(decoding: s, as: UTF8.self) }
            let given = values(1) ?? ints("pads")!
            var value = 0.0
            if case .float(let f)? = attr("value") { value = Double(f) }
            if let v = input(2) { value = v.data[0] }
            let axes = (values(3) ?? Array(0..<r)).map { norm($0, r) }
            var begin = [Int](repeating: 0, count: r), end = begin
            for (k, a) in axes.enumerated() { begin[a] = given[k]; end[a] = given[k + axes.count] }
            let shape = (0..<r).map { x.shape[$0] + begin[$0] + end[$0] }
            return [mapIndices(shape) { idx in
                var i: [Int] = []
                for d in 0..<r {
                    let n = x.shape[d]
                    var j = idx[d] - begin[d]
                    if j < 0 || j >= n {
                        switch mode {
                        case "constant": return value
                        case "edge": j = j < 0 ? 0 : n - 1
                        case "wrap": j = ((j % n) + n) % n
                        default:  // reflect, repeatedly, as numpy.pad
                            if n == 1 { j = 0 }
                            while j < 0 || j >= n { j = j < 0 ? -j : 2 * (n - 1) - j }
                        }
                    }
                    i.append(j)
                }
                return x.data[flat(i, x.shape)]
            }]
        case "Range":
            let s = input(0)!.data[0], l = input(1)!.data[0], d = input(2)!.data[0]
            let n = max(Int(((l - s) / d).rounded(.up)), 0)
            return [RefTensor(shape: [n], data: (0..<n).map { s + Double($0) * d })]
        default:
            return nil
        }
    }

    /// Row-major position of `index` in `shape`.
    static func flat(_ index: [Int], _ shape: [Int]) -> Int {
        var o = 0
        for (i, d) in zip(index, shape) { o = o * d + i }
        return o
    }

    /// A tensor of `shape` whose element at each multi-index is `f(index)`.
    static func mapIndices(_ shape: [Int], _ f: ([Int]) -> Double) -> RefTensor {
        let total = shape.reduce(1, *)
        var out = RefTensor(shape: shape, data: [])
        out.data.reserveCapacity(total)
        var idx = [Int](repeating: 0, count: shape.count)
        for _ in 0..<total {
            out.data.append(f(idx))
            var d = shape.count - 1
            while d >= 0 {
                idx[d] += 1
                if idx[d] < shape[d] { break }
                idx[d] = 0
                d -= 1
            }
        }
        return out
    }
}
