"""quantize, dequantize and requantize kernels against exact rational arithmetic
(`fractions.Fraction`), and lookup tables built from them."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from xdsl.dialects.builtin import f32

from integer_references import (
    integers,
    nearest_float32,
    quant,
    reference_quantize,
    round_half_away,
    run_op,
    sat,
    tflite_requantize,
)
from runtime.errors import KernelError
from runtime.integer_arithmetic import ArithmeticOverflowError, dequantize, lookup_table, quantize
from sima_dialect.quantized_ops import DequantizeOp, LutOp, QuantizeOp, RequantizeOp

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

steps = st.one_of(
    st.floats(1e-6, 1e4),
    st.integers(-20, 10).map(lambda e: 2.0**e),  # power-of-two steps make exact ties common
)


def quantized_reference(x: float, step: float, zero_point: int, bits: int) -> int:
    if math.isinf(x):
        low, high = integers(bits)
        return high if x > 0 else low
    return reference_quantize(x, step, zero_point, bits)


@st.composite
def quantize_cases(draw):
    bits = draw(st.sampled_from([8, 16, 32]))
    step = draw(steps)
    zero_point = draw(st.integers(*integers(bits)))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=2, max_side=6))
    # arbitrary floats, and floats at (or next to) the ties (k + 1/2) * step
    halves = st.integers(-(2**17), 2**17).map(lambda k: np.float32(k * step / 2))
    near = halves.flatmap(
        lambda v: st.sampled_from([v, np.nextafter(v, np.float32(np.inf)), np.nextafter(v, np.float32(-np.inf))])
    )
    x = draw(hnp.arrays(np.float32, shape, elements=st.one_of(st.floats(width=32, allow_nan=False), near)))
    if draw(st.booleans()):
        # a step for which x[0] / step is within float64's rounding of a tie k + 1/2:
        # the float64 quotient often rounds onto the tie itself
        x.flat[0] = draw(st.floats(0.125, 1024.0, width=32)) * draw(st.sampled_from([1, -1]))
        step = abs(float(x.flat[0])) / (draw(st.integers(0, 1000)) + 0.5)
    return x, step, zero_point, bits


@SETTINGS
@given(quantize_cases())
def test_quantize_rounds_the_exact_quotient_half_away_from_zero(case):
    x, step, zero_point, bits = case
    result = run_op(lambda v: QuantizeOp(v, quant(bits, step, zero_point)), [(x, f32)])
    expected = [quantized_reference(v, step, zero_point, bits) for v in x.ravel().tolist()]
    assert result.dtype == np.dtype(f"int{bits}")
    np.testing.assert_array_equal(result.ravel(), expected)


@pytest.mark.parametrize(
    "x, step, expected",
    [
        # x / step is just below the tie -259.5 (the float64 quotient is the tie itself)
        (-94.48817443847656, 0.36411627914634515, -259),
        (-34.05365753173828, 0.2513185057692862, -135),
        (-39.36103439331055, 0.1664314350668522, -236),
    ],
)
def test_quantize_decides_near_ties_exactly(x, step, expected):
    naive = float(np.float32(x)) / step
    assert abs(naive) % 1 == 0.5  # rounding the float64 quotient would go one further from zero
    assert reference_quantize(x, step, 0, 32) == expected
    assert quantize(np.array([x], dtype=np.float32), step, 0, 32).tolist() == [expected]


def test_quantize_saturates_and_rounds_exact_ties_away_from_zero():
    x = np.array([0.5, -0.5, 1.5, -1.5, 2.5, 1e30, -1e30, np.inf, -np.inf, 0.0, -0.0], dtype=np.float32)
    np.testing.assert_array_equal(quantize(x, 1.0, 0, 8), [1, -1, 2, -2, 3, 127, -128, 127, -128, 0, 0])


def test_quantize_rejects_nan():
    with pytest.raises(ArithmeticOverflowError, match="cannot quantize NaN"):
        quantize(np.array([1.0, np.nan], dtype=np.float32), 0.5, 0, 8)
    with pytest.raises(KernelError, match="sima.quantize.*cannot quantize NaN"):
        run_op(lambda v: QuantizeOp(v, quant(8, 0.5, 0)), [(np.array([np.nan], dtype=np.float32), f32)])


@SETTINGS
@given(
    st.sampled_from([8, 16, 32]),
    st.one_of(steps, st.floats(1e-30, 1e20)),
    st.data(),
)
def test_dequantize_is_the_exact_product_rounded_once_to_float32(bits, step, data):
    zero_point = data.draw(st.integers(*integers(bits)))
    q = data.draw(hnp.arrays(np.dtype(f"int{bits}"), data.draw(hnp.array_shapes(max_dims=2, max_side=6)), elements=st.integers(*integers(bits))))
    result = run_op(lambda v: DequantizeOp(v), [(q, quant(bits, step, zero_point))])
    expected = [nearest_float32(Fraction(v - zero_point) * Fraction(step)) for v in q.ravel().tolist()]
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result.ravel(), np.array(expected, dtype=np.float32))


def test_dequantize_rounds_once_where_float64_lands_on_a_float32_midpoint():
    # 3 * step is just above 1 + 2**-24, the midpoint of 1 and 1 + 2**-23; its float64
    # rounding is that midpoint, which float32 would round (to even) down to 1
    step = 0.3333333532015483
    assert 3 * step == 1 + 2**-24 and Fraction(3) * Fraction(step) > 1 + Fraction(1, 2**24)
    result = dequantize(np.array([3, -3, 0], dtype=np.int8), step, 0)
    np.testing.assert_array_equal(result, np.array([1 + 2**-23, -(1 + 2**-23), 0.0], dtype=np.float32))
    below = 0.3333333532015482  # just below the midpoint: rounds down
    np.testing.assert_array_equal(dequantize(np.array([3], dtype=np.int8), below, 0), np.array([1.0], dtype=np.float32))


@SETTINGS
@given(st.sampled_from([8, 16, 32]), st.sampled_from([8, 16, 32]), st.data())
def test_requantize_matches_exact_rational_rounding(input_bits, output_bits, data):
    zero_point = data.draw(st.integers(*integers(input_bits)))
    low, high = integers(input_bits)
    # (q - z) << L must fit int32 for every q (the verifier's worst case)
    extremes = (low - zero_point, high - zero_point)
    left_shift = data.draw(st.integers(0, 31).filter(lambda s: all(-(2**31) <= e << s <= 2**31 - 1 for e in extremes)))
    multiplier, shift = data.draw(st.integers(1, 127)), data.draw(st.integers(0, 38))
    out_zero_point = data.draw(st.integers(*integers(output_bits)))
    q = data.draw(hnp.arrays(np.dtype(f"int{input_bits}"), data.draw(hnp.array_shapes(max_dims=2, max_side=5)), elements=st.integers(low, high)))
    result = run_op(
        lambda v: RequantizeOp(v, quant(output_bits, 0.5, out_zero_point), multiplier=multiplier, shift=shift, left_shift=left_shift),
        [(q, quant(input_bits, 0.25, zero_point))],
    )
    # y = sat(round_half_away((q - z) * 2**L * M / 2**n) + z_out), as a rational
    expected = [
        sat(round_half_away(Fraction((v - zero_point) * 2**left_shift * multiplier, 2**shift)) + out_zero_point, output_bits)
        for v in q.ravel().tolist()
    ]
    np.testing.assert_array_equal(result.ravel(), expected)
    assert expected == [tflite_requantize((v - zero_point) << left_shift, multiplier, shift, out_zero_point, output_bits) for v in q.ravel().tolist()]


@SETTINGS
@given(st.sampled_from([8, 16]), st.sampled_from([8, 16]), st.floats(1e-4, 10.0), st.floats(1e-4, 10.0))
def test_requantize_for_types_approximates_the_step_ratio_to_the_8_bit_multiplier(input_bits, output_bits, step_in, step_out):
    """M * 2**(L - n) is within 2**-7 (relative) of step_in / step_out: the model's 8-bit multiplier."""
    ratio = step_in / step_out
    from sima_dialect.quantized_ops import tflite_constants

    left_shift, multiplier, shift = tflite_constants(ratio, "test")
    assert 64 <= multiplier <= 127
    assert abs(multiplier * 2.0 ** (left_shift - shift) / ratio - 1) <= 2**-7
    x = np.arange(*integers(input_bits), max(1, 2 ** (input_bits - 8)), dtype=f"int{input_bits}")

    def build(v):
        return RequantizeOp.for_types(v, quant(output_bits, step_out, 0))

    result = run_op(build, [(x, quant(input_bits, step_in, 0))]).astype(np.int64)
    ideal = np.clip(np.round(x.astype(np.float64) * ratio), *integers(output_bits))
    # the rounding (1/2) plus the multiplier's relative error on |q| * ratio
    assert np.all(np.abs(result - ideal) <= 1 + np.abs(x * ratio) * 2**-7)


