#!/usr/bin/env python3
"""Writes ONNX fixture files with onnx.helper (opset 15, IR 8) and OUTDIR/manifest.json.

Round-trip fixtures ("kind": "roundtrip") check that bnc reads files of another writer:
  rt_mlp_float_data.onnx   Gemm → BatchNormalization → Relu → Gemm → Softmax, tensors in float_data
  rt_mlp_raw_data.onnx     the same model, tensors in raw_data (little-endian)
  rt_mlp_packed_dims.onnx  the raw_data model with every initializer's `dims` written packed
  rt_conv.onnx             Conv → BN → Relu → MaxPool → Flatten → Gemm → Softmax on 28×28 images
  rt_mlp_expected.json     initializers (dims, values, float bits), nodes and an onnxruntime probe

Fold fixtures ("kind": "fold") cover the BN folding patterns of issue 5; each manifest entry says
which BatchNormalization nodes `bnc fold` must fold and which it must skip, with a reason keyword
matched case-insensitively against bnc's reason text.

Packed dims: proto2 declares TensorProto.dims unpacked, so protobuf (and onnx.helper) writes one
tag per dim (0x08 varint). The packed form (one 0x0A tag, a length, then the varints) is equally
valid on the wire and readers must accept it. `pack_dims_in_model` walks the serialized model
(ModelProto.graph = field 7 → GraphProto.initializer = field 5 → TensorProto.dims = field 1),
gathers each tensor's dims varints into one length-delimited field at the place of the first dim,
and re-encodes the enclosing lengths; every other byte is copied unchanged. Protobuf parses the
result back to the identical message, which the script asserts.

  make_onnx_fixtures.py OUTDIR                   write all fixtures and OUTDIR/manifest.json
  make_onnx_fixtures.py OUTDIR --swift-fixtures  also refresh Tests/BNCModelFileTests/Fixtures/

The output is deterministic: same pinned packages → byte-identical files.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import zlib
from pathlib import Path
from typing import Any, Callable

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OPSET = 15
IR_VERSION = 8
PRODUCER = "bnc make_onnx_fixtures.py"
REPO = Path(__file__).resolve().parent.parent
SWIFT_FIXTURES = REPO / "Tests" / "BNCModelFileTests" / "Fixtures"
MAX_FILE_BYTES = 50_000

Storage = str  # "raw_data" or "float_data"


# ---------------------------------------------------------------- tensors and models

def rng_for(name: str) -> np.random.Generator:
    """A generator seeded from the fixture name, so fixtures don't depend on their order."""
    return np.random.default_rng(zlib.crc32(name.encode()))


def weights(rng: np.random.Generator, *shape: int, scale: float = 0.5) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def bn_stats(rng: np.random.Generator, c: int) -> dict[str, np.ndarray]:
    """Trained-looking statistics: γ ≈ 1, β ≠ 0, μ ≠ 0, σ² ≠ 1 (never all 0 / all 1)."""
    return {
        "scale": rng.uniform(0.5, 1.5, c).astype(np.float32),
        "B": rng.uniform(-0.5, 0.5, c).astype(np.float32),
        "mean": rng.uniform(-1.0, 1.0, c).astype(np.float32),
        "var": rng.uniform(0.25, 2.0, c).astype(np.float32),
    }


def tensor(name: str, array: np.ndarray, storage: Storage) -> TensorProto:
    array = np.asarray(array, dtype=np.float32)
    if storage == "raw_data":
        return numpy_helper.from_array(array, name)
    return helper.make_tensor(name, TensorProto.FLOAT, array.shape, array.flatten().tolist())


def bn_node(name: str, x: str, y: str, prefix: str, epsilon: float = 1e-5,
            scale: str | None = None) -> onnx.NodeProto:
    return helper.make_node(
        "BatchNormalization",
        [x, scale or f"{prefix}.scale", f"{prefix}.B", f"{prefix}.mean", f"{prefix}.var"], [y],
        name=name, epsilon=epsilon, momentum=0.9, training_mode=0)


def bn_inits(prefix: str, stats: dict[str, np.ndarray], storage: Storage,
             skip: tuple[str, ...] = ()) -> list[TensorProto]:
    return [tensor(f"{prefix}.{k}", v, storage) for k, v in stats.items() if k not in skip]


