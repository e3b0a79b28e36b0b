"""Bit-exact sessions holding int8 tensors as centred float32 (`runtime.onnx_backend.exact_float_form`)
and their table reads joined to onnxruntime's NCHWc layout (`runtime.onnx_backend.blocked_layout`).

- random programs (padded depthwise conv -> lut read at the conv's table index ->
  conv -> global average pool -> conv -> lut -> broadcast qmul -> residual qadd of
  the second conv -> max pool, zero points, shifts and relu drawn) give the NumPy interpreter's
  integers bit for bit, as one session with nothing left to NumPy, with 4 channels
  (NCHW) and 16 (onnxruntime's NCHWc convolutions, the table reads joined to them);
- mutation checks: a table rotated one entry too far, a convolution's float32 bias
  one accumulator unit off (in the value and in the index path), a rewired graph that
  reads a blocked tensor as NCHW: each changes the outputs the tests compare;
- `keep_blocked`'s table-read rules: a Cast -> Reshape -> GatherElements -> Reshape run between
  convolutions is joined when their channels fill whole blocks, not when a block pads them
  (the other layout rules: `test_fast_mode_fused.py`).
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region

from integer_references import integers, quant
from runtime.integer_arithmetic import ArithFoldedRequantization
from runtime.interpreter import Interpreter
from runtime.onnx_backend import blocked_layout, exact_float_form
from runtime.onnx_backend.exact_float_form import EXACT_FLOAT_FORM
from runtime.onnx_backend.program import OnnxProgram
from sima_dialect import ops
from sima_dialect.ops import ConstantOp
from sima_dialect.quantized_ops import LutOp, QAddOp, QConv2DOp, QGlobalAvgPoolOp, QMulOp


NO_NCHWC = ("onnxruntime ran no convolution in its blocked NCHWc layout on this CPU (x86-64 with AVX2 has it): "
            "the layout joins these tests check are not exercised here")

SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _conv(x, weight, bias, shift, output, *, pads=(0, 0, 0, 0), groups=1, relu=False):
    return QConv2DOp(x, weight, bias, ArithFoldedRequantization(np.array(shift)), 0, output,
                     strides=[1, 1], pads=list(pads), dilations=[1, 1], groups=groups, relu=relu)


def _program(seed: int, channels: int, height: int, width: int):
    """(module, feeds) of the random program of the module docstring."""
    rng = np.random.default_rng(seed)
    c = channels
    zero = lambda: int(rng.integers(-128, 128))  # noqa: E731  any zero point of int8
    step = lambda: quant(8, 0.1, zero())  # noqa: E731
    x_type = step()
    block = Block(arg_types=[TensorType(x_type, [1, height, width, c])])
    x = block.args[0]
    constants = {
        "w1": rng.integers(-20, 21, (3, 3, 1, c)).astype(np.int8),
        "b1": rng.integers(-3000, 3000, c).astype(np.int32),
        "table1": rng.integers(-128, 128, 256).astype(np.int8),
        "w2": rng.integers(-20, 21, (1, 1, c, c)).astype(np.int8),
        "b2": rng.integers(-3000, 3000, c).astype(np.int32),
        "w3": rng.integers(-20, 21, (1, 1, c, c)).astype(np.int8),
        "b3": rng.integers(-3000, 3000, c).astype(np.int32),
        "table2": rng.integers(-128, 128, 256).astype(np.int8),
    }
    const = {name: ConstantOp.from_array(name, value) for name, value in constants.items()}
    value = {name: op.output for name, op in const.items()}
    shift = lambda: int(rng.integers(1, 9))  # noqa: E731

    def conv(x, weight, bias, **attributes):
        relu = bool(rng.integers(2))  # (sima's relu clamps the accumulator: the result's zero point is 0)
        return _conv(x, value[weight], value[bias], shift(), quant(8, 0.1, 0) if relu else step(), relu=relu, **attributes)

    conv1 = conv(x, "w1", "b1", pads=(1, 1, 1, 1), groups=c)
    lut1 = LutOp(conv1.output, value["table1"], step())  # the conv's only reader: its table index
    conv2 = conv(lut1.output, "w2", "b2")
    pooled = QGlobalAvgPoolOp.for_types(conv2.output, step())
    conv3 = conv(pooled.output, "w3", "b3")
    gate = LutOp(conv3.output, value["table2"], step())
    gated = QMulOp(conv2.output, gate.output, step(), multiplier=int(rng.integers(1, 127)), shift=int(rng.integers(8, 16)), left_shift=0)
    residual = QAddOp(gated.output, conv2.output, step(), multiplier=int(rng.integers(1, 127)), shift=int(rng.integers(6, 10)), left_shift=2,
                      lhs_multiplier=int(rng.integers(1, 127)), lhs_shift=6, rhs_multiplier=int(rng.integers(1, 127)), rhs_shift=6)
    element = residual.output.type.element_type
    pooled_height, pooled_width = (height + 1) // 2, (width + 1) // 2
    pool = ops.MaxPoolOp(operands=[residual.output], result_types=[TensorType(element, [1, pooled_height, pooled_width, c])],
                         properties={"kernel": ops.int_array([3, 3]), "strides": ops.int_array([2, 2]),
                                     "pads": ops.int_array([1, 1, 1, 1]), "dilations": ops.int_array([1, 1])})
    block.add_ops([*const.values(), conv1, lut1, conv2, pooled, conv3, gate, gated, residual, pool, ReturnOp(pool.results[0])])
    module = ModuleOp([FuncOp("main", ([x.type], [pool.results[0].type]), Region(block))])
    module.verify()
    low, high = integers(8)
    return module, [rng.integers(low, high + 1, (1, height, width, c)).astype(np.int8)]


def _form_program(module) -> tuple[OnnxProgram, Interpreter]:
    interpreter = Interpreter(module)
    return OnnxProgram(interpreter, threads=1, emulation=EXACT_FLOAT_FORM), interpreter


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.sampled_from([4, 16]), st.integers(1, 9), st.integers(1, 12))
def test_a_random_program_is_one_session_and_bit_exact(seed, channels, height, width):
    module, feeds = _program(seed, channels, height, width)
    program, interpreter = _form_program(module)
    assert program.segment_count() == 1 and program.numpy_ops() == [], program.fallbacks
    for produced, expected in zip(program.run(feeds), interpreter.run(feeds), strict=True):
        assert produced.dtype == expected.dtype and produced.shape == expected.shape
        np.testing.assert_array_equal(produced, expected)


def test_convolutions_read_only_by_tables_leave_their_index():
    """conv1 and conv3 are read only by a lut: the session reads those tables at the
    convolutions' index (no Round); conv2, read by the pool and the qmul, rounds."""
    module, _ = _program(0, 16, 6, 8)
    conv1 = next(op for op in module.walk() if isinstance(op, QConv2DOp))
    assert exact_float_form._read_by_tables_only(conv1.output)
    models = []
    original = OnnxProgram._session
    OnnxProgram._session = lambda self, model: models.append(model) or original(self, model)
    try:
        _form_program(module)
    finally:
        OnnxProgram._session = original
    (model,) = models
    rounds = [node.name for node in model.graph.node if node.op_type == "Round"]
    assert len(rounds) == 1, rounds


