"""Bit-exact int16 convolutions on onnxruntime (`runtime.onnx_backend.exact_int16_form`).

- `int15_plan`'s algebra against the MLA arithmetic written with Python ints
  (`integer_references`), exactly (Fractions: no float32 involved);
- the lowered convolution against the NumPy kernel on random cases and at the
  float32 bound: weights whose column norm sits exactly at the largest the plan
  accepts (lowered by it) and one step above (refused: the previous lowering runs),
  with the inputs that make every partial sum largest;
- a mutation: a plan one unit off in the int15 product is caught by the same comparison;
- tables, adds, softmax and the input quantize of int16 values in the same sessions;
- the int16 real models rec and orientation (cls and det: test_onnx_backend_models.py).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from integer_references import mla_dot, quant, sima_requantize
from runtime.interpreter import Interpreter
from runtime.onnx_backend import exact_int16_form
from runtime.onnx_backend.exact_int16_form import EXACT_FORM, Int15Plan, int15_plan
from runtime.onnx_backend.program import OnnxProgram
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region

from sima_dialect.ops import ConstantOp
from sima_dialect.quantized_ops import LutOp, QAddOp, QConv2DOp, QSubOp
from test_integer_kernels_elementwise import add_cases
from test_integer_kernels_gemm import conv_cases, requantization_object
from test_onnx_backend_ops import binary_module, one_op

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def round_half_even(value: Fraction) -> int:
    floor = value.numerator // value.denominator
    rest = value - floor
    return floor + (1 if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2) else 0)


def planned_output(plan: Int15Plan, channel: int, centred: list[int], weights: list[int], bits: int, relu: bool) -> int:
    """What the plan's nodes compute for one output, in exact arithmetic: the split by
    rounding, the two sums with their biases, floor(V), QuantizeLinear's round half to even."""
    split = 1 << plan.split_shift
    his = [round_half_even(Fraction(c, split)) for c in centred]
    los = [c - split * hi for c, hi in zip(centred, his)]
    t_scale = Fraction(plan.weight_scale[channel])
    u = sum(split * hi * w for hi, w in zip(his, weights)) * t_scale + Fraction(plan.hi_bias[channel])
    v = sum(lo * w for lo, w in zip(los, weights)) * t_scale + Fraction(plan.lo_bias[channel])
    z = u + (v.numerator // v.denominator)
    if relu:
        z = max(z, Fraction(0))
    down = plan.down[channel] if plan.down.size > 1 else plan.down[0]
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return min(max(round_half_even(z / Fraction(down)), low), high)


@SETTINGS
@given(st.data())
def test_the_plan_is_the_int15_arithmetic(data):
    """y = sat(floor((floor(S / 2**h) + B + r) / 2**n)) (the model) equals the plan's nodes, exactly."""
    channels = data.draw(st.integers(1, 3))
    taps = data.draw(st.integers(1, 6))
    h = data.draw(st.lists(st.sampled_from([1, 8]), min_size=channels, max_size=channels))
    n = data.draw(st.lists(st.integers(0, 20), min_size=channels, max_size=channels))
    z = data.draw(st.integers(-(2**15), 2**15 - 1))
    bits, relu = data.draw(st.sampled_from([8, 16])), data.draw(st.booleans())
    w = [data.draw(st.lists(st.integers(-127, 127), min_size=taps, max_size=taps)) for _ in range(channels)]
    bias = data.draw(st.lists(st.integers(-(2**20), 2**20), min_size=channels, max_size=channels))
    xs = data.draw(st.lists(st.integers(-(2**15), 2**15 - 1), min_size=taps, max_size=taps))
    l1 = [sum(abs(v) for v in column) for column in w]
    correction = [z * sum(column) for column in w]
    plan = int15_plan(np.array(h), np.array(n), np.array(bias), np.array(correction), np.array(l1))
    assume(plan is not None)  # small m with a large column: beyond the bounds (the previous lowering runs)
    for c in range(channels):
        expected = sima_requantize(mla_dot(xs, w[c], 16, h[c]) + bias[c], n[c], bits, relu)
        assert planned_output(plan, c, [x - z for x in xs], w[c], bits, relu) == expected, c


def test_a_wider_split_lets_one_scale_serve_channels_far_apart():
    """m = 1 and 12 (a spread of 11): s = 8 would need a per-channel QuantizeLinear; s = 11 does not."""
    plan = int15_plan(np.array([1, 1]), np.array([0, 11]), np.array([5, -7]), np.array([30, -20]), np.array([60, 60]))
    assert plan is not None and plan.split_shift == 11 and plan.down.size == 1


def conv_module(x: np.ndarray, zero_point: int, w: np.ndarray, bias: np.ndarray, shift, intrinsic, output_bits: int = 16,
                output_zero_point: int = 0, pads=(0, 0, 0, 0), groups: int = 1, relu: bool = False):
    requantization = requantization_object(dict(mode="sima", shift=list(shift), multiplier=None, zero_point=0))
    return one_op(
        lambda v, weight, b: QConv2DOp(v, weight, b, requantization, list(intrinsic), quant(output_bits, 0.5, output_zero_point),
                                       strides=[1, 1], pads=list(pads), dilations=[1, 1], groups=groups, relu=relu),
        [(x, quant(16, 0.25, zero_point))], [w, bias],
    )


def mismatches(module, *feeds: np.ndarray) -> int:
    """How many outputs of the exact onnxruntime program differ from the NumPy interpreter's
    (after checking that every op ran in onnxruntime)."""
    interpreter = Interpreter(module)
    program = OnnxProgram(interpreter, threads=1, emulation=EXACT_FORM)
    assert program.lowered_ops() and not program.numpy_ops(), program.numpy_ops()
    (expected,), (produced,) = interpreter.run(list(feeds)), program.run(list(feeds))
    assert produced.dtype == expected.dtype and produced.shape == expected.shape
    return int(np.count_nonzero(produced != expected))


@pytest.fixture
def plans_used(monkeypatch):
    """The plans `lower_int15_conv` gets (None where it falls back to `lower.lower_qconv2d`)."""
    made = []

    def recorded(*arguments):
        made.append(int15_plan(*arguments))
        return made[-1]

    monkeypatch.setattr(exact_int16_form, "int15_plan", recorded)
    return made


@SETTINGS
@given(conv_cases().filter(lambda case: case["input_bits"] == 16))
def test_int16_convolutions_match_the_kernel(case):
    r = case["requant"]
    module = one_op(
        lambda x, w, b: QConv2DOp(
            x, w, b, requantization_object(r), r["intrinsic"], quant(r["output_bits"], 0.5, r["zero_point"]),
            strides=case["strides"], pads=case["pads"], dilations=case["dilations"], groups=case["groups"], relu=r["relu"]),
        [(case["x"], quant(16, 0.25, case["zero_point"]))], [case["weight"], case["bias"]],
    )
    assert mismatches(module, case["x"]) == 0


@SETTINGS
@given(add_cases())
def test_int16_add_and_sub_match_the_kernel(case):
    """The multiplier folded into the float64 tables (`lower_int16_add`); int8 operands: the float form's tables."""
    module = binary_module(QSubOp if case["subtract"] else QAddOp, case, "bits")
    assert mismatches(module, case["a"], case["b"]) == 0


def conv_then(reader, x: np.ndarray, zero_point: int, w: np.ndarray, bias: np.ndarray, shift, intrinsic, conv_zero_point: int,
              relu: bool = False, extra_inputs=()):
    """@main: a padded int16 convolution, then `reader(conv result, *extra arguments)`."""
    block = Block(arg_types=[TensorType(quant(16, 0.25, zero_point), list(x.shape)),
                             *[TensorType(element, list(array.shape)) for array, element in extra_inputs]])
    constants = [ConstantOp.from_array(name, array) for name, array in (("w", w), ("b", bias))]
    conv = QConv2DOp(block.args[0], constants[0].output, constants[1].output,
                     requantization_object(dict(mode="sima", shift=list(shift), multiplier=None, zero_point=0)), list(intrinsic),
                     quant(16, 0.5, conv_zero_point), strides=[1, 1], pads=[1, 1, 1, 1], dilations=[1, 1], groups=1, relu=relu)
    ops = [*constants, conv, *reader(conv.output, *block.args[1:])]
    block.add_ops([*ops, ReturnOp(ops[-1].results[0])])
    module = ModuleOp([FuncOp("main", ([a.type for a in block.args], [ops[-1].results[0].type]), Region(block))])
    module.verify()
    return module


@SETTINGS
@given(st.data())
def test_a_table_reads_the_convolutions_index(data):
    """conv -> lut: the lut reads its table at the convolution's index alias (QuantizeLinear to
    uint16 with zero point 32768), per-tensor and per-channel scales 2**q, with and without ReLU."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    c_in, c_out = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6))
    shift = data.draw(st.lists(st.integers(0, 20), min_size=c_out, max_size=c_out))
    intrinsic = data.draw(st.lists(st.sampled_from([1, 8]), min_size=c_out, max_size=c_out))
    relu = data.draw(st.booleans())
    zero_point, conv_zero_point = (0 if relu else data.draw(st.integers(-(2**15), 2**15 - 1)) for _ in range(2))
    x = rng.integers(-(2**15), 2**15, (1, 5, 6, c_in)).astype(np.int16)
    x.flat[0], x.flat[-1] = -(2**15), 2**15 - 1
    w = rng.integers(-127, 128, (3, 3, c_in, c_out)).astype(np.int8)
    bias = rng.integers(-(2**16), 2**16, c_out).astype(np.int32)
    table = rng.integers(-(2**15), 2**15, 1 << 16).astype(np.int16)

    def lut(y):
        constant = ConstantOp.from_array("table", table)
        return [constant, LutOp(y, constant.output, quant(16, 0.5, 4))]

    module = conv_then(lut, x, zero_point, w, bias, shift, intrinsic, conv_zero_point, relu)
    assert mismatches(module, x) == 0


def test_an_add_reads_the_convolutions_table_index():
    """conv -> qadd: the add reads its tables at the convolution's index alias (x + 32768)."""
    rng = np.random.default_rng(3)
    x = rng.integers(-(2**15), 2**15, (1, 6, 7, 4)).astype(np.int16)
    w = rng.integers(-127, 128, (3, 3, 4, 5)).astype(np.int8)
    bias = rng.integers(-(2**12), 2**12, 5).astype(np.int32)
    other = rng.integers(-(2**15), 2**15, (1, 6, 7, 5)).astype(np.int16)
    add = lambda y, other_argument: [QAddOp(y, other_argument, quant(16, 0.6, 5), multiplier=77, shift=20, left_shift=14,  # noqa: E731
                                            lhs_multiplier=100, lhs_shift=8, rhs_multiplier=127, rhs_shift=8)]
    module = conv_then(add, x, 11, w, bias, [9] * 5, [1], -7, extra_inputs=[(other, quant(16, 0.4, 3))])
    program = OnnxProgram(Interpreter(module), threads=1, emulation=EXACT_FORM)
    (segment,) = [step for step in program._program if getattr(step, "session", None) is not None]
    (alias,) = segment.fragments[0].index_aliases.values()  # the convolution's
    assert any(alias in node.input for node in segment.fragments[1].nodes)  # read by the add
    assert mismatches(module, x, other) == 0


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])  # ~200k values each
@given(st.floats(1e-6, 2.0), st.integers(-(2**15), 2**15 - 1), st.integers(0, 2**32 - 1))
def test_int16_quantize_in_the_session_is_the_kernel(step, zero_point, seed):
    """float32 -> int16 at and next to every tie (k + 1/2) step below saturation, infinities and
    random values: lowered where `quantize_mismatches` allows (its patches included), the kernel's integers."""
    from xdsl.dialects.builtin import f32

    from runtime.onnx_backend.exact_float_form import MAX_QUANTIZE_PATCHES, quantize_mismatches
    from sima_dialect.quantized_ops import QuantizeOp

    step = float(np.float32(step))  # steps as the quantizer makes them (float32 scales)
    rng = np.random.default_rng(seed)
    nearest = ((np.arange(-(2**15) - zero_point - 2, 2**15 - zero_point + 2) + 0.5) * step).astype(np.float32)
    x = np.concatenate([nearest, np.nextafter(nearest, np.float32(np.inf)), np.nextafter(nearest, np.float32(-np.inf)),
                        np.array([np.inf, -np.inf, 0.0, -0.0, 3e38, -3e38], np.float32),
                        (rng.standard_normal(300) * step * 3e4).astype(np.float32)])
    x = rng.permutation(x)[None, None, :, None]
    module = one_op(lambda v: QuantizeOp(v, quant(16, step, zero_point)), [(x, f32)])
    interpreter = Interpreter(module)
    program = OnnxProgram(interpreter, threads=1, emulation=EXACT_FORM)
    lowered = quantize_mismatches(step, zero_point, bits=16)[0].size <= MAX_QUANTIZE_PATCHES
    assert (program.numpy_ops() == []) == lowered, program.fallbacks
    np.testing.assert_array_equal(program.run([x])[0], interpreter.run([x])[0])