# ---------------------------------------------------------------------------
# lookup tables


@pytest.mark.parametrize("input_bits, output_bits", [(8, 8), (8, 16), (16, 16), (16, 8)])
def test_lookup_table_is_quantize_of_f_of_dequantize(input_bits, output_bits):
    step_in, z_in, step_out, z_out = 0.05, -7, 1.0 / 127, 3

    table = lookup_table(np.tanh, step_in, z_in, input_bits, step_out, z_out, output_bits)
    assert table.shape == (1 << input_bits,) and table.dtype == np.dtype(f"int{output_bits}")
    low, high = integers(input_bits)
    probes = range(low, high + 1, max(1, (high - low) // 600))  # every entry for int8, a sample of int16
    for q in probes:
        real = nearest_float32(Fraction(q - z_in) * Fraction(step_in))
        value = float(np.tanh(np.float32(real)))
        assert table[q - low] == reference_quantize(value, step_out, z_out, output_bits), q
    # through the op: y = table[q - min]
    x = np.array([low, -1, 0, 1, high], dtype=f"int{input_bits}")
    result = run_op(lambda v, t: LutOp(v, t, quant(output_bits, step_out, z_out)), [(x, quant(input_bits, step_in, z_in))], [table])
    np.testing.assert_array_equal(result, table[x.astype(np.int64) - low])


def test_lookup_table_needs_an_elementwise_function():
    with pytest.raises(ValueError, match="elementwise"):
        lookup_table(lambda x: x[:3], 0.1, 0, 8, 0.1, 0, 8)


def test_quantize_takes_bfloat16_inputs():
    import ml_dtypes
    from xdsl.dialects.builtin import bf16

    x = np.array([1.5, -2.25, 0.75, 100.0], dtype=ml_dtypes.bfloat16)
    result = run_op(lambda v: QuantizeOp(v, quant(8, 0.5, 1)), [(x, bf16)])
    np.testing.assert_array_equal(result, [4, -4, 3, 127])  # 0.75 / 0.5 = 1.5 rounds away to 2
