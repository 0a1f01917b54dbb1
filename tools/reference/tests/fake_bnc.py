#!/usr/bin/env python3
"""A stand-in for the bnc binary, implementing only the contracts tools/check/e2e relies on, so the
script can be tested before bnc's commands exist. Not a model of bnc's behaviour otherwise.

  train --data DIR --arch mlp|cnn --epochs E --limit L -o OUT   (untrained seeded weights)
  inspect M [--json]
  fold M -o OUT [--data IMAGES] [--json]                       (tests/reference_fold.py)
  infer M IMAGES --json                                        (onnxruntime)
  convert M -o OUT                                             (re-save, for e2e --resave)

FAKE_BNC_BREAK=fold|infer makes that command subtly wrong (a weight or an output off by 1e-3),
to check that e2e notices. `--help` lists the subcommands the way swift-argument-parser does;
FAKE_BNC_COMMANDS="inspect convert" limits that list (for e2e's handling of missing commands).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

TESTS = Path(__file__).resolve().parent
sys.path[:0] = [str(TESTS.parent), str(TESTS.parent.parent / "fixtures"), str(TESTS)]

import make_onnx_fixtures as fx  # noqa: E402
import ort_compare  # noqa: E402
from reference_fold import reference_fold  # noqa: E402

BREAK = os.environ.get("FAKE_BNC_BREAK", "")
COMMANDS = os.environ.get("FAKE_BNC_COMMANDS", "train inspect fold infer convert").split()


def train(args: argparse.Namespace) -> None:
    if not Path(args.data).is_dir():
        sys.exit(f"bnc: {args.data}: no such folder")
    if args.arch == "cnn":
        model = fx.rt_conv()
    else:
        rng = np.random.default_rng(7)
        nodes = [helper.make_node("Gemm", ["input", "fc1.W", "fc1.b"], ["h1"], name="fc1", transB=1),
                 fx.bn_node("bn1", "h1", "h2", "bn1"),
                 helper.make_node("Relu", ["h2"], ["h3"], name="relu1"),
                 helper.make_node("Gemm", ["h3", "fc2.W", "fc2.b"], ["logits"], name="fc2", transB=1),
                 helper.make_node("Softmax", ["logits"], ["output"], name="softmax", axis=1)]
        inits = [fx.tensor("fc1.W", fx.weights(rng, 16, 784, scale=0.05), "raw_data"),
                 fx.tensor("fc1.b", fx.weights(rng, 16), "raw_data"),
                 *fx.bn_inits("bn1", fx.bn_stats(rng, 16), "raw_data"),
                 fx.tensor("fc2.W", fx.weights(rng, 10, 16), "raw_data"),
                 fx.tensor("fc2.b", fx.weights(rng, 10), "raw_data")]
        model = fx.model("mlp", nodes, inits, [fx.value("input", ["N", 784])],
                         [fx.value("output", ["N", 10])], "fake bnc mlp",
                         {"bnc.input.scaling": "x/255"})
    onnx.save(model, args.o)


def inspect(args: argparse.Namespace) -> None:
    model = onnx.load(args.model)
    nodes = [{"name": n.name, "op": n.op_type, "inputs": list(n.input), "outputs": list(n.output)}
             for n in model.graph.node]
    if args.json:
        print(json.dumps({"nodes": nodes}))
    else:
        for n in nodes:
            print(f"{n['name']:12} {n['op']:20} {', '.join(n['inputs'])} -> {', '.join(n['outputs'])}")


def fold(args: argparse.Namespace) -> None:
    folded, report = reference_fold(onnx.load(args.model))
    if BREAK == "fold":
        t = folded.graph.initializer[0]
        a = numpy_helper.to_array(t).copy()
        a.flat[0] += 1e-3
        t.CopyFrom(numpy_helper.from_array(a, t.name))
    onnx.save(folded, args.o)
    print(json.dumps(report) if args.json else f"folded {len(report['folded'])} BN")


def infer(args: argparse.Namespace) -> None:
    out, _ = ort_compare.run_ort(args.model, args.images, 1000)
    if BREAK == "infer":
        out[0, 0] += 1e-3
    print(json.dumps({"images": len(out), "predictions": out.argmax(1).tolist(),
                      "outputs": out.tolist()}))


def convert(args: argparse.Namespace) -> None:
    onnx.save(onnx.load(args.model), args.o)


def main() -> None:
    if sys.argv[1:] in (["--help"], ["-h"]):
        print("OVERVIEW: fake bnc for tests\n\nUSAGE: bnc <subcommand>\n\nSUBCOMMANDS:")
        for name in COMMANDS:
            print(f"  {name:24}the fake {name}")
        return
    if len(sys.argv) > 1 and sys.argv[1] not in COMMANDS:
        sys.exit(f"Error: Unexpected argument '{sys.argv[1]}'")
    parser = argparse.ArgumentParser(prog="bnc")
    sub = parser.add_subparsers(required=True)
    p = sub.add_parser("train")
    p.add_argument("--data", required=True)
    p.add_argument("--arch", default="mlp")
    p.add_argument("--epochs", type=int)
    p.add_argument("--limit", type=int)
    p.add_argument("-o", required=True)
    p.set_defaults(run=train)
    p = sub.add_parser("inspect")
    p.add_argument("model")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=inspect)
    p = sub.add_parser("fold")
    p.add_argument("model")
    p.add_argument("-o", required=True)
    p.add_argument("--data")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=fold)
    p = sub.add_parser("infer")
    p.add_argument("model")
    p.add_argument("images")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=infer)
    p = sub.add_parser("convert")
    p.add_argument("model")
    p.add_argument("-o", required=True)
    p.set_defaults(run=convert)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