@SETTINGS
@given(st.integers(0, 2**32 - 1), st.sampled_from([(1, 2), (1, 4), (2, 3, 5), (1, 1, 1, 300)]), st.integers(1, 127),
       st.integers(0, 20), st.sampled_from([(16, 8), (16, 16), (8, 16)]))
def test_int16_softmax_in_the_session_is_the_kernel(seed, shape, multiplier, shift, bits):
    from sima_dialect.quantized_ops import QSoftmaxOp

    input_bits, output_bits = bits
    rng = np.random.default_rng(seed)
    entries = 1 << input_bits
    table = np.round(np.exp(-rng.uniform(1e-5, 0.01) * np.arange(entries)) * 2**23).astype(np.int32)  # table[0] = 2**23
    table[1:] = np.minimum(table[1:] + rng.integers(-2, 3, entries - 1), 2**23).clip(0)  # (any entries in range)
    axis = int(rng.integers(len(shape)))
    x = rng.integers(-(2 ** (input_bits - 1)), 2 ** (input_bits - 1), shape).astype(f"int{input_bits}")
    x.flat[0] = x.flat[-1]  # ties in a row
    out_type = quant(output_bits, 0.05, int(rng.integers(-(2 ** (output_bits - 1)), 2 ** (output_bits - 1))))

    def softmax(v):
        constant = ConstantOp.from_array("table", table)
        return [constant, QSoftmaxOp(v, constant.output, out_type, axis=axis, multiplier=multiplier, shift=shift)]

    block = Block(arg_types=[TensorType(quant(input_bits, 0.001, int(rng.integers(-100, 100))), list(shape))])
    ops = softmax(block.args[0])
    block.add_ops([*ops, ReturnOp(ops[-1].output)])
    module = ModuleOp([FuncOp("main", ([block.args[0].type], [ops[-1].output.type]), Region(block))])
    module.verify()
    assert mismatches(module, x) == 0


