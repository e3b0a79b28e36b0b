"""fast mode's float emulation with folded scales (`runtime.onnx_backend.fused_emulation`) and the
choice between it and the int8 kernels (`integer_emulation.fast_program`).

`fold_scales` must not change a single float32 value: the folded DequantizeLinear computes
(q - z) * k in one rounding, as DequantizeLinear (scale 1) then Mul by k did. So ops whose only
change is the fold (qmul, qadd / qsub, qglobal_avg_pool, requantize) are compared bit for bit
with the float emulation (whose distance to the NumPy kernels `test_fast_mode_onnx.py` bounds);
hard_swish tables, computed as one HardSwish of the real value, against the NumPy fast kernels
(within 1 step). Real models: cls (int8, int16) against bit-exact.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
import onnxruntime
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from integer_references import integers, quant
from runtime.fast_kernels import FAST_KERNELS
from runtime.integer_arithmetic import lookup_table
from runtime.interpreter import Interpreter
from runtime.kernels import elementwise
from runtime.onnx_backend.emulate import FLOAT_EMULATION
from runtime.onnx_backend.fused_emulation import FUSED_EMULATION, FusedProgram, fold_scales
from runtime.onnx_backend.program import OnnxProgram, _Segment
from sima_dialect.quantized_ops import LutOp, QAddOp, QConv2DOp, QGlobalAvgPoolOp, QMulOp, QSubOp, RequantizeOp
from test_integer_kernels_elementwise import add_cases, mul_cases
from test_integer_kernels_gemm import conv_cases, requantization_object
from test_model_api_fast_mode import allowed_difference
from test_onnx_backend_ops import binary_module, one_op

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


# ---------------------------------------------------------------------------
# fold_scales on small graphs


def _session(model: onnx.ModelProto):
    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.disable_quant_qdq", "1")
    options.log_severity_level = 4
    return onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _dequantize_then_mul(zero: int, factor: np.ndarray, shape, *, transpose: bool, scale: float = 1.0, second_reader: bool = False):
    """x (int8) -> DequantizeLinear(scale, zero) [-> Transpose] -> Mul(factor) -> y (and the dequantized value as z if asked)."""
    init = [numpy_helper.from_array(np.array(scale, np.float32), "scale"), numpy_helper.from_array(np.array(zero, np.int8), "zero"),
            numpy_helper.from_array(np.asarray(factor, np.float32), "factor")]
    nodes = [helper.make_node("DequantizeLinear", ["x", "scale", "zero"], ["d"])]
    operand = "d"
    if transpose:
        nodes.append(helper.make_node("Transpose", ["d"], ["t"], perm=list(range(len(shape)))[::-1]))
        operand = "t"
    nodes.append(helper.make_node("Mul", ["factor", operand] if factor.size == 1 and zero % 2 else [operand, "factor"], ["y"]))
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    if second_reader:
        nodes.append(helper.make_node("Relu", ["d"], ["z"]))
        outputs.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, None))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.INT8, list(shape))], outputs, init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    return model


@SETTINGS
@given(st.lists(st.integers(1, 5), min_size=1, max_size=4), st.integers(-128, 127), st.floats(1e-6, 1e3), st.booleans(), st.integers(0, 2**32 - 1))
def test_fold_scales_gives_the_same_floats(shape, zero, factor, transpose, seed):
    """The folded DequantizeLinear gives bit for bit the floats of DequantizeLinear then Mul."""
    x = np.random.default_rng(seed).integers(-128, 128, shape).astype(np.int8)
    model = _dequantize_then_mul(zero, np.array(factor, np.float32), shape, transpose=transpose)
    (expected,) = _session(model).run(None, {"x": x})
    folded = onnx.ModelProto()
    folded.CopyFrom(model)
    assert fold_scales(folded) == 1
    assert [node.op_type for node in folded.graph.node] == ["DequantizeLinear"] + (["Transpose"] if transpose else [])
    (produced,) = _session(folded).run(None, {"x": x})
    assert produced.dtype == expected.dtype and np.array_equal(produced, expected)


@pytest.mark.parametrize("case", ["second reader", "vector factor", "scale not 1"])
def test_fold_scales_leaves_what_it_cannot_fold(case):
    """A DequantizeLinear read by another node too (it would see the scaled values), a Mul by a
    tensor, and a DequantizeLinear already scaled are left as they are."""
    factor = np.array([2.0, 3.0, 4.0], np.float32) if case == "vector factor" else np.array(0.5, np.float32)
    model = _dequantize_then_mul(3, factor, (2, 3), transpose=False, scale=0.25 if case == "scale not 1" else 1.0,
                                 second_reader=case == "second reader")
    before = [node.op_type for node in model.graph.node]
    assert fold_scales(model) == 0
    assert [node.op_type for node in model.graph.node] == before


# ---------------------------------------------------------------------------
# ops: the float emulation's floats, bit for bit, where only scales fold


def _both(module, feeds):
    """(float emulation's results, the fused program's, the fused program), every op in onnxruntime."""
    float_program = OnnxProgram(Interpreter(module, kernels=FAST_KERNELS), threads=1, emulation=FLOAT_EMULATION)
    fused = FusedProgram(Interpreter(module, kernels=FAST_KERNELS), threads=1)
    assert fused.numpy_ops() == [] and fused.lowered_ops(), fused.fallbacks
    return float_program.run(list(feeds)), fused.run(list(feeds)), fused


def _assert_identical(expected, produced):
    for e, p in zip(expected, produced):
        assert p.dtype == e.dtype and p.shape == e.shape and np.array_equal(p, e)


@SETTINGS
@given(mul_cases())
def test_qmul_is_the_float_emulation(case):
    expected, produced, _ = _both(binary_module(QMulOp, case, "bits"), [case["a"], case["b"]])
    _assert_identical(expected, produced)


@SETTINGS
@given(add_cases())
def test_qadd_qsub_is_the_float_emulation(case):
    expected, produced, _ = _both(binary_module(QSubOp if case["subtract"] else QAddOp, case, "bits"), [case["a"], case["b"]])
    _assert_identical(expected, produced)


@SETTINGS
@given(st.sampled_from([8, 16]), st.integers(1, 9), st.integers(1, 9), st.integers(1, 127), st.integers(0, 38), st.integers(-128, 127), st.integers(0, 2**32 - 1))
def test_qglobal_avg_pool_is_the_float_emulation(bits, h, w, multiplier, shift, zero_point, seed):
    low, high = integers(bits)
    x = np.random.default_rng(seed).choice([low, high, 0, 5], size=(1, h, w, 3)).astype(f"int{bits}")
    module = one_op(lambda v: QGlobalAvgPoolOp(v, quant(8, 0.5, -4), multiplier=multiplier, shift=shift), [(x, quant(bits, 0.25, zero_point))])
    expected, produced, fused = _both(module, [x])
    _assert_identical(expected, produced)
    assert fused.folded == 0  # the pool's factor multiplies a ReduceSum, not a DequantizeLinear


@SETTINGS
@given(st.sampled_from([8, 16]), st.sampled_from([8, 16]), st.floats(0.001, 100.0), st.integers(-100, 100), st.integers(0, 2**32 - 1))
def test_requantize_is_the_float_emulation_with_its_mul_folded(in_bits, out_bits, ratio, zero_point, seed):
    low, high = integers(in_bits)
    x = np.random.default_rng(seed).integers(low, high + 1, (2, 7)).astype(f"int{in_bits}")
    x.flat[0], x.flat[-1] = low, high
    try:
        module = one_op(lambda v: RequantizeOp.for_types(v, quant(out_bits, 0.25 / ratio, 3)), [(x, quant(in_bits, 0.25, zero_point))])
    except ValueError:
        return  # no 8-bit multiplier represents the ratio
    expected, produced, fused = _both(module, [x])
    _assert_identical(expected, produced)
    (op,) = [o for o in module.walk() if isinstance(o, RequantizeOp)]
    factor = op.multiplier.value.data * 2.0 ** (op.left_shift.value.data - op.shift.value.data)
    assert fused.folded == (0 if factor == 1.0 else 1)  # its Mul by M 2**(L - n), into the input's DequantizeLinear


# ---------------------------------------------------------------------------
# qconv2d: Conv + Clip, rounded by a Cast


@SETTINGS
@given(conv_cases())
def test_qconv2d_rounded_by_a_cast(case):
    """Against the NumPy fast kernels: the float emulation's bound (1 step plus fast mode's int16
    float32 bound on both sides, `allowed_difference`; 0 for int8); exact for sima with int8
    inputs where every partial sum v + K + 1/2 keeps its 2**-(n+1) bits in float32 (bounded by
    the weights' column norms, the bias and K)."""
    r = case["requant"]

    def build(x, w, b):
        return QConv2DOp(
            x, w, b, requantization_object(r), r["intrinsic"], quant(r["output_bits"], 0.5, r["zero_point"]),
            strides=case["strides"], pads=case["pads"], dilations=case["dilations"], groups=case["groups"], relu=r["relu"],
        )

    module = one_op(build, [(case["x"], quant(case["input_bits"], 0.25, case["zero_point"]))], [case["weight"], case["bias"]])
    interpreter = Interpreter(module, kernels=FAST_KERNELS)
    fused = FusedProgram(interpreter, threads=1)
    assert fused.numpy_ops() == [], fused.fallbacks
    (expected,), (produced,) = interpreter.run([case["x"]]), fused.run([case["x"]])
    assert produced.dtype == expected.dtype and produced.shape == expected.shape
    tolerance = 2 * allowed_difference(case, int(np.prod(case["weight"].shape[:3]))) + 1
    if r["output_bits"] == 32:  # not rounded by a Cast: the float emulation's form, its int32 bound
        centred = np.abs(expected.astype(np.int64) - r["zero_point"]).max(initial=0)
        tolerance += math.ceil(2.0**-22 * float(centred))
    assert int(np.abs(expected.astype(np.int64) - produced.astype(np.int64)).max(initial=0)) <= tolerance
    if r["mode"] == "sima" and case["input_bits"] == 8 and r["output_bits"] != 32:
        total_shift = np.broadcast_to(np.asarray(r["shift"]) + np.asarray(r["intrinsic"]), (case["weight"].shape[-1],))
        column_l1 = np.abs(case["weight"].astype(np.float64)).sum(axis=(0, 1, 2))
        bias = np.abs(np.asarray(case["bias"], dtype=np.float64)) * np.ldexp(1.0, np.asarray(r["intrinsic"]))
        largest = (256 * column_l1 + bias) * np.ldexp(1.0, -total_shift) + 2**17  # |v| + K + 1/2, K <= 2**16
        if np.all(largest * np.ldexp(1.0, total_shift + 1) < 2**24):
            assert int(np.abs(expected.astype(np.int64) - produced.astype(np.int64)).max(initial=0)) == 0
    if r["output_bits"] != 32:
        nodes = [node.op_type for step in fused._program if isinstance(step, _Segment) for f in step.fragments for node in f.nodes]
        assert "Cast" in nodes and "QuantizeLinear" not in nodes[nodes.index("Conv"):]


# ---------------------------------------------------------------------------
# hard_swish tables: one HardSwish of the real value


@SETTINGS
@given(st.sampled_from([8, 16]), st.sampled_from([8, 16]), st.floats(0.005, 0.2), st.floats(0.005, 0.2), st.integers(-50, 50), st.integers(0, 2**32 - 1))
def test_hard_swish_table_is_one_hardswish_within_a_step(in_bits, out_bits, in_step, out_step, zero_point, seed):
    """Within 1 step of the NumPy fast kernels (the table): float32 hard_swish of the real value,
    rounded once; read as HardSwish, no HardSigmoid, no Gather."""
    low, high = integers(in_bits)
    x = np.random.default_rng(seed).integers(low, high + 1, (2, 3, 17)).astype(f"int{in_bits}")
    x.flat[0], x.flat[-1] = low, high
    table = lookup_table(elementwise.hard_swish, in_step, zero_point, in_bits, out_step, -3, out_bits)
    module = one_op(lambda v, t: LutOp(v, t, quant(out_bits, out_step, -3)), [(x, quant(in_bits, in_step, zero_point))], [table])
    interpreter = Interpreter(module, kernels=FAST_KERNELS)
    fused = FusedProgram(interpreter, threads=1)
    assert fused.numpy_ops() == [], fused.fallbacks
    (expected,), (produced,) = interpreter.run([x]), fused.run([x])
    assert produced.dtype == expected.dtype and int(np.abs(expected.astype(np.int64) - produced.astype(np.int64)).max()) <= 1
    nodes = [node.op_type for step in fused._program if isinstance(step, _Segment) for f in step.fragments for node in f.nodes]
    assert "HardSwish" in nodes and "HardSigmoid" not in nodes and "Gather" not in nodes


# ---------------------------------------------------------------------------
# the choice


def _interpreter(shape=(1, 4, 4, 3)):
    x = np.zeros(shape, np.int8)
    return Interpreter(one_op(lambda v: QGlobalAvgPoolOp(v, quant(8, 0.5, -4), multiplier=3, shift=4), [(x, quant(8, 0.25, 0))]),
                       kernels=FAST_KERNELS)


def test_sima_fast_form_fixes_the_form(monkeypatch):
    from runtime.onnx_backend.integer_emulation import INTEGER_EMULATION, fast_program

    monkeypatch.setenv("SIMA_FAST_FORM", "int8")
    assert fast_program(_interpreter(), threads=1).emulation is INTEGER_EMULATION
    monkeypatch.setenv("SIMA_FAST_FORM", "float")
    assert fast_program(_interpreter(), threads=1).emulation is FUSED_EMULATION
    monkeypatch.setenv("SIMA_FAST_FORM", "fastest")
    with pytest.raises(ValueError, match="SIMA_FAST_FORM must be one of int8, float"):
        fast_program(_interpreter(), threads=1)


def test_int16_programs_run_the_relaxed_float_emulation(monkeypatch):
    from runtime.onnx_backend.integer_emulation import INTEGER_EMULATION, fast_program
    from runtime.onnx_backend.relaxed_emulation import RELAXED_EMULATION

    x = np.zeros((1, 2, 2, 3), np.int16)
    module = one_op(lambda v: QGlobalAvgPoolOp(v, quant(8, 0.5, -4), multiplier=3, shift=4), [(x, quant(16, 0.25, 0))])
    assert fast_program(Interpreter(module, kernels=FAST_KERNELS), threads=1).emulation is RELAXED_EMULATION
    monkeypatch.delenv("SIMA_FAST_FORM", raising=False)
    assert fast_program(_interpreter(), threads=1).emulation is INTEGER_EMULATION  # all int8: a rule, not a timing


# ---------------------------------------------------------------------------
# a real model


@pytest.fixture(scope="module")
def cls_models():
    from afe.apis.defines import MinMaxMethod, default_quantization, int16_quantization
    from models import load_real_net, real_inputs

    net = load_real_net("cls")
    images = [np.ascontiguousarray(x.transpose(0, 2, 3, 1)) for x in real_inputs("cls", 24, seed=7)]
    calibration = [{"x": image} for image in images[:8]]
    models = {bits: net.quantize(calibration, config.with_calibration(MinMaxMethod()))
              for bits, config in (("int8", default_quantization), ("int16", int16_quantization))}
    return models, [{"x": image} for image in images[8:]]


@pytest.mark.parametrize("bits", ["int8", "int16"])
def test_cls_fused_emulation_close_to_bit_exact(cls_models, bits):
    """On 16 real text lines: one onnxruntime session, output SQNR fused vs bit-exact >= 30 dB (the
    float emulation's bar) and the same top-1 on every line. Measured (bench, default_quantization):
    int8 147.8 dB, int16 63.4 dB."""
    models, samples = cls_models
    model = models[bits]
    program = FusedProgram(model._interpreter(True), threads=1)
    assert program.segment_count() == 1 and program.numpy_ops() == []
    exact = np.concatenate([model.execute(s)[0] for s in samples]).astype(np.float64)
    fused = np.concatenate([model._dequantized(0, program.run(s)[0]) for s in samples]).astype(np.float64)
    sqnr = 10 * np.log10((exact**2).sum() / max(((exact - fused) ** 2).sum(), 1e-300))
    assert sqnr >= 30, sqnr
    assert np.array_equal(exact.argmax(axis=-1), fused.argmax(axis=-1))


# ---------------------------------------------------------------------------
# elementwise chains in onnxruntime's blocked layout (blocked_layout)


def _conv_graph(tail: str, channels: int = 12):
    """x -> Conv -> (Q, DQ) rounding -> `tail` -> Conv -> y, in NCHW with channels not a multiple of
    the block (8 or 16): tail "hard_swish" (HardSigmoid * c, rounded again), "gate" (times a
    per-channel [1, C, 1, 1] tensor: a broadcast), "residual" (plus the first rounding: two
    reordered operands of one shape), "pool" (also read by a ReduceSum)."""
    rng = np.random.default_rng(3)
    init = []

    def const(name, value):
        init.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    weights = lambda name: const(name, (rng.standard_normal((channels, channels, 3, 3)) * 0.2).astype(np.float32))  # noqa: E731
    nodes = [helper.make_node("Conv", ["x", weights("w0"), const("b0", rng.standard_normal(channels).astype(np.float32))], ["a"], pads=[1] * 4),
             helper.make_node("QuantizeLinear", ["a", const("one", np.float32(1)), const("z", np.int8(3))], ["aq"]),
             helper.make_node("DequantizeLinear", ["aq", "one", "z"], ["c"])]
    last, outputs = "c", []
    if tail == "hard_swish":
        nodes += [helper.make_node("HardSigmoid", ["c"], ["g"], alpha=0.05, beta=0.5), helper.make_node("Mul", ["c", "g"], ["h"]),
                  helper.make_node("QuantizeLinear", ["h", const("s", np.float32(0.7)), "z"], ["hq"]),
                  helper.make_node("DequantizeLinear", ["hq", "one", "z"], ["t"])]
        last = "t"
    elif tail == "gate":
        nodes.append(helper.make_node("Mul", ["c", const("gate", rng.random((1, channels, 1, 1)).astype(np.float32))], ["t"]))
        last = "t"
    elif tail == "residual":
        nodes += [helper.make_node("Conv", ["c", weights("w1"), const("b1", np.zeros(channels, np.float32))], ["d"], pads=[1] * 4),
                  helper.make_node("QuantizeLinear", ["d", "one", "z"], ["dq"]), helper.make_node("DequantizeLinear", ["dq", "one", "z"], ["e"]),
                  helper.make_node("Add", ["c", "e"], ["t"])]
        last = "t"
    elif tail == "pool":
        nodes.append(helper.make_node("ReduceSum", ["c", const("axes", np.array([2, 3], np.int64))], ["p"], keepdims=1))
        outputs.append(helper.make_tensor_value_info("p", TensorProto.FLOAT, None))
    nodes.append(helper.make_node("Conv", [last, weights("w2"), const("b2", np.zeros(channels, np.float32))], ["y"], pads=[1] * 4))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, 9, 11])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None), *outputs], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    return model


