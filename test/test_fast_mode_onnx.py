"""fast mode on onnxruntime (`runtime.onnx_backend.emulate`), op by op and on a real model.

Each op test builds a one-op function from the integer-kernel tests' cases
(random shapes, constants, zero points, requantizations, the integer types'
extremes), runs it with the NumPy fast kernels (`Interpreter(..., kernels=FAST_KERNELS)`)
and with the float emulation on onnxruntime, asserts that the op really ran in
onnxruntime, and bounds the difference in output steps by what the emulation
leaves out (module docstring of emulate.py): a rounding of a near-tie (1 step),
plus per op what the integer arithmetic rounds in between and the emulation
does not (stated in each test).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xdsl.dialects.builtin import ModuleOp, TensorType, f32
from xdsl.ir import Attribute

from integer_references import integers, quant
from runtime.fast_kernels import FAST_KERNELS
from runtime.integer_arithmetic import lookup_table, softmax_exp_table
from runtime.interpreter import Interpreter
from runtime.kernels import elementwise
from runtime.onnx_backend import executor_for
from runtime.onnx_backend.emulate import FLOAT_EMULATION
from runtime.onnx_backend.program import OnnxProgram
from sima_dialect import ops
from sima_dialect.quantized_ops import (
    DequantizeOp,
    LutOp,
    QAddOp,
    QAvgPoolOp,
    QConv2DOp,
    QConv2DTransposeOp,
    QDenseOp,
    QGlobalAvgPoolOp,
    QLayerNormOp,
    QMatMulOp,
    QMulOp,
    QResizeLinearOp,
    QSoftmaxOp,
    QSubOp,
    QuantizeOp,
    RequantizeOp,
)
from test_integer_kernels_elementwise import add_cases, mul_cases
from test_integer_kernels_gemm import conv_cases, dense_cases, matmul_cases, requantization_object
from test_integer_kernels_normalization import layer_norm_cases
from test_integer_kernels_softmax import softmax_cases
from test_integer_kernels_upscale import conv_transpose_cases, resize_cases
from test_model_api_fast_mode import allowed_difference
from test_onnx_backend_ops import binary_module, one_op

import onnxruntime  # noqa: E402, F401  a core dependency: these tests fail, not skip, without it

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def emulated(module: ModuleOp, feeds: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(NumPy fast kernels' results, the emulation's), after checking that every op ran in onnxruntime."""
    interpreter = Interpreter(module, kernels=FAST_KERNELS)
    program = OnnxProgram(interpreter, threads=1, emulation=FLOAT_EMULATION)
    assert program.numpy_ops() == [] and program.lowered_ops(), program.fallbacks
    expected, produced = interpreter.run(list(feeds)), program.run(list(feeds))
    for e, p in zip(expected, produced):
        assert p.dtype == e.dtype and p.shape == e.shape
    return expected, produced


def assert_gemm_close(case, module: ModuleOp, reduction: int) -> None:
    """|emulation - fast kernels| <= 2 * fast mode's int16 bound + 1 (`allowed_difference`: 0 for
    int8), and an int32 result (output_int32), held as float32 q - z, to 24 bits of |q - z| more."""
    (expected,), (produced,) = emulated(module, [case["x"]])
    r = case["requant"]
    tolerance = 2 * allowed_difference(case, reduction) + 1
    if r["output_bits"] == 32:
        centred = np.abs(expected.astype(np.int64) - r["zero_point"]).max(initial=0)
        tolerance += math.ceil(2.0**-22 * float(centred))
    assert int(np.abs(expected.astype(np.int64) - produced.astype(np.int64)).max(initial=0)) <= tolerance


def steps_apart(module: ModuleOp, feeds: Sequence[np.ndarray]) -> int:
    """max |emulation - NumPy fast kernels| in output steps (integers of the result type)."""
    expected, produced = emulated(module, feeds)
    return max(int(np.abs(e.astype(np.int64) - p.astype(np.int64)).max(initial=0)) for e, p in zip(expected, produced))