def value(name: str, shape: list[int | str]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def model(name: str, nodes: list[onnx.NodeProto], inits: list[TensorProto],
          inputs: list[onnx.ValueInfoProto], outputs: list[onnx.ValueInfoProto],
          doc: str, metadata: dict[str, str] | None = None) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, name, inputs, outputs, inits, doc_string=doc)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                          ir_version=IR_VERSION, producer_name=PRODUCER,
                          producer_version=onnx.__version__)
    if metadata:
        helper.set_model_props(m, metadata)
    return m


# ---------------------------------------------------------------- round-trip fixtures

def rt_mlp(storage: Storage) -> onnx.ModelProto:
    """(N, 16) → Gemm 16→8 → BN(8) → Relu → Gemm 8→4 → Softmax → (N, 4)."""
    rng = rng_for("rt_mlp")
    nodes = [
        helper.make_node("Gemm", ["input", "fc1.W", "fc1.b"], ["h1"], name="fc1", transB=1,
                         doc_string="first dense layer"),
        bn_node("bn1", "h1", "h2", "bn1", epsilon=1e-3),
        helper.make_node("Relu", ["h2"], ["h3"], name="relu1"),
        helper.make_node("Gemm", ["h3", "fc2.W", "fc2.b"], ["logits"], name="fc2", transB=1),
        helper.make_node("Softmax", ["logits"], ["output"], name="softmax", axis=1),
    ]
    inits = [tensor("fc1.W", weights(rng, 8, 16), storage),
             tensor("fc1.b", weights(rng, 8), storage),
             *bn_inits("bn1", bn_stats(rng, 8), storage),
             tensor("fc2.W", weights(rng, 4, 8), storage),
             tensor("fc2.b", weights(rng, 4), storage)]
    return model("rt_mlp", nodes, inits, [value("input", ["N", 16])], [value("output", ["N", 4])],
                 doc=f"round-trip fixture, tensors in {storage}",
                 metadata={"bnc.fixture": "rt_mlp", "bnc.fixture.storage": storage})


