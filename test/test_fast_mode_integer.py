"""fast mode on onnxruntime's int8 kernels (`runtime.onnx_backend.integer_emulation`), op by op and on real models.

Each op test builds a one-op int8 function from the integer-kernel tests' cases,
runs it with the NumPy fast kernels (bit-exact for int8) and with the integer
emulation on onnxruntime, asserts that the op ran in onnxruntime in its fused
form, and bounds the difference in output steps by what the emulation leaves out
(stated per test). Two deterministic cases pin what the module doc claims: sima's
ties round up (the tie push), and full-range weights do not saturate (u8 x u8).
"""

from __future__ import annotations

import math
import tempfile
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from integer_references import quant
from runtime.fast_kernels import FAST_KERNELS
from runtime.integer_arithmetic import ArithFoldedRequantization, lookup_table
from runtime.interpreter import Interpreter
from runtime.kernels import elementwise
from runtime.onnx_backend import integer_emulation
from runtime.onnx_backend.emulate import FLOAT_EMULATION
from runtime.onnx_backend.integer_emulation import INTEGER_EMULATION, TIE_FREE_SHIFT_MAX, fast_program
from runtime.onnx_backend.program import OnnxProgram, _Segment
from sima_dialect.quantized_ops import LutOp, QAddOp, QConv2DOp, QDenseOp, QGlobalAvgPoolOp, QMulOp, QSubOp
from test_integer_kernels_elementwise import add_cases, mul_cases
from test_integer_kernels_gemm import conv_cases, dense_cases, requantization_object
from test_onnx_backend_ops import binary_module, one_op

import onnxruntime  # noqa: E402, F401  a core dependency: these tests fail, not skip, without it

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def integer_emulated(module, feeds, fused: str | None = None, not_fused: str | None = None):
    """(NumPy fast kernels' results, the integer emulation's, the program), after checking
    that every op ran in onnxruntime (and, if named, that onnxruntime ran `fused` and not `not_fused`)."""
    interpreter = Interpreter(module, kernels=FAST_KERNELS)
    models = []
    build_session = OnnxProgram._session

    def recording_session(self, model):
        models.append(model)
        return build_session(self, model)

    with mock.patch.object(OnnxProgram, "_session", recording_session):
        program = OnnxProgram(interpreter, threads=1, emulation=INTEGER_EMULATION)
    assert program.numpy_ops() == [] and program.lowered_ops(), program.fallbacks
    expected, produced = interpreter.run(list(feeds)), program.run(list(feeds))
    for e, p in zip(expected, produced):
        assert p.dtype == e.dtype and p.shape == e.shape
    if fused is not None or not_fused is not None:
        kinds = optimized_op_types(models)
        assert fused is None or fused in kinds, kinds
        assert not_fused is None or not_fused not in kinds, kinds
    return expected, produced, program


def qlinear_convs():
    """Every int8 conv on QLinearConv: the rule that runs some as float32 Convs off
    (`integer_emulation.runs_on_floats`, tested in test_fast_mode_float_convs.py)."""
    return mock.patch.object(integer_emulation, "runs_on_floats", lambda op, w: False)


def optimized_op_types(models) -> set[str]:
    """The op types of onnxruntime's optimized graphs of these segment models (QDQ fusions on)."""
    import onnx
    import onnxruntime

    kinds: set[str] = set()
    with tempfile.TemporaryDirectory() as directory:
        for index, model in enumerate(models):
            options = onnxruntime.SessionOptions()
            options.optimized_model_filepath = f"{directory}/optimized_{index}.onnx"
            options.log_severity_level = 4
            onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
            kinds |= {node.op_type for node in onnx.load(options.optimized_model_filepath).graph.node}
    return kinds


def steps_apart(expected, produced) -> int:
    return max(int(np.abs(e.astype(np.int64) - p.astype(np.int64)).max(initial=0)) for e, p in zip(expected, produced))


def _int8_gemm(case) -> bool:
    return case["input_bits"] == 8 and case["requant"]["output_bits"] == 8