# ---------------------------------------------------------------------------
# gemms: within 1 step of exact for int8 (the float32 bias drops bits below 2**-24 of |v|,
# and tflite rounds ties to even); int16 adds fast mode's own float32 bound on both sides


@SETTINGS
@given(conv_cases())
def test_qconv2d(case):
    r = case["requant"]

    def build(x, w, b):
        return QConv2DOp(
            x, w, b, requantization_object(r), r["intrinsic"], quant(r["output_bits"], 0.5, r["zero_point"]),
            strides=case["strides"], pads=case["pads"], dilations=case["dilations"], groups=case["groups"], relu=r["relu"],
        )

    module = one_op(build, [(case["x"], quant(case["input_bits"], 0.25, case["zero_point"]))], [case["weight"], case["bias"]])
    assert_gemm_close(case, module, int(np.prod(case["weight"].shape[:3])))


@SETTINGS
@given(dense_cases())
def test_qdense(case):
    r = case["requant"]
    module = one_op(
        lambda x, w, b: QDenseOp(x, w, b, requantization_object(r), r["intrinsic"], quant(r["output_bits"], 1.0, r["zero_point"]), relu=r["relu"]),
        [(case["x"], quant(case["input_bits"], 0.5, case["zero_point"]))],
        [case["weight"], case["bias"]],
    )
    assert_gemm_close(case, module, case["weight"].shape[0])


@SETTINGS
@given(conv_transpose_cases())
def test_qconv2d_transpose(case):
    r = case["requant"]

    def build(x, w, b):
        return QConv2DTransposeOp(
            x, w, b, requantization_object(r), r["intrinsic"], quant(r["output_bits"], 0.5, r["zero_point"]),
            strides=case["strides"], pads=case["pads"], dilations=case["dilations"], output_padding=case["output_padding"], relu=r["relu"],
        )

    module = one_op(build, [(case["x"], quant(case["input_bits"], 0.25, case["zero_point"]))], [case["weight"], case["bias"]])
    assert_gemm_close(case, module, int(np.prod(case["weight"].shape[:3])))  # at most KH * KW * C_in taps per output


@SETTINGS
@given(matmul_cases())
def test_qmatmul(case):
    c = case
    module = one_op(
        lambda a, b: QMatMulOp(a, b, quant(c["output_bits"], 0.1, c["zero_point"]), multiplier=c["multiplier"], shift=c["shift"], left_shift=c["left_shift"]),
        [(c["a"], quant(8, 0.5, c["za"])), (c["b"], quant(8, 0.25, c["zb"]))],
    )
    assert steps_apart(module, [c["a"], c["b"]]) <= 1


# ---------------------------------------------------------------------------
# elementwise


def ties_go_away_from_zero(fraction_bits: int, output_bits: int) -> bool:
    """Whether the emulation's push (emulate._away_from_zero) fits: then an exact value rounds as the model's."""
    return max(0, fraction_bits) + output_bits + 1 <= 23


@SETTINGS
@given(mul_cases())
def test_qmul(case):
    module = binary_module(QMulOp, case, "bits")
    apart = steps_apart(module, [case["a"], case["b"]])
    assert apart <= 1
    if case["bits"] == [8, 8] and ties_go_away_from_zero(case["shift"] - case["left_shift"], case["output_bits"]):
        assert apart == 0  # c_a c_b M < 2**24: the product is exact in float32, and so is its rounding


@SETTINGS
@given(add_cases())
def test_qadd_qsub(case):
    module = binary_module(QSubOp if case["subtract"] else QAddOp, case, "bits")
    # the model rounds each rescaled input (half a unit each) before the output's requantization
    output_ratio = case["multiplier"] * 2.0 ** -case["shift"]
    apart = steps_apart(module, [case["a"], case["b"]])
    assert apart <= 1 + math.ceil(output_ratio)
    (_, lhs_shift), (_, rhs_shift) = case["rescales"]
    exact_terms = max(lhs_shift, rhs_shift) <= case["left_shift"] and abs(lhs_shift - rhs_shift) <= 1  # t exact, the sum in 24 bits
    fraction_bits = max(lhs_shift, rhs_shift) + case["shift"] - case["left_shift"]
    if case["bits"] == [8, 8] and exact_terms and ties_go_away_from_zero(fraction_bits, case["output_bits"]):
        assert apart == 0


