import BNCKernels
import BNCTraining
import Foundation

/// `bnc train --profile-steps N` (hidden, for tools/bench/run): GFLOP/s that a training step's
/// layers reach, against the sgemm ceiling of the same products on this machine.
///
/// Ceiling of a product: the same single-threaded sgemm call repeated on BOTH cores at once
/// (each core with its own operands), i.e. what OpenBLAS delivers for that shape with the
/// machine's two cores fully busy; bnc's own split can at best reach it. A layer's
/// efficiency is the time its products would take at their ceilings divided by the layer's
/// measured forward + backward time (which also holds im2col, bias and copies). A
/// convolution on oneDNN ("conv … onednn": direct convolution, no GEMM) can pass 100 %: the
/// products are then only its FLOP count, the ceiling what sgemm would give for them.
struct StepBench: Encodable {
    struct Row: Encodable {
        var layer: String
        var milliseconds: Double
        var forwardMilliseconds: Double, backwardMilliseconds: Double
        var gflop: Double
        var achievedGFLOPS: Double
        var ceilingGFLOPS: Double?
        var efficiency: Double?
        var products: [String]
    }

    var blasKernels: String
    /// Split kernel jobs of the timed steps that ran on one thread because of the load.
    var loadFallbacks: LoadFallbacks
    var batch: Int
    var steps: Int
    var stepMilliseconds: Double
    var samplesPerSecond: Double
    var stepGFLOPS: Double
    var dataMilliseconds: Double, lossMilliseconds: Double, optimizerMilliseconds: Double
    var layers: [Row]

    init(_ p: StepProfile) {
        blasKernels = BLASKernels.loaded
        loadFallbacks = LoadFallbacks()  // before the ceilings below run their own jobs
        batch = p.batch
        steps = p.steps
        stepMilliseconds = p.stepSeconds * 1e3
        samplesPerSecond = Double(p.batch) / p.stepSeconds
        stepGFLOPS = p.layers.reduce(0) { $0 + $1.flops } / p.stepSeconds / 1e9
        dataMilliseconds = p.dataSeconds * 1e3
        lossMilliseconds = p.lossSeconds * 1e3
        optimizerMilliseconds = p.optimizerSeconds * 1e3
        var ceilings: [MatrixProduct: Double] = [:]
        layers = p.layers.map { layer in
            var ideal = 0.0
            for product in layer.products {
                var unit = product
                unit.count = 1
                let rate = ceilings[unit] ?? StepBench.ceiling(unit)
                ceilings[unit] = rate
                ideal += product.flops / rate
            }
            let flops = layer.flops
            return Row(
                layer: layer.name, milliseconds: layer.seconds * 1e3,
                forwardMilliseconds: layer.forwardSeconds * 1e3, backwardMilliseconds: layer.backwardSeconds * 1e3,
                gflop: flops / 1e9,
                achievedGFLOPS: flops > 0 ? flops / layer.seconds / 1e9 : 0,
                ceilingGFLOPS: flops > 0 ? flops / ideal / 1e9 : nil,
                efficiency: flops > 0 ? ideal / layer.seconds : nil,
                products: layer.products.map {
                    "\($0.count)×(\($0.m)×\($0.k)\($0.transA ? "ᵀ" : "")·\($0.k)×\($0.n)\($0.transB ? "ᵀ" : ""))"
                })
        }
    }

    /// FLOP/s of `product` (count 1) on both cores at once, best of four timed rounds of about
    /// least 20 ms each.
    static func ceiling(_ p: MatrixProduct) -> Double {
        let a = [Float](repeating: 0.5, count: p.m * p.k), b = [Float](repeating: 0.25, count: p.k * p.n)
        var c = [Float](repeating: 0, count: Parallel.ways * p.m * p.n)
        let reps = max(1, Int(2e9 / max(p.flops, 1)))
        var best = Double.infinity
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    let ptrs = (a: a.baseAddress!, b: b.baseAddress!, c: c.baseAddress!)
                    for _ in 0..<4 {
                        let start = monotonicSeconds()
                        Parallel.forEachSlice { slice in
                            for _ in 0..<reps {
                                GEMM.multiplySerial(transA: p.transA, transB: p.transB, m: p.m, n: p.n, k: p.k,
                                                    a: ptrs.a, lda: p.transA ? p.m : p.k, b: ptrs.b, ldb: p.transB ? p.k : p.n,
                                                    c: ptrs.c + slice * p.m * p.n, ldc: p.n)
                            }
                        }
                        best = min(best, monotonicSeconds() - start)
                    }
                }
            }
        }
        return Double(Parallel.ways * reps) * p.flops / best
    }

    func text() -> String {
        var lines = [
            String(format: "training step, batch %d (%d steps; OpenBLAS kernels %@): %.3f ms per step, %.0f samples/s, %.1f GFLOP/s in products",
                   batch, steps, blasKernels, stepMilliseconds, samplesPerSecond, stepGFLOPS),
            String(format: "  data %.3f ms, loss %.3f ms, optimizer %.3f ms", dataMilliseconds, lossMilliseconds, optimizerMilliseconds),
            "  layer                          ms/step (forward + backward)   GFLOP   achieved GFLOP/s   ceiling GFLOP/s   efficiency",
        ]
        if let warning = loadFallbacks.warning { lines.insert("  " + warning, at: 1) }
        for r in layers {
            let name = r.layer.padding(toLength: 30, withPad: " ", startingAt: 0)
            var line = String(format: "  %@ %8.3f (%7.3f + %7.3f)", name, r.milliseconds, r.forwardMilliseconds, r.backwardMilliseconds)
            if let ceiling = r.ceilingGFLOPS, let e = r.efficiency {
                line += String(format: " %7.4f %18.1f %17.1f %11.0f%%", r.gflop, r.achievedGFLOPS, ceiling, e * 100)
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}
