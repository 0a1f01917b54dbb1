#!/usr/bin/env python3
"""Random float32 graphs of bnc's operators at opsets 7, 9, 11, 13, 17, 21 and 28, run in
onnxruntime and in `bnc infer`, every output compared.

  tools/check/random-graphs [--bnc BNC] [--seed S] [--count N] [--opsets 7,9,...]
                            [--operators A,B,...] [--work DIR] [--keep] [--jobs N]
                            [--json REPORT] [--known-failures FILE]

Per opset K, N graphs (default 50: 350 graphs, ≈ 12 s of CPU, under 60 s on 2 busy cores with a
debug bnc; docs/random-graphs.md has the figures).
Each graph is a random DAG of 3–8 nodes drawn from the operators `bnc operators --opset K`
lists (cycling through them so every operator is drawn about equally often), each written in
the form of the version opset K selects (Clip min/max attributes < 11 and inputs from 11,
Squeeze/Unsqueeze axes attribute < 13 and input from 13, Pad attributes < 11 and axes from 18,
Slice attributes < 10, Softmax's 2-D coercion < 13, BatchNormalization `spatial` at 7 and
`training_mode` from 14, Reshape `allowzero` from 14, Dropout's ratio attribute < 12 and input
from 12, pooling `ceil_mode` and MaxPool `dilations` from 10, AveragePool `dilations` from 19,
Split's `num_outputs` from 18, negative axes from 11, ...), with shape-compatible random
attributes (1-D/2-D/3-D windows, strides, pads, dilations, auto_pad, groups; broadcasting
operands from initializers, Constant nodes, other graph inputs or earlier tensors;
concat/split/transpose/reshape/slice/gather), and patterns of exported CNNs drawn like
operators: Conv → BatchNormalization → activation, a residual Conv → Add → Relu, tf2onnx's
flatten Shape → Gather → Unsqueeze → Concat → Reshape, Shape → ConstantOfShape/Expand/Cast.
Weights are initializers; a quarter of the graphs declare the first input's dim 0 as the
symbolic batch "N". The model's IR version is the smallest the opset allows (IR 3 at opset 7,
so every initializer is a graph input too, as IR 3 files have it), and onnx.checker.check_model(
full_check=True) passes. The random state of graph i at opset K is seeded by (seed, K, i).

Reference: onnxruntime with every graph optimization disabled (ORT_DISABLE_ALL), so it computes
the graph as written. Where K is newer than the newest opset onnxruntime runs (28 vs 26 for
onnxruntime 1.31), onnxruntime runs the same nodes with the opset import lowered to its newest
one; this is done only when every node's schema at K has the same inputs and outputs as at the
lowered opset and every attribute the node sets exists there (for float32 data the versions in
between only add types: Cast-28, Celu-28, Range-27, ReduceLogSum(Exp)-28). An operator
onnxruntime has no kernel for (Swish-24) runs as ONNX's function body for it. Graphs the checker
or onnxruntime refuses, or whose onnxruntime output shapes contradict onnx's shape inference,
are regenerated and counted per reason: limits of the generator or of onnxruntime, not of bnc.
The generator does not write the four cases where
the runtimes differ and the spec does not settle it, or onnxruntime does not follow it (pools
with SAME and dilations, ConvTranspose SAME with negative padding, ceil_mode windows starting
past the input, ConvTranspose-1 output_shape with odd padding): docs/random-graphs.md.

bnc: `bnc infer model.onnx --input NAME=FILE.npy ... --output out.npz --quiet`. Outcomes:
  passed    every output present, same shape and dtype, values within the tolerance;
  refused   exit 2 with one line on stderr: bnc declines something by name (an attribute value
            it does not run, ...); listed with the line;
  failed    anything else: wrong values, shapes or dtypes, missing outputs, a crash, a refusal of
            more than one line, a refusal saying that an operator, version or opset is not
            supported (for what `bnc operators --opset K` lists), a timeout; also an operator
            whose version `bnc operators --opset K` gives differently from onnx's schema.
            Failures that --known-failures or KNOWN_FAILURES below lists (an operator-version,
            or one case of one seed) are "known" and do not fail the run.

Tolerance: |bnc − ort| ≤ 1e-4 · max(1, |ort|) elementwise (relative above 1, absolute below: a
sum that cancels to near 0 keeps the absolute error of its terms), non-finite values equal (NaN
with NaN, ±inf with the same infinity), integer outputs exactly. Why 1e-4: the runtimes sum dot
products, windows and reductions in different orders and compute elementary functions
differently. Reordering a K-term float32 sum changes it by up to K·u·Σ|terms| (u = 2⁻²⁴ ≈ 6e-8),
≈ √K·u·Σ|terms| for independent roundings; weights are scaled by 1/√fan-in, so with K ≤ 4096
(MAX_ELEMENTS) that is ≈ 64·6e-8 ≈ 4e-6 of the result's scale, a few times that over 8 nodes.
onnxruntime's own approximations are larger: in one graph its LRN was 7.3e-5 relative off the
float64 value where bnc was 9e-8 off, its Sigmoid is 2 % off in the tail below 1e-5 (which is why
operands that must be positive are |x| + 0.5, not Sigmoid). Over 5,600 graphs (seeds 1–8, 700
each) the largest error was 2.0e-6; 1e-4 is above that LRN's 7.3e-5, and a planted 3e-4
relative error fails (tools/check/tests/test_random_graphs.py).

Output: per opset graphs / nodes / passed / refused / failed / known, per operator-version the
opsets, graphs / passed / refused / failed and the largest normalized error
max|bnc − ort| / max(1, |ort|) over the outputs of the graphs that contain it (a graph's error
is attributed to each of its operators), operators listed but drawn in no graph, the
regenerated graphs by reason, then every failure and refusal with its case. --keep keeps the
failing and refused cases (model.onnx, inputs, ort.npz, command) under --work (or a temporary
folder, printed). Exit status 1 when a graph failed (not known), 2 on bad usage.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import onnx.defs
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parents[2]
OPSETS = [7, 9, 11, 13, 17, 21, 28]
RTOL = 1e-4
MAX_ELEMENTS = 4096  # per tensor: keeps each graph a few milliseconds of work

# Known bugs of bnc, each "Op-version" (every failing graph containing that operator-version)
# or "s<seed>/<case>" (one graph, e.g. "s15/o13-g061"): "reason, reproducer". A failing graph
# they match is counted as "known" instead of failed. Keep it empty.
KNOWN_FAILURES: dict[str, str] = {}


class Reject(Exception):
    """This operator does not fit the chosen tensor (or its attributes made no valid node)."""


# ---------------------------------------------------------------- graph under construction

@dataclass
class Value:
    name: str
    shape: tuple[int, ...]
    elem: int = TensorProto.FLOAT


class Graph:
    def __init__(self, opset: int, rng: np.random.Generator, budget: int, listed: set[str]):
        self.opset, self.rng, self.budget = opset, rng, budget
        self.listed = listed  # what bnc runs at this opset: helper nodes are drawn from it too
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.inputs: list[tuple[Value, np.ndarray]] = []
        self.values: dict[str, Value] = {}
        self.pool: list[str] = []  # float tensors made by nodes or fed, in order
        self.ops: set[str] = set()  # "Op-version"
        self.n = 0
        self.dynamic = False  # the first input's dim 0 is the symbolic batch "N" in the file

    # -- helpers
    def v(self, op: str) -> int:
        return onnx.defs.get_schema(op, self.opset).since_version

    def has(self, op: str) -> bool:
        try:
            self.v(op)
            return True
        except onnx.defs.SchemaError:
            return False

    def fresh(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def p(self, x: float) -> bool:
        return bool(self.rng.random() < x)

    def choice(self, xs):
        return xs[int(self.rng.integers(len(xs)))]

    def uniform(self, lo: float, hi: float) -> float:
        return float(np.float32(self.rng.uniform(lo, hi)))

    def normal(self, shape, scale: float = 1.0) -> np.ndarray:
        return (self.rng.standard_normal(shape) * scale).astype(np.float32)

    def init(self, array: np.ndarray, prefix: str = "w") -> str:
        name = self.fresh(prefix)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        a = np.asarray(array)
        self.values[name] = Value(name, tuple(a.shape), helper.np_dtype_to_tensor_dtype(a.dtype))
        return name

    def ints(self, values, prefix: str = "i") -> str:
        return self.init(np.asarray(values, dtype=np.int64), prefix)

    def scalar(self, x: float, prefix: str = "s") -> str:
        return self.init(np.asarray(x, dtype=np.float32), prefix)

    def feed(self, shape: tuple[int, ...], positive: bool = False) -> str:
        name = self.fresh("x")
        x = self.normal(shape)
        if positive:
            x = np.abs(x) + np.float32(0.5)
        self.inputs.append((Value(name, tuple(shape)), x))
        self.values[name] = Value(name, tuple(shape))
        return name

    def shape(self, name: str) -> tuple[int, ...]:
        return self.values[name].shape

    def checkpoint(self):
        return (len(self.nodes), len(self.inits), len(self.inputs), len(self.pool), set(self.ops), self.n)

    def restore(self, cp) -> None:
        nodes, inits, inputs, pool, ops, n = cp
        del self.nodes[nodes:], self.inits[inits:], self.inputs[inputs:], self.pool[pool:]
        self.ops, self.n = ops, n

    # -- nodes
    def node(self, op: str, inputs: list[str], attrs: dict | None = None, outputs: int = 1,
             pool: bool = True, known: tuple[int, ...] | None = None) -> list[str]:
        """Adds a node; its output shapes come from onnx's shape inference (`known`: the
        shape of a single float output where inference's data propagation stops short)."""
        if len(self.nodes) >= self.budget:
            raise Reject("node budget")
        if op not in self.listed:
            raise Reject(f"{op} is not in opset {self.opset}")
        name = self.fresh(f"n_{op}_")
        outs = [f"{name}_y{k}" if outputs > 1 else f"{name}_y" for k in range(outputs)]
        attrs = {k: v for k, v in (attrs or {}).items() if v is not None}
        self.nodes.append(helper.make_node(op, inputs, outs, name=name, **attrs))
        self.ops.add(f"{op}-{self.v(op)}")
        try:
            shapes = self.infer(outs, known)
        except Reject:
            self.nodes.pop()
            raise
        for o, (shape, elem) in zip(outs, shapes):
            self.values[o] = Value(o, shape, elem)
            if pool and elem == TensorProto.FLOAT and shape:  # scalars end a branch (a graph output)
                self.pool.append(o)
        return outs

    def one(self, op: str, inputs: list[str], attrs: dict | None = None, pool: bool = True,
            known: tuple[int, ...] | None = None) -> str:
        return self.node(op, inputs, attrs, 1, pool, known)[0]

    def infer(self, outs: list[str], known: tuple[int, ...] | None = None) -> list[tuple[tuple[int, ...], int]]:
        model = self.model(outputs=[])
        try:
            inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
        except Exception as e:  # noqa: BLE001
            raise Reject(f"shape inference: {str(e)[:120]}") from None
        info = {v.name: v for v in inferred.graph.value_info}
        result = []
        for o in outs:
            if known is not None and (o not in info or not info[o].type.tensor_type.HasField("shape")):
                result.append((known, TensorProto.FLOAT))
                continue
            if o not in info or not info[o].type.tensor_type.HasField("shape"):
                raise Reject(f"no shape for {o}")
            t = info[o].type.tensor_type
            dims = []
            for d in t.shape.dim:
                if not d.HasField("dim_value") or d.dim_value <= 0:
                    raise Reject(f"{o}: dim {d}")
                dims.append(d.dim_value)
            if math.prod(dims) > MAX_ELEMENTS:
                raise Reject(f"{o}: {dims} too large")
            result.append((tuple(dims), t.elem_type))
        return result

    def model(self, outputs: list[str] | None = None) -> onnx.ModelProto:
        ir = helper.find_min_ir_version_for([helper.make_opsetid("", self.opset)])
        inputs = [helper.make_tensor_value_info(v.name, v.elem, list(v.shape)) for v, _ in self.inputs]
        if self.dynamic and outputs is None:
            inputs[0].type.tensor_type.shape.dim[0].dim_param = "N"
        if ir < 4:  # IR 3: every initializer is a graph input as well
            inputs += [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in self.inits]
        outs = [helper.make_tensor_value_info(o, self.values[o].elem, [None] * len(self.values[o].shape) if self.dynamic
                                              else list(self.values[o].shape))
                for o in (self.leaves() if outputs is None else outputs)]
        graph = helper.make_graph(list(self.nodes), "random", inputs, outs, initializer=list(self.inits))
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)], ir_version=ir,
                                 producer_name="bnc tools/check/random-graphs")

    def leaves(self) -> list[str]:
        used = {i for n in self.nodes for i in n.input}
        return [o for n in self.nodes for o in n.output if o and o not in used]

    # -- operands
    def broadcastable(self, shape: tuple[int, ...], equal: bool = False) -> tuple[int, ...]:
        """A random shape that broadcasts to `shape` (multidirectional numpy rules)."""
        if equal:
            return shape
        drop = int(self.rng.integers(0, len(shape) + 1)) if self.p(0.5) else 0
        return tuple(1 if self.p(0.4) else d for d in shape[drop:]) or (1,)

    def operand(self, shape: tuple[int, ...], equal: bool = False, nonzero: bool = False,
                prefer_pool: bool = True) -> str:
        """A second operand broadcasting to `shape`: an earlier tensor, a graph input, a
        Constant node or an initializer."""
        if prefer_pool and not nonzero and self.p(0.35):
            fits = [t for t in self.pool if self.fits(self.shape(t), shape, equal)]
            if fits:
                return self.choice(fits)
        b = self.broadcastable(shape, equal)
        r = self.rng.random()
        if r < 0.2:
            return self.feed(b, positive=nonzero)
        value = self.normal(b)
        if nonzero:
            value = (np.sign(value) + (value == 0)) * self.rng.uniform(0.5, 2, b).astype(np.float32)
        if r < 0.4 and len(self.nodes) < self.budget - 1:
            return self.constant(value)
        return self.init(value.astype(np.float32), "c")

    @staticmethod
    def fits(b: tuple[int, ...], shape: tuple[int, ...], equal: bool) -> bool:
        if equal:
            return b == shape
        if len(b) > len(shape):
            return False
        return all(x in (1, y) for x, y in zip(b[::-1], shape[::-1]))

    def constant(self, value: np.ndarray) -> str:
        if self.opset >= 12 and value.ndim == 1 and self.p(0.4):
            return self.one("Constant", [], {"value_floats": [float(x) for x in value]}, pool=False)
        if self.opset >= 12 and value.ndim == 0 and self.p(0.4):
            return self.one("Constant", [], {"value_float": float(value)}, pool=False)
        return self.one("Constant", [], {"value": numpy_helper.from_array(value.astype(np.float32), self.fresh("k"))},
                        pool=False)

    def positive(self, x: str) -> str:
        """A tensor ≥ 0.5 made of x: |x| + 0.5. (Not Sigmoid: onnxruntime's is off by ≈ 2 %
        relative in the tail, 1.3e-6 at x = −13.5, which a Reciprocal or Pow then shows.)"""
        return self.one("Add", [self.one("Abs", [x], pool=False), self.scalar(0.5, "half")])

    def axis(self, rank: int, negative_from: int | None, version: int, allow_end: bool = False) -> int:
        hi = rank + (1 if allow_end else 0)
        a = int(self.rng.integers(0, hi))
        if negative_from is not None and version >= negative_from and self.p(0.4):
            a -= hi if allow_end else rank
        return a