def rt_conv() -> onnx.ModelProto:
    """(N, 1, 28, 28) → Conv 3×3/2 pad 1 → BN(4) → Relu → MaxPool 2 → Flatten → Gemm → Softmax."""
    rng = rng_for("rt_conv")
    nodes = [
        helper.make_node("Conv", ["input", "conv1.W", "conv1.b"], ["c1"], name="conv1",
                         kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        bn_node("bn1", "c1", "c2", "bn1"),
        helper.make_node("Relu", ["c2"], ["c3"], name="relu1"),
        helper.make_node("MaxPool", ["c3"], ["p1"], name="pool1", kernel_shape=[2, 2],
                         strides=[2, 2]),
        helper.make_node("Flatten", ["p1"], ["f1"], name="flatten", axis=1),
        helper.make_node("Gemm", ["f1", "fc.W", "fc.b"], ["logits"], name="fc", transB=1),
        helper.make_node("Softmax", ["logits"], ["output"], name="softmax", axis=1),
    ]
    inits = [tensor("conv1.W", weights(rng, 4, 1, 3, 3), "raw_data"),
             tensor("conv1.b", weights(rng, 4), "raw_data"),
             *bn_inits("bn1", bn_stats(rng, 4), "raw_data"),
             tensor("fc.W", weights(rng, 10, 196, scale=0.1), "raw_data"),
             tensor("fc.b", weights(rng, 10), "raw_data")]
    return model("rt_conv", nodes, inits, [value("input", ["N", 1, 28, 28])],
                 [value("output", ["N", 10])], doc="round-trip fixture: conv on 28x28 images",
                 metadata={"bnc.fixture": "rt_conv", "bnc.input.scaling": "x/255"})


# ---------------------------------------------------------------- packed dims (wire rewrite)

def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def wire_fields(buf: bytes) -> list[tuple[int, int, bytes, bytes]]:
    """Splits a message into (field number, wire type, payload, raw field bytes)."""
    fields, pos = [], 0
    while pos < len(buf):
        start = pos
        key, pos = read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            payload_start = pos
            _, pos = read_varint(buf, pos)
            payload = buf[payload_start:pos]
        elif wire == 2:
            length, pos = read_varint(buf, pos)
            payload = buf[pos:pos + length]
            pos += length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            payload = buf[pos:pos + size]
            pos += size
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if pos > len(buf):
            raise ValueError("truncated field")
        fields.append((number, wire, payload, buf[start:pos]))
    return fields


def rewrite(buf: bytes, number: int, change: Callable[[bytes], bytes]) -> bytes:
    """Applies `change` to the payload of every length-delimited field `number`."""
    out = bytearray()
    for n, wire, payload, raw in wire_fields(buf):
        if n == number and wire == 2:
            new = change(payload)
            out += varint((number << 3) | 2) + varint(len(new)) + new
        else:
            out += raw
    return bytes(out)


def pack_dims(tensor_bytes: bytes) -> bytes:
    """TensorProto: the unpacked dims (field 1, varint) become one packed field 1."""
    fields = wire_fields(tensor_bytes)
    dims = b"".join(p for n, w, p, _ in fields if n == 1 and w == 0)
    out, done = bytearray(), False
    for n, w, _, raw in fields:
        if n == 1 and w == 0:
            if not done:
                out += varint((1 << 3) | 2) + varint(len(dims)) + dims
                done = True
        else:
            out += raw
    return bytes(out)


def pack_dims_in_model(model_bytes: bytes) -> bytes:
    return rewrite(model_bytes, 7, lambda graph: rewrite(graph, 5, pack_dims))


def dims_encodings(model_bytes: bytes) -> set[str]:
    """Which encodings of TensorProto.dims occur among the initializers: {"packed", "unpacked"}."""
    found: set[str] = set()
    for n, w, graph, _ in wire_fields(model_bytes):
        if n == 7 and w == 2:
            for gn, gw, t, _ in wire_fields(graph):
                if gn == 5 and gw == 2:
                    for tn, tw, _, _ in wire_fields(t):
                        if tn == 1:
                            found.add("packed" if tw == 2 else "unpacked")
    return found


# ---------------------------------------------------------------- fold fixtures

class Fold:
    """Builds one fold fixture: a small graph around one or more BatchNormalization nodes."""

    def __init__(self, name: str, in_shape: list[int | str]):
        self.name = name
        self.rng = rng_for(name)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[TensorProto] = []
        self.inputs = [value("input", in_shape)]
        self.outputs: list[onnx.ValueInfoProto] = []

    def init(self, name: str, array: np.ndarray) -> str:
        self.inits.append(tensor(name, array, "raw_data"))
        return name

    def w(self, name: str, *shape: int) -> str:
        return self.init(name, weights(self.rng, *shape))

    def node(self, op: str, inputs: list[str], output: str, name: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=name, **attrs))
        return output

    def bn(self, x: str, y: str, c: int, name: str = "bn", epsilon: float = 1e-5,
           scale_as_input: bool = False) -> str:
        stats = bn_stats(self.rng, c)
        scale = None
        if scale_as_input:
            scale = f"{name}.scale"
            self.inputs.append(value(scale, [c]))
        self.inits += bn_inits(name, stats, "raw_data", skip=("scale",) if scale_as_input else ())
        self.nodes.append(bn_node(name, x, y, name, epsilon, scale))
        return y

    def out(self, name: str, shape: list[int | str]) -> None:
        self.outputs.append(value(name, shape))

    def build(self, doc: str) -> onnx.ModelProto:
        return model(self.name, self.nodes, self.inits, self.inputs, self.outputs, doc,
                     metadata={"bnc.fixture": self.name})