def test_the_sixteen_channel_program_runs_joined_to_the_nchwc_layout(monkeypatch):
    """The session the random programs of 16 channels run is the joined one (not its fallback)."""
    module, feeds = _program(3, 16, 8, 10)
    built, removed, blocked = [], [], []
    original_session, original_keep = blocked_layout.blocked_session, blocked_layout.keep_blocked

    def keep(model, shapes=None):
        blocked.append(any(node.domain == blocked_layout.NCHWC_DOMAIN for node in model.graph.node))
        removed.append(original_keep(model, shapes))
        return removed[-1]

    monkeypatch.setattr(blocked_layout, "keep_blocked", keep)
    import runtime.onnx_backend.program as program_module

    monkeypatch.setattr(program_module, "blocked_session", lambda *arguments: built.append(original_session(*arguments)) or built[-1])
    program, interpreter = _form_program(module)
    assert blocked == [True], NO_NCHWC
    assert removed and removed[0] >= 2 and built and built[0][1]
    np.testing.assert_array_equal(program.run(feeds)[0], interpreter.run(feeds)[0])


# ---------------------------------------------------------------------------
# mutation checks: each changes what the tests above compare


def _differs(module, feeds) -> bool:
    program, interpreter = _form_program(module)
    assert program.numpy_ops() == []
    return not all(np.array_equal(a, b) for a, b in zip(program.run(feeds), interpreter.run(feeds)))