# ---------------------------------------------------------------- one generator per operator
#
# Each takes the graph and an input tensor and returns nothing (the nodes it adds put their
# float outputs in the pool) or raises Reject when the operator does not fit the tensor.

UNARY = ["Abs", "Ceil", "Floor", "Round", "Exp", "Neg", "Sigmoid", "Sign", "Tanh", "Erf", "Relu", "Softplus",
         "Softsign", "Identity", "Mish", "HardSwish"]
POSITIVE_UNARY = ["Log", "Sqrt", "Reciprocal"]


def g_unary(op):
    def gen(g: Graph, x: str) -> None:
        g.one(op, [x])
    return gen


def g_positive_unary(op):
    def gen(g: Graph, x: str) -> None:
        g.one(op, [g.positive(x)])
    return gen


ACTIVATION_ATTRS = {
    "Elu": lambda g: {"alpha": g.uniform(0.1, 2)},
    "Celu": lambda g: {"alpha": g.uniform(0.5, 2)},
    "HardSigmoid": lambda g: {"alpha": g.uniform(0.1, 0.5), "beta": g.uniform(0.3, 0.7)},
    "LeakyRelu": lambda g: {"alpha": g.uniform(0.01, 0.5)},
    "Selu": lambda g: {"alpha": g.uniform(1, 2), "gamma": g.uniform(0.5, 1.5)},
    "ThresholdedRelu": lambda g: {"alpha": g.uniform(-0.5, 1)},
    "Gelu": lambda g: {"approximate": g.choice(["none", "tanh"])},
    "Swish": lambda g: {"alpha": g.uniform(0.5, 2)},
}