def fold_fixtures() -> list[tuple[onnx.ModelProto, dict[str, Any]]]:
    """Each entry: (model, manifest fields: description and expect)."""
    out: list[tuple[onnx.ModelProto, dict[str, Any]]] = []

    def add(f: Fold, doc: str, folded: list[str], skipped: dict[str, str] | None = None,
            cloned: list[str] | None = None) -> None:
        expect: dict[str, Any] = {"folded": folded, "skipped": skipped or {}}
        if cloned:
            expect["cloned"] = cloned
        out.append((f.build(doc), {"description": doc, "expect": expect}))

    f = Fold("fold_gemm_transb0", ["N", 6])
    f.node("Gemm", ["input", f.w("W", 6, 5), f.w("C", 5)], "y", "gemm", transB=0)
    f.bn("y", "output", 5)
    f.out("output", ["N", 5])
    add(f, "Gemm(transB=0, W (K=6, N=5)) → BN: backward fold scales W's columns", ["bn"])

    f = Fold("fold_gemm_transb1_alpha_beta", ["N", 6])
    f.node("Gemm", ["input", f.w("W", 5, 6), f.w("C", 5)], "y", "gemm", transB=1, alpha=0.7,
           beta=1.3)
    f.bn("y", "output", 5, epsilon=1e-3)
    f.out("output", ["N", 5])
    add(f, "Gemm(transB=1, alpha=0.7, beta=1.3, with C) → BN(eps 1e-3): alpha and beta must be "
        "respected (or folded into W and C)", ["bn"])

    f = Fold("fold_gemm_no_c", ["N", 6])
    f.node("Gemm", ["input", f.w("W", 5, 6)], "y", "gemm", transB=1)
    f.bn("y", "output", 5)
    f.out("output", ["N", 5])
    add(f, "Gemm without C → BN: the fold creates a bias", ["bn"])

    f = Fold("fold_matmul", ["N", 6])
    f.node("MatMul", ["input", f.w("W", 6, 5)], "y", "matmul")
    f.bn("y", "output", 5)
    f.out("output", ["N", 5])
    add(f, "MatMul (W (6, 5)) → BN: rewritten to Gemm or MatMul + Add", ["bn"])

    f = Fold("fold_matmul_add", ["N", 6])
    f.node("MatMul", ["input", f.w("W", 6, 5)], "y0", "matmul")
    f.node("Add", ["y0", f.w("b", 5)], "y", "add")
    f.bn("y", "output", 5)
    f.out("output", ["N", 5])
    add(f, "MatMul → Add(bias) → BN: the Add's bias is part of the fold", ["bn"])

    f = Fold("fold_bn_gemm", ["N", 6])
    f.bn("input", "x", 6)
    f.node("Gemm", ["x", f.w("W", 5, 6), f.w("C", 5)], "output", "gemm", transB=1)
    f.out("output", ["N", 5])
    add(f, "BN → Gemm (input normalization): forward fold W' = W·diag(γ/σ), exact", ["bn"])

    f = Fold("fold_bn_matmul", ["N", 6])
    f.bn("input", "x", 6)
    f.node("MatMul", ["x", f.w("W", 6, 5)], "output", "matmul")
    f.out("output", ["N", 5])
    add(f, "BN → MatMul: forward fold, exact (a bias appears)", ["bn"])

    conv = {"kernel_shape": [3, 3]}
    f = Fold("fold_conv_no_bias", ["N", 2, 6, 6])
    f.node("Conv", ["input", f.w("W", 4, 2, 3, 3)], "y", "conv", **conv)
    f.bn("y", "output", 4)
    f.out("output", ["N", 4, 4, 4])
    add(f, "Conv without bias → BN: the fold creates the bias", ["bn"])

    f = Fold("fold_conv_bias", ["N", 2, 6, 6])
    f.node("Conv", ["input", f.w("W", 4, 2, 3, 3), f.w("b", 4)], "y", "conv", pads=[1, 1, 1, 1],
           **conv)
    f.bn("y", "output", 4)
    f.out("output", ["N", 4, 6, 6])
    add(f, "Conv(bias, pads 1) → BN: backward fold (padding is no obstacle after the conv)", ["bn"])

    f = Fold("fold_conv_grouped", ["N", 4, 6, 6])
    f.node("Conv", ["input", f.w("W", 6, 2, 3, 3), f.w("b", 6)], "y", "conv", group=2, **conv)
    f.bn("y", "output", 6)
    f.out("output", ["N", 6, 4, 4])
    add(f, "grouped Conv (group=2, W (6, 2, 3, 3)) → BN: scale axis 0 of W", ["bn"])

    f = Fold("fold_conv_depthwise", ["N", 3, 6, 6])
    f.node("Conv", ["input", f.w("W", 6, 1, 3, 3)], "y", "conv", group=3, **conv)
    f.bn("y", "output", 6)
    f.out("output", ["N", 6, 4, 4])
    add(f, "depthwise Conv (group=3, channel multiplier 2, W (6, 1, 3, 3)) → BN", ["bn"])

    f = Fold("fold_bn_conv_no_pad", ["N", 2, 6, 6])
    f.bn("input", "x", 2)
    f.node("Conv", ["x", f.w("W", 4, 2, 3, 3), f.w("b", 4)], "output", "conv", pads=[0, 0, 0, 0],
           **conv)
    f.out("output", ["N", 4, 4, 4])
    add(f, "BN → Conv with all pads 0: forward fold is exact", ["bn"])

    f = Fold("skip_bn_conv_pad", ["N", 2, 6, 6])
    f.bn("input", "x", 2)
    f.node("Conv", ["x", f.w("W", 4, 2, 3, 3), f.w("b", 4)], "output", "conv", pads=[1, 1, 1, 1],
           **conv)
    f.out("output", ["N", 4, 6, 6])
    add(f, "BN → Conv with pads 1: forward fold would shift the zero padding, must be skipped",
        [], {"bn": "pad"})

    f = Fold("skip_two_consumers", ["N", 6])
    f.node("Gemm", ["input", f.w("W", 5, 6), f.w("C", 5)], "y", "gemm", transB=1)
    f.bn("y", "z", 5)
    f.node("Add", ["y", "z"], "output", "add")
    f.out("output", ["N", 5])
    add(f, "Gemm output y feeds the BN and an Add: folding would change the Add's input",
        [], {"bn": "consumer"})

    f = Fold("skip_graph_output", ["N", 6])
    f.node("Gemm", ["input", f.w("W", 5, 6), f.w("C", 5)], "hidden", "gemm", transB=1)
    f.bn("hidden", "output", 5)
    f.out("hidden", ["N", 5])
    f.out("output", ["N", 5])
    add(f, "the BN's input is also a graph output: folding would change that output",
        [], {"bn": "graph output"})

    f = Fold("skip_scale_input", ["N", 6])
    f.node("Gemm", ["input", f.w("W", 5, 6), f.w("C", 5)], "y", "gemm", transB=1)
    f.bn("y", "output", 5, scale_as_input=True)
    f.out("output", ["N", 5])
    add(f, "the BN's scale is a graph input (bn.scale, shape (5)), not an initializer",
        [], {"bn": "initializer"})

    f = Fold("fold_shared_weight", ["N", 6])
    shared = f.w("W", 5, 6)
    f.node("Gemm", ["input", shared, f.w("C1", 5)], "y1", "gemm1", transB=1)
    f.node("Gemm", ["input", shared, f.w("C2", 5)], "y2", "gemm2", transB=1)
    f.bn("y1", "output1", 5, name="bn1")
    f.bn("y2", "output2", 5, name="bn2")
    f.out("output1", ["N", 5])
    f.out("output2", ["N", 5])
    add(f, "two Gemms share the weight initializer W, each followed by its own BN: both fold, "
        "the weight is cloned so each Gemm gets its own W' (folded with the weight cloned)",
        ["bn1", "bn2"], cloned=["W"])
    return out