def largest_input_channels(shift, intrinsic, bias, zero_point: int) -> int:
    """The most input channels of +-127 weights (1x1 kernel) that `int15_plan` accepts."""
    channels = 0
    while True:
        l1 = 127 * (channels + 1)
        correction = zero_point * 127 * (channels + 1)  # all weights +127 in the sum, the worst for the bias
        if int15_plan(np.array(intrinsic), np.array(shift), np.array(bias), np.array([correction] * len(bias)), np.array([l1] * len(bias))) is None:
            return channels
        channels += 1


def extreme_case(channels: int, outputs: int, seed: int):
    """Weights +127 (the correction's worst case) and inputs near the top of int16 with odd high
    bytes (c = x - z: hi = 255, 253, ...), so that the high byte's sum is about as large as the
    plan's bound allows and not a multiple of a large power of two."""
    rng = np.random.default_rng(seed)
    w = np.full((1, 1, channels, outputs), 127, dtype=np.int8)
    top = 32767 - 256 * rng.choice([1, 3, 5], size=(1, 6, 6, channels)) + rng.integers(-128, 128, (1, 6, 6, channels))
    return np.clip(top, -32768, 32767).astype(np.int16), w


@pytest.mark.parametrize("shift, intrinsic, zero_point", [
    ([9], [1], -32768),
    ([4, 12], [1, 1], -32768),  # a spread of 8: one q for both channels, t = 0 and 8
    ([2, 13], [8, 1], 1000),    # m 10 and 14
    ([0], [1], 0),
    ([0, 11], [1, 1], 5),     # m 1 and 12: one q only with the input split at s >= 11
])
def test_at_the_float32_bound(shift, intrinsic, zero_point, plans_used):
    bias = np.array([-(2**18)] * len(shift), dtype=np.int32)
    largest = largest_input_channels(shift, intrinsic, bias, zero_point)
    for channels, accepted in ((largest, True), (largest + 1, False)):
        x, w = extreme_case(channels, len(bias), seed=channels)
        plans_used.clear()
        assert mismatches(conv_module(x, zero_point, w, bias, shift, intrinsic), x) == 0, channels
        assert (plans_used[-1] is not None) == accepted, (channels, largest)