def g_activation(op):
    def gen(g: Graph, x: str) -> None:
        g.one(op, [x], ACTIVATION_ATTRS[op](g) if g.p(0.7) else {})
    return gen


def g_binary(op):
    def gen(g: Graph, x: str) -> None:
        s = g.shape(x)
        if op == "Div":
            y = g.operand(s, nonzero=True)
            g.one(op, [x, y])
            return
        if op == "Pow":
            if g.p(0.5):
                g.one(op, [x, g.init(np.asarray(float(g.choice([1, 2, 3])), np.float32), "e")])
            else:
                e = g.init(g.rng.uniform(-2, 2, g.broadcastable(s)).astype(np.float32), "e")
                g.one(op, [g.positive(x), e])
            return
        y = g.operand(s)
        g.one(op, [x, y] if g.p(0.6) else [y, x])
    return gen


def g_variadic(op):
    def gen(g: Graph, x: str) -> None:
        s = g.shape(x)
        equal = g.v(op) < 8  # version 6: no broadcasting
        ys = [g.operand(s, equal=equal) for _ in range(int(g.rng.integers(0, 3)))]
        args = [x, *ys]
        g.rng.shuffle(args)
        g.one(op, list(args))
    return gen


def g_prelu(g: Graph, x: str) -> None:
    s = g.shape(x)
    if len(s) >= 2 and g.p(0.6):
        slope = (s[1],) + (1,) * (len(s) - 2)  # per channel, as exporters write it
    else:
        slope = tuple(d if g.p(0.5) else 1 for d in s[int(g.rng.integers(0, len(s))):]) or (1,)
    g.one("PRelu", [x, g.init(g.rng.uniform(-0.5, 0.5, slope).astype(np.float32), "slope")])


def g_matmul(g: Graph, x: str) -> None:
    s = g.shape(x)
    n = int(g.rng.integers(1, 7))
    if len(s) == 1:
        w = g.normal((s[0], n), 1 / math.sqrt(s[0]))
    else:
        batch = g.broadcastable(s[:-2]) if len(s) > 2 and g.p(0.4) else ()
        w = g.normal(batch + (s[-1], n), 1 / math.sqrt(s[-1]))
    g.one("MatMul", [x, g.init(w)])


def g_gemm(g: Graph, x: str) -> None:
    s = g.shape(x)
    if len(s) != 2:
        if len(g.nodes) + 2 > g.budget:
            raise Reject("no room for a Flatten")
        x = g.one("Flatten", [x])
        s = g.shape(x)
    ta, tb = int(g.p(0.3)), int(g.p(0.5))
    if g.p(0.7):  # x is A (M, K); B an initializer, transposed or not
        ta = 0
        m, k = s
        n = int(g.rng.integers(1, 9))
        w = g.normal((n, k) if tb else (k, n), 1 / math.sqrt(k))
        a, b = x, g.init(w)
    else:  # x is B: (K, N), or (N, K) with transB; A an initializer
        k, n = (s[1], s[0]) if tb else s
        m = int(g.rng.integers(1, 5))
        w = g.normal((k, m) if ta else (m, k), 1 / math.sqrt(k))
        a, b = g.init(w), x
    inputs = [a, b]
    if g.v("Gemm") < 11 or g.p(0.7):
        c_shape = g.choice([(n,), (1,), (m, 1), (m, n), (1, n)])
        inputs.append(g.init(g.normal(c_shape), "c"))
    attrs = {"transA": ta if ta or g.p(0.3) else None, "transB": tb if tb or g.p(0.3) else None}
    if g.p(0.4):
        attrs["alpha"] = g.uniform(0.5, 1.5)
    if g.p(0.4) and len(inputs) == 3:
        attrs["beta"] = g.uniform(0.5, 1.5)
    g.one("Gemm", inputs, attrs)


def window(g: Graph, spatial: tuple[int, ...], pool: bool, dilations: bool, ceil_mode: bool) -> dict:
    """Random kernel_shape, strides, dilations, pads or auto_pad (and ceil_mode) for a window
    over `spatial`, in the attributes the version has."""
    d = len(spatial)
    k = [int(g.rng.integers(1, min(3, n) + 1)) for n in spatial]
    attrs: dict = {"kernel_shape": k}
    if g.p(0.5):
        attrs["strides"] = [int(g.rng.integers(1, 3)) for _ in range(d)]
    dil = [1] * d
    if dilations and g.p(0.4):
        dil = [int(g.rng.integers(1, 3)) for _ in range(d)]
        attrs["dilations"] = dil
    r = g.rng.random()
    if r < 0.2:
        # No dilations with SAME: onnxruntime's Conv refuses them, and its pools make fewer
        # windows than ⌈in / stride⌉ (MaxPool, SAME_UPPER, kernel 2, dilation 2 over 4
        # values: 3 outputs; bnc and ONNX's reference evaluator make 4).
        attrs["auto_pad"] = g.choice(["SAME_UPPER", "SAME_LOWER", "VALID"] if dil == [1] * d else ["VALID"])
    elif r < 0.6:
        # onnxruntime's pools want each pad smaller than the kernel extent
        attrs["pads"] = [int(g.rng.integers(0, k[i % d] if pool else 3)) for i in range(2 * d)]
    if ceil_mode and g.p(0.4):
        # Not when the last ⌈⌉ window would start past the input and its left padding: onnx's
        # shape inference of the pools' versions 10–19 counts that window, onnxruntime, bnc,
        # ONNX's reference evaluator and the version-22 inference drop it: no reference.
        st = attrs.get("strides", [1] * d)
        pads = attrs.get("pads", [0] * (2 * d))
        last = [math.ceil((n + pads[i] + pads[i + d] - ((k[i] - 1) * dil[i] + 1)) / st[i]) * st[i]
                for i, n in enumerate(spatial)]
        if all(last[i] < n + pads[i] for i, n in enumerate(spatial)):
            attrs["ceil_mode"] = 1
    return attrs