# ---------------------------------------------------------------- running and writing

def input_shape(m: onnx.ModelProto, name: str, batch: int) -> list[int]:
    inp = next(i for i in m.graph.input if i.name == name)
    return [d.dim_value if d.HasField("dim_value") else batch
            for d in inp.type.tensor_type.shape.dim]


def probe(m: onnx.ModelProto, batch: int = 2) -> dict[str, Any]:
    """onnxruntime's outputs on a seeded input batch, for tests without Python."""
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    x = rng_for("probe").standard_normal(input_shape(m, "input", batch)).astype(np.float32)
    y = sess.run(None, {"input": x})[0]
    return {"input": {"dims": list(x.shape), "values": x.flatten().tolist()},
            "output": {"dims": list(y.shape), "values": y.flatten().tolist()},
            "tolerance_abs": 1e-5}


def attribute_json(a: onnx.AttributeProto) -> Any:
    return helper.get_attribute_value(a) if a.type in (
        onnx.AttributeProto.FLOAT, onnx.AttributeProto.INT, onnx.AttributeProto.INTS,
        onnx.AttributeProto.FLOATS) else str(helper.get_attribute_value(a))


def expected_json(m: onnx.ModelProto, files: list[str]) -> dict[str, Any]:
    """Everything a reader of the rt_mlp files must recover, float values also as bit patterns."""
    inits = {}
    for t in m.graph.initializer:
        a = numpy_helper.to_array(t).astype(np.float32)
        inits[t.name] = {"dims": list(t.dims), "data_type": t.data_type,
                         "values": a.flatten().tolist(),
                         "bits": a.flatten().view(np.uint32).tolist()}
    return {
        "files": files,
        "ir_version": m.ir_version,
        "opset": OPSET,
        "producer_name": m.producer_name,
        "inputs": [{"name": "input", "shape": ["N", 16]}],
        "outputs": [{"name": "output", "shape": ["N", 4]}],
        "nodes": [{"name": n.name, "op_type": n.op_type, "inputs": list(n.input),
                   "outputs": list(n.output),
                   "attributes": {a.name: attribute_json(a) for a in n.attribute}}
                  for n in m.graph.node],
        "initializers": inits,
        "probe": probe(m),
    }