def _big_program():
    module, _ = _program(11, 16, 24, 32)
    rng = np.random.default_rng(1)
    low, high = integers(8)
    return module, [rng.integers(low, high + 1, (1, 24, 32, 16)).astype(np.int8)]


def test_the_big_program_is_bit_exact_unmutated():
    module, feeds = _big_program()
    assert not _differs(module, feeds)


def test_a_table_rotated_one_entry_too_far_is_seen(monkeypatch):
    module, feeds = _big_program()
    original = exact_float_form.centred_unary_table
    monkeypatch.setattr(exact_float_form, "centred_unary_table", lambda table, source: np.roll(original(table, source), 1))
    assert _differs(module, feeds)


@pytest.mark.parametrize("which", [1, 2])  # the calls: conv1 value (unread), conv1 index, conv2 value, ...
def test_a_bias_one_accumulator_unit_off_is_seen(monkeypatch, which):
    module, feeds = _big_program()
    original = exact_float_form._fused_sima_bias
    calls = []

    def one_unit_more(plan, bias, bound):
        calls.append(None)
        fused = original(plan, bias, bound)
        if fused is None or len(calls) - 1 != which:
            return fused
        return (fused + np.ldexp(1.0, -np.broadcast_to(plan[1].shift, fused.shape))).astype(np.float32)

    monkeypatch.setattr(exact_float_form, "_fused_sima_bias", one_unit_more)
    assert _differs(module, feeds)


# ---------------------------------------------------------------------------
# keep_blocked: table reads


def _conv_table_conv(channels: int, table_reader: str = "GatherElements", swap_back: bool = False) -> onnx.ModelProto:
    """x (float32 integers, NCHW) -> Conv -> Cast -> Reshape -> table read -> Reshape -> Conv (swap_back:
    the second Reshape gives [1, C, W, H], not the first conv's [1, C, H, W])."""
    rng = np.random.default_rng(0)
    shape = [1, channels, 6, 7]
    w1 = rng.integers(-3, 4, (channels, channels, 3, 3)).astype(np.float32)
    w2 = rng.integers(-3, 4, (channels, channels, 1, 1)).astype(np.float32)
    table = rng.integers(-100, 100, 4096).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["p"], pads=[1, 1, 1, 1]),
        helper.make_node("Cast", ["p"], ["i"], to=TensorProto.INT32),
        helper.make_node("Reshape", ["i", "flat"], ["f"]),
        helper.make_node(table_reader, ["table", "f"], ["g"], axis=0),
        helper.make_node("Reshape", ["g", "shape"], ["t"]),
        helper.make_node("Conv", ["t", "w2"], ["y"]),
    ]
    back = [*shape[:2], shape[3], shape[2]] if swap_back else shape
    constants = {"w1": w1, "w2": w2, "table": table, "flat": np.array([-1], np.int64), "shape": np.array(back, np.int64)}
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(v, k) for k, v in constants.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    return model


def _options():
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    return options


def _optimized(model: onnx.ModelProto, tmp_path) -> onnx.ModelProto:
    options = _options()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    options.log_severity_level = 4
    onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    optimized = onnx.load(str(tmp_path / "optimized.onnx"))
    assert any(node.domain == blocked_layout.NCHWC_DOMAIN for node in optimized.graph.node), NO_NCHWC
    return optimized


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    options = _options()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    return onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