@SETTINGS
@given(st.sampled_from([8, 16]), st.sampled_from([8, 16]), st.floats(0.001, 100.0), st.integers(-100, 100), st.integers(0, 2**32 - 1))
def test_requantize_quantize_dequantize(in_bits, out_bits, ratio, zero_point, seed):
    rng = np.random.default_rng(seed)
    low, high = integers(in_bits)
    x = rng.integers(low, high + 1, (2, 7)).astype(f"int{in_bits}")
    x.flat[0], x.flat[-1] = low, high
    source = quant(in_bits, 0.25, zero_point)
    try:
        requantize = one_op(lambda v: RequantizeOp.for_types(v, quant(out_bits, 0.25 / ratio, 3)), [(x, source)])
    except ValueError:
        requantize = None  # no 8-bit multiplier represents the ratio
    if requantize is not None:
        (op,) = [o for o in requantize.walk() if isinstance(o, RequantizeOp)]
        apart = steps_apart(requantize, [x])
        assert apart <= 1
        if ties_go_away_from_zero(op.shift.value.data - op.left_shift.value.data, out_bits):
            assert apart == 0  # c M < 2**23: exact in float32, rounded as the model rounds
    expected, produced = emulated(one_op(lambda v: DequantizeOp(v), [(x, source)]), [x])
    np.testing.assert_allclose(produced[0], expected[0], rtol=2**-22, atol=0)
    real = (rng.standard_normal((3, 5)) * 40).astype(np.float32)
    assert steps_apart(one_op(lambda v: QuantizeOp(v, quant(out_bits, 0.25 / ratio, 3)), [(real, f32)]), [real]) <= 1


FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "hard_swish": elementwise.hard_swish,
    "hard_sigmoid": lambda r: np.clip(r * np.float32(0.2) + np.float32(0.5), np.float32(0), np.float32(1)),
    "sigmoid": elementwise.sigmoid,
    "silu": elementwise.silu,
    "tanh": np.tanh,
    "relu": lambda r: np.maximum(r, np.float32(0)),
    "relu6": lambda r: np.clip(r, np.float32(0), np.float32(6)),
    "leaky_relu": lambda r: np.where(r >= 0, r, np.float32(0.1) * r),
}


@SETTINGS
@given(st.sampled_from(sorted(FUNCTIONS)), st.sampled_from([8, 16]), st.sampled_from([8, 16]), st.floats(0.005, 0.2),
       st.floats(0.005, 0.2), st.integers(-50, 50), st.integers(0, 2**32 - 1))
def test_lut_of_a_known_function(function, in_bits, out_bits, in_step, out_step, zero_point, seed):
    """A table the quantize pass would make runs as the float function (recognized), within 1 step."""
    low, high = integers(in_bits)
    x = np.random.default_rng(seed).integers(low, high + 1, (2, 3, 17)).astype(f"int{in_bits}")
    x.flat[0], x.flat[-1] = low, high
    source, target = quant(in_bits, in_step, zero_point), quant(out_bits, out_step, -3)
    table = lookup_table(FUNCTIONS[function], in_step, zero_point, in_bits, out_step, -3, out_bits)
    module = one_op(lambda v, t: LutOp(v, t, target), [(x, source)], [table])
    assert steps_apart(module, [x]) <= 1
    _, produced = emulated(module, [x])
    assert produced  # and it ran as float ops, not as a Gather of the table:
    program = OnnxProgram(Interpreter(module, kernels=FAST_KERNELS), threads=1, emulation=FLOAT_EMULATION)
    assert not _has_gather(program)


