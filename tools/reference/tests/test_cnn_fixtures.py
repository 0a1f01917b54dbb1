#!/usr/bin/env python3
"""Tests of tools/fixtures/cnn-zoo (the CNN fixtures of issue 16) and tools/reference/ort_fusion_table.py.

  .venv/bin/python tools/reference/tests/test_cnn_fixtures.py        (after tools/setup-python)

The small models are generated twice by the command (deterministic bytes), then checked: the
checker with full checks and onnxruntime (the command's own check), size, BN statistics in their
stated ranges, the manifest against the graph, each exporter style's patterns, the external-data
variants against their base models, the weight calibration; the full-size graphs (built without
calibration, no files) have the published architectures' BN counts.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import unittest
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

TESTS = Path(__file__).resolve().parent
TOOLS = TESTS.parent.parent
sys.path[:0] = [str(TOOLS / "fixtures"), str(TOOLS / "reference")]

import cnn_catalog  # noqa: E402
import cnn_graph  # noqa: E402
import ort_fusion_table  # noqa: E402

PY = sys.executable
MAX_BYTES = 2_000_000


def generate(outdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PY, str(TOOLS / "fixtures" / "cnn-zoo"), str(outdir), "--small", *args],
                          capture_output=True, text=True, timeout=300)


def initializers(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def producers(model: onnx.ModelProto) -> dict[str, onnx.NodeProto]:
    return {o: n for n in model.graph.node for o in n.output}


class SmallFixtures(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = Path(cls.tmp.name) / "a"
        cls.run_a = generate(cls.dir)
        cls.manifest = json.loads((cls.dir / "manifest.json").read_text())
        cls.entries = {e["name"]: e for e in cls.manifest["fixtures"]}
        cls.models = {name: onnx.load(str(cls.dir / e["file"])) for name, e in cls.entries.items()}

    @classmethod
    def tearDownClass(cls) -> None:
        cls.tmp.cleanup()

    def test_every_fixture_is_written_checked_and_runs(self) -> None:
        # the command runs check_model(full_check=True) and onnxruntime on each; exit 1 on any failure
        self.assertEqual(self.run_a.returncode, 0, self.run_a.stdout + self.run_a.stderr)
        self.assertEqual(set(self.entries), {f.name for f in cnn_catalog.FIXTURES})
        lines = self.run_a.stdout.splitlines()
        self.assertEqual(len(lines), len(cnn_catalog.FIXTURES), self.run_a.stdout)
        self.assertTrue(all(" checked " in line and "FAILED" not in line for line in lines), self.run_a.stdout)

    def test_generation_is_deterministic(self) -> None:
        other = Path(self.tmp.name) / "b"
        r = generate(other, "--no-check")
        self.assertEqual(r.returncode, 0, r.stderr)
        names = sorted(p.name for p in self.dir.iterdir())
        self.assertEqual(names, sorted(p.name for p in other.iterdir()))
        for name in names:
            self.assertEqual((self.dir / name).read_bytes(), (other / name).read_bytes(), name)

    def test_small_sizes(self) -> None:
        for e in self.entries.values():
            size = (self.dir / e["file"]).stat().st_size
            if e["external_data"]:
                size += (self.dir / e["external_data"]).stat().st_size
            self.assertLess(size, MAX_BYTES, e["file"])
            self.assertLessEqual(max(d for d in e["input"]["shape"] if isinstance(d, int)), 64, e["file"])

    def test_bn_statistics_in_stated_ranges(self) -> None:
        # |γ| ∈ [0.5, 2] with both signs present, β ∈ [−1, 1], μ ∈ [−2, 2], σ² ∈ [0.1, 4]
        for name, model in self.models.items():
            inits = initializers(model)
            signs = set()
            for n in model.graph.node:
                if n.op_type != "BatchNormalization":
                    continue
                gamma, beta, mean, var = (inits[x] for x in n.input[1:5])
                self.assertTrue(np.all((np.abs(gamma) >= 0.5) & (np.abs(gamma) <= 2.0)), n.name)
                self.assertTrue(np.all(np.abs(beta) <= 1.0), n.name)
                self.assertTrue(np.all(np.abs(mean) <= 2.0), n.name)
                self.assertTrue(np.all((var >= 0.1) & (var <= 4.0)), n.name)
                signs |= set(np.sign(gamma).tolist())
                eps = next(a.f for a in n.attribute if a.name == "epsilon")
                self.assertAlmostEqual(eps, 1e-3 if self.entries[name]["style"] == "keras" else 1e-5, places=7)
            self.assertEqual(signs, {-1.0, 1.0}, name)

    def test_manifest_lists_every_bn_with_its_producer(self) -> None:
        for name, model in self.models.items():
            made_by = producers(model)
            bns = [n for n in model.graph.node if n.op_type == "BatchNormalization"]
            listed = self.entries[name]["batch_norms"]
            self.assertEqual([b["bn"] for b in listed], [n.name for n in bns], name)
            for entry, n in zip(listed, bns):
                p = made_by.get(n.input[0])
                self.assertEqual(entry["producer"], p.op_type if p else "input", n.name)
            nodes = {n.name for n in model.graph.node}
            for chain in self.entries[name]["affine_chains"]:
                self.assertIn(chain["mul"], nodes)
                self.assertIn(chain["add"], nodes)

    def test_bn_counts_and_merges_of_the_small_topologies(self) -> None:
        bn = {name: len(e["batch_norms"]) for name, e in self.entries.items()}
        self.assertEqual(bn["inception-v2-zoo"], 69)   # the small BN-Inception keeps every module
        after = Counter(b["producer"] for b in self.entries["densenet121-zoo"]["batch_norms"])
        self.assertEqual(after["Concat"], 8)           # 4 blocks × (2 − 1) layers + 3 transitions + norm5

    def test_zoo_style(self) -> None:
        for name in ("resnet50-zoo", "densenet121-zoo", "inception-v2-zoo", "shufflenet-v1-zoo"):
            model = self.models[name]
            opset = model.opset_import[0].version
            self.assertEqual(model.ir_version, 3, name)
            self.assertIn(opset, (7, 8, 9), name)
            inputs = {i.name for i in model.graph.input}
            self.assertTrue(all(t.name in inputs for t in model.graph.initializer), name)
            for n in model.graph.node:
                if n.op_type == "BatchNormalization":
                    attrs = {a.name: a for a in n.attribute}
                    self.assertEqual("spatial" in attrs, opset < 9, n.name)
                    if opset < 9:
                        self.assertEqual(attrs["spatial"].i, 1)
            ops = Counter(n.op_type for n in model.graph.node)
            self.assertEqual(ops["Gemm"], 1, name)
            self.assertEqual(ops["Flatten"], 1, name)
        self.assertGreater(Counter(n.op_type for n in self.models["resnet50-zoo"].graph.node)["Sum"], 0)
        shuffle = Counter(n.op_type for n in self.models["shufflenet-v1-zoo"].graph.node)
        self.assertEqual(shuffle["Reshape"], 2 * shuffle["Transpose"])
        # Caffe2's BN → Mul → Add: every BN of the DenseNet feeds a Mul whose result feeds an Add
        model = self.models["densenet121-zoo"]
        consumers = {x: n for n in model.graph.node for x in n.input}
        for n in model.graph.node:
            if n.op_type == "BatchNormalization":
                mul = consumers[n.output[0]]
                self.assertEqual((mul.op_type, consumers[mul.output[0]].op_type), ("Mul", "Add"), n.name)

    def test_torch_and_dynamo_style(self) -> None:
        for name in ("mobilenetv2-torch", "efficientnet-b0-torch", "resnet50-dynamo"):
            model = self.models[name]
            self.assertTrue(13 <= model.opset_import[0].version <= 18, name)
            self.assertIn(model.ir_version, (7, 8), name)
            inputs = {i.name for i in model.graph.input}
            self.assertEqual(inputs, {"input"}, name)
            for n in model.graph.node:
                if n.op_type == "Gemm":
                    self.assertEqual(next(a.i for a in n.attribute if a.name == "transB"), 1)
        mobilenet = self.models["mobilenetv2-torch"]
        inits = initializers(mobilenet)
        clips = [n for n in mobilenet.graph.node if n.op_type == "Clip"]
        self.assertTrue(clips and all(len(n.input) == 3 and inits[n.input[1]].shape == () and
                                      inits[n.input[2]].shape == () and float(inits[n.input[2]]) == 6.0
                                      for n in clips))
        self.assertTrue(any(n.op_type == "Conv" and int(next((a.i for a in n.attribute if a.name == "group"), 1)) > 1
                            for n in mobilenet.graph.node))
        made_by = producers(mobilenet)
        self.assertTrue(all(len(made_by[n.input[0]].input) == 3 for n in mobilenet.graph.node
                            if n.op_type == "BatchNormalization"), "Conv with bias before each BN")
        dynamo = self.models["resnet50-dynamo"]
        made_by = producers(dynamo)
        convs = [n for n in dynamo.graph.node if n.op_type == "Conv"]
        for conv in convs:
            cast = made_by[conv.input[2]]
            expand = made_by[cast.input[0]]
            self.assertEqual((cast.op_type, expand.op_type, made_by[expand.input[1]].op_type),
                             ("CastLike", "Expand", "Shape"), conv.name)
        reshape = next(n for n in dynamo.graph.node if n.op_type == "Reshape")
        chain, value = [], reshape.input[1]
        while value in made_by and made_by[value].op_type != "Shape":
            chain.append(made_by[value].op_type)
            value = made_by[value].input[0]
        self.assertEqual(chain, ["Concat", "Unsqueeze", "Gather"])

    def test_keras_style(self) -> None:
        model = self.models["efficientnet-b0-keras"]
        self.assertEqual((model.opset_import[0].version, model.ir_version), (13, 7))
        dims = model.graph.input[0].type.tensor_type.shape.dim
        self.assertEqual([d.dim_param or d.dim_value for d in dims][1:], [64, 64, 3])   # NHWC
        first = [n for n in model.graph.node if n.op_type == "Transpose"][0]
        self.assertEqual(list(first.attribute[0].ints), [0, 3, 1, 2])
        made_by = producers(model)
        ints32 = [t for t in model.graph.initializer if t.data_type == TensorProto.INT32]
        self.assertGreaterEqual(len(ints32), 3)
        pairs = Counter()
        for n in model.graph.node:
            if n.op_type == "Add" and n.input[0] in made_by and made_by[n.input[0]].op_type == "Mul":
                mul = made_by[n.input[0]]
                pairs[made_by[mul.input[0]].op_type if mul.input[0] in made_by else "input"] += 1
        self.assertGreater(pairs["Conv"], 0)
        self.assertEqual(pairs["MatMul"], 1)
        self.assertEqual(pairs["input"], 1)   # Rescaling → Normalization on the NHWC input
        reshape = next(n for n in model.graph.node if n.op_type == "Reshape")
        chain, value = [], reshape.input[1]
        while value in made_by and made_by[value].op_type != "Shape":
            chain.append(made_by[value].op_type)
            value = made_by[value].input[0]
        self.assertEqual(chain, ["Cast", "Concat", "Slice", "Cast", "Gather"])
        self.assertTrue(any(n.op_type == "ReduceMean" for n in model.graph.node))
        pads = [list(a.ints) for n in model.graph.node if n.op_type == "Conv" for a in n.attribute if a.name == "pads"]
        self.assertIn([0, 0, 1, 1], pads)   # TF SAME: the extra pad at the end
        pad = next(n for n in model.graph.node if n.op_type == "Pad")   # before a strided depthwise conv
        conv = next(n for n in model.graph.node if pad.output[0] in n.input)
        self.assertEqual(conv.op_type, "Conv")
        self.assertEqual(next(list(a.ints) for a in conv.attribute if a.name == "pads"), [0, 0, 0, 0])
        self.assertEqual(made_by[value].input[0] in made_by and made_by[made_by[value].input[0]].op_type, "Transpose")

    def test_external_data_variants_hold_the_base_tensors(self) -> None:
        for name in ("resnet50-dynamo-extdata", "mobilenetv2-torch-extdata"):
            e = self.entries[name]
            bare = onnx.load(str(self.dir / e["file"]), load_external_data=False)
            external = [t for t in bare.graph.initializer if t.data_location == TensorProto.EXTERNAL]
            self.assertGreater(len(external), 10, name)
            self.assertTrue(all({k.key: k.value for k in t.external_data}["location"] == e["external_data"]
                                for t in external))
            base = self.models[name.removesuffix("-extdata")]
            full = initializers(self.models[name])
            self.assertEqual(full.keys(), initializers(base).keys())
            for key, value in initializers(base).items():
                self.assertEqual(value.tobytes(), full[key].tobytes(), key)

    def test_calibration_keeps_every_bn_input_at_its_scale(self) -> None:
        # On a fresh probe (other seed, plain N(0, 1)), every BN input's channel RMS over σ stays
        # within [1/32, 8] in median: uncalibrated, deep BNs see inputs hundreds of times their σ.
        # (Below 1 is harmless — μ then dominates — and nearly dead BNs reach 1/18 here.)
        for name in ("resnet50-zoo", "shufflenet-v1-zoo", "efficientnet-b0-torch", "efficientnet-b0-keras"):
            ratios = bn_input_ratios(self.models[name], seed=12345)
            self.assertTrue(np.all((ratios > 1 / 32) & (ratios < 8)), f"{name}: {ratios.min():.3g}..{ratios.max():.3g}")

    def test_full_size_graphs_have_the_published_bn_counts(self) -> None:
        expected = {"resnet50-zoo": 53, "densenet121-zoo": 121, "inception-v2-zoo": 69, "shufflenet-v1-zoo": 49,
                    "mobilenetv2-torch": 52, "efficientnet-b0-torch": 49}
        for name, count in expected.items():
            _, entry = cnn_catalog.build(cnn_catalog.BY_NAME[name], "full", scale=False)
            self.assertEqual(len(entry["batch_norms"]), count, name)
            self.assertEqual(entry["input"]["shape"][1:], [3, 224, 224], name)
        _, keras = cnn_catalog.build(cnn_catalog.BY_NAME["efficientnet-b0-keras"], "full", scale=False)
        self.assertEqual(len(keras["batch_norms"]) + len(keras["affine_chains"]), 49 + 1)   # + the Dense BN
        _, dense = cnn_catalog.build(cnn_catalog.BY_NAME["densenet121-zoo"], "full", scale=False)
        self.assertEqual(Counter(b["producer"] for b in dense["batch_norms"])["Conv"], 59)


def bn_input_ratios(model: onnx.ModelProto, seed: int) -> np.ndarray:
    """Per BN: median over channels of RMS(input channel) / σ, on seeded N(0, 1) at batch 4."""
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    inits = initializers(model)
    bns = [n for n in model.graph.node if n.op_type == "BatchNormalization"]
    for n in bns:
        probe.graph.output.append(helper.make_tensor_value_info(n.input[0], TensorProto.FLOAT, None))
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.log_severity_level = 3
    sess = ort.InferenceSession(probe.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    arg = sess.get_inputs()[0]
    x = np.random.default_rng(seed).standard_normal(
        [d if isinstance(d, int) else 4 for d in arg.shape]).astype(np.float32)
    values = sess.run([n.input[0] for n in bns], {arg.name: x})
    out = []
    for n, v in zip(bns, values):
        rms = np.sqrt(np.mean(v.astype(np.float64) ** 2, axis=tuple(a for a in range(v.ndim) if a != 1)))
        out.append(np.median(rms / np.sqrt(inits[n.input[4]])))
    return np.array(out)


class Styles(unittest.TestCase):
    def test_tf_same_pads_put_the_extra_pad_at_the_end(self) -> None:
        net = cnn_graph.Net("t", cnn_catalog.KERAS, np.random.default_rng(0))
        self.assertEqual(net.pads(64, 64, 3, 2, 1), [0, 0, 1, 1])
        self.assertEqual(net.pads(64, 64, 5, 2, 1), [1, 1, 2, 2])
        self.assertEqual(net.pads(7, 7, 3, 1, 1), [1, 1, 1, 1])
        torch = cnn_graph.Net("t", cnn_catalog.TORCH, np.random.default_rng(0))
        self.assertEqual(torch.pads(64, 64, 3, 2, 1), [1, 1, 1, 1])

    def test_bn_stats_ranges_hold_for_many_draws(self) -> None:
        s = cnn_graph.bn_stats(np.random.default_rng(1), 100_000)
        self.assertAlmostEqual(float(np.abs(s["scale"]).min()), 0.5, delta=1e-3)
        self.assertAlmostEqual(float(np.abs(s["scale"]).max()), 2.0, delta=1e-3)
        self.assertAlmostEqual(float(np.mean(s["scale"] < 0)), 0.5, delta=0.01)
        self.assertAlmostEqual(float(s["var"].min()), 0.1, delta=1e-3)
        self.assertAlmostEqual(float(s["var"].max()), 4.0, delta=1e-3)


REPO = TOOLS.parent
BNC = Path(os.environ.get("BNC", REPO / ".build" / "debug" / "bnc"))


@unittest.skipUnless(BNC.exists(), f"no bnc binary at {BNC} (swift build, or BNC=path)")
class BncFold(unittest.TestCase):
    """The real `bnc fold` on every small fixture, against onnxruntime's fusions (issue 16): bnc
    removes at least as many BNs as ORT_ENABLE_EXTENDED and leaves no more Mul→Add chains; its
    file passes onnx.checker's full check, keeps opset, IR version, input and output names and
    an audit record per folded BN, and matches the original in onnxruntime within 1e-5 of the
    output scale (bnc fold's own tolerance: ≥ 10× the Float rounding of a correct fold, which ORT's
    own fusions show on these models at ≤ 1.3e-6)."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = Path(cls.tmp.name) / "fx"
        r = generate(cls.dir, "--no-check")
        assert r.returncode == 0, r.stdout + r.stderr
        out = Path(cls.tmp.name) / "table.json"
        cls.table_run = subprocess.run([PY, str(TOOLS / "reference" / "ort_fusion_table.py"), str(cls.dir), "--work",
                                  str(Path(cls.tmp.name) / "work"), "--json", str(out), "--bnc", str(BNC)],
                                 capture_output=True, text=True, timeout=900)
        cls.result = json.loads(out.read_text()) if out.exists() else {}

    @classmethod
    def tearDownClass(cls) -> None:
        cls.tmp.cleanup()

    def test_table_ran(self) -> None:
        self.assertEqual(self.table_run.returncode, 0, self.table_run.stdout[-3000:] + self.table_run.stderr[-3000:])
        self.assertEqual(len(self.result["models"]), len(cnn_catalog.FIXTURES))

    def test_bnc_folds_at_least_what_onnxruntime_fuses(self) -> None:
        for m in self.result["models"]:
            with self.subTest(m["name"]):
                b = m["bnc"]
                self.assertNotIn("error", b)
                ort_removes = m["bn"] - m["ort"]["extended"]["bn_left"]
                self.assertGreaterEqual(len(b["folded"]), ort_removes, b.get("skipped"))
                self.assertEqual(len(b["folded"]) + len(b["skipped"]), m["bn"])
                self.assertEqual(b["bn_left_in_output"], len(b["skipped"]))
                if m["affine_chains"]:
                    self.assertLessEqual(b["affine_chains_left"], m["ort"]["extended"]["affine_chains_left"])
                self.assertTrue(b["proof"]["passed"])
                self.assertLessEqual(b["ort_folded_vs_original"]["max_rel"], 1e-5)

    def test_every_bn_left_has_a_reason_and_the_totals_add_up(self) -> None:
        for m in self.result["models"]:
            for s in m["bnc"]["skipped"]:
                self.assertTrue(s["reason"], (m["name"], s))
            t = m["bnc"]["totals"]
            self.assertEqual(t["batch_norms"], m["bn"])
            self.assertEqual(t["folded"], len(m["bnc"]["folded"]))
            self.assertEqual(t["alone"] + t["in_chains"] + t["split_across_concat"], t["folded"])
            self.assertEqual(sum(m["bnc"]["methods"].values()), t["folded"])

    def test_folded_files_pass_the_full_checker_and_keep_the_interface(self) -> None:
        for m in self.result["models"]:
            with self.subTest(m["name"]):
                original = onnx.load(str(self.dir / m["file"]))
                folded = onnx.load(m["bnc"]["output"])
                onnx.checker.check_model(folded, full_check=True)
                self.assertEqual(folded.ir_version, original.ir_version)
                self.assertEqual([(o.domain, o.version) for o in folded.opset_import],
                                 [(o.domain, o.version) for o in original.opset_import])
                # runtime inputs (IR < 4 lists the initializers among the inputs too: those change)
                def runtime(m: onnx.ModelProto) -> list[str]:
                    constants = {t.name for t in m.graph.initializer}
                    return [i.name for i in m.graph.input if i.name not in constants]
                self.assertEqual(runtime(folded), runtime(original))
                if original.ir_version < 4:
                    self.assertEqual({i.name for i in folded.graph.input} - set(runtime(folded)),
                                     {t.name for t in folded.graph.initializer})
                self.assertEqual([o.name for o in folded.graph.output], [o.name for o in original.graph.output])
                keys = {p.key for p in folded.metadata_props}
                for bn in m["bnc"]["folded"]:
                    self.assertIn(f"bnc.fold.{bn}", keys)