@pytest.mark.parametrize("channels, swap_back", [(16, False), (12, False), (16, True)])
def test_a_table_read_between_convolutions_is_joined_where_channels_fill_blocks(channels, swap_back, tmp_path):
    """16 channels: the run's two reorders go, same outputs; not joined: 12 channels (a block pads
    them: the blocked tensor holds more elements than the Reshapes' shapes), or a run whose last
    Reshape does not give back the first conv's NCHW shape (the blocked data would be read as another)."""
    model = _conv_table_conv(channels, swap_back=swap_back)
    optimized = _optimized(model, tmp_path)
    x = np.random.default_rng(1).integers(-9, 10, (1, channels, 6, 7)).astype(np.float32)
    expected = _run(optimized, x)
    reorders = lambda: sorted(node.op_type for node in optimized.graph.node if node.op_type.startswith("Reorder"))  # noqa: E731
    before = reorders()
    assert before.count("ReorderOutput") == 2 and before.count("ReorderInput") >= 1  # the second conv's input, maybe x's
    joined = channels == 16 and not swap_back
    assert blocked_layout.keep_blocked(optimized, blocked_layout.tensor_shapes(model)) == (2 if joined else 0)
    assert len(reorders()) == len(before) - (2 if joined else 0)
    np.testing.assert_array_equal(_run(optimized, x), expected)


def test_reading_the_blocked_tensor_as_nchw_is_seen(tmp_path):
    """The mutation check of the join: feeding a blocked tensor to an NCHW op (what joining a
    layout-dependent reader would do) changes the result, so the equality above is not vacuous."""
    optimized = _optimized(_conv_table_conv(16), tmp_path)
    x = np.random.default_rng(1).integers(-9, 10, (1, 16, 6, 7)).astype(np.float32)
    expected = _run(optimized, x)
    reorders = {node.output[0]: node.input[0] for node in optimized.graph.node if node.op_type == "ReorderOutput"}
    for node in optimized.graph.node:
        if node.op_type == "Cast" and node.input[0] in reorders:
            node.input[0] = reorders[node.input[0]]  # the Cast reads the blocked tensor; the ReorderInput stays
    assert not np.array_equal(_run(optimized, x), expected)


# ---------------------------------------------------------------------------
# quantize: float32 -> int8 in the session where `quantize_is_exact` proves it


def _quantize_module(shape, step: float, zero_point: int):
    from xdsl.dialects.builtin import f32

    from sima_dialect.quantized_ops import QuantizeOp

    block = Block(arg_types=[TensorType(f32, list(shape))])
    op = QuantizeOp(block.args[0], quant(8, step, zero_point))
    block.add_ops([op, ReturnOp(op.output)])
    module = ModuleOp([FuncOp("main", ([block.args[0].type], [op.output.type]), Region(block))])
    module.verify()
    return module


def _near_ties(step: float, zero_point: int, rng) -> np.ndarray:
    """float32 values at and next to every (k + 1/2) step below saturation, infinities, random ones."""
    low, high = integers(8)
    nearest = ((np.arange(low - zero_point - 2, high - zero_point + 2) + 0.5) * step).astype(np.float32)
    values = [nearest, np.nextafter(nearest, np.float32(np.inf)), np.nextafter(nearest, np.float32(-np.inf)),
              np.array([np.inf, -np.inf, 0.0, -0.0, 3e38, -3e38], np.float32),
              (rng.standard_normal(300) * step * 100).astype(np.float32)]
    return np.concatenate(values)


@SETTINGS
@given(st.floats(1e-4, 2.0), st.integers(-128, 127), st.integers(0, 2**32 - 1))
def test_quantize_in_the_session_is_the_kernel(step, zero_point, seed):
    step = float(np.float32(step))  # steps as the quantizer makes them (float32 scales)
    values = _near_ties(step, zero_point, np.random.default_rng(seed))
    x = np.random.default_rng(seed).permutation(values)[None, None, :, None]
    module = _quantize_module(x.shape, step, zero_point)
    program, interpreter = _form_program(module)
    lowered = exact_float_form.quantize_mismatches(step, zero_point)[0].size <= exact_float_form.MAX_QUANTIZE_PATCHES
    assert (program.numpy_ops() == []) == lowered, program.fallbacks
    np.testing.assert_array_equal(program.run([x])[0], interpreter.run([x])[0])


def test_quantize_refuses_nan_as_the_kernel_does():
    x = np.array([0.5, np.nan, 1.0], np.float32)[None, None, :, None]
    program, interpreter = _form_program(_quantize_module(x.shape, float(np.float32(0.1)), 3))
    assert program.numpy_ops() == []
    with pytest.raises(Exception, match="NaN"):
        interpreter.run([x])
    with pytest.raises(Exception, match="NaN"):
        program.run([x])