def _has_gather(program: OnnxProgram) -> bool:
    from runtime.onnx_backend.program import _Segment

    return any(node.op_type == "Gather" for step in program._program if isinstance(step, _Segment) for f in step.fragments for node in f.nodes)


@SETTINGS
@given(st.sampled_from([8, 16]), st.sampled_from([8, 16]), st.integers(0, 2**32 - 1))
def test_lut_of_an_unknown_table_is_a_gather_and_exact(in_bits, out_bits, seed):
    rng = np.random.default_rng(seed)
    low, high = integers(in_bits)
    x = rng.integers(low, high + 1, (3, 11)).astype(f"int{in_bits}")
    x.flat[0], x.flat[-1] = low, high
    table = rng.integers(*integers(out_bits), 1 << in_bits, endpoint=True).astype(f"int{out_bits}")
    module = one_op(lambda v, t: LutOp(v, t, quant(out_bits, 0.5, 1)), [(x, quant(in_bits, 0.25, -2))], [table])
    assert steps_apart(module, [x]) == 0


# ---------------------------------------------------------------------------
# pools, softmax, layer norm, linear resize


@SETTINGS
@given(st.sampled_from([8, 16]), st.integers(1, 9), st.integers(1, 9), st.integers(1, 127), st.integers(0, 38), st.integers(-128, 127), st.integers(0, 2**32 - 1))
def test_qglobal_avg_pool(bits, h, w, multiplier, shift, zero_point, seed):
    low, high = integers(bits)
    x = np.random.default_rng(seed).choice([low, high, 0, 5], size=(1, h, w, 3)).astype(f"int{bits}")
    module = one_op(lambda v: QGlobalAvgPoolOp(v, quant(8, 0.5, -4), multiplier=multiplier, shift=shift), [(x, quant(bits, 0.25, zero_point))])
    assert steps_apart(module, [x]) <= 1


@SETTINGS
@given(st.sampled_from([8, 16]), st.integers(1, 3), st.integers(1, 2), st.integers(0, 1), st.booleans(), st.floats(0.2, 5.0), st.integers(0, 2**32 - 1))
def test_qavg_pool(bits, kernel, stride, pad, count_include_pad, ratio, seed):
    low, high = integers(bits)
    x = np.random.default_rng(seed).integers(low, high + 1, (1, 5, 6, 2)).astype(f"int{bits}")
    source = quant(bits, 0.25, 7)
    try:
        module = one_op(
            lambda v: QAvgPoolOp.for_types(v, quant(8, 0.25 * ratio, -1), kernel=[kernel, kernel], strides=[stride, stride],
                                           pads=[pad] * 4, count_include_pad=count_include_pad),
            [(x, source)],
        )
    except ValueError:
        return  # no constants for this factor
    assert steps_apart(module, [x]) <= 1


@SETTINGS
@given(softmax_cases())
def test_qsoftmax(case):
    c = case
    table = softmax_exp_table(c["step"], c["input_bits"])
    module = one_op(
        lambda x, t: QSoftmaxOp(x, t, quant(c["output_bits"], 0.01, c["zero_point"]), axis=c["axis"], multiplier=c["multiplier"], shift=c["shift"]),
        [(c["x"], quant(c["input_bits"], c["step"], 0))],
        [table],
    )
    # the model rounds probabilities to Q15 (half a unit) and exp to Q23: one Q15 unit in output steps
    q15_unit = c["multiplier"] * 2.0 ** -c["shift"]
    assert steps_apart(module, [c["x"]]) <= 2 + math.ceil(q15_unit)


@SETTINGS
@given(layer_norm_cases())
def test_qlayer_norm(case):
    c = case
    module = one_op(
        lambda x, g, b: QLayerNormOp(x, g, b, quant(8, 0.5, c["zero_point"]), axis=c["axis"], epsilon=c["epsilon"], shift=c["shift"]),
        [(c["x"], quant(8, 0.1, -7))],
        [c["gamma"], c["beta"]],
    )
    # the model rounds z to Q11 (half a unit) before the product with gamma
    z_unit = float(np.abs(c["gamma"].astype(np.int64)).max(initial=0)) * 2.0 ** -c["shift"]
    assert steps_apart(module, [c["x"]]) <= 2 + math.ceil(z_unit)