def g_conv(g: Graph, x: str) -> None:
    s = g.shape(x)
    if not 3 <= len(s) <= 5:
        raise Reject("rank")
    c = s[1]
    group = g.choice([d for d in range(1, c + 1) if c % d == 0]) if g.p(0.5) else 1
    m = group * int(g.rng.integers(1, 4))
    attrs = window(g, s[2:], pool=False, dilations=True, ceil_mode=False)
    k = attrs["kernel_shape"]
    if g.p(0.5):
        del attrs["kernel_shape"]
    if group > 1 or g.p(0.2):
        attrs["group"] = group
    fan = c // group * math.prod(k)
    inputs = [x, g.init(g.normal((m, c // group, *k), 1 / math.sqrt(fan)))]
    if g.p(0.6):
        inputs.append(g.init(g.normal((m,), 0.5), "b"))
    g.one("Conv", inputs, attrs)


def g_conv_transpose(g: Graph, x: str) -> None:
    s = g.shape(x)
    if not 3 <= len(s) <= 5:
        raise Reject("rank")
    c = s[1]
    group = g.choice([d for d in range(1, c + 1) if c % d == 0]) if g.p(0.4) else 1
    m = group * int(g.rng.integers(1, 3))
    attrs = window(g, s[2:], pool=False, dilations=True, ceil_mode=False)
    k = attrs["kernel_shape"]
    strides = attrs.get("strides", [1] * len(k))
    dil = attrs.get("dilations", [1] * len(k))
    if attrs.get("auto_pad", "").startswith("SAME") and (
            g.v("ConvTranspose") < 11 or any((kk - 1) * dl + 1 < st for kk, dl, st in zip(k, dil, strides))):
        # bnc refuses ConvTranspose-1's inconsistent SAME by name. With a kernel shorter than
        # the stride, SAME's total padding is negative and the runtimes disagree: the spec's
        # in · stride outputs (bnc, ONNX's reference evaluator, which pads on the other side
        # for SAME_UPPER), or in · stride − 1 (onnxruntime, onnx shape inference).
        del attrs["auto_pad"]
    if g.p(0.3) and "auto_pad" not in attrs:
        # below the stride (ONNX allows below the stride or the dilation; onnxruntime, the stride)
        attrs["output_padding"] = [int(g.rng.integers(0, st)) for st in strides]
    elif g.p(0.2) and not attrs.get("auto_pad", "").startswith("SAME") or attrs.get("auto_pad") == "VALID":
        # output_shape instead of pads: a total padding of 0 … extent − 1 per dimension. Even
        # before version 11: ConvTranspose-1 puts an odd padding's extra pixel at the end (bnc,
        # as its spec says), onnxruntime at the start (version 11's rule) — no reference.
        attrs.pop("pads", None)
        if attrs.get("auto_pad") == "VALID" and g.p(0.5):
            del attrs["auto_pad"]
        total = [int(g.rng.integers(0, (kk - 1) * dl + 1)) for kk, dl in zip(k, dil)]
        if g.v("ConvTranspose") < 11:
            total = [t - t % 2 for t in total]
        attrs["output_shape"] = [st * (n - 1) + (kk - 1) * dl + 1 - t
                                 for n, kk, st, dl, t in zip(s[2:], k, strides, dil, total)]
    if group > 1:
        attrs["group"] = group
    fan = c // group * math.prod(k)
    inputs = [x, g.init(g.normal((c, m // group, *k), 1 / math.sqrt(fan)))]
    if g.p(0.5):
        inputs.append(g.init(g.normal((m,), 0.5), "b"))
    g.one("ConvTranspose", inputs, attrs)


def g_maxpool(g: Graph, x: str) -> None:
    s = g.shape(x)
    if not 3 <= len(s) <= 5:
        raise Reject("rank")
    v = g.v("MaxPool")
    g.one("MaxPool", [x], window(g, s[2:], pool=True, dilations=v >= 10, ceil_mode=v >= 10))


def g_averagepool(g: Graph, x: str) -> None:
    s = g.shape(x)
    if not 3 <= len(s) <= 5:
        raise Reject("rank")
    v = g.v("AveragePool")
    attrs = window(g, s[2:], pool=True, dilations=v >= 19, ceil_mode=v >= 10)
    if g.p(0.5):
        attrs["count_include_pad"] = int(g.p(0.5))
    g.one("AveragePool", [x], attrs)


def g_global(op):
    def gen(g: Graph, x: str) -> None:
        if len(g.shape(x)) < 3:
            raise Reject("rank")
        g.one(op, [x])
    return gen


def g_batchnorm(g: Graph, x: str) -> None:
    s = g.shape(x)
    if len(s) < 2:
        raise Reject("rank")
    c = s[1]
    v = g.v("BatchNormalization")
    inputs = [x, g.init(g.rng.uniform(0.5, 1.5, c).astype(np.float32), "scale"), g.init(g.normal((c,), 0.5), "bias"),
              g.init(g.normal((c,), 0.5), "mean"), g.init(g.rng.uniform(0.5, 2, c).astype(np.float32), "var")]
    attrs: dict = {}
    if g.p(0.5):
        attrs["epsilon"] = g.uniform(1e-5, 1e-2)
    if g.p(0.3):
        attrs["momentum"] = g.uniform(0.8, 0.99)
    if v == 7 and g.p(0.5):
        attrs["spatial"] = 1
    if v >= 14 and g.p(0.3):
        attrs["training_mode"] = 0
    g.one("BatchNormalization", inputs, attrs)


def g_lrn(g: Graph, x: str) -> None:
    if len(g.shape(x)) != 4:
        raise Reject("onnxruntime's LRN is 4-D")
    attrs = {"size": g.choice([1, 3, 5])}
    if g.p(0.6):
        attrs.update(alpha=g.uniform(1e-4, 0.1), beta=g.uniform(0.5, 1), bias=g.uniform(1, 2))
    g.one("LRN", [x], attrs)


def g_softmax(op):
    def gen(g: Graph, x: str) -> None:
        r = len(g.shape(x))
        g.one(op, [x], {"axis": g.axis(r, 11, g.v(op))} if g.p(0.6) else {})
    return gen


def g_concat(g: Graph, x: str) -> None:
    s = g.shape(x)
    v = g.v("Concat")
    a = g.axis(len(s), 11, v)
    parts = [x]
    for _ in range(int(g.rng.integers(1, 3))):
        other = list(s)
        other[a] = int(g.rng.integers(1, 4))
        fits = [t for t in g.pool if len(g.shape(t)) == len(s) and all(
            g.shape(t)[i] == s[i] for i in range(len(s)) if i != a % len(s))]
        parts.append(g.choice(fits) if fits and g.p(0.4) else g.init(g.normal(tuple(other)), "c"))
    g.rng.shuffle(parts)
    g.one("Concat", list(parts), {"axis": a})


def g_split(g: Graph, x: str) -> None:
    s = g.shape(x)
    v = g.v("Split")
    a = g.axis(len(s), 11, v)
    dim = s[a]
    if dim < 2:
        raise Reject("nothing to split")
    n = int(g.rng.integers(2, min(3, dim) + 1))
    cuts = sorted(g.rng.choice(np.arange(1, dim), n - 1, replace=False).tolist())
    lengths = [b - e for b, e in zip(cuts + [dim], [0] + cuts)]
    attrs: dict = {"axis": a} if a != 0 or g.p(0.5) else {}
    inputs = [x]
    given = g.p(0.6) or dim % n != 0  # equal parts may be left implicit before version 18
    if v < 13:
        if given:
            attrs["split"] = lengths
    elif v < 18:
        if given:
            inputs.append(g.ints(lengths, "split"))
    elif g.p(0.5):
        inputs.append(g.ints(lengths, "split"))
    else:
        attrs["num_outputs"] = n  # uneven: the last part is smaller
    g.node("Split", inputs, attrs, outputs=n)


def g_transpose(g: Graph, x: str) -> None:
    r = len(g.shape(x))
    g.one("Transpose", [x], {"perm": [int(i) for i in g.rng.permutation(r)]} if g.p(0.8) else {})


def factor(g: Graph, total: int, parts: int) -> list[int]:
    dims = [1] * parts
    n = total
    p = 2
    primes = []
    while n > 1:
        while n % p == 0:
            primes.append(p)
            n //= p
        p += 1
    for q in primes:
        dims[int(g.rng.integers(parts))] *= q
    return dims


def g_reshape(g: Graph, x: str) -> None:
    s = g.shape(x)
    v = g.v("Reshape")
    target = factor(g, math.prod(s), int(g.rng.integers(1, 5)))
    spec = list(target)
    zeros = False
    for i in range(min(len(s), len(spec))):
        if spec[i] == s[i] and g.p(0.3):
            spec[i], zeros = 0, True
    free = [i for i, d in enumerate(spec) if d != 0]
    if free and g.p(0.5):
        spec[g.choice(free)] = -1
    attrs = {}
    if v >= 14 and g.p(0.4):
        attrs["allowzero"] = 0 if zeros or g.p(0.5) else 1
    g.one("Reshape", [x, g.ints(spec, "shape")], attrs)


def g_flatten(g: Graph, x: str) -> None:
    r = len(g.shape(x))
    g.one("Flatten", [x], {"axis": g.axis(r, 11, g.v("Flatten"), allow_end=True)} if g.p(0.7) else {})


def g_squeeze(g: Graph, x: str) -> None:
    s = g.shape(x)
    v = g.v("Squeeze")
    ones = [i for i, d in enumerate(s) if d == 1]
    if not ones or len(ones) == len(s):
        raise Reject("no axis of size 1 to squeeze, or all are")
    axes = sorted(g.rng.choice(ones, int(g.rng.integers(1, len(ones) + 1)), replace=False).tolist())
    if v >= 11:
        axes = [a - len(s) if g.p(0.3) else a for a in axes]
    if g.p(0.2):
        g.one("Squeeze", [x])
    elif v < 13:
        g.one("Squeeze", [x], {"axes": axes})
    else:
        g.one("Squeeze", [x, g.ints(axes, "axes")])


def g_unsqueeze(g: Graph, x: str) -> None:
    s = g.shape(x)
    if len(s) >= 5:
        raise Reject("rank")
    v = g.v("Unsqueeze")
    out_rank = len(s) + int(g.rng.integers(1, 3))
    axes = sorted(g.rng.choice(out_rank, out_rank - len(s), replace=False).tolist())
    if v >= 11:
        axes = [a - out_rank if g.p(0.3) else a for a in axes]
    if v < 13:
        g.one("Unsqueeze", [x], {"axes": axes})
    else:
        g.one("Unsqueeze", [x, g.ints(axes, "axes")])


def g_pad(g: Graph, x: str) -> None:
    s = g.shape(x)
    r = len(s)
    v = g.v("Pad")
    modes = ["constant", "reflect", "edge"] + (["wrap"] if v >= 19 else [])
    mode = "constant" if g.p(0.5) else g.choice(modes)
    def most(dim: int) -> int:  # reflect needs pads < dim
        return min(2, dim - 1) if mode == "reflect" else 2

    axes = list(range(r))
    if v >= 18 and g.p(0.4):
        axes = sorted(g.rng.choice(r, int(g.rng.integers(1, r + 1)), replace=False).tolist())
    pads = [int(g.rng.integers(0, most(s[a]) + 1)) for a in axes + axes]  # begins, then ends
    if mode == "constant" and v >= 11 and g.p(0.3):  # negative pads crop (from version 11)
        pads = [-1 if s[a] >= 3 and g.p(0.4) else q for q, a in zip(pads, axes + axes)]
    if mode == "wrap":
        pads = [min(p, s[a]) for p, a in zip(pads, axes + axes)]
    value = g.uniform(-1, 1)
    attrs = {"mode": mode} if mode != "constant" or g.p(0.5) else {}
    if v < 11:
        attrs["pads"] = pads
        if mode == "constant" and g.p(0.6):
            attrs["value"] = value
        g.one("Pad", [x], attrs)
        return
    inputs = [x, g.ints(pads, "pads")]
    if mode == "constant" and g.p(0.6):
        inputs.append(g.scalar(value, "value"))
    if len(axes) < r or (v >= 18 and g.p(0.3)):
        if len(inputs) == 2:
            inputs.append("")
        inputs.append(g.ints([a - r if g.p(0.3) else a for a in axes], "axes"))
    g.one("Pad", inputs, attrs)


def g_slice(g: Graph, x: str) -> None:
    s = g.shape(x)
    r = len(s)
    v = g.v("Slice")
    axes = sorted(g.rng.choice(r, int(g.rng.integers(1, r + 1)), replace=False).tolist())
    starts, ends, steps = [], [], []
    for a in axes:
        d = s[a]
        step = int(g.choice([1, 1, 2, -1])) if v >= 10 else 1
        lo = int(g.rng.integers(0, d))
        hi = int(g.rng.integers(lo + 1, d + 1))
        if step > 0:
            start, end = lo, hi if g.p(0.7) else d + 5  # ends past the dim are clamped
        else:
            start, end = hi - 1, lo - 1 if lo > 0 else -d - 5
        if g.p(0.3):
            start -= d  # negative: from the end
            if step > 0 and end < d:
                end -= d
        starts.append(start)
        ends.append(end)
        steps.append(step)
    neg_axes = v >= 11 and g.p(0.3)
    axes_out = [a - r for a in axes] if neg_axes else axes
    if v < 10:
        attrs = {"starts": starts, "ends": ends}
        if axes != list(range(len(axes))) or g.p(0.5):
            attrs["axes"] = axes_out
        g.one("Slice", [x], attrs)
        return
    inputs = [x, g.ints(starts, "starts"), g.ints(ends, "ends")]
    if axes != list(range(len(axes))) or any(st != 1 for st in steps) or g.p(0.5):
        inputs.append(g.ints(axes_out, "axes"))
    if any(st != 1 for st in steps) or g.p(0.3):
        inputs.append(g.ints(steps, "steps"))
    g.one("Slice", inputs)


def g_gather(g: Graph, x: str) -> None:
    s = g.shape(x)
    v = g.v("Gather")
    a = g.axis(len(s), 11, v)
    d = s[a]
    q = int(g.rng.integers(0, 3))
    if len(s) + q - 1 > 5:
        raise Reject("rank")
    idx = g.rng.integers(-d if v >= 11 else 0, d, tuple(int(g.rng.integers(1, 4)) for _ in range(q)))
    g.one("Gather", [x, g.ints(idx, "idx")], {"axis": a} if a != 0 or g.p(0.5) else {})


def g_tile(g: Graph, x: str) -> None:
    s = g.shape(x)
    g.one("Tile", [x, g.ints([int(g.rng.integers(1, 3)) for _ in s], "repeats")])


def g_expand(g: Graph, x: str) -> None:
    s = g.shape(x)
    lead = tuple(int(g.rng.integers(1, 3)) for _ in range(int(g.rng.integers(0, 2))))
    target = lead + tuple(int(g.rng.integers(2, 4)) if d == 1 and g.p(0.6) else (1 if g.p(0.2) else d) for d in s)
    g.one("Expand", [x, g.ints(target, "shape")])


def g_clip(g: Graph, x: str) -> None:
    v = g.v("Clip")
    lo = g.uniform(-1.5, 0) if g.p(0.8) else None
    hi = g.uniform(0, 1.5) if g.p(0.8) else None
    if v < 11:
        g.one("Clip", [x], {"min": lo, "max": hi})
        return
    inputs = [x, g.scalar(lo, "min") if lo is not None else ""]
    if hi is not None:
        inputs.append(g.scalar(hi, "max"))
    while inputs[-1] == "":
        inputs.pop()
    g.one("Clip", inputs)


def g_dropout(g: Graph, x: str) -> None:
    v = g.v("Dropout")
    ratio = g.uniform(0.1, 0.7)
    if v < 12:
        g.one("Dropout", [x], {"ratio": ratio} if g.p(0.6) else {})
        return
    inputs = [x]
    if g.p(0.6):
        inputs.append(g.scalar(ratio, "ratio"))
        if g.p(0.4):
            inputs.append(g.init(np.asarray(False), "training_mode"))
    g.one("Dropout", inputs, {"seed": int(g.rng.integers(1, 100))} if g.p(0.2) else {})


REDUCE = ["ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin",
          "ReduceProd", "ReduceSum", "ReduceSumSquare"]


def g_reduce(op):
    def gen(g: Graph, x: str) -> None:
        s = g.shape(x)
        r = len(s)
        v = g.v(op)
        axes = sorted(g.rng.choice(r, int(g.rng.integers(1, r + 1)), replace=False).tolist())
        if op == "ReduceProd" and math.prod(s[a] for a in axes) > 16:
            raise Reject("a product of many values under- or overflows")
        if v >= 11:
            axes = [a - r if g.p(0.3) else a for a in axes]
        if op == "ReduceLogSum":
            x = g.positive(x)
        attrs = {"keepdims": int(g.p(0.5))} if g.p(0.6) else {}
        if not attrs.get("keepdims", 1) and len(axes) == r:
            raise Reject("a scalar output")
        every = g.p(0.15) and attrs.get("keepdims", 1)
        axes_input = v >= 18 or (op == "ReduceSum" and v >= 13)
        if every:
            g.one(op, [x], attrs)
        elif axes_input:
            g.one(op, [x, g.ints(axes, "axes")], attrs)
        else:
            g.one(op, [x], {**attrs, "axes": axes})
    return gen


def g_constant(g: Graph, x: str) -> None:
    s = g.shape(x)
    b = g.broadcastable(s)
    c = g.constant(g.normal(b))
    g.one(g.choice(["Add", "Mul"]), [x, c])


def g_constant_of_shape(g: Graph, x: str) -> None:
    if len(g.nodes) + 3 > g.budget:
        raise Reject("no room")
    shape = g.one("Shape", [x], pool=False)
    value = g.uniform(-1, 1)
    c = g.one("ConstantOfShape", [shape],
              {"value": numpy_helper.from_array(np.asarray([value], np.float32), "value")} if g.p(0.8) else {}, pool=False)
    g.one("Add", [x, c])


def g_shape(g: Graph, x: str) -> None:
    s = g.shape(x)
    v = g.v("Shape")
    attrs = {}
    if v >= 15 and g.p(0.5):
        attrs["start"] = int(g.rng.integers(-len(s), len(s)))
    if len(g.nodes) + 2 > g.budget:
        raise Reject("no room")
    r = g.rng.random()
    if r < 0.4 and not attrs:  # Expand a constant to the live shape
        shape = g.one("Shape", [x], pool=False)
        c = g.init(g.normal(g.broadcastable(s)), "c")
        g.one("Expand", [c, shape])
    elif r < 0.7 and not attrs and g.has("ConstantOfShape"):
        g_constant_of_shape(g, x)
    else:  # the shape as float data, as tf2onnx's Cast of Shape
        shape = g.one("Shape", [x], attrs, pool=False)
        g.one("Cast", [shape], {"to": TensorProto.FLOAT})


def g_cast(g: Graph, x: str) -> None:
    g.one("Cast", [x], {"to": TensorProto.FLOAT})


def g_castlike(g: Graph, x: str) -> None:
    g.one("CastLike", [x, g.scalar(0.0, "like")])


def g_range(g: Graph, x: str) -> None:
    n = g.shape(x)[-1]
    start = float(np.float32(g.rng.uniform(-2, 2)))
    delta = float(np.float32(g.choice([0.25, 0.5, 1.0, -0.5])))
    limit = float(np.float32(start + delta * (n - 0.5)))  # ⌈(limit − start) / delta⌉ = n
    r = g.one("Range", [g.scalar(start, "start"), g.scalar(limit, "limit"), g.scalar(delta, "delta")], pool=False)
    g.one("Add", [x, r])


# Patterns of exported CNNs, drawn like operators: what bnc fuses (Conv + BN + activation,
# Add + Relu) and the constant shape subgraph of tf2onnx's flatten.

def m_conv_bn_act(g: Graph, x: str) -> None:
    g_conv(g, x)
    g_batchnorm(g, g.pool[-1])
    y = g.pool[-1]
    act = g.choice(["Relu", "Clip", "LeakyRelu", "HardSwish", "Sigmoid"])
    if act == "Clip":  # ReLU6
        if g.v("Clip") < 11:
            g.one("Clip", [y], {"min": 0.0, "max": 6.0})
        else:
            g.one("Clip", [y, g.scalar(0.0, "min"), g.scalar(6.0, "max")])
    else:
        g.one(act, [y], ACTIVATION_ATTRS[act](g) if act in ACTIVATION_ATTRS else {})


def m_residual(g: Graph, x: str) -> None:
    s = g.shape(x)
    if not 3 <= len(s) <= 5:
        raise Reject("rank")
    d, c = len(s) - 2, s[1]
    k = g.choice([1, 3])
    w = g.init(g.normal((c, c) + (k,) * d, 1 / math.sqrt(c * k ** d)))
    y = g.one("Conv", [x, w, g.init(g.normal((c,), 0.5), "b")], {"kernel_shape": [k] * d, "pads": [k // 2] * (2 * d)})
    z = g.one("Add", [x, y] if g.p(0.5) else [y, x])
    g.one("Relu", [z])


def m_flatten_subgraph(g: Graph, x: str) -> None:
    """tf2onnx's flatten: Shape → Gather(0) → Unsqueeze → Concat(·, [-1]) → Reshape."""
    shape = g.one("Shape", [x], pool=False)
    n = g.one("Gather", [shape, g.init(np.asarray(0, np.int64), "zero")], {"axis": 0}, pool=False)
    if g.v("Unsqueeze") < 13:
        n1 = g.one("Unsqueeze", [n], {"axes": [0]}, pool=False)
    else:
        n1 = g.one("Unsqueeze", [n, g.ints([0], "axes")], pool=False)
    target = g.one("Concat", [n1, g.ints([-1], "minus_one")], {"axis": 0}, pool=False)
    s = g.shape(x)
    g.one("Reshape", [x, target], known=(s[0], math.prod(s[1:])))


MOTIFS = {"motif:conv-bn-act": m_conv_bn_act, "motif:residual": m_residual,
          "motif:flatten-subgraph": m_flatten_subgraph}


GENERATORS = {
    **{op: g_unary(op) for op in UNARY},
    **{op: g_positive_unary(op) for op in POSITIVE_UNARY},
    **{op: g_activation(op) for op in ACTIVATION_ATTRS},
    **{op: g_binary(op) for op in ["Add", "Sub", "Mul", "Div", "Pow"]},
    **{op: g_variadic(op) for op in ["Sum", "Mean", "Max", "Min"]},
    **{op: g_reduce(op) for op in REDUCE},
    **{op: g_softmax(op) for op in ["Softmax", "LogSoftmax"]},
    **{op: g_global(op) for op in ["GlobalAveragePool", "GlobalMaxPool"]},
    "PRelu": g_prelu, "MatMul": g_matmul, "Gemm": g_gemm, "Conv": g_conv, "ConvTranspose": g_conv_transpose,
    "MaxPool": g_maxpool, "AveragePool": g_averagepool, "BatchNormalization": g_batchnorm, "LRN": g_lrn,
    "Concat": g_concat, "Split": g_split, "Transpose": g_transpose, "Reshape": g_reshape, "Flatten": g_flatten,
    "Squeeze": g_squeeze, "Unsqueeze": g_unsqueeze, "Pad": g_pad, "Slice": g_slice, "Gather": g_gather,
    "Tile": g_tile, "Expand": g_expand, "Clip": g_clip, "Dropout": g_dropout, "Constant": g_constant,
    "ConstantOfShape": g_constant_of_shape, "Shape": g_shape, "Cast": g_cast, "CastLike": g_castlike,
    "Range": g_range,
}


# ---------------------------------------------------------------- making one graph

def first_input_shape(rng: np.random.Generator) -> tuple[int, ...]:
    rank = int(rng.choice([2, 3, 4, 4, 5]))
    while True:
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 5))) + tuple(
            int(rng.integers(2, 8 if rank < 5 else 5)) for _ in range(rank - 2))
        if math.prod(shape) <= 1024:
            return shape


class Cycle:
    """The operators of one opset in a seeded order, handed out round-robin so every one is
    drawn about equally often."""

    def __init__(self, ops: list[str], rng: np.random.Generator):
        self.order = [ops[i] for i in rng.permutation(len(ops))]
        self.pos = 0
        self.pending: list[str] = []  # drawn but fitting no tensor: drawn first in the next graph
        self.strikes: dict[str, int] = defaultdict(int)

    def next(self) -> str:
        op = self.order[self.pos % len(self.order)]
        self.pos += 1
        return op

    def take_pending(self) -> list[str]:
        taken, self.pending = self.pending, []
        return taken

    def fitted(self, op: str) -> None:
        self.strikes[op] = 0

    def unfit(self, op: str) -> None:
        """Retried in up to 3 further graphs, then left to the next round of the cycle."""
        self.strikes[op] += 1
        if self.strikes[op] <= 3 and op not in self.pending:
            self.pending.append(op)


def generate(opset: int, seed: int, index: int, attempt: int, ops: list[str], cycle: Cycle,
             listed: set[str]) -> Graph:
    rng = np.random.default_rng([seed, opset, index, attempt])
    g = Graph(opset, rng, budget=int(rng.integers(3, 9)), listed=listed)
    x = g.feed(first_input_shape(rng))
    g.pool.append(x)
    g.dynamic = bool(rng.random() < 0.25)
    retry = cycle.take_pending()
    tries = 0
    while len(g.nodes) < g.budget and tries < 40:
        tries += 1
        op = retry.pop(0) if retry else cycle.next() if tries <= 2 * g.budget else g.choice(ops)
        # the newest tensor first (a chain), then earlier ones (a DAG)
        first = len(g.pool) - 1 if g.p(0.6) else int(rng.integers(len(g.pool)))
        for src in [g.pool[first]] + [g.pool[int(i)] for i in rng.permutation(len(g.pool))[:3]]:
            cp = g.checkpoint()
            try:
                (GENERATORS.get(op) or MOTIFS[op])(g, src)
                cycle.fitted(op)
                break
            except Reject:
                g.restore(cp)
        else:
            if tries <= 2 * g.budget:
                cycle.unfit(op)
    if len(g.nodes) < 3:
        raise Reject("fewer than 3 nodes")
    return g


# ---------------------------------------------------------------- onnxruntime

def ort_newest_opset() -> int:
    import onnxruntime as ort

    for opset in range(onnx.defs.onnx_opset_version(), 6, -1):
        g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "probe",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)],
                              ir_version=helper.find_min_ir_version_for([helper.make_opsetid("", opset)]))
        try:
            ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
            return opset
        except Exception:  # noqa: BLE001
            continue
    return 0


def lowered(model: onnx.ModelProto, opset: int) -> onnx.ModelProto:
    """The same nodes at an older opset, when each node means the same there (see the docstring)."""
    for n in model.graph.node:
        new = onnx.defs.get_schema(n.op_type, model.opset_import[0].version)
        try:
            old = onnx.defs.get_schema(n.op_type, opset)
        except onnx.defs.SchemaError:
            raise Reject(f"{n.op_type} is not in opset {opset}") from None
        if new.since_version != old.since_version and (
                [i.name for i in new.inputs] != [i.name for i in old.inputs]
                or [o.name for o in new.outputs] != [o.name for o in old.outputs]
                or any(a.name not in old.attributes for a in n.attribute)):
            raise Reject(f"{n.op_type}-{new.since_version} differs from {n.op_type}-{old.since_version}")
    m = onnx.ModelProto()
    m.CopyFrom(model)
    m.opset_import[0].version = opset
    m.ir_version = helper.find_min_ir_version_for([helper.make_opsetid("", opset)])
    return m


REFERENCE_DOMAIN = "bnc.reference"


def with_function_body(model: onnx.ModelProto, op: str) -> onnx.ModelProto:
    """The model with each `op` node replaced by a call of ONNX's function body for it (for an
    operator onnxruntime has no kernel for: Swish-24 in onnxruntime 1.31). Attributes the node
    leaves out get the schema's defaults, which the body refers to."""
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    schema = onnx.defs.get_schema(op, opset)
    if not schema.has_function:
        raise Reject(f"onnxruntime has no {op} kernel and {op}-{schema.since_version} no function body")
    m = onnx.ModelProto()
    m.CopyFrom(model)
    body = onnx.FunctionProto()
    body.CopyFrom(schema.function_body)
    body.domain = REFERENCE_DOMAIN
    if any(o.version > opset for o in body.opset_import if o.domain in ("", "ai.onnx")):
        raise Reject(f"the function body of {op} needs a newer opset than {opset}")
    for n in m.graph.node:
        if n.op_type == op and n.domain in ("", "ai.onnx"):
            n.domain = REFERENCE_DOMAIN
            given = {a.name for a in n.attribute}
            for name, a in schema.attributes.items():
                if name not in given and a.default_value.type:
                    n.attribute.append(a.default_value)
    m.functions.append(body)
    m.opset_import.append(helper.make_opsetid(REFERENCE_DOMAIN, 1))
    return m


def run_ort(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    ort.set_default_logger_severity(4)  # the refusals are counted, not printed
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 4
    sess = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))


# ---------------------------------------------------------------- cases

@dataclass
class Case:
    name: str
    opset: int
    ops: list[str]  # "Op-version", sorted
    model: onnx.ModelProto
    feeds: dict[str, np.ndarray]
    expected: dict[str, np.ndarray]
    outcome: str = ""
    reason: str = ""
    error: float = 0.0  # max |bnc − ort| / max(1, |ort|) over the outputs
    folder: Path | None = None
    bodies: list[str] = field(default_factory=list)  # operators onnxruntime ran as ONNX function bodies


def make_cases(opset: int, seed: int, count: int, ops: list[str], listed: set[str], ort_max: int,
               regenerated: dict[str, int]) -> list[Case]:
    cycle = Cycle(ops, np.random.default_rng([seed, opset]))
    cases = []
    for index in range(count):
        for attempt in range(50):
            try:
                g = generate(opset, seed, index, attempt, ops, cycle, listed)
            except Reject as e:
                regenerated[f"generator: {e}"] += 1
                continue
            model = g.model()
            try:
                onnx.checker.check_model(model, full_check=True)
            except Exception as e:  # noqa: BLE001
                regenerated[f"onnx checker: {re.sub(r'[0-9]+', '#', str(e).splitlines()[0])[:100]}"] += 1
                continue
            feeds = {v.name: x for v, x in g.inputs}
            try:
                reference = model if opset <= ort_max else lowered(model, ort_max)
            except Reject as e:
                regenerated[f"not comparable at opset {ort_max}: {e}"] += 1
                continue
            bodies: list[str] = []
            try:
                for _ in range(4):
                    try:
                        expected = run_ort(reference, feeds)
                        break
                    except Exception as e:  # noqa: BLE001
                        missing = re.search(r"Could not find an implementation for (\w+)\(", str(e))
                        if not missing or missing.group(1) in bodies:
                            raise
                        bodies.append(missing.group(1))
                        reference = with_function_body(reference, missing.group(1))
            except Reject as e:
                regenerated[f"no reference: {e}"] += 1
                continue
            except Exception as e:  # noqa: BLE001
                text = re.sub(r"\s+", " ", str(e))
                text = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", text)
                regenerated[f"onnxruntime: {re.sub(r'[0-9_]+', '#', text)[:110]}"] += 1
                continue
            wrong = [o for o, y in expected.items() if y.shape != g.values[o].shape]
            if wrong:  # the reference contradicts ONNX's own shape inference: not a reference
                op = next(n.op_type for n in g.nodes if wrong[0] in n.output)
                regenerated[f"onnxruntime's output shapes differ from onnx shape inference (first: of a {op})"] += 1
                continue
            cases.append(Case(f"o{opset}-g{index:03d}", opset, sorted(g.ops), model, feeds, expected,
                              bodies=[f"{op}-{g.v(op)}" for op in bodies]))
            break
        else:
            raise RuntimeError(f"opset {opset}, graph {index}: no valid graph in 50 attempts")
    return cases


# ---------------------------------------------------------------- bnc

# bnc's refusals of an operator, a version or an opset (BNCOps Registry, BNCGraph validator):
# for the operators `bnc operators --opset K` lists these are failures, not refusals.
UNSUPPORTED = re.compile(r"operator '[^']*' is not supported|opset \d+ is not supported|domain '[^']*' is not "
                         r"supported|first appears in opset|is not produced by")


def compare(got: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> tuple[str, float]:
    """"" when every output matches; else the first difference. Also the largest error."""
    worst = 0.0
    for name, want in expected.items():
        if name not in got:
            return f"output '{name}' missing (bnc wrote {sorted(got)})", worst
        y = got[name]
        if y.shape != want.shape:
            return f"output '{name}' has shape {list(y.shape)}, onnxruntime {list(want.shape)}", worst
        if y.dtype != want.dtype:
            return f"output '{name}' is {y.dtype}, onnxruntime {want.dtype}", worst
        if want.dtype.kind != "f":
            if not np.array_equal(y, want):
                return f"output '{name}' differs (integers: exactly equal expected)", worst
            continue
        a, b = y.astype(np.float64), want.astype(np.float64)
        finite = np.isfinite(b)
        same_nonfinite = np.array_equal(np.isnan(a), np.isnan(b)) and np.array_equal(a[np.isinf(b)], b[np.isinf(b)])
        if not same_nonfinite or not np.isfinite(a[finite]).all():
            return f"output '{name}' differs in its non-finite values", math.inf
        err = np.zeros_like(b)
        err[finite] = np.abs(a[finite] - b[finite]) / np.maximum(1.0, np.abs(b[finite]))
        e = float(err.max()) if err.size else 0.0
        worst = max(worst, e)
        if e > RTOL:
            i = np.unravel_index(int(err.argmax()), err.shape)
            return (f"output '{name}' differs: at {list(map(int, i))} bnc {y[i].item()!r}, onnxruntime "
                    f"{want[i].item()!r} (error {e:.3g} > {RTOL:g})"), worst
    return "", worst


def run_bnc(case: Case, bnc: str, work: Path, timeout: float) -> Case:
    folder = work / f"opset{case.opset}" / case.name
    folder.mkdir(parents=True, exist_ok=True)
    case.folder = folder
    onnx.save(case.model, str(folder / "model.onnx"))
    args = [bnc, "infer", "model.onnx"]
    for name, x in case.feeds.items():
        np.save(folder / f"{name}.npy", x)
        args += ["--input", f"{name}={name}.npy"]
    args += ["--output", "out.npz", "--quiet"]
    np.savez(folder / "ort.npz", **case.expected)
    (folder / "command").write_text(f"cd {shlex.quote(str(folder))} && {shlex.join(args)}\n")
    try:
        r = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=folder)
    except subprocess.TimeoutExpired:
        case.outcome, case.reason = "failed", f"bnc infer took more than {timeout:.0f} s"
        return case
    err = r.stderr.strip()
    if r.returncode == 2:
        lines = err.splitlines()
        if len(lines) != 1:
            case.outcome, case.reason = "failed", f"refused with {len(lines)} lines on stderr (one expected): {err[:300]}"
        elif UNSUPPORTED.search(lines[0]):
            case.outcome, case.reason = "failed", f"refuses an operator, version or opset it lists: {lines[0]}"
        else:
            case.outcome, case.reason = "refused", lines[0]
        return case
    if r.returncode != 0:
        case.outcome = "failed"
        case.reason = f"bnc infer exited {r.returncode}: {(err.splitlines() or [''])[-1][:300]}"
        return case
    try:
        with np.load(folder / "out.npz") as z:
            got = {k: z[k] for k in z.files}
    except Exception as e:  # noqa: BLE001
        case.outcome, case.reason = "failed", f"cannot read out.npz: {e}"
        return case
    case.reason, case.error = compare(got, case.expected)
    case.outcome = "failed" if case.reason else "passed"
    return case


def bnc_versions(bnc: str, opset: int) -> dict[str, int]:
    """`bnc operators --opset K`: operator → the version it runs at K."""
    r = subprocess.run([bnc, "operators", "--opset", str(opset)], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"bnc operators --opset {opset} exited {r.returncode}: {r.stderr.strip()[:200]}")
    versions = {}
    for line in r.stdout.splitlines():
        m = re.fullmatch(r"(\w+)\s+version (\d+)\s*", line)
        if m:
            versions[m.group(1)] = int(m.group(2))
    return versions


def read_known(path: str | None) -> dict[str, str]:
    known = dict(KNOWN_FAILURES)
    if path:
        for line in Path(path).read_text().splitlines():
            entry, _, why = line.partition("#")
            if entry.strip():
                known[entry.strip()] = why.strip()
    return known


# ---------------------------------------------------------------- report

def summarize(cases: list[Case], registry: list[str], regenerated: dict[str, int], opsets: list[int]) -> dict:
    per_opset = {}
    for k in opsets:
        cs = [c for c in cases if c.opset == k]
        per_opset[k] = {o: sum(c.outcome == o for c in cs) for o in ("passed", "refused", "failed", "known")}
        per_opset[k]["graphs"] = len(cs)
        per_opset[k]["nodes"] = sum(len(c.model.graph.node) for c in cs)
    per_op: dict[str, dict] = defaultdict(lambda: {"graphs": 0, "passed": 0, "refused": 0, "failed": 0, "known": 0,
                                                   "opsets": set(), "max_error": 0.0})
    for c in cases:
        for op in c.ops:
            e = per_op[op]
            e["graphs"] += 1
            e[c.outcome] += 1
            e["opsets"].add(c.opset)
            if c.outcome == "passed":
                e["max_error"] = max(e["max_error"], c.error)
    return {"per_opset": per_opset, "per_operator": dict(per_op), "registry": registry,
            "regenerated": dict(regenerated)}


def print_report(s: dict, cases: list[Case], untested: dict[int, list[str]]) -> None:
    print(f"{'opset':>5} {'graphs':>7} {'nodes':>6} {'passed':>7} {'refused':>8} {'failed':>7} {'known':>6}")
    for k, e in s["per_opset"].items():
        print(f"{k:>5} {e['graphs']:>7} {e['nodes']:>6} {e['passed']:>7} {e['refused']:>8} {e['failed']:>7} {e['known']:>6}")
    print(f"\n{'operator-version':<24}{'opsets':<22}{'graphs':>7}{'passed':>7}{'refused':>8}{'failed':>7}  largest error")
    for op in sorted(s["per_operator"], key=lambda o: (o.split("-")[0], int(o.split("-")[1]))):
        e = s["per_operator"][op]
        opsets = ",".join(map(str, sorted(e["opsets"])))
        print(f"{op:<24}{opsets:<22}{e['graphs']:>7}{e['passed']:>7}{e['refused']:>8}{e['failed'] + e['known']:>7}"
              f"  {e['max_error']:.1e}")
    for k, ops in untested.items():
        if ops:
            print(f"opset {k}: listed by bnc, in no graph: {' '.join(ops)}")
    bodies = defaultdict(int)
    for c in cases:
        for op in c.bodies:
            bodies[op] += 1
    if bodies:
        print("\nonnxruntime has no kernel for " + ", ".join(f"{op} (in {n} graphs)" for op, n in sorted(bodies.items()))
              + ": it ran ONNX's function body for it")
    if s["regenerated"]:
        print(f"\nregenerated ({sum(s['regenerated'].values())}):")
        for reason, n in sorted(s["regenerated"].items(), key=lambda kv: -kv[1]):
            print(f"  {n:>4}  {reason}")
    for kind in ("failed", "known", "refused"):
        cs = [c for c in cases if c.outcome == kind]
        if cs:
            print(f"\n{kind} ({len(cs)}):")
            for c in cs:
                print(f"  {c.name} [{' '.join(c.ops)}]: {c.reason}")
    for line in s["registry"]:
        print(f"registry: {line}")
    total = {o: sum(c.outcome == o for c in cases) for o in ("passed", "refused", "failed", "known")}
    print(f"\nrandom graphs: {len(cases)} graphs, {total['passed']} passed, {total['refused']} refused, "
          f"{total['failed'] + len(s['registry'])} failed, {total['known']} known failures; tolerance "
          f"|bnc − ort| ≤ {RTOL:g}·max(1, |ort|)")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="tools/check/random-graphs", description=__doc__.split("\n\n")[0])
    p.add_argument("--bnc", default=str(REPO / ".build" / "debug" / "bnc"))
    p.add_argument("--seed", type=int, default=15)
    p.add_argument("--count", type=int, default=50, help="graphs per opset")
    p.add_argument("--opsets", default=",".join(map(str, OPSETS)))
    p.add_argument("--operators", help="draw only these operators (names separated by commas)")
    p.add_argument("--work", help="the folder for the cases (default: a temporary folder)")
    p.add_argument("--keep", action="store_true", help="keep the failing and refused cases in --work")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--json", help="write the report as JSON to this file")
    p.add_argument("--known-failures", help="a file of known failures, one a line: Op-version or s<seed>/<case> (# comments)")
    args = p.parse_args(argv[1:])
    bnc = str(Path(args.bnc).resolve())
    if not os.access(bnc, os.X_OK):
        print(f"random-graphs: {bnc} is not an executable; build bnc or give --bnc", file=sys.stderr)
        return 2
    try:
        opsets = [int(k) for k in args.opsets.split(",") if k.strip()]
    except ValueError:
        print(f"random-graphs: --opsets {args.opsets!r} is not a list of numbers", file=sys.stderr)
        return 2
    if not opsets or any(not 7 <= k <= onnx.defs.onnx_opset_version() for k in opsets) or args.count < 1:
        print(f"random-graphs: opsets must be in 7…{onnx.defs.onnx_opset_version()} and --count ≥ 1", file=sys.stderr)
        return 2
    wanted = {o.strip() for o in args.operators.split(",")} if args.operators else None
    if wanted and wanted - set(GENERATORS):
        print(f"random-graphs: no generator for {', '.join(sorted(wanted - set(GENERATORS)))}", file=sys.stderr)
        return 2
    known = read_known(args.known_failures)
    started = time.monotonic()
    ort_max = ort_newest_opset()
    registry: list[str] = []
    regenerated: dict[str, int] = defaultdict(int)
    cases: list[Case] = []
    untested: dict[int, list[str]] = {}
    for k in opsets:
        listed = bnc_versions(bnc, k)
        for op, v in sorted(listed.items()):
            try:
                onnx_v = onnx.defs.get_schema(op, k).since_version
            except onnx.defs.SchemaError:
                onnx_v = None
            if onnx_v != v:
                registry.append(f"opset {k}: bnc runs {op}-{v}, onnx's schema selects {op}-{onnx_v}")
        missing = sorted(set(listed) - set(GENERATORS))
        if missing and not wanted:
            registry.append(f"opset {k}: no generator for {', '.join(missing)} (add one to GENERATORS)")
        ops = sorted(op for op in listed if op in GENERATORS and (wanted is None or op in wanted))
        if wanted is None:
            ops += sorted(MOTIFS)
        if not ops:
            continue
        made = make_cases(k, args.seed, args.count, ops, set(listed), ort_max, regenerated)
        cases += made
        drawn = {o.split("-")[0] for c in made for o in c.ops}
        untested[k] = [op for op in ops if op not in drawn and op not in MOTIFS]
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bnc-random-graphs-"))
    work.mkdir(parents=True, exist_ok=True)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        list(pool.map(lambda c: run_bnc(c, bnc, work, args.timeout), cases))
    for c in cases:
        keys = [k for k in [*c.ops, f"s{args.seed}/{c.name}"] if k in known]
        if c.outcome == "failed" and keys:
            c.outcome = "known"
            c.reason += " (known: " + "; ".join(f"{k}: {known[k]}" for k in keys) + ")"
    for c in cases:
        if c.folder and (c.outcome == "passed" or not args.keep):
            shutil.rmtree(c.folder, ignore_errors=True)
    summary = summarize(cases, registry, regenerated, opsets)
    print(f"onnx {onnx.__version__}, onnxruntime {__import__('onnxruntime').__version__} (newest opset {ort_max}), "
          f"seed {args.seed}, {args.count} graphs per opset, bnc {bnc}")
    print_report(summary, cases, untested)
    print(f"time: {time.monotonic() - started:.1f} s")
    if args.keep and any(c.outcome != "passed" for c in cases):
        print(f"kept the failing and refused cases under {work} (each folder's `command` reruns bnc)")
    elif not args.work:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        per_op = {op: {**e, "opsets": sorted(e["opsets"])} for op, e in summary["per_operator"].items()}
        Path(args.json).write_text(json.dumps({
            "onnx": onnx.__version__, "onnxruntime": __import__("onnxruntime").__version__, "ort_opset": ort_max,
            "seed": args.seed, "count": args.count, "opsets": opsets, "tolerance": RTOL,
            "per_opset": summary["per_opset"], "per_operator": per_op, "registry": registry,
            "regenerated": summary["regenerated"], "untested": untested,
            "cases": [{"name": c.name, "opset": c.opset, "operators": c.ops, "outcome": c.outcome,
                       "reason": c.reason, "error": c.error} for c in cases],
        }, indent=1) + "\n")
    failed = any(c.outcome == "failed" for c in cases) or bool(registry)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
