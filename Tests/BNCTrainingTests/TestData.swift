import BNCData
import BNCKernels
@testable import BNCTraining

/// Deterministic test inputs from the project's seeded generator.
func randomFloats(_ count: Int, seed: UInt64, scale: Double = 1) -> [Float] {
    var g = SeededGenerator(seed: seed)
    return (0..<count).map { _ in Float(g.nextGaussian() * scale) }
}

/// A small classification problem: Gaussian blobs around class centers (flat or image
/// shaped), separable enough to learn in a few epochs.
func blobs(count: Int, shape: [Int], classes: Int = 3, seed: UInt64) -> Examples {
    var g = SeededGenerator(seed: seed)
    let k = shape.reduce(1, *)
    var centers: [[Float]] = []
    for _ in 0..<classes { centers.append((0..<k).map { _ in Float(g.nextGaussian() * 2) }) }
    var x: [Float] = [], labels: [UInt8] = []
    for i in 0..<count {
        let c = i % classes
        labels.append(UInt8(c))
        for j in 0..<k { x.append(centers[c][j] + Float(g.nextGaussian() * 0.7)) }
    }
    return Examples(inputs: x, shape: shape, labels: labels, classCount: classes)
}

/// The BN tutorial's toy regression as `Examples`.
func toyExamples(count: Int, seed: UInt64) -> Examples {
    let (x, y) = ToyRegression.generate(count: count, seed: seed)
    return Examples(inputs: x, shape: [1], values: y)
}
