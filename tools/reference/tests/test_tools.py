#!/usr/bin/env python3
"""Tests of bnc's Python reference tools, on the generated fixture files (no bnc binary needed).

  .venv/bin/python tools/reference/tests/test_tools.py        (after tools/setup-python)

fold_expect.py and tools/check/e2e are tested before bnc's fold exists with reference_fold.py (a numpy
fold in the `bnc fold --json` contract) and fake_bnc.py (the bnc commands e2e calls, made of
onnxruntime and that fold).
"""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

TESTS = Path(__file__).resolve().parent
REFERENCE = TESTS.parent
TOOLS = REFERENCE.parent
sys.path[:0] = [str(REFERENCE), str(TOOLS / "fixtures"), str(TESTS)]

import bncref  # noqa: E402
import fold_expect  # noqa: E402
import make_onnx_fixtures as fixtures  # noqa: E402
import ort_compare  # noqa: E402
from reference_fold import reference_fold  # noqa: E402

PY = sys.executable


def run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Runs tools/SCRIPT with the venv's python."""
    return subprocess.run([PY, str(TOOLS / script), *map(str, args)], capture_output=True,
                          text=True, timeout=120)


# ---------------------------------------------------------------- tests

class Fixtures(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = Path(cls.tmp.name) / "fx"
        cls.manifest = fixtures.generate(cls.dir)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.tmp.cleanup()

    def files(self, kind: str) -> list[Path]:
        return [self.dir / e["file"] for e in self.manifest["fixtures"] if e["kind"] == kind]

    def test_generation_is_deterministic(self) -> None:
        with tempfile.TemporaryDirectory() as other:
            fixtures.generate(Path(other))
            for path in self.dir.iterdir():
                self.assertEqual(path.read_bytes(), (Path(other) / path.name).read_bytes(), path.name)

    def test_every_fixture_passes_checker_and_onnxruntime(self) -> None:
        paths = sorted(self.dir.glob("*.onnx"))
        self.assertEqual(len(paths), len(self.manifest["fixtures"]))
        r = run("reference/onnx_check.py", *paths)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), len(paths))
        self.assertTrue(all(": OK (" in line for line in lines), r.stdout)

    def test_fixtures_are_small_and_manifest_lists_every_bn(self) -> None:
        for entry in self.manifest["fixtures"]:
            path = self.dir / entry["file"]
            self.assertLess(path.stat().st_size, 50_000, entry["file"])
            model = onnx.load(str(path))
            self.assertEqual((model.ir_version, model.opset_import[0].version), (8, 15))
            bns = {n.name for n in model.graph.node if n.op_type == "BatchNormalization"}
            expect = entry["expect"]
            self.assertEqual(bns, set(expect["folded"]) | set(expect["skipped"]), entry["file"])
            for t in model.graph.initializer:
                if t.name.endswith(".mean"):
                    self.assertTrue(np.all(numpy_helper.to_array(t) != 0), t.name)
                if t.name.endswith(".var"):
                    self.assertTrue(np.all(numpy_helper.to_array(t) != 1), t.name)
            inp = model.graph.input[0]
            self.assertEqual(inp.name, "input")
            self.assertEqual(inp.type.tensor_type.shape.dim[0].dim_param, "N")

    def test_issue5_patterns_present(self) -> None:
        names = {e["file"].removesuffix(".onnx") for e in self.manifest["fixtures"]}
        for want in ["fold_gemm_transb0", "fold_gemm_transb1_alpha_beta", "fold_gemm_no_c",
                     "fold_matmul", "fold_matmul_add", "fold_bn_gemm", "fold_bn_matmul",
                     "fold_conv_no_bias", "fold_conv_bias", "fold_conv_grouped",
                     "fold_conv_depthwise", "fold_bn_conv_no_pad", "skip_bn_conv_pad",
                     "skip_two_consumers", "skip_graph_output", "skip_scale_input",
                     "fold_shared_weight"]:
            self.assertIn(want, names)

    def test_storage_variants(self) -> None:
        def storages(path: str) -> set[str]:
            m = onnx.load(str(self.dir / path))
            return {"raw_data" if t.HasField("raw_data") else "float_data" if t.float_data else "?"
                    for t in m.graph.initializer}
        self.assertEqual(storages("rt_mlp_float_data.onnx"), {"float_data"})
        self.assertEqual(storages("rt_mlp_raw_data.onnx"), {"raw_data"})
        raw = (self.dir / "rt_mlp_raw_data.onnx").read_bytes()
        packed = (self.dir / "rt_mlp_packed_dims.onnx").read_bytes()
        self.assertEqual(fixtures.dims_encodings(raw), {"unpacked"})
        self.assertEqual(fixtures.dims_encodings(packed), {"packed"})
        self.assertEqual(onnx.load_from_string(packed), onnx.load_from_string(raw))
        for other in ("rt_mlp_raw_data.onnx", "rt_mlp_packed_dims.onnx"):
            r = run("reference/tensors_equal.py", self.dir / "rt_mlp_float_data.onnx", self.dir / other)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_packed_dims_wire_bytes(self) -> None:
        t = numpy_helper.from_array(np.zeros((3, 300), np.float32), "t")
        packed = fixtures.pack_dims(t.SerializeToString())
        # dims 3 and 300 (varint ac 02) as one field: tag 0x0a, length 3, payload 03 ac 02
        self.assertIn(bytes([0x0A, 3, 3, 0xAC, 0x02]), packed)
        self.assertNotIn(bytes([0x08, 3, 0x08]), packed)
        back = onnx.TensorProto()
        back.ParseFromString(packed)
        self.assertEqual(list(back.dims), [3, 300])

    def test_expected_json_matches_files(self) -> None:
        expected = json.loads((self.dir / "rt_mlp_expected.json").read_text())
        for file in expected["files"]:
            model = onnx.load(str(self.dir / file))
            self.assertEqual([n.name for n in model.graph.node],
                             [n["name"] for n in expected["nodes"]])
            for t in model.graph.initializer:
                e = expected["initializers"][t.name]
                a = numpy_helper.to_array(t)
                self.assertEqual(list(a.shape), e["dims"])
                self.assertEqual(a.flatten().view(np.uint32).tolist(), e["bits"])
                self.assertEqual(np.asarray(e["values"], np.float32).tobytes(), a.tobytes())
        probe = expected["probe"]
        sess = bncref.session(self.dir / "rt_mlp_float_data.onnx")
        x = np.asarray(probe["input"]["values"], np.float32).reshape(probe["input"]["dims"])
        y = sess.run(None, {"input": x})[0]
        np.testing.assert_allclose(y.flatten(), probe["output"]["values"], atol=1e-6)

    def test_committed_swift_fixtures_are_current(self) -> None:
        for file in fixtures.SWIFT_FILES:
            committed = fixtures.SWIFT_FIXTURES / file
            self.assertTrue(committed.exists(), f"{committed} missing: run make_onnx_fixtures.py "
                                                f"OUT --swift-fixtures")
            self.assertEqual(committed.read_bytes(), (self.dir / file).read_bytes(),
                             f"{file} is stale: run make_onnx_fixtures.py OUT --swift-fixtures")

    # -------------------------------------------------- fold_expect with the reference fold

    def fold(self, file: str, tweak: Any = None) -> subprocess.CompletedProcess[str]:
        folded, report = reference_fold(onnx.load(str(self.dir / file)))
        if tweak:
            tweak(folded, report)
        out = Path(self.tmp.name) / "out"
        out.mkdir(exist_ok=True)
        folded_path, report_path = out / f"{file}.folded", out / f"{file}.json"
        onnx.save(folded, str(folded_path))
        report_path.write_text(json.dumps(report))
        return run("reference/fold_expect.py", self.dir / "manifest.json", file, report_path, folded_path)

    def test_reference_fold_meets_every_expectation(self) -> None:
        for entry in self.manifest["fixtures"]:
            r = self.fold(entry["file"])
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn(": OK (", r.stdout)

    def test_fold_expect_catches_wrong_reason(self) -> None:
        def tweak(_: onnx.ModelProto, report: dict[str, Any]) -> None:
            report["skipped"][0]["reason"] = "something else"
        r = self.fold("skip_bn_conv_pad.onnx", tweak)
        self.assertEqual(r.returncode, 1)
        self.assertIn("expected it to mention 'pad'", r.stdout)

    def test_fold_expect_catches_wrong_weights(self) -> None:
        def tweak(model: onnx.ModelProto, _: dict[str, Any]) -> None:
            t = next(t for t in model.graph.initializer if ".folded." in t.name)
            a = numpy_helper.to_array(t).copy()
            a.flat[0] *= 1.001
            t.CopyFrom(numpy_helper.from_array(a, t.name))
        for file in ("fold_conv_grouped.onnx", "fold_bn_gemm.onnx", "fold_matmul_add.onnx"):
            r = self.fold(file, tweak)
            self.assertEqual(r.returncode, 1, file)
            self.assertIn("onnxruntime outputs differ", r.stdout)

    def test_fold_expect_catches_unlisted_and_unfolded(self) -> None:
        def drop(_: onnx.ModelProto, report: dict[str, Any]) -> None:
            report["folded"].clear()
        r = self.fold("fold_gemm_transb0.onnx", drop)
        self.assertEqual(r.returncode, 1)
        self.assertIn("neither folded nor skipped", r.stdout)
        original = onnx.load(str(self.dir / "fold_shared_weight.onnx"))
        problems = fold_expect.check_folded({"skipped": {}, "cloned": ["W"]}, original)
        self.assertTrue(any("still shared" in p for p in problems), problems)
        self.assertTrue(any("BatchNormalization nodes left" in p for p in problems), problems)