def _accumulator_bound(case, column_l1: np.ndarray) -> float:
    """A bound on |sum c w + bias 2**h + z_in sum w + 128 2**k| (QLinearConv's int32 accumulator and its bias)."""
    r = case["requant"]
    intrinsic = np.broadcast_to(np.asarray(r["intrinsic"]), column_l1.shape)
    shift = np.broadcast_to(np.asarray(r["shift"]), column_l1.shape) + intrinsic
    bias = np.abs(np.asarray(case["bias"], dtype=np.float64)) * np.ldexp(1.0, intrinsic)
    return float((256 * column_l1 + bias + 128 * np.ldexp(1.0, shift)).max(initial=0))


def assert_gemm(case, module, column_l1: np.ndarray, fused: str) -> None:
    """Within 1 step (tflite rounds ties to even here; an accumulator beyond 2**24 is rounded to
    float32 by onnxruntime's requantization); exact for sima when the tie push is exact."""
    (expected,), (produced,), _ = integer_emulated(module, [case["x"]], fused)
    apart = steps_apart([expected], [produced])
    assert apart <= 1
    r = case["requant"]
    total_shift = np.asarray(r["shift"]) + np.asarray(r["intrinsic"])
    if r["mode"] == "sima" and np.all(total_shift <= TIE_FREE_SHIFT_MAX) and _accumulator_bound(case, column_l1) < 2**24:
        assert apart == 0


def conv_module(case):
    """A one-qconv2d int8 function of a `conv_cases` case."""
    r = case["requant"]

    def build(x, w, b):
        return QConv2DOp(
            x, w, b, requantization_object(r), r["intrinsic"], quant(8, 0.5, r["zero_point"]),
            strides=case["strides"], pads=case["pads"], dilations=case["dilations"], groups=case["groups"], relu=r["relu"],
        )

    return one_op(build, [(case["x"], quant(8, 0.25, case["zero_point"]))], [case["weight"], case["bias"]])


@SETTINGS
@given(conv_cases().filter(_int8_gemm))
def test_qconv2d_is_qlinearconv(case):
    module = conv_module(case)
    column_l1 = np.abs(case["weight"].astype(np.int64)).sum(axis=(0, 1, 2))
    with qlinear_convs():
        assert_gemm(case, module, column_l1, "QLinearConv")


def _sima_case(x, weight, bias, zero_point: int, shift: list[int]) -> dict:
    """A case of the integer-kernel tests' form: sima requantization to int8 (zero point 0), no relu."""
    return {
        "x": x, "weight": weight, "bias": bias, "zero_point": zero_point, "input_bits": 8,
        "requant": {"mode": "sima", "output_bits": 8, "relu": False, "shift": shift, "multiplier": None,
                    "zero_point": 0, "intrinsic": [0] * len(shift)},
    }


# 128 2**24 in the bias fits int32 but the accumulator 1 + (2**31 - 1) did not: QGemm wrapped it (128 steps off)
@example(_sima_case(np.array([[0]], np.int8), np.array([[1]], np.int8), np.array([0], np.int32), -1, [24]))
@example(_sima_case(np.array([[127, -128]], np.int8), np.array([[127], [-128]], np.int8), np.array([-5], np.int32), -128, [23]))
@SETTINGS
@given(dense_cases().filter(_int8_gemm))
def test_qdense_is_qgemm(case):
    r = case["requant"]
    module = one_op(
        lambda x, w, b: QDenseOp(x, w, b, requantization_object(r), r["intrinsic"], quant(8, 1.0, r["zero_point"]), relu=r["relu"]),
        [(case["x"], quant(8, 0.5, case["zero_point"]))],
        [case["weight"], case["bias"]],
    )
    assert_gemm(case, module, np.abs(case["weight"].astype(np.int64)).sum(axis=0), "QGemm")


def _sima_conv(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, shift: int, zero_point: int, relu: bool = False):
    return one_op(
        lambda v, w, b: QConv2DOp(v, w, b, ArithFoldedRequantization(np.array(shift)), 0, quant(8, 0.5, -5),
                                  strides=[1, 1], pads=[0, 0, 0, 0], dilations=[1, 1], groups=1, relu=relu),
        [(x, quant(8, 0.25, zero_point))], [weight, bias],
    )


