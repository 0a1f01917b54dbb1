import BNCGraph
import BNCKernels

/// The window attributes of Conv, ConvTranspose and every pooling (`kernel_shape`,
/// `strides`, `dilations`, `pads`, `auto_pad`, `ceil_mode`), read once with their ONNX
/// defaults and turned into a `BNCKernels.Window` for the input's spatial size. Attributes a
/// version does not define are rejected by the schema check before they get here.
public struct WindowAttributes: Sendable, Equatable {
    public var kernelShape: [Int]?
    public var strides: [Int]?
    public var dilations: [Int]?
    /// ONNX order: all begins, then all ends.
    public var pads: [Int]?
    public var autoPad: Window.AutoPad
    public var ceilMode: Bool

    /// The attribute schema entries these read (each operator lists the ones its version has).
    public static func specs(kernelRequired: Bool, dilations: Bool = true, ceilMode: Bool = false) -> [AttributeSpec] {
        var s: [AttributeSpec] = [
            .string("auto_pad", default: "NOTSET"), .ints("kernel_shape", required: kernelRequired),
            .ints("pads"), .ints("strides"),
        ]
        if dilations { s.append(.ints("dilations")) }
        if ceilMode { s.append(.int("ceil_mode", default: 0)) }
        return s
    }

    public init(_ view: NodeView) throws(ModelError) {
        let a = view.attributes
        let extent = 0...Window.maximumExtent
        kernelShape = try a.ints("kernel_shape", each: 1...Window.maximumExtent)
        strides = try a.ints("strides", each: 1...Window.maximumExtent)
        dilations = try a.ints("dilations", each: 1...Window.maximumExtent)
        pads = try a.ints("pads", each: extent)
        let pad = try a.choice("auto_pad", ["NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"])
        autoPad = Window.AutoPad(rawValue: pad) ?? .notSet
        ceilMode = view.schema.attribute("ceil_mode") != nil ? try a.flag("ceil_mode") : false
        if let k = kernelShape, !(1...3).contains(k.count) {
            throw view.fail(attribute: "kernel_shape", "has \(k.count) values; bnc runs 1-D, 2-D and 3-D windows", kind: .unsupportedOperator)
        }
    }

    /// The window over an input of spatial size `input` with kernel `kernel` (the
    /// attribute, or the weight's spatial dims for a convolution without one).
    public func window(_ view: NodeView, input: [Int], kernel: [Int]) throws(ModelError) -> Window {
        let r = input.count
        guard (1...3).contains(r) else {
            throw view.fail("the input has \(r) spatial dimensions; bnc runs 1-D, 2-D and 3-D \(view.node.opType)", kind: .unsupportedModel)
        }
        if let k = kernelShape, k != kernel {
            throw view.fail(attribute: "kernel_shape", "is \(k), the weight's spatial dims are \(kernel)", kind: .badValue)
        }
        for (name, v) in [("strides", strides), ("dilations", dilations)] {
            if let v, v.count != r {
                throw view.fail(attribute: name, "has \(v.count) values for \(r) spatial dimensions", kind: .badValue)
            }
        }
        if let p = pads, p.count != 2 * r {
            throw view.fail(attribute: "pads", "has \(p.count) values; \(r) spatial dimensions need \(2 * r) (all begins, then all ends)", kind: .badValue)
        }
        do {
            return try Window.resolve(autoPad: autoPad, input: input, kernel: kernel, strides: strides, dilations: dilations,
                                      pads: autoPad == .notSet ? pads : nil, ceilMode: ceilMode && autoPad == .notSet)
        } catch {
            throw view.fail(error.description)
        }
    }
}