class FusionTable(unittest.TestCase):
    """ort_fusion_table.py on small fixtures; --bnc with tests/fake_bnc.py (a numpy fold)."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = Path(cls.tmp.name) / "fx"
        r = generate(cls.dir, "--only", "resnet50-zoo,densenet121-zoo,resnet50-dynamo,mobilenetv2-torch,"
                                        "efficientnet-b0-keras")
        assert r.returncode == 0, r.stdout + r.stderr
        cls.bnc = Path(cls.tmp.name) / "bnc"
        cls.bnc.write_text(f'#!/bin/sh\nexec "{PY}" "{TESTS / "fake_bnc.py"}" "$@"\n')
        cls.bnc.chmod(0o755)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.tmp.cleanup()

    def table(self, *args: str, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], dict]:
        out = Path(self.tmp.name) / "table.json"
        out.unlink(missing_ok=True)
        r = subprocess.run([PY, str(TOOLS / "reference" / "ort_fusion_table.py"), str(self.dir), "--work",
                            str(Path(self.tmp.name) / "work"), "--json", str(out), *args],
                           capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})
        return r, (json.loads(out.read_text()) if out.exists() else {})

    def test_counts_reasons_and_self_difference(self) -> None:
        r, result = self.table()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        models = {m["name"]: m for m in result["models"]}
        self.assertEqual(len(r.stdout.splitlines()[2:2 + len(models)]), len(models))
        zoo = models["resnet50-zoo"]
        self.assertEqual((zoo["bn"], zoo["ort"]["extended"]["bn_left"]), (20, 0))
        dense = models["densenet121-zoo"]["ort"]["extended"]
        self.assertEqual(Counter(b["producer"] for b in dense["left"]),
                         Counter({"Concat": 8, "AveragePool": 3, "MaxPool": 1}))
        self.assertTrue(all("not from a Conv" in b["reason"] for b in dense["left"]))
        dynamo = models["resnet50-dynamo"]["ort"]["extended"]
        self.assertTrue(all("bias comes from" in b["reason"] for b in dynamo["left"]), dynamo["left"][:1])
        self.assertEqual(models["efficientnet-b0-keras"]["ort"]["extended"]["affine_chains_left"], 1)
        for m in models.values():
            # onnxruntime's fusions round differently: Float rounding over ~50 layers, far below 1e-5
            self.assertLess(m["ort"]["self_diff"]["all"]["max_rel"], 1e-5, m["name"])
            self.assertTrue(Path(m["ort"]["all"]["optimized_model"]).exists())

    def test_bnc_columns_with_a_correct_and_a_broken_fold(self) -> None:
        r, result = self.table("--bnc", str(self.bnc), "--only", "mobilenetv2-torch")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        b = result["models"][0]["bnc"]
        self.assertEqual((len(b["folded"]), b["bn_left_in_output"], b["exit"]), (31, 0, 0))
        self.assertLess(b["ort_folded_vs_original"]["max_rel"], 1e-5)
        self.assertIn("| 31 / 31 |", r.stdout)
        r, result = self.table("--bnc", str(self.bnc), "--only", "mobilenetv2-torch", env={"FAKE_BNC_BREAK": "fold"})
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertGreater(result["models"][0]["bnc"]["ort_folded_vs_original"]["max_rel"], 1e-5)

    def test_a_bnc_that_refuses_the_model_is_an_entry_not_a_crash(self) -> None:
        refuse = Path(self.tmp.name) / "refuse"
        refuse.write_text("#!/bin/sh\necho 'bnc: model.onnx: opset 7 is not supported' >&2\nexit 2\n")
        refuse.chmod(0o755)
        r, result = self.table("--bnc", str(refuse), "--only", "resnet50-zoo")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(result["models"][0]["bnc"]["error"], "bnc: model.onnx: opset 7 is not supported")
        self.assertEqual(result["models"][0]["bnc"]["exit"], 2)

    def test_difference_is_the_worst_element_over_the_output_scale(self) -> None:
        ref = [[np.array([1.0, -4.0]), np.array([0.5])], [np.array([2.0, 3.0]), np.array([1.0])]]
        other = [[np.array([1.0, -4.0]), np.array([0.5])], [np.array([2.0, 3.5]), np.array([1.0])]]
        d = ort_fusion_table.difference(ref, other)
        self.assertEqual((d["max_abs"], d["output_scale"], d["max_rel"]), (0.5, 4.0, 0.125))

    def test_bad_arguments(self) -> None:
        r, _ = self.table("--only", "nonesuch")
        self.assertEqual(r.returncode, 2)
        self.assertIn("no model named nonesuch", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=1)