@pytest.mark.parametrize("shift", [1, 2, 5, TIE_FREE_SHIFT_MAX])
def test_sima_ties_round_up_as_the_model_does(shift):
    """A 1x1 conv with weight 1 and every input value: A 2**-n hits every tie (x.5, both signs);
    QLinearConv alone would round them to even, the push rounds them up as sima does."""
    x = np.arange(-128, 128, dtype=np.int8).reshape(1, 16, 16, 1)
    bias = np.array([-(2 ** (shift + 3))], dtype=np.int32)  # centres the outputs within int8
    module = _sima_conv(x, np.ones((1, 1, 1, 1), np.int8), bias, shift, zero_point=3)
    with qlinear_convs():
        expected, produced, _ = integer_emulated(module, [x], "QLinearConv")
    assert steps_apart(expected, produced) == 0


def test_conv_accumulator_near_int32_keeps_the_byte_offset_out_of_the_bias():
    """A total shift of 24: with 128 2**24 = 2**31 in the bias the int32 accumulator would wrap
    (input zero point -1: bias 2**31 - 1, products up to 128); the emulation then takes 128 as
    the zero point instead (exact here: the outputs x / 2**24 are far from ties)."""
    x = np.array([-128, -1, 0, 5, 127], np.int8).reshape(1, 1, 5, 1)
    module = _sima_conv(x, np.ones((1, 1, 1, 1), np.int8), np.zeros(1, np.int32), 24, zero_point=-1)
    with qlinear_convs():
        expected, produced, _ = integer_emulated(module, [x], "QLinearConv")
    assert steps_apart(expected, produced) == 0


def test_accumulator_that_can_leave_int32_runs_the_numpy_kernel():
    """A bias near 2**31 plus full-range products could wrap onnxruntime's int32 accumulator:
    the qdense is refused (its NumPy fast kernel runs), and the outputs are the kernel's."""
    x = np.array([[1, 1], [0, -1], [3, 0]], np.int8)  # these inputs stay in int32; full-range ones would not
    module = one_op(
        lambda v, w, b: QDenseOp(v, w, b, ArithFoldedRequantization(np.array([30])), [0], quant(8, 1.0, 0), relu=False),
        [(x, quant(8, 0.5, 0))], [np.array([[127], [-127]], np.int8), np.array([2**31 - 1000], np.int32)],
    )
    interpreter = Interpreter(module, kernels=FAST_KERNELS)
    program = OnnxProgram(interpreter, threads=1, emulation=INTEGER_EMULATION)
    assert any("int32" in reason for reason in program.fallbacks), program.fallbacks
    (expected,), (produced,) = interpreter.run([x]), program.run([x])
    np.testing.assert_array_equal(produced, expected)


def test_full_range_weights_do_not_saturate():
    """Inputs near the top of int8 (bytes near 255) times weights of +-127: onnxruntime's u8 x s8
    AVX2 kernel saturates such pairs at int16 (off by up to 120 steps, measured); u8 x u8 is exact."""
    rng = np.random.default_rng(0)
    x = rng.integers(100, 128, (1, 4, 4, 64)).astype(np.int8)
    weight = np.where(rng.random((1, 1, 64, 8)) < 0.5, 127, -127).astype(np.int8)
    weight[..., 0] = 127
    bias = np.zeros(8, np.int32)
    module = _sima_conv(x, weight, bias, shift=12, zero_point=-128)
    expected, produced, _ = integer_emulated(module, [x], "QLinearConv")
    assert steps_apart(expected, produced) == 0