@SETTINGS
@given(resize_cases())
def test_qresize_linear(case):
    c = case
    module = one_op(lambda x: QResizeLinearOp(x, c["out_hw"], coordinate_mode=c["mode"], weight_bits=c["weight_bits"]), [(c["x"], quant(c["bits"], 0.1, 3))])
    # the model's weights are Q(weight_bits) and each of the two blends rounds: half a weight unit per blend
    spread = int(c["x"].astype(np.int64).max()) - int(c["x"].astype(np.int64).min())
    assert steps_apart(module, [c["x"]]) <= 2 + math.ceil(spread * 2.0 ** -c["weight_bits"])


# ---------------------------------------------------------------------------
# data movement: exact


def test_data_movement_is_exact():
    x = np.arange(-60, 60, dtype=np.int8).reshape(1, 4, 5, 6)
    element = quant(8, 0.5, 2)
    cases = [
        lambda v: ops.ReshapeOp(operands=[v], result_types=[TensorType(element, [1, 20, 6])]),
        lambda v: ops.TransposeOp(operands=[v], result_types=[TensorType(element, [1, 6, 4, 5])], properties={"perm": ops.int_array([0, 3, 1, 2])}),
        lambda v: ops.SliceOp(operands=[v], result_types=[TensorType(element, [1, 2, 5, 3])],
                              properties={"starts": ops.int_array([0, 3, 0, 0]), "ends": ops.int_array([1, -1, 5, 6]), "steps": ops.int_array([1, -2, 1, 2])}),
        lambda v: ops.ConcatOp(operands=[[v, v]], result_types=[TensorType(element, [1, 4, 5, 12])], properties={"axis": ops.int_attr(3)}),
        lambda v: ops.PadOp(operands=[v], result_types=[TensorType(element, [1, 5, 7, 6])],
                            properties={"pads": ops.int_array([0, 1, 2, 0, 0, 0, 0, 0]), "mode": ops.StringAttr("constant"), "value": ops.float_attr(2.0)}),
        lambda v: ops.MaxPoolOp(operands=[v], result_types=[TensorType(element, [1, 2, 3, 6])],
                                properties={"kernel": ops.int_array([3, 3]), "strides": ops.int_array([2, 2]), "pads": ops.int_array([1, 1, 1, 1]), "dilations": ops.int_array([1, 1])}),
        lambda v: ops.ResizeOp(operands=[v], result_types=[TensorType(element, [1, 7, 9, 6])],
                               properties={"mode": ops.StringAttr("nearest"), "coordinate_mode": ops.StringAttr("half_pixel"), "nearest_mode": ops.StringAttr("round_prefer_floor")}),
    ]
    for build in cases:
        assert steps_apart(one_op(build, [(x, element)]), [x]) == 0


# ---------------------------------------------------------------------------
# the executor choice and the NumPy fallback


def test_fast_mode_runs_on_onnxruntime_unless_numpy_is_asked_for(monkeypatch):
    x = np.arange(-60, 60, dtype=np.int8).reshape(2, 60)
    module = one_op(lambda v: DequantizeOp(v), [(x, quant(8, 0.5, 2))])
    interpreter = Interpreter(module, kernels=FAST_KERNELS)
    monkeypatch.delenv("SIMA_RUNTIME", raising=False)
    assert isinstance(executor_for(interpreter, fast_mode=True), OnnxProgram)
    assert isinstance(executor_for(interpreter), OnnxProgram)  # bit-exact: onnxruntime too (no convolution left to NumPy)
    monkeypatch.setenv("SIMA_RUNTIME", "numpy")
    assert executor_for(interpreter, fast_mode=True) is interpreter