def check_and_write(path: Path, data: bytes) -> None:
    if len(data) > MAX_FILE_BYTES:
        raise SystemExit(f"make_onnx_fixtures: {path.name} is {len(data)} bytes (> {MAX_FILE_BYTES})")
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    path.write_bytes(data)


def write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def generate(outdir: Path) -> dict[str, Any]:
    outdir.mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, Any]] = []

    float_model, raw_model = rt_mlp("float_data"), rt_mlp("raw_data")
    raw_bytes = raw_model.SerializeToString()
    packed = pack_dims_in_model(raw_bytes)
    # The rewrite must change only the encoding: protobuf parses it to the same message.
    assert dims_encodings(raw_bytes) == {"unpacked"}, dims_encodings(raw_bytes)
    assert dims_encodings(packed) == {"packed"}, dims_encodings(packed)
    assert onnx.load_from_string(packed).SerializeToString() == raw_bytes
    assert packed != raw_bytes

    rt_files = {"rt_mlp_float_data.onnx": (float_model.SerializeToString(), "float_data", "unpacked"),
                "rt_mlp_raw_data.onnx": (raw_bytes, "raw_data", "unpacked"),
                "rt_mlp_packed_dims.onnx": (packed, "raw_data", "packed")}
    for file, (data, storage, dims) in rt_files.items():
        check_and_write(outdir / file, data)
        entries.append({"file": file, "kind": "roundtrip", "storage": storage, "dims": dims,
                        "expected_tensors": "rt_mlp_expected.json",
                        "description": "Gemm → BN → Relu → Gemm → Softmax, (N, 16) → (N, 4)",
                        "expect": {"folded": ["bn1"], "skipped": {}}})
    write_json(outdir / "rt_mlp_expected.json", expected_json(raw_model, list(rt_files)))

    conv = rt_conv()
    check_and_write(outdir / "rt_conv.onnx", conv.SerializeToString())
    entries.append({"file": "rt_conv.onnx", "kind": "roundtrip", "storage": "raw_data",
                    "dims": "unpacked", "images": True,
                    "description": "Conv → BN → Relu → MaxPool → Flatten → Gemm → Softmax on "
                                   "(N, 1, 28, 28) images scaled x/255",
                    "expect": {"folded": ["bn1"], "skipped": {}}})

    for m, info in fold_fixtures():
        file = f"{m.graph.name}.onnx"
        check_and_write(outdir / file, m.SerializeToString())
        entries.append({"file": file, "kind": "fold", **info})

    manifest = {
        "generator": "tools/make_onnx_fixtures.py",
        "onnx": onnx.__version__, "onnxruntime": ort.__version__,
        "ir_version": IR_VERSION, "opset": OPSET,
        "input": "graph input 'input', FLOAT, batch dim_param 'N'",
        "expect_format": "folded: BN node names bnc fold must fold; skipped: BN node name → "
                         "keyword that bnc's reason must contain (case-insensitive); cloned: "
                         "initializers shared by folded ops that the fold must clone",
        "fixtures": entries,
    }
    write_json(outdir / "manifest.json", manifest)
    return manifest


SWIFT_FILES = ["rt_mlp_float_data.onnx", "rt_mlp_raw_data.onnx", "rt_mlp_packed_dims.onnx",
               "rt_mlp_expected.json"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--swift-fixtures", action="store_true",
                        help=f"also copy the round-trip fixtures into {SWIFT_FIXTURES.relative_to(REPO)}")
    args = parser.parse_args()
    manifest = generate(args.outdir)
    print(f"make_onnx_fixtures: wrote {len(manifest['fixtures'])} fixtures and manifest.json "
          f"to {args.outdir}")
    if args.swift_fixtures:
        SWIFT_FIXTURES.mkdir(parents=True, exist_ok=True)
        for file in SWIFT_FILES:
            shutil.copyfile(args.outdir / file, SWIFT_FIXTURES / file)
        print(f"make_onnx_fixtures: copied {', '.join(SWIFT_FILES)} to {SWIFT_FIXTURES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