@pytest.mark.parametrize("kernel, stride", [(3, 1), (3, 2), (5, 1), (5, 2)])
def test_depthwise_int8_weights_do_not_saturate(kernel, stride):
    """Depthwise convs keep int8 weights (onnxruntime's depthwise kernel widens before it
    multiplies): full-range weights on bytes near 255, exact."""
    rng = np.random.default_rng(kernel + stride)
    x = rng.integers(90, 128, (1, 9, 9, 32)).astype(np.int8)
    weight = np.where(rng.random((kernel, kernel, 1, 32)) < 0.5, 127, -127).astype(np.int8)
    module = one_op(
        lambda v, w, b: QConv2DOp(v, w, b, ArithFoldedRequantization(np.array(12)), 0, quant(8, 0.5, -5), strides=[stride, stride],
                                  pads=[kernel // 2] * 4, dilations=[1, 1], groups=32, relu=False),
        [(x, quant(8, 0.25, -128))], [weight, np.zeros(32, np.int32)],
    )
    expected, produced, _ = integer_emulated(module, [x], "QLinearConv")
    assert steps_apart(expected, produced) == 0


def _all_int8(case, bits_key: str) -> bool:
    return case[bits_key] == [8, 8] and case["output_bits"] == 8


@SETTINGS
@given(mul_cases().filter(lambda c: _all_int8(c, "bits")))
def test_qmul(case):
    """The float emulation's form between bytes (not QLinearMul): exact where its push fits."""
    expected, produced, _ = integer_emulated(
        binary_module(QMulOp, case, "bits"), [case["a"], case["b"]],
        # a factor of 1: onnxruntime drops the Mul by 1 and QLinearMul computes the exact integer product
        not_fused=None if case["multiplier"] * 2.0 ** (case["left_shift"] - case["shift"]) == 1 else "QLinearMul",
    )
    apart = steps_apart(expected, produced)
    assert apart <= 1
    if max(0, case["shift"] - case["left_shift"]) + 8 + 1 <= 23:
        assert apart == 0


def _one_value_product(a: np.ndarray, za: int, k: int, zk: int, multiplier: int, shift: int, left_shift: int, z_out: int,
                       constant: bool, k_first: bool):
    """@main(a[, k]) = qmul(a, k) (or qmul(k, a)) with k one int8 value: a constant (sima.quantize of a
    float constant, as det's and rec's x * 1/6 are) or a [1, 1, 1, 1] input."""
    from xdsl.dialects.builtin import ModuleOp, TensorType
    from xdsl.dialects.func import FuncOp, ReturnOp
    from xdsl.ir import Block, Region

    from sima_dialect.ops import ConstantOp
    from sima_dialect.quantized_ops import QuantizeOp

    a_type, k_type = quant(8, 0.1, za), quant(8, 0.25, zk)
    arg_types = [TensorType(a_type, list(a.shape))] + ([] if constant else [TensorType(k_type, [1, 1, 1, 1])])
    block = Block(arg_types=arg_types)
    ops = []
    if constant:
        real = ConstantOp.from_array("k", np.full((1, 1, 1, 1), 0.25 * (k - zk), np.float32))
        quantized = QuantizeOp(real.output, k_type)
        ops += [real, quantized]
        k_value = quantized.results[0]
    else:
        k_value = block.args[1]
    operands = (k_value, block.args[0]) if k_first else (block.args[0], k_value)
    product = QMulOp(*operands, quant(8, 0.5, z_out), multiplier=multiplier, shift=shift, left_shift=left_shift)
    block.add_ops([*ops, product, ReturnOp(product.results[0])])
    module = ModuleOp([FuncOp("main", (arg_types, [product.results[0].type]), Region(block))])
    module.verify()
    return module


@SETTINGS
@given(
    st.integers(0, 2**32 - 1), st.integers(-128, 127), st.integers(-128, 127), st.integers(-128, 127), st.integers(1, 127),
    st.integers(0, 20), st.integers(0, 8), st.integers(-128, 127), st.booleans(), st.booleans(),
)
def test_qmul_by_one_value_is_one_dequantize(seed, za, k, zk, multiplier, shift, left_shift, z_out, constant, k_first):
    """qmul of a tensor by one value (constant or not, either side): one DequantizeLinear scaled by
    that value and no Mul over the tensor; byte for byte the Mul form's outputs, and the kernel's
    wherever the Mul form's push fits (as test_qmul)."""
    assume(abs((k - zk) * 255) << left_shift < 2**31)
    a = np.random.default_rng(seed).integers(-128, 128, (1, 5, 6, 7)).astype(np.int8)
    module = _one_value_product(a, za, k, zk, multiplier, shift, left_shift, z_out, constant, k_first)
    feeds = [a] if constant else [a, np.full((1, 1, 1, 1), k, np.int8)]
    folded, models = [], []
    original, build_session = integer_emulation._scaled_by_one_value, OnnxProgram._session
    with mock.patch.object(integer_emulation, "_scaled_by_one_value", lambda *args: folded.append(original(*args)) or folded[-1]), \
            mock.patch.object(OnnxProgram, "_session", lambda self, model: models.append(model) or build_session(self, model)):
        expected, produced, _ = integer_emulated(module, feeds)
    assert len(folded) == 1 and folded[0] is not None
    muls = [node for model in models for node in model.graph.node if node.op_type == "Mul"]
    assert len(muls) == (0 if constant else 1)  # at most the one value times the factor: none over the tensor
    with mock.patch.object(integer_emulation, "_scaled_by_one_value", lambda *args: None):
        _, mul_form, _ = integer_emulated(module, feeds)
    for ours, theirs in zip(produced, mul_form):
        np.testing.assert_array_equal(ours, theirs)
    if max(0, shift - left_shift) + 8 + 1 <= 23:
        assert steps_apart(expected, produced) == 0


@SETTINGS
@given(add_cases().filter(lambda c: _all_int8(c, "bits")))
def test_qadd_qsub(case):
    """A Sub of the dequantized terms (never QLinearAdd, see integer_emulation.lower_qadd_sub); the
    model rounds each rescaled input (half a unit each) before the output's requantization."""
    module = binary_module(QSubOp if case["subtract"] else QAddOp, case, "bits")
    expected, produced, program = integer_emulated(module, [case["a"], case["b"]], not_fused="QLinearAdd")
    output_ratio = case["multiplier"] * 2.0 ** -case["shift"]
    assert steps_apart(expected, produced) <= 1 + math.ceil(output_ratio)


@SETTINGS
@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 127), st.integers(0, 38), st.integers(-128, 127), st.integers(0, 2**32 - 1))
def test_qglobal_avg_pool_is_qlinearglobalaveragepool(h, w, multiplier, shift, zero_point, seed):
    x = np.random.default_rng(seed).choice([-128, 127, 0, 5], size=(1, h, w, 3)).astype(np.int8)
    module = one_op(lambda v: QGlobalAvgPoolOp(v, quant(8, 0.5, -4), multiplier=multiplier, shift=shift), [(x, quant(8, 0.25, zero_point))])
    expected, produced, _ = integer_emulated(module, [x], "QLinearGlobalAveragePool")
    assert steps_apart(expected, produced) <= 1  # a tie, or a float32 rounding of the mean, one step off