def test_an_op_without_a_lowering_runs_in_numpy_and_is_named_in_the_log(caplog):
    """qprelu has no fast lowering: NumPy computes it between two onnxruntime segments."""
    from sima_dialect.quantized_ops import QPreluOp

    x = np.arange(-60, 60, dtype=np.int8).reshape(1, 2, 10, 6)
    element = quant(8, 0.5, 2)

    def build(v):
        transposed = ops.TransposeOp(operands=[v], result_types=[TensorType(element, [1, 10, 2, 6])], properties={"perm": ops.int_array([0, 2, 1, 3])})
        return transposed, QPreluOp(transposed.results[0], element, multiplier=64, shift=6, neg_multiplier=[32] * 6, neg_shift=[7] * 6)

    module = _chain(build, [(x, element)])
    interpreter = Interpreter(module, kernels=FAST_KERNELS)
    with caplog.at_level(logging.INFO, logger="runtime.onnx_backend"):
        program = OnnxProgram(interpreter, threads=1, emulation=FLOAT_EMULATION)
    assert any("sima.qprelu" in record.getMessage() and "NumPy" in record.getMessage() for record in caplog.records)
    assert program.numpy_ops() and program.lowered_ops()
    np.testing.assert_array_equal(program.run([x])[0], interpreter.run([x])[0])


def _chain(build: Callable, inputs: Sequence[tuple[np.ndarray, Attribute]]) -> ModuleOp:
    from xdsl.dialects.func import FuncOp, ReturnOp
    from xdsl.ir import Block, Region

    block = Block(arg_types=[TensorType(element, list(array.shape)) for array, element in inputs])
    made = build(*block.args)
    block.add_ops([*made, ReturnOp(made[-1].results[0])])
    module = ModuleOp([FuncOp("main", ([a.type for a in block.args], [made[-1].results[0].type]), Region(block))])
    module.verify()
    return module


# ---------------------------------------------------------------------------
# a real model


@pytest.fixture(scope="module")
def cls_int8(cls_net):
    from afe.apis.defines import MinMaxMethod, default_quantization
    from models import real_inputs

    images = [np.ascontiguousarray(x.transpose(0, 2, 3, 1)) for x in real_inputs("cls", 24, seed=7)]
    model = cls_net.quantize([{"x": image} for image in images[:8]], default_quantization.with_calibration(MinMaxMethod()))
    return model, [{"x": image} for image in images[8:]]


def test_cls_fast_mode_is_one_onnxruntime_session_close_to_bit_exact(cls_int8, monkeypatch):
    """On 16 real text lines: output SQNR fast vs bit-exact >= 30 dB, the same top-1 on every one
    (measured: see bench/bench_quantized_execute.py; per sample most outputs are identical)."""
    monkeypatch.delenv("SIMA_RUNTIME", raising=False)
    model, samples = cls_int8
    exact = np.concatenate([model.execute(s)[0] for s in samples]).astype(np.float64)
    fast = np.concatenate([model.execute(s, fast_mode=True)[0] for s in samples]).astype(np.float64)
    program = model._executor(True)
    assert isinstance(program, OnnxProgram) and program.segment_count() == 1 and program.numpy_ops() == []
    sqnr = 10 * np.log10((exact**2).sum() / max(((exact - fast) ** 2).sum(), 1e-300))
    assert sqnr >= 30, sqnr
    assert np.array_equal(exact.argmax(axis=-1), fast.argmax(axis=-1))


# ---------------------------------------------------------------------------
# float (APU) ops: onnxruntime's float kernels against the NumPy float kernels


def _float_program(proto, feeds):
    from lowering.onnx_importer import import_onnx
    from onnx_builders import nhwc

    module = import_onnx(proto, {name: value.shape for name, value in feeds.items()}).module
    inputs = [nhwc(value) for value in feeds.values()]
    return Interpreter(module, kernels=FAST_KERNELS), OnnxProgram(Interpreter(module, kernels=FAST_KERNELS), threads=1, emulation=FLOAT_EMULATION), inputs