class CheckFailures(unittest.TestCase):
    def test_bad_files_fail_with_one_line_each(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            good = Path(tmp) / "good.onnx"
            fixtures.generate(Path(tmp) / "fx")
            data = (Path(tmp) / "fx" / "rt_conv.onnx").read_bytes()
            good.write_bytes(data)
            (Path(tmp) / "truncated.onnx").write_bytes(data[:len(data) // 2])
            (Path(tmp) / "garbage.onnx").write_bytes(b"\xff" * 64)
            # a shape error only the full check / onnxruntime sees: Gemm K mismatch
            bad = onnx.load_from_string(data)
            w = next(t for t in bad.graph.initializer if t.name == "fc.W")
            w.CopyFrom(numpy_helper.from_array(np.zeros((10, 195), np.float32), "fc.W"))
            onnx.save(bad, str(Path(tmp) / "shape.onnx"))
            names = ["good", "truncated", "garbage", "shape", "missing"]
            r = run("reference/onnx_check.py", *[Path(tmp) / f"{n}.onnx" for n in names])
            self.assertEqual(r.returncode, 1)
            lines = r.stdout.splitlines()
            self.assertEqual(len(lines), 5, r.stdout)
            self.assertIn(": OK (", lines[0])
            for line in lines[1:]:
                self.assertIn(": FAILED: ", line)

    def test_tensors_equal_detects_one_ulp(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            fixtures.generate(Path(tmp))
            m = onnx.load(str(Path(tmp) / "rt_mlp_raw_data.onnx"))
            t = m.graph.initializer[3]
            a = numpy_helper.to_array(t).copy()
            a.view(np.uint32).flat[2] += 1
            t.CopyFrom(numpy_helper.from_array(a, t.name))
            onnx.save(m, str(Path(tmp) / "ulp.onnx"))
            r = run("reference/tensors_equal.py", Path(tmp) / "rt_mlp_float_data.onnx", Path(tmp) / "ulp.onnx")
            self.assertEqual(r.returncode, 1)
            self.assertIn(f"'{t.name}': values differ, first at flat index 2", r.stdout)
            r = run("reference/tensors_equal.py", Path(tmp) / "rt_mlp_float_data.onnx", Path(tmp) / "none.onnx")
            self.assertEqual(r.returncode, 2)


class Idx(unittest.TestCase):
    def test_roundtrip_plain_and_gz(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            a = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
            for name in ("x.idx", "x.idx.gz"):
                bncref.write_idx(Path(tmp) / name, a)
                np.testing.assert_array_equal(bncref.read_idx(Path(tmp) / name), a)
            self.assertEqual(gzip.decompress((Path(tmp) / "x.idx.gz").read_bytes()),
                             (Path(tmp) / "x.idx").read_bytes())

    def test_bad_files(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            p = Path(tmp) / "x.idx"
            bncref.write_idx(p, np.zeros((2, 3, 3), np.uint8))
            good = p.read_bytes()
            for data, message in [(good[:-1], "need 34 bytes, file has 33"),
                                  (b"\x01" + good[1:], "not an IDX file"),
                                  (good[:2] + b"\x07" + good[3:], "unknown IDX type"),
                                  (good[:10], "truncated header")]:
                p.write_bytes(data)
                with self.assertRaises(bncref.ToolError) as ctx:
                    bncref.read_idx(p)
                self.assertIn(message, str(ctx.exception))

    def test_sample_synthetic_and_from_source(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "src"
            src.mkdir()
            imgs = np.random.default_rng(0).integers(0, 256, (30, 28, 28), dtype=np.uint8)
            labels = np.arange(30, dtype=np.uint8) % 10
            bncref.write_idx(src / "train-images-idx3-ubyte.gz", imgs)
            bncref.write_idx(src / "train-labels-idx1-ubyte.gz", labels)
            bncref.write_idx(src / "t10k-images-idx3-ubyte", imgs[::-1])
            bncref.write_idx(src / "t10k-labels-idx1-ubyte", labels[::-1])
            r = run("fixtures/make-idx-samples", "--dataset", Path(tmp) / "out", "--train", "20", "--test", "5",
                    "--source", src)
            self.assertEqual(r.returncode, 0, r.stderr)
            out = Path(tmp) / "out"
            np.testing.assert_array_equal(bncref.read_idx(out / "train-images-idx3-ubyte.gz"), imgs[:20])
            np.testing.assert_array_equal(bncref.read_idx(out / "t10k-labels-idx1-ubyte.gz"), labels[::-1][:5])
            r = run("fixtures/make-idx-samples", "--dataset", Path(tmp) / "syn", "--train", "20", "--test", "5",
                    "--source", Path(tmp) / "absent")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("synthetic", r.stdout)
            self.assertEqual(bncref.read_idx(Path(tmp) / "syn" / "t10k-images-idx3-ubyte.gz").shape, (5, 28, 28))


class Scaling(unittest.TestCase):
    def test_expressions(self) -> None:
        x = np.array([0, 51, 255], np.uint8)
        np.testing.assert_array_equal(bncref.scaling("x/255")(x), x.astype(np.float32) / np.float32(255))
        np.testing.assert_allclose(bncref.scaling("(x/255 - 0.5)/0.5")(x), [-1, -0.6, 1], atol=1e-6)
        for bad in ("__import__('os')", "x**2", "y/255", "x/"):
            with self.assertRaises(bncref.ToolError):
                bncref.scaling(bad)


class OrtCompare(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.TemporaryDirectory()
        d = Path(cls.tmp.name)
        fixtures.generate(d / "fx")
        cls.conv = d / "fx" / "rt_conv.onnx"
        # a rank-2 image model with non-default scaling: (N, 784) → Gemm → (N, 3)
        rng = np.random.default_rng(5)
        g = helper.make_graph(
            [helper.make_node("Gemm", ["input", "W", "b"], ["output"], transB=1)], "mlp",
            [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, ["N", 784])],
            [helper.make_tensor_value_info("output", onnx.TensorProto.FLOAT, ["N", 3])],
            [numpy_helper.from_array(rng.standard_normal((3, 784)).astype(np.float32), "W"),
             numpy_helper.from_array(np.zeros(3, np.float32), "b")])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 15)], ir_version=8)
        helper.set_model_props(m, {"bnc.input.scaling": "(x/255-0.5)/0.5"})
        cls.mlp = d / "mlp.onnx"
        onnx.save(m, str(cls.mlp))
        cls.images = d / "images.idx.gz"
        cls.pixels = np.random.default_rng(6).integers(0, 256, (7, 28, 28), dtype=np.uint8)
        bncref.write_idx(cls.images, cls.pixels)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.tmp.cleanup()

    def compare(self, model: Path, report: dict[str, Any], *extra: str) -> subprocess.CompletedProcess[str]:
        path = Path(self.tmp.name) / "bnc.json"
        path.write_text(json.dumps(report))
        return run("reference/ort_compare.py", "--model", model, "--images", self.images, "--bnc-json", path, *extra)

    def reference(self, model: Path) -> dict[str, Any]:
        ref, _ = ort_compare.run_ort(str(model), str(self.images), 3)  # batches of 3: 3+3+1
        return {"images": len(ref), "predictions": ref.argmax(1).tolist(), "outputs": ref.tolist()}

    def test_reference_scaling_and_shape(self) -> None:
        rep = self.reference(self.mlp)
        m = onnx.load(str(self.mlp))
        w = numpy_helper.to_array(m.graph.initializer[0]).astype(np.float64)
        x = (self.pixels.reshape(7, 784) / 255.0 - 0.5) / 0.5
        np.testing.assert_allclose(rep["outputs"], x @ w.T, atol=1e-3)

    def test_pass_and_fail(self) -> None:
        for model in (self.conv, self.mlp):
            rep = self.reference(model)
            r = self.compare(model, rep)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("max abs diff 0,", r.stdout)
            self.assertIn("argmax agreement 7/7", r.stdout)
            rep["outputs"][6][1] += 2e-5
            r = self.compare(model, rep)
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn("FAILED (tolerance 1e-05)", r.stdout)
            self.assertEqual(self.compare(model, rep, "--tolerance", "1e-4").returncode, 0)
            rep["outputs"][0][0] = float("nan")
            self.assertEqual(self.compare(model, rep, "--tolerance", "1e9").returncode, 1)

    def test_mismatched_report(self) -> None:
        rep = self.reference(self.conv)
        r = self.compare(self.conv, {**rep, "images": 6})
        self.assertEqual(r.returncode, 1)
        self.assertIn("bnc reports 6 images, the IDX file has 7", r.stdout)
        r = self.compare(self.conv, {**rep, "outputs": [row[:9] for row in rep["outputs"]]})
        self.assertEqual(r.returncode, 1)
        r = self.compare(self.conv, {"images": 7, "outputs": rep["outputs"]})
        self.assertEqual(r.returncode, 2)
        self.assertIn('no "predictions" key', r.stderr)


class E2E(unittest.TestCase):
    """tools/check/e2e against fake_bnc.py: the whole flow passes, and broken outputs are caught."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.TemporaryDirectory()
        cls.work = Path(cls.tmp.name) / "work"
        cls.bnc = Path(cls.tmp.name) / "bnc"
        cls.bnc.write_text(f'#!/bin/sh\nexec "{PY}" "{TESTS / "fake_bnc.py"}" "$@"\n')
        cls.bnc.chmod(0o755)
        cls.full = cls.e2e()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.tmp.cleanup()

    @classmethod
    def e2e(cls, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(TOOLS / "check" / "e2e"), str(cls.bnc), "--work", str(cls.work), *args],
                              capture_output=True, text=True, timeout=600,
                              env={**os.environ, **(env or {})})

    def test_full_run_passes(self) -> None:
        r = self.full
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        lines = r.stdout.splitlines()
        self.assertRegex(lines[-1], r"^\d+ passed, 0 failed$")
        steps = [line.split()[1] for line in lines if line.startswith("PASS ")]
        listed = self.e2e("--list").stdout.split()
        self.assertEqual(steps, listed)
        self.assertNotIn("SKIP", r.stdout)
        for want in ("train-mlp", "train-cnn", "fold-cnn", "infer-mlp-folded",
                     "fixture-fold:skip_bn_conv_pad.onnx", "fixture-resave:rt_mlp_float_data.onnx",
                     "fixture-infer:rt_conv.onnx"):
            self.assertIn(want, steps)

    def test_wrong_outputs_fail_their_steps(self) -> None:
        r = self.e2e("--only", "infer-mlp", env={"FAKE_BNC_BREAK": "infer"})
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("FAIL infer-mlp", r.stdout)
        self.assertIn("FAILED (tolerance 1e-05)", r.stdout)
        self.assertEqual(r.stdout.splitlines()[-1], "0 passed, 1 failed")
        r = self.e2e("--only", "fixture-fold:fold_conv_grouped.onnx", env={"FAKE_BNC_BREAK": "fold"})
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("onnxruntime outputs differ", r.stdout)

    def test_missing_commands_are_skipped_unless_strict(self) -> None:
        env = {"FAKE_BNC_COMMANDS": "inspect convert"}
        only = ["--only", "train-mlp", "--only", "fixture-fold:fold_matmul.onnx",
                "--only", "fixture-resave:rt_conv.onnx"]
        r = self.e2e(*only, env=env)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("SKIP train-mlp (bnc has no train command yet)", r.stdout)
        self.assertIn("SKIP fixture-fold:fold_matmul.onnx (bnc has no fold command yet)", r.stdout)
        self.assertIn("PASS fixture-resave:rt_conv.onnx", r.stdout)
        self.assertIn("2 steps skipped: bnc has no train, fold command yet", r.stdout)
        self.assertEqual(r.stdout.splitlines()[-1], "1 passed, 0 failed")
        r = self.e2e(*only, "--strict", env=env)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertEqual(r.stdout.splitlines()[-1], "1 passed, 2 failed")

    def test_missing_bnc_fails_clearly(self) -> None:
        r = subprocess.run([str(TOOLS / "check" / "e2e"), str(Path(self.tmp.name) / "absent"), "--work",
                            str(self.work), "--only", "train-mlp"], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 1)
        self.assertIn("bnc binary not found", r.stdout)


class SetupPython(unittest.TestCase):
    def test_second_run_is_a_no_op_printing_the_python(self) -> None:
        r = subprocess.run([str(TOOLS / "setup-python")], capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip().splitlines()[-1], str(TOOLS.parent / ".venv" / "bin" / "python"))
        self.assertTrue(os.access(r.stdout.strip(), os.X_OK))
        r2 = subprocess.run([str(TOOLS / "setup-python")], capture_output=True, text=True, timeout=60)
        self.assertEqual((r2.returncode, r2.stdout, r2.stderr), (0, r.stdout, ""))


if __name__ == "__main__":
    unittest.main(verbosity=1)