@SETTINGS
@given(st.floats(0.005, 0.2), st.floats(0.005, 0.2), st.integers(-50, 50), st.integers(0, 2**32 - 1))
@example(0.01, 0.01, 0, 0)  # no nudge gives this table's bytes: read exactly
def test_hard_swish_table_is_one_hardswish(in_step, out_step, zero_point, seed):
    """The table's bytes from one HardSwish (float32 hard_swish on the real value, rounded once, its
    constants nudged until exact: `table_constants.make_exact`), or, where no nudge gives them (e.g.
    both steps 0.01, zero point 0), from the table read exactly (Cast + GatherElements)."""
    x = np.random.default_rng(seed).integers(-128, 128, (2, 3, 17)).astype(np.int8)
    x.flat[0], x.flat[-1] = -128, 127
    table = lookup_table(elementwise.hard_swish, in_step, zero_point, 8, out_step, -3, 8)
    module = one_op(lambda v, t: LutOp(v, t, quant(8, out_step, -3)), [(x, quant(8, in_step, zero_point))], [table])
    expected, produced, program = integer_emulated(module, [x])
    assert steps_apart(expected, produced) == 0
    nodes = [node.op_type for step in program._program if isinstance(step, _Segment) for f in step.fragments for node in f.nodes]
    event("one HardSwish" if "HardSwish" in nodes else "table read")
    assert ("HardSwish" in nodes) != ("GatherElements" in nodes) and "Gather" not in nodes, nodes