def test_a_plan_one_unit_off_in_the_int15_product_is_caught(monkeypatch):
    """P + 1 (one unit of floor(S / 2**h)): V's bias 2**h * 2**-t higher. The comparison above finds it."""
    rng = np.random.default_rng(5)
    x = rng.integers(-(2**15), 2**15, (1, 16, 16, 8)).astype(np.int16)
    w = rng.integers(-127, 128, (3, 3, 8, 16)).astype(np.int8)
    bias = rng.integers(-(2**16), 2**16, 16).astype(np.int32)
    shift, intrinsic = rng.integers(6, 12, 16), [1]
    module = conv_module(x, 17, w, bias, shift, intrinsic, pads=(1, 1, 1, 1))
    assert mismatches(module, x) == 0

    def one_unit_off(h, *rest):
        plan = int15_plan(h, *rest)
        return Int15Plan(plan.split_shift, plan.weight_scale, plan.hi_bias,
                         plan.lo_bias + np.ldexp(plan.weight_scale, np.broadcast_to(h, plan.weight_scale.shape)), plan.down)

    monkeypatch.setattr(exact_int16_form, "int15_plan", one_unit_off)
    assert mismatches(module, x) > 0


# ---------------------------------------------------------------------------
# real models


REAL_SHAPES = {"rec": (1, 3, 48, 96), "orientation": (1, 3, 224, 224)}