def test_a_wrong_rounding_is_refused_by_the_proof():
    """The mutation check: round half to even, or x times 1 / step, is not the kernel for every float32."""
    def half_to_even(x, step, low, high):
        return np.clip(np.rint(np.asarray(x, np.float32).astype(np.float64) / step), low, high)

    def times_inverse(x, step, low, high):
        quotient = np.asarray(x, np.float32).astype(np.float64) * (1.0 / step)
        return np.trunc(np.clip(quotient + np.sign(quotient) * 0.5, low, high))

    assert exact_float_form.quantize_is_exact(0.0078125, 3)
    assert not exact_float_form.quantize_is_exact(0.0078125, 3, half_to_even)  # float32 ties exist for 2**-7
    assert not all(exact_float_form.quantize_is_exact(step, 0, times_inverse) for step in (0.1, 0.017, 0.3))


def test_a_step_whose_float64_quotients_cross_ties_stays_in_numpy():
    """step 0.1 (a float64 0.1, not a float32 scale): fl(-12.75 / 0.1) is the tie -127.5 while the
    exact quotient lies just above it, and so on for 51 float32 values: too many to patch, the
    kernel runs in NumPy."""
    assert exact_float_form.quantize_mismatches(0.1, 3)[0].size > exact_float_form.MAX_QUANTIZE_PATCHES
    x = np.array([-12.75, -12.25, 0.3], np.float32)[None, None, :, None]
    program, interpreter = _form_program(_quantize_module(x.shape, 0.1, 3))
    assert program.numpy_ops() == ["sima.quantize"]
    np.testing.assert_array_equal(program.run([x])[0], interpreter.run([x])[0])


# ---------------------------------------------------------------------------
# qsoftmax (int8): float64 steps in the session


def _softmax_module(shape, axis: int, table: np.ndarray, multiplier: int, shift: int, x_type, out_type):
    from sima_dialect.quantized_ops import QSoftmaxOp

    block = Block(arg_types=[TensorType(x_type, list(shape))])
    constant = ConstantOp.from_array("table", table)
    op = QSoftmaxOp(block.args[0], constant.output, out_type, axis=axis, multiplier=multiplier, shift=shift)
    block.add_ops([constant, op, ReturnOp(op.output)])
    module = ModuleOp([FuncOp("main", ([block.args[0].type], [op.output.type]), Region(block))])
    module.verify()
    return module


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.sampled_from([(1, 2), (1, 4), (2, 3, 5), (1, 1, 1, 300)]), st.integers(1, 127), st.integers(0, 20))
def test_softmax_in_the_session_is_the_kernel(seed, shape, multiplier, shift):
    rng = np.random.default_rng(seed)
    decay = rng.uniform(0.001, 0.5)
    table = np.round(np.exp(-decay * np.arange(256)) * 2**23).astype(np.int32)  # table[0] = 2**23, as the model's
    table[1:] = np.minimum(table[1:] + rng.integers(-2, 3, 255), 2**23).clip(0)  # (any entries in range)
    axis = int(rng.integers(len(shape)))
    module = _softmax_module(shape, axis, table, multiplier, shift, step(rng), step(rng))
    low, high = integers(8)
    x = rng.integers(low, high + 1, shape).astype(np.int8)
    x.flat[0] = x.flat[-1]  # ties in a row
    program, interpreter = _form_program(module)
    assert program.numpy_ops() == [], program.fallbacks
    np.testing.assert_array_equal(program.run([x])[0], interpreter.run([x])[0])


def step(rng):
    return quant(8, 0.05, int(rng.integers(-128, 128)))


