import BNCKernels
@testable import BNCTraining

#if canImport(Glibc)
import Glibc
#endif

/// An independent Double implementation of a `Network`'s training-mode forward pass and loss,
/// written from the layer definitions (direct loops, no BLAS, no shared kernels), used for
/// central finite differences.
struct ReferenceNetwork {
    let network: Network
    /// Parameter values by name (from the network), perturbed by the finite-difference loop.
    var parameters: [String: [Double]]
    /// Dropout masks captured from the Float network's forward, by unit name.
    var masks: [String: [Double]] = [:]

    init(_ network: Network) {
        self.network = network
        var p: [String: [Double]] = [:]
        for e in network.store.entries { p[e.name] = network.store.array(network.store.index(named: e.name)!).map(Double.init) }
        parameters = p
    }

    /// Mean loss over the batch: softmax cross-entropy with `labels`, or MSE with `targets`.
    func loss(_ x: [Double], batch n: Int, labels: [Int] = [], targets: [Double] = []) -> Double {
        let out = forward(x, batch: n)
        let k = network.outputCount
        var total = 0.0
        if network.task == .classification {
            for r in 0..<n {
                let row = Array(out[(r * k)..<(r * k + k)])
                let mx = row.max()!
                let lse = mx + log(row.map { exp($0 - mx) }.reduce(0, +))
                total += lse - row[labels[r]]
            }
            return total / Double(n)
        }
        for i in 0..<(n * k) { total += (out[i] - targets[i]) * (out[i] - targets[i]) }
        return total / Double(n * k)
    }

    func forward(_ input: [Double], batch n: Int) -> [Double] {
        var h = input
        var convIndex = 0, poolIndex = 0
        let convs = network.layers.compactMap { $0 as? ConvLayer }
        let pools = network.layers.compactMap { $0 as? PoolLayer }
        for unit in network.units {
            let inCount = unit.inputShape.reduce(1, *), outCount = unit.outputShape.reduce(1, *)
            switch unit.spec {
            case .dense(let k, let bias):
                let w = parameters["\(unit.name).weight"]!
                let b = bias ? parameters["\(unit.name).bias"]! : [Double](repeating: 0, count: k)
                var y = [Double](repeating: 0, count: n * k)
                for i in 0..<n {
                    for o in 0..<k {
                        var s = b[o]
                        for j in 0..<inCount { s += h[i * inCount + j] * w[o * inCount + j] }
                        y[i * k + o] = s
                    }
                }
                h = y
            case .conv(let spec):
                let g = convs[convIndex].geometry
                convIndex += 1
                let w = parameters["\(unit.name).weight"]!
                let b = spec.bias ? parameters["\(unit.name).bias"]! : [Double](repeating: 0, count: g.outChannels)
                var y = [Double](repeating: 0, count: n * outCount)
                let cg = g.inChannels / g.groups, mg = g.outChannels / g.groups
                for i in 0..<n {
                    for m in 0..<g.outChannels {
                        for oy in 0..<g.outHeight {
                            for ox in 0..<g.outWidth {
                                var s = b[m]
                                for ci in 0..<cg {
                                    let c = (m / mg) * cg + ci
                                    for ky in 0..<g.kernelHeight {
                                        for kx in 0..<g.kernelWidth {
                                            let iy = oy * g.strideH + ky * g.dilationH - g.padTop
                                            let ix = ox * g.strideW + kx * g.dilationW - g.padLeft
                                            guard iy >= 0, iy < g.height, ix >= 0, ix < g.width else { continue }
                                            s += h[((i * g.inChannels + c) * g.height + iy) * g.width + ix]
                                                * w[((m * cg + ci) * g.kernelHeight + ky) * g.kernelWidth + kx]
                                        }
                                    }
                                }
                                y[((i * g.outChannels + m) * g.outHeight + oy) * g.outWidth + ox] = s
                            }
                        }
                    }
                }
                h = y
            case .maxPool:
                let g = pools[poolIndex].geometry
                poolIndex += 1
                var y = [Double](repeating: -.infinity, count: n * outCount)
                for plane in 0..<(n * g.channels) {
                    for oy in 0..<g.outHeight {
                        for ox in 0..<g.outWidth {
                            var best = -Double.infinity
                            for ky in 0..<g.kernelHeight {
                                for kx in 0..<g.kernelWidth {
                                    let iy = oy * g.strideH + ky - g.padTop, ix = ox * g.strideW + kx - g.padLeft
                                    guard iy >= 0, iy < g.height, ix >= 0, ix < g.width else { continue }
                                    best = max(best, h[(plane * g.height + iy) * g.width + ix])
                                }
                            }
                            y[(plane * g.outHeight + oy) * g.outWidth + ox] = best
                        }
                    }
                }
                h = y
            case .flatten:
                break
            case .dropout:
                let m = masks[unit.name]!
                h = zip(h, m).map { $0 * $1 }
            case .activation(let a):
                h = h.map { v in
                    switch a {
                    case .identity: return v
                    case .relu: return max(v, 0)
                    case .sigmoid: return 1 / (1 + exp(-v))
                    case .tanh: return tanh(v)
                    default: preconditionFailure("not a training activation: \(a.name)")
                    }
                }
            case .batchNorm(let center, let scale):
                let c = unit.inputShape[0]
                let s = unit.inputShape.count == 3 ? unit.inputShape[1] * unit.inputShape[2] : 1
                let gamma = scale ? parameters["\(unit.name).scale"]! : [Double](repeating: 1, count: c)
                let beta = center ? parameters["\(unit.name).bias"]! : [Double](repeating: 0, count: c)
                let eps = Double(network.batchNorm.epsilon)
                var y = h
                for ch in 0..<c {
                    var idx: [Int] = []
                    for i in 0..<n { for j in 0..<s { idx.append((i * c + ch) * s + j) } }
                    let mu = idx.map { h[$0] }.reduce(0, +) / Double(idx.count)
                    let v = idx.map { (h[$0] - mu) * (h[$0] - mu) }.reduce(0, +) / Double(idx.count)
                    for q in idx { y[q] = gamma[ch] * (h[q] - mu) / (v + eps).squareRoot() + beta[ch] }
                }
                h = y
            }
        }
        return h
    }
}
