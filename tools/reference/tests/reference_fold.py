"""Reference BN fold in numpy: a test oracle for the fixtures and for fold_expect.py.

Folds every foldable inference BN, backward into Gemm / MatMul / MatMul+Add / Conv, otherwise
forward into Gemm / MatMul / Conv with pads 0, in float64 rounded once to float32, always cloning
the weights, and reports in the `bnc fold --json` contract. Not a tool for users: bnc's fold is
the product. In inference BN(x) = a·x + c per channel, a = γ/√(σ² + ε), c = β − a·μ.
"""
from __future__ import annotations

import copy
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper


def reference_fold(model: onnx.ModelProto) -> tuple[onnx.ModelProto, dict[str, Any]]:
    """(folded copy of `model`, {"folded": [{"bn", "into"}], "skipped": [{"bn", "reason"}]})."""
    return _Folder(model).run()


class _Folder:
    def __init__(self, model: onnx.ModelProto):
        self.model = copy.deepcopy(model)
        self.g = self.model.graph
        self.inits = {t.name: numpy_helper.to_array(t).astype(np.float64)
                      for t in self.g.initializer}
        self.graph_outputs = {o.name for o in self.g.output}

    # -------------------------------------------------- graph queries and edits

    def consumers(self, name: str) -> list[onnx.NodeProto]:
        return [n for n in self.g.node if name in n.input]

    def producer(self, name: str) -> onnx.NodeProto | None:
        return next((n for n in self.g.node if name in n.output), None)

    def exclusive(self, name: str) -> bool:
        """One consumer and not a graph output: the value may change."""
        return len(self.consumers(name)) == 1 and name not in self.graph_outputs

    @staticmethod
    def attr(node: onnx.NodeProto, name: str, default: Any) -> Any:
        a = next((a for a in node.attribute if a.name == name), None)
        return default if a is None else helper.get_attribute_value(a)

    @staticmethod
    def set_attr(node: onnx.NodeProto, name: str, val: Any) -> None:
        for a in [a for a in node.attribute if a.name == name]:
            node.attribute.remove(a)
        node.attribute.append(helper.make_attribute(name, val))

    def clone(self, base: str, bn: str, array: np.ndarray) -> str:
        name = f"{base}.folded.{bn}"
        self.inits[name] = array
        return name

    def optional(self, node: onnx.NodeProto, index: int) -> Any:
        """The initializer at input `index`, or 0.0 when the input is absent."""
        return self.inits[node.input[index]] if len(node.input) > index and node.input[index] else 0.0

    def set_bias(self, node: onnx.NodeProto, index: int, name: str) -> None:
        if len(node.input) > index:
            node.input[index] = name
        else:
            node.input.append(name)

    # -------------------------------------------------- folds

    def backward(self, prod: onnx.NodeProto, bn: onnx.NodeProto, a: np.ndarray,
                 c: np.ndarray) -> bool:
        x, y, op, name = bn.input[0], bn.output[0], prod.op_type, bn.name
        if op == "Add":  # MatMul → Add(bias) → BN
            mm = next((self.producer(i) for i in prod.input if i not in self.inits), None)
            bias = next((i for i in prod.input if i in self.inits), None)
            if mm is None or mm.op_type != "MatMul" or bias is None or mm.input[1] not in self.inits \
                    or not self.exclusive(mm.output[0]):
                return False
            mm.input[1] = self.clone(mm.input[1], name, self.inits[mm.input[1]] * a)
            prod.input[list(prod.input).index(bias)] = self.clone(bias, name, self.inits[bias] * a + c)
        elif op == "MatMul" and prod.input[1] in self.inits:  # W (K, N): scale columns
            prod.input[1] = self.clone(prod.input[1], name, self.inits[prod.input[1]] * a)
            self.g.node.insert(list(self.g.node).index(bn), helper.make_node(
                "Add", [x, self.clone("bias", name, c)], [y], name=f"{name}.bias"))
            return True  # the Add takes the BN's place
        elif op == "Gemm" and prod.input[1] in self.inits:  # W (K, N), or (N, K) if transB
            w = self.inits[prod.input[1]]
            trans_b = self.attr(prod, "transB", 0)
            bias = a * self.attr(prod, "beta", 1.0) * np.broadcast_to(self.optional(prod, 2), a.shape) + c
            prod.input[1] = self.clone(prod.input[1], name, w * (a[:, None] if trans_b else a[None, :]))
            self.set_bias(prod, 2, self.clone("C", name, bias))
            self.set_attr(prod, "beta", 1.0)
        elif op == "Conv" and prod.input[1] in self.inits:  # W (M, C/group, k...): axis 0
            w = self.inits[prod.input[1]]
            prod.input[1] = self.clone(prod.input[1], name, w * a.reshape(-1, *[1] * (w.ndim - 1)))
            self.set_bias(prod, 2, self.clone("b", name, a * self.optional(prod, 2) + c))
        else:
            return False
        prod.output[0] = y
        return True

    def forward(self, user: onnx.NodeProto, bn: onnx.NodeProto, a: np.ndarray,
                c: np.ndarray) -> str:
        """"" when folded, else the reason."""
        y, name = bn.output[0], bn.name
        if user.op_type not in ("Gemm", "MatMul", "Conv") or user.input[0] != y \
                or user.input[1] not in self.inits:
            return f"its output feeds {user.op_type}, not the data input of a Gemm/MatMul/Conv"
        w = self.inits[user.input[1]]
        if user.op_type == "Conv":
            if any(self.attr(user, "pads", [0])) or self.attr(user, "auto_pad", b"NOTSET") != b"NOTSET":
                return f"forward fold into {user.name} would shift its zero padding (pads ≠ 0)"
            group = self.attr(user, "group", 1)
            m, cg = w.shape[0], w.shape[1]
            chan = (np.arange(m)[:, None] // (m // group)) * cg + np.arange(cg)[None, :]  # (M, C/g)
            spatial = [1] * (w.ndim - 2)
            shift = (w * c[chan].reshape(m, cg, *spatial)).reshape(m, -1).sum(axis=1)
            user.input[1] = self.clone(user.input[1], name, w * a[chan].reshape(m, cg, *spatial))
            self.set_bias(user, 2, self.clone("b", name, self.optional(user, 2) + shift))
        elif user.op_type == "Gemm":
            trans_b, alpha = self.attr(user, "transB", 0), self.attr(user, "alpha", 1.0)
            wk = w.T if trans_b else w  # (K, N)
            extra = alpha * (c @ wk)
            bias = self.attr(user, "beta", 1.0) * np.broadcast_to(self.optional(user, 2), extra.shape) + extra
            scaled = wk * a[:, None]
            user.input[1] = self.clone(user.input[1], name, scaled.T if trans_b else scaled)
            self.set_bias(user, 2, self.clone("C", name, bias))
            self.set_attr(user, "beta", 1.0)
        else:  # MatMul, W (K, N): x·W' + c·W
            user.input[1] = self.clone(user.input[1], name, w * a[:, None])
            out = user.output[0]
            user.output[0] = f"{out}.pre_bias"
            self.g.node.insert(list(self.g.node).index(user) + 1, helper.make_node(
                "Add", [user.output[0], self.clone("bias", name, c @ w)], [out], name=f"{name}.bias"))
        user.input[0] = bn.input[0]
        return ""

    def run(self) -> tuple[onnx.ModelProto, dict[str, Any]]:
        report: dict[str, list[dict[str, str]]] = {"folded": [], "skipped": []}
        for bn in [n for n in self.g.node if n.op_type == "BatchNormalization"]:
            missing = [p for p in bn.input[1:5] if p not in self.inits]
            if missing:
                report["skipped"].append({"bn": bn.name, "reason": f"parameter {missing[0]} is "
                                                                   f"not an initializer"})
                continue
            scale, beta, mean, var = (self.inits[p] for p in bn.input[1:5])
            a = scale / np.sqrt(var + self.attr(bn, "epsilon", 1e-5))
            c = beta - a * mean
            x, y = bn.input[0], bn.output[0]
            prod, users = self.producer(x), self.consumers(y)
            reasons: list[str] = []
            into = ""
            if prod is None or not self.exclusive(x):
                reasons.append(f"its input {x} is a graph output or has "
                               f"{len(self.consumers(x))} consumers")
            elif self.backward(prod, bn, a, c):
                into = prod.name
            else:
                reasons.append(f"its input comes from {prod.op_type}, not a foldable linear op")
            if not into and len(users) == 1 and y not in self.graph_outputs:
                why = self.forward(users[0], bn, a, c)
                into = "" if why else users[0].name
                reasons += [why] if why else []
            if into:
                self.g.node.remove(bn)
                report["folded"].append({"bn": bn.name, "into": into})
            else:
                report["skipped"].append({"bn": bn.name, "reason": "; ".join(reasons)})
        used = {i for n in self.g.node for i in n.input}
        del self.g.initializer[:]
        self.g.initializer.extend(numpy_helper.from_array(v.astype(np.float32), k)
                                  for k, v in self.inits.items() if k in used)
        return self.model, report