def test_int16_programs_run_a_float_emulation_and_int8_ones_the_int8_kernels(monkeypatch):
    """int16: a float emulation (16-bit roundings relaxed, `relaxed_emulation`); int8: the int8 kernels."""
    from runtime.onnx_backend.relaxed_emulation import RELAXED_EMULATION

    x = np.zeros((1, 2, 2, 3), np.int16)
    module = one_op(lambda v: QGlobalAvgPoolOp(v, quant(8, 0.5, -4), multiplier=3, shift=4), [(x, quant(16, 0.25, 0))])
    assert fast_program(Interpreter(module, kernels=FAST_KERNELS), threads=1).emulation is RELAXED_EMULATION
    int8 = one_op(lambda v: QGlobalAvgPoolOp(v, quant(8, 0.5, -4), multiplier=3, shift=4), [(x.astype(np.int8), quant(8, 0.25, 0))])
    monkeypatch.delenv("SIMA_FAST_FORM", raising=False)
    assert fast_program(Interpreter(int8, kernels=FAST_KERNELS), threads=1).emulation is INTEGER_EMULATION


# ---------------------------------------------------------------------------
# real models: distance to bit-exact


@pytest.fixture(scope="module")
def orientation_int8():
    from afe.apis.defines import MinMaxMethod, default_quantization
    from models import load_real_net, real_inputs

    net = load_real_net("orientation")  # fails, not skips, when the model's package is missing
    images = [np.ascontiguousarray(x.transpose(0, 2, 3, 1)) for x in real_inputs("orientation", 10, seed=7)]
    model = net.quantize([{"x": image} for image in images[:4]], default_quantization.with_calibration(MinMaxMethod()))
    return model, [{"x": image} for image in images[4:]]


def test_orientation_fast_mode_runs_on_int8_kernels_close_to_bit_exact(orientation_int8, monkeypatch):
    """On 6 real document crops: one onnxruntime session of the integer emulation, the same top-1
    as bit-exact on every one, output SQNR fast vs bit-exact >= 30 dB (the bar of the float
    emulation's test) and no more than 0.5 dB below the float emulation's on the same samples.
    Measured here (min / max calibration): 32.9 dB for both emulations, identical outputs: the
    distance is the tables computed as their float functions, which both share; the integer
    parts (QLinearConv, QGemm, QLinearAdd / Mul / GlobalAveragePool) add nothing measurable
    (default_quantization: 146.4 dB for both)."""
    monkeypatch.delenv("SIMA_RUNTIME", raising=False)
    model, samples = orientation_int8
    exact = np.concatenate([model.execute(s)[0] for s in samples]).astype(np.float64)
    # the int8-kernel form itself (what fast mode's default runs; its own distance is checked below too)
    program = OnnxProgram(model._interpreter(True), threads=1, emulation=INTEGER_EMULATION)
    fast = np.concatenate([model._dequantized(0, program.run(s)[0]) for s in samples]).astype(np.float64)
    default = np.concatenate([model.execute(s, fast_mode=True)[0] for s in samples]).astype(np.float64)
    assert isinstance(model._executor(True), OnnxProgram) and model._executor(True).numpy_ops() == []
    assert program.segment_count() == 1 and program.numpy_ops() == []
    float_program = OnnxProgram(model._interpreter(True), threads=1, emulation=FLOAT_EMULATION)
    emulated = np.concatenate([model._dequantized(0, float_program.run(s)[0]) for s in samples]).astype(np.float64)

    def sqnr(approximation: np.ndarray) -> float:
        return 10 * np.log10((exact**2).sum() / max(((exact - approximation) ** 2).sum(), 1e-300))

    assert sqnr(fast) >= 30, sqnr(fast)
    assert sqnr(fast) >= sqnr(emulated) - 0.5, (sqnr(fast), sqnr(emulated))
    assert np.array_equal(exact.argmax(axis=-1), fast.argmax(axis=-1))
    assert sqnr(default) >= 30, sqnr(default)
    assert np.array_equal(exact.argmax(axis=-1), default.argmax(axis=-1))
