"""Small ONNX models built with `onnx.helper` for importer and API tests, and the
oracle that runs them (onnxruntime) next to our import + interpreter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper

from lowering.onnx_importer import import_onnx
from runtime.interpreter import Interpreter

FLOAT = TensorProto.FLOAT
INT64 = TensorProto.INT64


def tensor(name: str, elem_type: int, shape: Sequence[int | str | None]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem_type, list(shape))


def const(name: str, array) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(array), name)


def model(
    nodes: Sequence[onnx.NodeProto],
    inputs: Sequence[onnx.ValueInfoProto],
    outputs: Sequence[onnx.ValueInfoProto],
    initializers: Sequence[onnx.TensorProto] = (),
    opset: int = 17,
) -> onnx.ModelProto:
    graph = helper.make_graph(list(nodes), "test", list(inputs), list(outputs), list(initializers))
    result = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    result.ir_version = 8  # accepted by every onnxruntime we test with
    onnx.checker.check_model(result)
    return result


def nhwc(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array.transpose(0, 2, 3, 1)) if array.ndim == 4 else array


def nchw(array: np.ndarray) -> np.ndarray:
    return array.transpose(0, 3, 1, 2) if array.ndim == 4 else array


def run_both(proto: onnx.ModelProto, feeds: Mapping[str, np.ndarray]):
    """(ours, onnxruntime's) outputs, ours turned back to ONNX layout, plus the import result."""
    result = import_onnx(proto, {name: value.shape for name, value in feeds.items()})
    ours = Interpreter(result.module).run({name: nhwc(value) for name, value in feeds.items()})
    session = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    theirs = session.run(None, dict(feeds))
    return [nchw(o) for o in ours], theirs, result


def assert_matches_onnxruntime(proto: onnx.ModelProto, feeds: Mapping[str, np.ndarray], rtol: float = 1e-5, atol: float = 1e-5):
    ours, theirs, result = run_both(proto, feeds)
    assert len(ours) == len(theirs)
    for got, want in zip(ours, theirs):
        assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype, want.shape, want.dtype)
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    return result


def op_names(result) -> list[str]:
    """The op names in the body of the imported @main, in order."""
    return [op.name for op in result.module.walk() if op.name.startswith("sima.")]
