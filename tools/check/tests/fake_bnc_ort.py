#!/usr/bin/env python3
"""A stand-in for bnc built on onnxruntime, implementing only what tools/check/conformance uses:

  --help                                             lists operators ("operators: A, B, ...")
  operators                                          one operator a line ("A   versions 1, 13")
  operators --opset K                                the version each has at K, as onnx's schema
                                                     selects it ("A   version 13", "B   not in opset K")
  infer MODEL --input NAME=FILE ... --output OUT.npz [--quiet]

Models of an opset newer than onnxruntime's run with the opset import lowered to its newest
(tools/check/random-graphs only writes such models when that changes nothing).

FILE is .npy (numpy) or a serialized TensorProto (.pb); OUT.npz gets every graph output under
its name. To check that the runner notices, these make the fake wrong for models using an
operator: FAKE_BNC_BREAK=Op (first output off by 1 %), FAKE_BNC_REFUSE=Op (one line on stderr,
exit 2, as bnc refuses an attribute), FAKE_BNC_MULTILINE=Op (a refusal of two lines),
FAKE_BNC_DROP=Op (the first output missing), FAKE_BNC_DTYPE=Op (float outputs as float64),
FAKE_BNC_SCALE=Op:r (float outputs times 1 + r), FAKE_BNC_UNKNOWN=Op (a one-line refusal of the
operator as unknown), FAKE_BNC_CRASH=Op (dies of SIGABRT), FAKE_BNC_VERSION=Op:v (`operators
--opset` gives version v for Op).
FAKE_BNC_OPERATORS="A B" sets the list --help and operators print; FAKE_BNC_NO_REGISTRY=1 makes
`operators` an unknown command (an older bnc).
"""
from __future__ import annotations

import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper


def uses(model: onnx.ModelProto, variable: str) -> bool:
    op = os.environ.get(variable, "")
    return bool(op) and any(n.op_type == op for n in model.graph.node)


def infer(argv: list[str]) -> int:
    model_path = argv[0]
    feeds, out = {}, None
    i = 1
    while i < len(argv):
        if argv[i] == "--input":
            name, _, path = argv[i + 1].partition("=")
            feeds[name] = np.load(path) if path.endswith(".npy") else numpy_helper.to_array(onnx.load_tensor(path))
            i += 2
        elif argv[i] == "--output":
            out = argv[i + 1]
            i += 2
        else:
            i += 1
    model = onnx.load(model_path)
    if uses(model, "FAKE_BNC_REFUSE"):
        print(f"bnc: {model_path}: node '{model.graph.node[0].name}' ({model.graph.node[0].op_type}): attribute 'x' is not supported", file=sys.stderr)
        return 2
    if uses(model, "FAKE_BNC_MULTILINE"):
        print(f"bnc: {model_path}: refused\nsecond line", file=sys.stderr)
        return 2
    if uses(model, "FAKE_BNC_UNKNOWN"):
        op = os.environ["FAKE_BNC_UNKNOWN"]
        print(f"bnc: {model_path}: node 'n' ({op}): operator '{op}' is not supported; bnc runs Abs", file=sys.stderr)
        return 2
    if uses(model, "FAKE_BNC_CRASH"):
        os.abort()
    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        sess = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
    except Exception:  # noqa: BLE001 - an opset newer than onnxruntime's: lower it
        sess = None
        for opset in range(max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) - 1, 20, -1):
            for o in model.opset_import:
                if o.domain in ("", "ai.onnx"):
                    o.version = opset
            model.ir_version = 10
            try:
                sess = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
                break
            except Exception:  # noqa: BLE001
                continue
        if sess is None:
            raise
    results = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
    first = model.graph.output[0].name
    if uses(model, "FAKE_BNC_BREAK") and results[first].dtype.kind == "f":
        results[first] = results[first] * np.float32(1.01) + np.float32(0.01)
    if uses(model, "FAKE_BNC_DROP"):
        del results[first]
    scale = os.environ.get("FAKE_BNC_SCALE", "")
    if scale and any(n.op_type == scale.split(":")[0] for n in model.graph.node):
        r = np.float32(1 + float(scale.split(":")[1]))
        results = {k: v * r if v.dtype == np.float32 else v for k, v in results.items()}
    if uses(model, "FAKE_BNC_DTYPE"):
        results = {k: v.astype(np.float64) if v.dtype == np.float32 else v for k, v in results.items()}
    np.savez(out, **results)
    return 0


def main(argv: list[str]) -> int:
    if argv[1:2] in (["--help"], ["-h"]):
        ops = os.environ.get("FAKE_BNC_OPERATORS", "Relu Add").split()
        print(f"OVERVIEW: fake bnc.\n\nbnc reads ONNX files that use its operators: {', '.join(ops)}.\n")
        return 0
    if argv[1:3] == ["operators", "--opset"] and not os.environ.get("FAKE_BNC_NO_REGISTRY"):
        import onnx.defs

        opset = int(argv[3])
        wrong = os.environ.get("FAKE_BNC_VERSION", ":").split(":")
        for op in os.environ.get("FAKE_BNC_OPERATORS", "Relu Add").split():
            try:
                v = onnx.defs.get_schema(op, opset).since_version
                print(f"{op:<20}version {wrong[1] if op == wrong[0] else v}")
            except onnx.defs.SchemaError:
                print(f"{op:<20}not in opset {opset}")
        return 0
    if argv[1:2] == ["operators"] and not os.environ.get("FAKE_BNC_NO_REGISTRY"):
        for op in os.environ.get("FAKE_BNC_OPERATORS", "Relu Add").split():
            print(f"{op:<20}versions 1, 13")
        return 0
    if argv[1:2] == ["infer"]:
        return infer(argv[2:])
    print(f"fake bnc: unsupported arguments {argv[1:]}", file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv))
