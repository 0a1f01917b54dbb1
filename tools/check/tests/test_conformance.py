#!/usr/bin/env python3
"""Self-test of tools/check/conformance.py against a fake bnc made of onnxruntime
(fake_bnc_ort.py), so the runner is tested before bnc runs these operators.

  .venv/bin/python tools/check/tests/test_conformance.py
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
import unittest
from pathlib import Path

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS.parent))

import conformance  # noqa: E402
from fake_bnc import make_fake_bnc  # noqa: E402

# A few cheap cases of several kinds: node tests, an expanded one, a dtype skip, a model test.
ONLY = ["test_relu", "test_add", "test_add_bcast", "test_add_uint8", "test_reshape_reordered_all_dims",
        "test_single_relu_model", "test_Conv2d", "test_sigmoid"]
OPERATORS = "Relu,Add,Reshape,Conv,Sigmoid"


class Runner(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.TemporaryDirectory()
        cls.bnc = make_fake_bnc(cls.tmp.name)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.tmp.cleanup()

    def run_runner(self, *extra: str, env: dict[str, str] | None = None) -> tuple[int, str, dict]:
        report = Path(self.tmp.name) / "report.json"
        args = ["conformance", "--bnc", self.bnc, "--operators", OPERATORS, "--json", str(report), *extra]
        for g in ONLY:
            args += ["--only", g]
        old = dict(os.environ)
        os.environ.update(env or {})
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                status = conformance.main(args)
        finally:
            os.environ.clear()
            os.environ.update(old)
        return status, out.getvalue(), json.loads(report.read_text())

    def outcomes(self, report: dict) -> dict[str, tuple[str, str]]:
        return {c["name"]: (c["outcome"], c["reason"]) for c in report["cases"]}

    def test_a_correct_runtime_passes_and_skips_by_reason(self) -> None:
        status, text, report = self.run_runner()
        self.assertEqual(status, 0, text)
        got = self.outcomes(report)
        for name in ["test_relu", "test_add", "test_add_bcast", "test_reshape_reordered_all_dims",
                     "test_single_relu_model", "test_Conv2d", "test_sigmoid"]:
            self.assertEqual(got[name][0], "passed", f"{name}: {got[name]}")
        self.assertEqual(got["test_add_uint8"][0], "skipped")
        self.assertIn("dtype uint8", got["test_add_uint8"][1])
        self.assertRegex(text, r"\nRelu\s+1\s+0\s+0\n")
        self.assertRegex(text, r"\nAdd\s+2\s+0\s+1\n")
        self.assertIn("[simple]", text)
        self.assertIn("conformance: 7 passed, 0 failed, 1 skipped", text)

    def test_a_wrong_output_fails_the_run_naming_the_test(self) -> None:
        status, text, report = self.run_runner(env={"FAKE_BNC_BREAK": "Relu"})
        self.assertEqual(status, 1)
        outcome, reason = self.outcomes(report)["test_relu"]
        self.assertEqual(outcome, "failed")
        self.assertIn("output 'y' differs", reason)
        self.assertIn("test_relu [Relu]: output 'y' differs", text)
        # The model test made of a Relu fails too; the others still pass.
        self.assertEqual(self.outcomes(report)["test_single_relu_model"][0], "failed")
        self.assertEqual(self.outcomes(report)["test_add"][0], "passed")

    def test_a_one_line_refusal_is_a_skip_with_its_reason_unless_refusals_fail(self) -> None:
        status, _, report = self.run_runner(env={"FAKE_BNC_REFUSE": "Add"})
        self.assertEqual(status, 0)
        outcome, reason = self.outcomes(report)["test_add"]
        self.assertEqual(outcome, "skipped")
        self.assertRegex(reason, r"^bnc refuses: bnc: model.onnx: node '.*' \(Add\): attribute 'x' is not supported$")
        status, _, report = self.run_runner("--refusals", "fail", env={"FAKE_BNC_REFUSE": "Add"})
        self.assertEqual(status, 1)
        self.assertEqual(self.outcomes(report)["test_add"][0], "failed")

    def test_refusals_of_more_than_one_line_missing_and_mistyped_outputs_fail(self) -> None:
        for variable, fragment in [("FAKE_BNC_MULTILINE", "refused with 2 lines"), ("FAKE_BNC_DROP", "missing from"),
                                   ("FAKE_BNC_DTYPE", "is float64, expected float32")]:
            status, _, report = self.run_runner(env={variable: "Sigmoid"})
            self.assertEqual(status, 1, variable)
            outcome, reason = self.outcomes(report)["test_sigmoid"]
            self.assertEqual(outcome, "failed", variable)
            self.assertIn(fragment, reason, variable)

    def test_the_operator_list_comes_from_the_registry_help_or_the_issue(self) -> None:
        self.assertEqual(conformance.operators_from_registry("Add                 versions 7, 13, 14\nConv   versions 1, 11\n"),
                         ["Add", "Conv"])
        help_text = ("Model files are ONNX: bnc writes IR 8, opset 15, and reads default-domain\nopsets 7–28 with these "
                     "operators (`bnc operators` lists their versions): Add,\nBatchNormalization, Conv.\n\nBad input")
        self.assertEqual(conformance.operators_from_help(help_text), ["Add", "BatchNormalization", "Conv"])
        old = ("that use its operators: Gemm, MatMul, Add, Conv, BatchNormalization, Relu,\nSigmoid, Tanh, MaxPool, "
               "Flatten, Reshape, Softmax, Identity, Dropout.\n\nBad input exits with status 2")
        self.assertEqual(len(conformance.operators_from_help(old)), 14)
        for env, expected, source in [({}, ["Relu", "Add", "Concat"], "bnc operators"),
                                      ({"FAKE_BNC_NO_REGISTRY": "1"}, ["Relu", "Add", "Concat"], "bnc --help")]:
            os.environ.update({"FAKE_BNC_OPERATORS": "Relu Add Concat", **env})
            try:
                self.assertEqual(conformance.operator_list(None, self.bnc), (expected, source))
            finally:
                for k in ["FAKE_BNC_OPERATORS", *env]:
                    del os.environ[k]
        self.assertEqual(conformance.operator_list("issue", self.bnc)[0], conformance.ISSUE_OPERATORS)
        listed = Path(self.tmp.name) / "ops.txt"
        listed.write_text("Relu\n# a comment\nAdd  # trailing\n\n")
        self.assertEqual(conformance.operator_list(str(listed), self.bnc)[0], ["Relu", "Add"])


if __name__ == "__main__":
    unittest.main()