def _float_case(op_type: str, rng: np.random.Generator):
    """A one-node ONNX model of `op_type` on a random NCHW float input (weights as initializers)."""
    from onnx_builders import FLOAT, const, model, tensor

    x = rng.standard_normal((1, 4, 5, 6)).astype(np.float32)
    inits, extra_inputs, attributes, out_shape = [], [], {}, None
    if op_type == "Conv":
        inits = [const("w", rng.standard_normal((6, 2, 3, 3)).astype(np.float32)), const("b", rng.standard_normal(6).astype(np.float32))]
        extra_inputs, attributes = ["w", "b"], dict(kernel_shape=[3, 3], pads=[1, 0, 1, 2], strides=[1, 2], group=2)
    elif op_type == "ConvTranspose":
        inits = [const("w", rng.standard_normal((4, 3, 2, 3)).astype(np.float32))]
        extra_inputs, attributes = ["w"], dict(kernel_shape=[2, 3], strides=[2, 2], pads=[0, 1, 0, 1])
    elif op_type in ("Add", "Mul", "Sub", "Div", "Max"):
        inits = [const("y", (rng.random((1, 4, 1, 6)) + 0.5).astype(np.float32))]
        extra_inputs = ["y"]
    elif op_type == "HardSigmoid":
        attributes = dict(alpha=0.2, beta=0.5)
    elif op_type == "LeakyRelu":
        attributes = dict(alpha=0.1)
    elif op_type == "AveragePool":
        attributes = dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=0)
    elif op_type == "Softmax":
        attributes = dict(axis=1)
    node = onnx_node(op_type, ["x", *extra_inputs], attributes)
    proto = model([node], [tensor("x", FLOAT, x.shape)], [tensor("out", FLOAT, out_shape or [None] * 4)], inits, opset=17)
    return proto, {"x": x}


def onnx_node(op_type, inputs, attributes):
    from onnx import helper

    return helper.make_node(op_type, inputs, ["out"], **attributes)


FLOAT_OPS = ["Conv", "ConvTranspose", "Add", "Mul", "Sub", "Div", "Max", "Relu", "Sigmoid", "Tanh", "HardSigmoid",
             "HardSwish", "LeakyRelu", "Abs", "Neg", "Exp", "Erf", "Softmax", "AveragePool", "GlobalAveragePool"]


@settings(max_examples=3, deadline=None)
@given(st.integers(0, 2**32 - 1))
@pytest.mark.parametrize("op_type", FLOAT_OPS)
def test_float_ops_run_on_onnxruntime(op_type, seed):
    proto, feeds = _float_case(op_type, np.random.default_rng(seed))
    interpreter, program, inputs = _float_program(proto, feeds)
    assert program.numpy_ops() == [] and program.lowered_ops(), program.fallbacks
    for expected, produced in zip(interpreter.run(inputs), program.run(inputs)):
        assert produced.dtype == expected.dtype and produced.shape == expected.shape
        np.testing.assert_allclose(produced, expected, rtol=1e-5, atol=1e-5)


def test_an_arm_only_real_model_is_one_onnxruntime_session(cls_net, monkeypatch):
    """arm_only=True: every node in float; fast mode runs all of it on onnxruntime."""
    from afe.apis.defines import default_quantization
    from afe.apis.model import Model
    from models import real_inputs

    monkeypatch.delenv("SIMA_RUNTIME", raising=False)
    sample = {"x": np.ascontiguousarray(real_inputs("cls", 1, seed=3)[0].transpose(0, 2, 3, 1))}
    model = cls_net.quantize([sample], default_quantization, arm_only=True)
    fast = model.execute(sample, fast_mode=True)[0]
    program = model._executor(True)
    assert isinstance(program, OnnxProgram) and program.segment_count() == 1 and program.numpy_ops() == []
    np.testing.assert_allclose(fast, Model(model.module, name="float").execute(sample)[0], rtol=1e-4, atol=1e-6)