def test_a_softmax_rounding_one_off_is_seen(monkeypatch):
    """The mutation check: the probability's rounding half (S / 2) dropped changes outputs."""
    rng = np.random.default_rng(4)
    table = np.round(np.exp(-0.05 * np.arange(256)) * 2**23).astype(np.int32)
    module = _softmax_module((64, 4), 1, table, 127, 15, quant(8, 0.05, 3), quant(8, 0.05, -100))
    x = rng.integers(-128, 128, (64, 4)).astype(np.int8)
    program, interpreter = _form_program(module)
    np.testing.assert_array_equal(program.run([x])[0], interpreter.run([x])[0])
    original = exact_float_form.Fragment.node

    def without_half(self, op_type, inputs, **attributes):
        if op_type == "Floor" and "softmax" in self.where and len(inputs) == 1 and inputs[0].startswith("mul"):
            return original(self, "Mul", [inputs[0], self.constant(0.0, np.float64)])  # floor(S / 2) -> 0
        return original(self, op_type, inputs, **attributes)

    monkeypatch.setattr(exact_float_form.Fragment, "node", without_half)
    mutated, _ = _form_program(module)
    assert mutated.numpy_ops() == []
    assert not np.array_equal(mutated.run([x])[0], interpreter.run([x])[0])


def test_the_few_float32_values_a_step_rounds_wrong_are_patched():
    """cls' input step with min / max calibration: fl(x / step) crosses a tie on 3 float32 values
    (the formula alone is wrong there: the mutation check); the session patches them with Where."""
    step, zero_point = 0.007037437663358801, -12
    wrong, right = exact_float_form.quantize_mismatches(step, zero_point)
    assert 1 <= wrong.size <= exact_float_form.MAX_QUANTIZE_PATCHES
    low, high = integers(8)
    assert not np.array_equal(exact_float_form.rounded_quotients(wrong, step, low - zero_point, high - zero_point), right)
    x = np.concatenate([wrong, _near_ties(step, zero_point, np.random.default_rng(0))])[None, None, :, None]
    program, interpreter = _form_program(_quantize_module(x.shape, step, zero_point))
    assert program.numpy_ops() == [], program.fallbacks
    np.testing.assert_array_equal(program.run([x])[0], interpreter.run([x])[0])


def test_a_session_with_a_float_input_is_joined_too(monkeypatch, tmp_path):
    """quantize -> conv -> lut -> conv, 16 channels: the session's input is float32 (the image), and
    the joined session is still checked on random inputs and used."""
    from xdsl.dialects.builtin import f32

    from sima_dialect.quantized_ops import QuantizeOp

    rng = np.random.default_rng(2)
    block = Block(arg_types=[TensorType(f32, [1, 6, 9, 16])])
    quantized = QuantizeOp(block.args[0], quant(8, float(np.float32(0.05)), 7))
    w1, b1 = ConstantOp.from_array("w1", rng.integers(-20, 21, (3, 3, 16, 16)).astype(np.int8)), ConstantOp.from_array("b1", rng.integers(-3000, 3000, 16).astype(np.int32))
    w2, b2 = ConstantOp.from_array("w2", rng.integers(-20, 21, (1, 1, 16, 16)).astype(np.int8)), ConstantOp.from_array("b2", rng.integers(-3000, 3000, 16).astype(np.int32))
    table = ConstantOp.from_array("table", rng.integers(-128, 128, 256).astype(np.int8))
    conv1 = _conv(quantized.output, w1.output, b1.output, 8, quant(8, 0.1, -3), pads=(1, 1, 1, 1))
    lut = LutOp(conv1.output, table.output, quant(8, 0.1, 5))
    conv2 = _conv(lut.output, w2.output, b2.output, 6, quant(8, 0.1, 0), relu=True)
    block.add_ops([quantized, w1, b1, w2, b2, table, conv1, lut, conv2, ReturnOp(conv2.output)])
    module = ModuleOp([FuncOp("main", ([block.args[0].type], [conv2.output.type]), Region(block))])
    module.verify()
    import runtime.onnx_backend.program as program_module

    built = []
    original = blocked_layout.blocked_session
    monkeypatch.setattr(program_module, "blocked_session", lambda *arguments: built.append(original(*arguments)) or built[-1])
    program, interpreter = _form_program(module)
    assert program.numpy_ops() == [], program.fallbacks
    _optimized(_conv_table_conv(16), tmp_path)  # fails where onnxruntime has no NCHWc convolutions
    assert len(built) == 1 and built[0][1]
    x = (rng.standard_normal((1, 6, 9, 16)) * 3).astype(np.float32)
    np.testing.assert_array_equal(program.run([x])[0], interpreter.run([x])[0])
