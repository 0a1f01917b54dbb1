#!/usr/bin/env python3
"""Self-test of tools/check/random_graphs.py: the generator writes each operator in the form of
the version the opset selects, valid for onnx's checker, deterministically; the runner, against a
fake bnc made of onnxruntime (fake_bnc_ort.py), passes a correct runtime and fails wrong values
(just beyond the tolerance), missing outputs, crashes and refusals of listed operators, while a
one-line refusal of an attribute is counted as refused.

  .venv/bin/python tools/check/tests/test_random_graphs.py
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
import unittest
from collections import defaultdict
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS.parent))

import random_graphs as rg  # noqa: E402
from fake_bnc import make_fake_bnc  # noqa: E402

# Cheap operators of every kind the runner handles, at two forms each where versions differ.
OPERATORS = "Relu,Add,Mul,Clip,Unsqueeze,Conv,MaxPool,Softmax,Reshape,Transpose,Concat,Slice"


def node_forms(op: str, opset: int, graphs: int = 30) -> list[onnx.NodeProto]:
    """The `op` nodes of graphs drawn from `op` alone (plus what it needs) at `opset`."""
    listed = {o for o in rg.GENERATORS if rg.Graph(opset, np.random.default_rng(0), 1, set()).has(o)}
    cycle = rg.Cycle([op], np.random.default_rng(0))
    nodes = []
    for i in range(graphs):
        try:
            g = rg.generate(opset, 1, i, 0, [op], cycle, listed)
        except rg.Reject:
            continue
        nodes += [n for n in g.nodes if n.op_type == op]
    return nodes


def attrs(n: onnx.NodeProto) -> set[str]:
    return {a.name for a in n.attribute}


class Generator(unittest.TestCase):
    def test_each_operator_takes_the_form_of_the_version_its_opset_selects(self) -> None:
        # (operator, opset, attributes it may have, what its inputs must look like)
        for op, opset, check in [
            ("Clip", 7, lambda n: len(n.input) == 1 and attrs(n) <= {"min", "max"}),
            ("Clip", 13, lambda n: not attrs(n) and 1 <= len(n.input) <= 3),
            ("Unsqueeze", 9, lambda n: "axes" in attrs(n) and len(n.input) == 1),
            ("Unsqueeze", 13, lambda n: not attrs(n) and len(n.input) == 2),
            ("Squeeze", 11, lambda n: len(n.input) == 1),
            ("Squeeze", 17, lambda n: "axes" not in attrs(n)),
            ("Pad", 9, lambda n: "pads" in attrs(n) and len(n.input) == 1),
            ("Pad", 13, lambda n: "pads" not in attrs(n) and len(n.input) >= 2),
            ("Dropout", 9, lambda n: len(n.input) == 1),
            ("Dropout", 13, lambda n: "ratio" not in attrs(n)),
            ("Split", 11, lambda n: len(n.input) == 1 and "num_outputs" not in attrs(n)),
            ("Split", 13, lambda n: "split" not in attrs(n) and "num_outputs" not in attrs(n)),
            ("Split", 21, lambda n: "split" not in attrs(n) and (len(n.input) == 2) != ("num_outputs" in attrs(n))),
            ("Slice", 9, lambda n: {"starts", "ends"} <= attrs(n) and len(n.input) == 1),
            ("Slice", 13, lambda n: not attrs(n) and len(n.input) >= 3),
            ("ReduceMean", 13, lambda n: len(n.input) == 1),
            ("ReduceMean", 21, lambda n: "axes" not in attrs(n)),
            ("Reshape", 11, lambda n: "allowzero" not in attrs(n)),
            ("BatchNormalization", 9, lambda n: "spatial" not in attrs(n) and "training_mode" not in attrs(n)),
            ("MaxPool", 9, lambda n: not attrs(n) & {"ceil_mode", "dilations"}),
            ("AveragePool", 17, lambda n: "dilations" not in attrs(n)),
        ]:
            nodes = node_forms(op, opset)
            self.assertTrue(nodes, f"{op} at opset {opset}: no node drawn")
            for n in nodes:
                self.assertTrue(check(n), f"{op} at opset {opset}: {n}")

    def test_the_newer_forms_appear_where_they_exist(self) -> None:
        seen: dict[tuple[str, int], set[str]] = defaultdict(set)
        inputs: dict[tuple[str, int], set[int]] = defaultdict(set)
        for op, opset in [("BatchNormalization", 7), ("BatchNormalization", 17), ("Reshape", 17),
                          ("MaxPool", 13), ("AveragePool", 21), ("Split", 21), ("Clip", 7), ("Clip", 13),
                          ("Unsqueeze", 9), ("Pad", 9), ("Pad", 21), ("Slice", 9), ("Slice", 13)]:
            for n in node_forms(op, opset, 60):
                seen[(op, opset)] |= attrs(n)
                inputs[(op, opset)].add(len(n.input))
        self.assertEqual(seen[("Clip", 7)], {"min", "max"})
        self.assertIn(3, inputs[("Clip", 13)])
        self.assertIn("axes", seen[("Unsqueeze", 9)])
        self.assertTrue({"pads", "mode", "value"} <= seen[("Pad", 9)])
        self.assertIn(4, inputs[("Pad", 21)])  # axes, from version 18
        self.assertTrue({"starts", "ends", "axes"} <= seen[("Slice", 9)])
        self.assertIn(5, inputs[("Slice", 13)])  # steps, from version 10
        self.assertIn("spatial", seen[("BatchNormalization", 7)])
        self.assertIn("training_mode", seen[("BatchNormalization", 17)])
        self.assertIn("allowzero", seen[("Reshape", 17)])
        self.assertTrue({"ceil_mode", "dilations"} <= seen[("MaxPool", 13)])
        self.assertIn("dilations", seen[("AveragePool", 21)])
        self.assertIn("num_outputs", seen[("Split", 21)])

    def test_models_pass_the_checker_with_the_opsets_ir_and_are_deterministic(self) -> None:
        ops = sorted(set(OPERATORS.split(",")))
        for opset in [7, 13, 28]:
            listed = set(ops) | {"Abs", "Sigmoid", "Flatten", "Constant"}
            regenerated: dict[str, int] = defaultdict(int)
            a = rg.make_cases(opset, 4, 3, ops, listed, rg.ort_newest_opset(), regenerated)
            # The checker never has to throw a graph away: that would hide a generator bug.
            self.assertFalse([r for r in regenerated if r.startswith("onnx checker")], regenerated)
            self.assertTrue(any(case.model.graph.initializer for case in a))
            b = rg.make_cases(opset, 4, 3, ops, listed, rg.ort_newest_opset(), defaultdict(int))
            c = rg.make_cases(opset, 5, 3, ops, listed, rg.ort_newest_opset(), defaultdict(int))
            self.assertEqual([x.model.SerializeToString() for x in a], [x.model.SerializeToString() for x in b])
            self.assertNotEqual([x.model.SerializeToString() for x in a], [x.model.SerializeToString() for x in c])
            for case in a:
                m = case.model
                onnx.checker.check_model(m, full_check=True)
                self.assertEqual(m.opset_import[0].version, opset)
                self.assertEqual(m.ir_version, {7: 3, 13: 7, 28: 14}[opset])
                self.assertTrue(3 <= len(m.graph.node) <= 8, len(m.graph.node))
                inputs = {i.name for i in m.graph.input}
                inits = {t.name for t in m.graph.initializer}
                if opset == 7:  # IR 3: every initializer is a graph input too
                    self.assertTrue(inits <= inputs)
                else:
                    self.assertFalse(inits & inputs)
                self.assertEqual(set(case.feeds), inputs - inits)

    def test_a_newer_version_than_onnxruntimes_is_lowered_only_when_it_means_the_same(self) -> None:
        def model(**attributes) -> onnx.ModelProto:
            inits = [numpy_helper.from_array(np.asarray(v, np.float32), n) for n, v in [("s", 0), ("l", 4), ("d", 1)]]
            g = helper.make_graph([helper.make_node("Range", ["s", "l", "d"], ["y"], **attributes)], "g", [],
                                  [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [4])], initializer=inits)
            return helper.make_model(g, opset_imports=[helper.make_opsetid("", 28)], ir_version=14)

        low = rg.lowered(model(), 26)  # Range-27 only adds types: the same for float32
        self.assertEqual((low.opset_import[0].version, low.ir_version), (26, 13))
        with self.assertRaisesRegex(rg.Reject, "Range-27 differs from Range-11"):
            rg.lowered(model(stash_type=1), 26)  # an attribute Range-11 does not have


class Compare(unittest.TestCase):
    def test_the_tolerance_non_finite_values_integers_shapes_and_dtypes(self) -> None:
        want = {"y": np.array([0.5, 1000.0, np.nan, -np.inf], np.float32)}
        self.assertEqual(rg.compare({"y": np.array([0.5 + 9e-5, 1000.09, np.nan, -np.inf], np.float32)}, want)[0], "")
        self.assertIn("error 0.00011", rg.compare({"y": np.array([0.5 + 1.1e-4, 1000, np.nan, -np.inf], np.float32)}, want)[0])
        self.assertIn("error 0.00011", rg.compare({"y": np.array([0.5, 1000.11, np.nan, -np.inf], np.float32)}, want)[0])
        self.assertIn("non-finite", rg.compare({"y": np.array([0.5, 1000, 0, -np.inf], np.float32)}, want)[0])
        self.assertIn("non-finite", rg.compare({"y": np.array([0.5, 1000, np.nan, np.inf], np.float32)}, want)[0])
        self.assertIn("non-finite", rg.compare({"y": np.array([np.inf, 1000, np.nan, -np.inf], np.float32)}, want)[0])
        self.assertIn("shape [2, 2]", rg.compare({"y": want["y"].reshape(2, 2)}, want)[0])
        self.assertIn("is float64", rg.compare({"y": want["y"].astype(np.float64)}, want)[0])
        self.assertIn("missing", rg.compare({}, want)[0])
        ints = {"s": np.array([2, 3], np.int64)}
        self.assertEqual(rg.compare({"s": np.array([2, 3], np.int64)}, ints)[0], "")
        self.assertIn("exactly", rg.compare({"s": np.array([2, 4], np.int64)}, ints)[0])


class Runner(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.TemporaryDirectory()
        cls.bnc = make_fake_bnc(cls.tmp.name)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.tmp.cleanup()

    def run_runner(self, *extra: str, env: dict[str, str] | None = None,
                   opsets: str = "7,13,28") -> tuple[int, str, dict]:
        report = Path(self.tmp.name) / "report.json"
        args = ["random-graphs", "--bnc", self.bnc, "--opsets", opsets, "--count", "3", "--seed", "2",
                "--json", str(report), *extra]
        old = dict(os.environ)
        os.environ.update({"FAKE_BNC_OPERATORS": OPERATORS.replace(",", " "), **(env or {})})
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                status = rg.main(args)
        finally:
            os.environ.clear()
            os.environ.update(old)
        return status, out.getvalue(), json.loads(report.read_text())

    def test_a_correct_runtime_passes_every_graph_and_the_report_counts_them(self) -> None:
        status, text, report = self.run_runner()
        self.assertEqual(status, 0, text)
        self.assertEqual({c["outcome"] for c in report["cases"]}, {"passed"}, text)
        for k in ["7", "13", "28"]:
            self.assertEqual(report["per_opset"][k]["graphs"], 3)
            self.assertEqual(report["per_opset"][k]["passed"], 3)
        self.assertRegex(text, r"\n +7 +3 +\d+ +3 +0 +0 +0\n")
        self.assertIn("random graphs: 9 graphs, 9 passed, 0 refused, 0 failed", text)
        # Every operator of a passed graph gets its largest error, under the tolerance.
        self.assertTrue(all(e["max_error"] <= rg.RTOL for e in report["per_operator"].values()))
        self.assertEqual(report["registry"], [])

    def test_a_value_just_beyond_the_tolerance_fails_naming_the_case_just_within_passes(self) -> None:
        status, text, report = self.run_runner(env={"FAKE_BNC_SCALE": "Relu:3e-4"}, opsets="13")
        relu = [c for c in report["cases"] if any(o.startswith("Relu-") for o in c["operators"])]
        self.assertTrue(relu, "no graph with a Relu")
        self.assertEqual(status, 1)
        self.assertTrue(any(c["outcome"] == "failed" and "differs" in c["reason"] for c in relu), relu)
        self.assertIn("failed (", text)
        status, text, _ = self.run_runner(env={"FAKE_BNC_SCALE": "Relu:2e-5"}, opsets="13")
        self.assertEqual(status, 0, text)

    def test_refusals_of_an_attribute_are_counted_other_refusals_and_crashes_fail(self) -> None:
        status, text, report = self.run_runner(env={"FAKE_BNC_REFUSE": "Relu"}, opsets="13")
        self.assertEqual(status, 0, text)
        refused = [c for c in report["cases"] if c["outcome"] == "refused"]
        self.assertTrue(refused)
        self.assertRegex(refused[0]["reason"], r"^bnc: model\.onnx: node '.*' \(\w+\): attribute 'x' is not supported$")
        self.assertIn("refused (", text)
        for variable, fragment in [("FAKE_BNC_UNKNOWN", "refuses an operator, version or opset it lists"),
                                   ("FAKE_BNC_MULTILINE", "refused with 2 lines"),
                                   ("FAKE_BNC_CRASH", "bnc infer exited -6"), ("FAKE_BNC_DROP", "missing")]:
            status, text, report = self.run_runner(env={variable: "Relu"}, opsets="13")
            self.assertEqual(status, 1, variable)
            reasons = [c["reason"] for c in report["cases"] if c["outcome"] == "failed"]
            self.assertTrue(reasons and all(fragment in r for r in reasons), (variable, reasons))

    def test_a_registry_version_other_than_onnxs_fails(self) -> None:
        status, text, report = self.run_runner(env={"FAKE_BNC_VERSION": "Clip:12"}, opsets="13")
        self.assertEqual(status, 1)
        self.assertEqual(report["registry"], ["opset 13: bnc runs Clip-12, onnx's schema selects Clip-13"])
        self.assertIn("registry: opset 13: bnc runs Clip-12", text)

    def test_known_failures_keep_the_run_green_and_keep_kept_cases_reproducible(self) -> None:
        known = Path(self.tmp.name) / "known.txt"
        known.write_text("Relu-14  # planted by the test\n")
        work = Path(self.tmp.name) / "work"
        status, text, report = self.run_runner("--known-failures", str(known), "--work", str(work), "--keep",
                                               env={"FAKE_BNC_SCALE": "Relu:1e-2"}, opsets="21")
        self.assertEqual(status, 0, text)
        knowns = [c for c in report["cases"] if c["outcome"] == "known"]
        self.assertTrue(knowns, text)
        self.assertIn("known: Relu-14: planted by the test", knowns[0]["reason"])
        folder = work / "opset21" / knowns[0]["name"]
        self.assertEqual(sorted(p.name for p in folder.iterdir() if p.suffix != ".npy"),
                         ["command", "model.onnx", "ort.npz", "out.npz"])
        passed = [c for c in report["cases"] if c["outcome"] == "passed"]
        self.assertTrue(all(not (work / "opset21" / c["name"]).exists() for c in passed))


if __name__ == "__main__":
    unittest.main()
