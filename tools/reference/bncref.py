"""Shared helpers of bnc's Python reference tools: onnxruntime sessions, input feeds, IDX files.

Imported by the scripts beside it (python puts the script's directory on sys.path).
"""
from __future__ import annotations

import ast
import gzip
import operator
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
import onnxruntime as ort

ORT_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64,
             "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(uint8)": np.uint8}


class ToolError(Exception):
    """A one-line, user-facing failure (bad file, bad arguments)."""


def one_line(error: BaseException) -> str:
    """An exception as one line: onnx and onnxruntime messages often span several."""
    text = " ".join(str(error).split())
    return text or type(error).__name__


def session(model: str | Path | bytes, optimize: bool = True) -> ort.InferenceSession:
    """A CPU session; `optimize` turns on every graph optimization (ORT_ENABLE_ALL)."""
    opts = ort.SessionOptions()
    opts.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize
                                     else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    opts.log_severity_level = 3  # errors only; warnings would break the one-line output
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])


def feed_shape(arg: ort.NodeArg, batch: int) -> list[int]:
    """The input's shape with symbolic or unknown dims replaced by `batch`."""
    if arg.shape is None:
        raise ToolError(f"input '{arg.name}' has no shape")
    return [d if isinstance(d, int) and d >= 0 else batch for d in arg.shape]


def feeds(sess: ort.InferenceSession, batch: int,
          fill: Callable[[list[int], type], np.ndarray]) -> dict[str, np.ndarray]:
    out = {}
    for arg in sess.get_inputs():
        dtype = ORT_TYPES.get(arg.type)
        if dtype is None:
            raise ToolError(f"input '{arg.name}' has unsupported type {arg.type}")
        out[arg.name] = fill(feed_shape(arg, batch), dtype)
    return out


def zeros_feeds(sess: ort.InferenceSession, batch: int = 2) -> dict[str, np.ndarray]:
    return feeds(sess, batch, lambda shape, dtype: np.zeros(shape, dtype))


def random_feeds(sess: ort.InferenceSession, batch: int, seed: int) -> dict[str, np.ndarray]:
    """Seeded standard-normal floats (inputs in the same order get the same values)."""
    rng = np.random.default_rng(seed)
    return feeds(sess, batch, lambda shape, dtype: rng.standard_normal(shape).astype(dtype))


def load_model(path: str | Path) -> onnx.ModelProto:
    try:
        return onnx.load(str(path))
    except Exception as error:  # protobuf's DecodeError, OSError, ...
        raise ToolError(f"cannot load: {one_line(error)}") from error


def metadata(model: onnx.ModelProto) -> dict[str, str]:
    return {p.key: p.value for p in model.metadata_props}


# ---------------------------------------------------------------- IDX files

IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
             0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX file (MNIST format, plain or .gz) as an array of its declared shape.

    Header: two zero bytes, a type code (0x08 = uint8 ...), the rank, then rank big-endian
    uint32 dims. The data size is checked against the dims before any reshaping.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise ToolError(f"{path}: cannot read: {one_line(error)}") from error
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ToolError(f"{path}: byte 0: not an IDX file (magic must start with two zero bytes)")
    dtype = IDX_TYPES.get(raw[2])
    if dtype is None:
        raise ToolError(f"{path}: byte 2: unknown IDX type code 0x{raw[2]:02x}")
    rank = raw[3]
    header = 4 + 4 * rank
    if len(raw) < header:
        raise ToolError(f"{path}: truncated header: {len(raw)} bytes, rank {rank} needs {header}")
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    count = int(np.prod(dims, dtype=np.int64)) if dims else 1
    expected = header + count * np.dtype(dtype).itemsize
    if len(raw) != expected:
        raise ToolError(f"{path}: dims {dims} need {expected} bytes, file has {len(raw)}")
    return np.frombuffer(raw, dtype, count, header).reshape(dims)


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Writes uint8 data as IDX, gzip-compressed when the name ends in .gz."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    data = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape) + array.tobytes()
    if str(path).endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    Path(path).write_bytes(data)


# ---------------------------------------------------------------- pixel scaling

_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
        ast.Div: operator.truediv}


def scaling(expression: str) -> Callable[[np.ndarray], np.ndarray]:
    """Compiles a `bnc.input.scaling` text such as "x/255" or "(x/255-0.5)/0.5" into a function
    of the float32 pixel array. Only x, numbers, + - * / and parentheses are accepted."""
    try:
        tree = ast.parse(expression, mode="eval").body
    except SyntaxError as error:
        raise ToolError(f"input scaling '{expression}': {one_line(error)}") from error

    def ev(node: ast.AST, x: np.ndarray) -> np.ndarray | float:
        if isinstance(node, ast.Name) and node.id == "x":
            return x
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return np.float32(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.left, x), ev(node.right, x))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand, x)
        raise ToolError(f"input scaling '{expression}': unsupported term "
                        f"'{ast.unparse(node)}' (only x, numbers, + - * /, parentheses)")

    ev(tree, np.zeros(1, np.float32))  # reject bad expressions before any data is read
    return lambda x: np.asarray(ev(tree, x.astype(np.float32)), dtype=np.float32)