@pytest.mark.parametrize("name", sorted(REAL_SHAPES))
def test_real_int16_models_match_the_interpreter(name, plans_used):
    """rec and orientation int16 (min / max ranges: the arithmetic, not the accuracy, is tested):
    every convolution in onnxruntime, most by the 9-node plan, the same integers as NumPy."""
    from afe.apis.defines import MinMaxMethod, int16_quantization
    from models import load_real_net, nhwc_samples

    shape = REAL_SHAPES[name]
    net = load_real_net(name, shape)
    model = net.quantize(nhwc_samples(name, 2, seed=0, shape=shape), int16_quantization.with_calibration(MinMaxMethod()))
    interpreter = model._interpreter(False)
    program = OnnxProgram(interpreter, threads=1, emulation=EXACT_FORM)
    assert not [op for op in program.numpy_ops() if op.startswith("sima.qconv2d ")], program.numpy_ops()
    assert sum(plan is not None for plan in plans_used) > len(plans_used) / 2, plans_used
    sample = nhwc_samples(name, 1, seed=100, shape=shape)[0]
    for produced, expected in zip(program.run(sample), interpreter.run(sample), strict=True):
        assert produced.dtype == expected.dtype and produced.shape == expected.shape
        np.testing.assert_array_equal(produced, expected, err_msg=name)
