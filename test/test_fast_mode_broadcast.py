"""fast mode's one-value constants shaped to the rank they broadcast against (`broadcast_constants.py`).

onnxruntime runs Mul / Add / Sub / Div of a tensor whose last dimension is 1 against a [1]
constant one element at a time (det's [1, 320, 320, 1] output: 50x slower, measured in the
module doc; speed is the benches' business). Tested here: the rewrite reshapes exactly those
constants ([1] * the other operand's rank, a copy per rank), leaves every other input alone,
changes no value onnxruntime computes, and fast mode's sessions get it (bit-exact's do not).
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper

from runtime.onnx_backend import program as program_module
from runtime.onnx_backend.broadcast_constants import rank_matched_constants
from runtime.onnx_backend.graph import IR_VERSION, OPSET


def _model() -> onnx.ModelProto:
    """x [1, 4, 5, 1] * s -> + b (b shared with a rank-2 Add), QuantizeLinear with the scalar s, a [3] constant."""
    nodes = [
        helper.make_node("Mul", ["x", "s"], ["scaled"]),
        helper.make_node("Add", ["b", "scaled"], ["shifted"]),
        helper.make_node("Add", ["y", "b"], ["y_shifted"]),
        helper.make_node("Mul", ["y_shifted", "row"], ["y_out"]),
        helper.make_node("QuantizeLinear", ["shifted", "q_scale"], ["q"]),
    ]
    initializers = [
        numpy_helper.from_array(np.array([0.75], np.float32), "s"),
        numpy_helper.from_array(np.array(1.5, np.float32), "b"),  # rank 0
        numpy_helper.from_array(np.array([1.0, 2.0, 3.0], np.float32), "row"),
        numpy_helper.from_array(np.array(0.25, np.float32), "q_scale"),
    ]
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 5, 1]), helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info(name, kind, None) for name, kind in (("shifted", TensorProto.FLOAT), ("y_out", TensorProto.FLOAT), ("q", TensorProto.UINT8))],
        initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)


def _run(model: onnx.ModelProto, feeds) -> list[np.ndarray]:
    return onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)


def test_one_value_constants_take_the_other_operands_rank_and_values_stay():
    original = _model()
    rewritten = rank_matched_constants(_model())
    shapes = {tensor.name: list(tensor.dims) for tensor in rewritten.graph.initializer}
    inputs = [list(node.input) for node in rewritten.graph.node]
    assert inputs[0][1] == "s_rank4" and shapes["s_rank4"] == [1, 1, 1, 1]
    assert inputs[1][0] == "b_rank4" and shapes["b_rank4"] == [1, 1, 1, 1]
    assert inputs[2][1] == "b_rank2" and shapes["b_rank2"] == [1, 1]  # the same constant, a copy per rank
    assert inputs[3][1] == "row" and inputs[4][1] == "q_scale" and shapes["q_scale"] == []  # not one value / not broadcast
    assert "s" not in shapes and "b" not in shapes  # no longer read
    rng = np.random.default_rng(0)
    feeds = {"x": rng.standard_normal((1, 4, 5, 1)).astype(np.float32), "y": rng.standard_normal((2, 3)).astype(np.float32)}
    for before, after in zip(_run(original, feeds), _run(rewritten, feeds), strict=True):
        assert before.shape == after.shape and before.dtype == after.dtype
        np.testing.assert_array_equal(before, after)


def test_fast_mode_sessions_are_rewritten_and_bit_exact_ones_are_not():
    from test_fast_mode_chains import _chain_module

    from runtime.fast_kernels import FAST_KERNELS
    from runtime.interpreter import Interpreter
    from runtime.onnx_backend.exact_int16_form import EXACT_FORM
    from runtime.onnx_backend.integer_emulation import INTEGER_EMULATION

    module, feeds = _chain_module(3, False, ends_in_float=True)
    for emulation, rewritten in ((INTEGER_EMULATION, True), (EXACT_FORM, False)):
        seen = []
        with mock.patch.object(program_module, "rank_matched_constants", lambda model: seen.append(model) or rank_matched_constants(model)):
            program = program_module.OnnxProgram(Interpreter(module, kernels=FAST_KERNELS), threads=1, emulation=emulation)
        assert program.numpy_ops() == [] and program.segment_count() >= 1
        assert (len(seen) == program.segment_count() if rewritten else seen == []), (emulation, seen)
        program.run(feeds)