def _reorders(session_model_path: str) -> int:
    return sum(node.op_type in ("ReorderInput", "ReorderOutput") for node in onnx.load(session_model_path).graph.node)


@pytest.mark.parametrize("tail, removed", [("hard_swish", 2), ("residual", 4), ("gate", 0), ("pool", 0)])
def test_elementwise_chains_run_blocked_with_the_same_outputs(tail, removed, tmp_path):
    """Chains of elementwise ops between two blocked convolutions (12 channels: a block pads them) lose
    their reorders and give the same floats (blocked_session checks it too); a broadcast, or a value
    read by an op outside the layout-free ones (a ReduceSum), keeps them. (The table-read rules:
    `test_onnx_backend_float_form.py`.)"""
    from runtime.onnx_backend.blocked_layout import blocked_session, keep_blocked, tensor_shapes

    model = _conv_graph(tail)

    def options():
        options = onnxruntime.SessionOptions()
        options.add_session_config_entry("session.disable_quant_qdq", "1")
        options.log_severity_level = 4
        return options

    session, blocked = blocked_session(onnxruntime, model, options)
    assert blocked == bool(removed)
    x = {"x": (np.random.default_rng(1).standard_normal((1, 12, 9, 11)) * 20).astype(np.float32)}
    plain = onnxruntime.InferenceSession(model.SerializeToString(), options(), providers=["CPUExecutionProvider"])
    for expected, produced in zip(plain.run(None, x), session.run(None, x), strict=True):
        assert np.array_equal(expected, produced)
    # the edit itself, on onnxruntime's optimized model
    optimized_options = options()
    optimized_options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    onnxruntime.InferenceSession(model.SerializeToString(), optimized_options, providers=["CPUExecutionProvider"])
    optimized = onnx.load(optimized_options.optimized_model_filepath)
    before = _reorders(optimized_options.optimized_model_filepath)
    # hard_swish: the reorders around its chain; residual: those before the middle conv and before the last
    assert keep_blocked(optimized, tensor_shapes(model)) == removed
    onnx.save(optimized, str(tmp_path / "edited.onnx"))
    assert _reorders(str(tmp_path / "edited.onnx")) == before - removed
