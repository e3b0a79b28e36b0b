"""The MLA integer arithmetic model (runtime.integer_arithmetic) against exact rational arithmetic."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from afe.ir.tensor_type import ScalarType
from runtime.integer_arithmetic import (
    ACCUMULATOR_MAX,
    ACCUMULATOR_MIN,
    INTRINSIC_SHIFT_HI,
    INTRINSIC_SHIFT_LO,
    ArithFoldedRequantization,
    ArithmeticOverflowError,
    FloatRequantization,
    TFLiteRequantization,
    accumulate,
    exact_integer_matmul,
    int8_product,
    int15_product,
    mla_gemm,
    round_half_away_from_zero,
    round_half_to_even,
    saturate,
    shift_right_floor,
    shift_right_round_half_away,
    shift_right_round_half_up,
)

int32s = st.integers(ACCUMULATOR_MIN, ACCUMULATOR_MAX)
wide_ints = st.integers(-(2**45), 2**45)
shifts = st.integers(0, 40)


def exact_half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def exact_half_away(value: Fraction) -> int:
    magnitude = math.floor(abs(value) + Fraction(1, 2))
    return -magnitude if value < 0 else magnitude


def clamp(value: int, scalar_type: ScalarType) -> int:
    return max(scalar_type.min_value, min(scalar_type.max_value, value))


# ---------------------------------------------------------------------------
# rounding helpers


@given(wide_ints, shifts)
def test_shift_right_floor_is_floor_division(a, n):
    assert int(shift_right_floor(np.int64(a), n)) == math.floor(Fraction(a, 2**n))


@given(wide_ints, shifts)
def test_shift_right_round_half_up_matches_exact(a, n):
    assert int(shift_right_round_half_up(np.int64(a), n)) == exact_half_up(Fraction(a, 2**n))


@given(wide_ints, shifts)
def test_shift_right_round_half_away_matches_exact(a, n):
    assert int(shift_right_round_half_away(np.int64(a), n)) == exact_half_away(Fraction(a, 2**n))


@given(st.lists(st.tuples(int32s, st.integers(0, 31)), min_size=1, max_size=20))
def test_shifts_broadcast_per_element(pairs):
    a = np.array([p[0] for p in pairs], dtype=np.int64)
    n = np.array([p[1] for p in pairs], dtype=np.int64)
    expected = [exact_half_up(Fraction(int(x), 2 ** int(k))) for x, k in pairs]
    assert shift_right_round_half_up(a, n).tolist() == expected


def test_ties_are_rounded_as_documented():
    a = np.array([5, -5, 3, -3, 1, -1], dtype=np.int64)  # all exact halves after >> 1
    assert shift_right_round_half_up(a, 1).tolist() == [3, -2, 2, -1, 1, 0]
    assert shift_right_round_half_away(a, 1).tolist() == [3, -3, 2, -2, 1, -1]
    assert shift_right_floor(a, 1).tolist() == [2, -3, 1, -2, 0, -1]


@given(st.floats(-(2.0**52), 2.0**52, allow_nan=False))
def test_round_half_away_from_zero_matches_exact(x):
    assert int(round_half_away_from_zero(x)) == exact_half_away(Fraction(x))


@given(st.integers(-(2**40), 2**40))
def test_round_half_away_from_zero_on_exact_ties(k):
    x = k + 0.5
    assert int(round_half_away_from_zero(x)) == exact_half_away(Fraction(x))


def test_round_half_away_from_zero_below_half():
    # 0.5 - 2**-54 + 0.5 rounds up to 1.0 in float64: the naive floor(x + 0.5) gets this wrong.
    x = np.nextafter(0.5, 0.0)
    assert int(round_half_away_from_zero(x)) == 0
    assert int(round_half_away_from_zero(-x)) == 0


@given(st.floats(-(2.0**52), 2.0**52, allow_nan=False))
def test_round_half_to_even_matches_python(x):
    assert int(round_half_to_even(x)) == round(Fraction(x))


def test_rounding_rejects_non_finite():
    with pytest.raises(ArithmeticOverflowError):
        round_half_away_from_zero(np.inf)
    with pytest.raises(ArithmeticOverflowError):
        round_half_to_even(np.nan)


def test_shift_amount_is_checked():
    with pytest.raises(ValueError):
        shift_right_floor(np.int64(1), -1)
    with pytest.raises(TypeError):
        shift_right_floor(np.float64(1.0), 1)


@given(st.integers(-(2**40), 2**40), st.sampled_from([ScalarType.int8, ScalarType.int16, ScalarType.int32]))
def test_saturate(x, scalar_type):
    result = saturate(np.int64(x), scalar_type)
    assert result.dtype == scalar_type.numpy_type()
    assert int(result) == clamp(x, scalar_type)


# ---------------------------------------------------------------------------
# requantization

output_types = st.sampled_from([ScalarType.int8, ScalarType.int16, ScalarType.int32])


@given(int32s, st.integers(0, 31), output_types, st.booleans())
def test_arith_folded_requantization_matches_exact(acc, shift, output_type, relu):
    requant = ArithFoldedRequantization(np.int64(shift))
    value = max(acc, 0) if relu else acc
    expected = clamp(exact_half_up(Fraction(value, 2**shift)), output_type)
    assert int(requant.requantize(np.int64(acc), output_type, relu)) == expected


@given(int32s, st.integers(1, 127), st.integers(0, 38), st.integers(-128, 127), output_types, st.booleans())
def test_tflite_requantization_matches_exact(acc, multiplier, shift, zero_point, output_type, relu):
    requant = TFLiteRequantization(np.int64(multiplier), np.int64(shift), zero_point)
    value = exact_half_away(Fraction(acc * multiplier, 2**shift))
    if relu:
        value = max(value, 0)
    expected = clamp(value + zero_point, output_type)
    assert int(requant.requantize(np.int64(acc), output_type, relu)) == expected


@given(
    hnp.arrays(np.int64, (3, 4), elements=int32s),
    hnp.arrays(np.int64, (4,), elements=st.integers(0, 31)),
)
def test_per_channel_shift_broadcasts_on_last_axis(acc, shift):
    result = ArithFoldedRequantization(shift).requantize(acc, ScalarType.int16)
    for (i, c), value in np.ndenumerate(acc):
        assert result[i, c] == clamp(exact_half_up(Fraction(int(value), 2 ** int(shift[c]))), ScalarType.int16)


def test_requantization_constants_are_validated():
    with pytest.raises(ValueError, match="shift"):
        ArithFoldedRequantization(np.int64(32))
    with pytest.raises(ValueError, match="multiplier"):
        TFLiteRequantization(np.int64(128), np.int64(3))
    with pytest.raises(ValueError, match="multiplier"):
        TFLiteRequantization(np.int64(0), np.int64(3))
    with pytest.raises(ValueError, match="shift"):
        TFLiteRequantization(np.int64(64), np.int64(39))


def test_requantization_rejects_accumulator_overflow():
    with pytest.raises(ArithmeticOverflowError, match="accumulator"):
        ArithFoldedRequantization(np.int64(0)).requantize(np.int64(2**31), ScalarType.int8)


def test_real_scales():
    assert ArithFoldedRequantization(np.array([0, 3])).real_scale().tolist() == [1.0, 0.125]
    assert TFLiteRequantization(np.int64(96), np.int64(8)).real_scale() == 0.375
    assert FloatRequantization(np.float64(0.5)).requantize(np.array([3.0]), ScalarType.float32).tolist() == [1.5]


# ---------------------------------------------------------------------------
# products


def python_dot(x, w):
    return [[sum(int(x[i, k]) * int(w[k, c]) for k in range(x.shape[1])) for c in range(w.shape[1])] for i in range(x.shape[0])]


@st.composite
def gemm_operands(draw, input_dtype):
    k = draw(st.integers(1, 24))
    n = draw(st.integers(1, 5))
    x = draw(hnp.arrays(input_dtype, (draw(st.integers(1, 4)), k)))
    w = draw(hnp.arrays(np.int8, (k, n), elements=st.integers(-127, 127)))
    return x, w


@given(gemm_operands(np.int8))
def test_int8_product_is_exact(operands):
    x, w = operands
    assert int8_product(x, w).tolist() == python_dot(x, w)


@given(gemm_operands(np.int16), st.data())
def test_int15_product_is_floor_of_exact_product(operands, data):
    x, w = operands
    h = np.array(data.draw(st.lists(st.sampled_from([INTRINSIC_SHIFT_LO, INTRINSIC_SHIFT_HI]), min_size=w.shape[1], max_size=w.shape[1])))
    exact = python_dot(x, w)
    expected = [[math.floor(Fraction(v, 2 ** int(h[c]))) for c, v in enumerate(row)] for row in exact]
    assert int15_product(x, w, h).tolist() == expected


def test_int15_product_detects_partial_overflow():
    # 2**11 weights of 127 times inputs of -2**15, halved (h = 1), exceed int32
    k = 2**11
    x = np.full((1, k), -(2**15), dtype=np.int16)
    w = np.full((k, 1), 127, dtype=np.int8)
    with pytest.raises(ArithmeticOverflowError, match="int15"):
        int15_product(x, w, INTRINSIC_SHIFT_LO)
    # the high intrinsic shift keeps it in range
    assert int15_product(x, w, INTRINSIC_SHIFT_HI).item() == -(2**15) * 127 * k // 2**8


def test_int15_product_rejects_other_shifts():
    with pytest.raises(ValueError, match="intrinsic shift"):
        int15_product(np.zeros((1, 2), np.int16), np.zeros((2, 1), np.int8), 3)


def test_products_check_dtypes():
    with pytest.raises(TypeError):
        int8_product(np.zeros((1, 2), np.int16), np.zeros((2, 1), np.int8))


@given(hnp.arrays(np.int32, (2, 6)), hnp.arrays(np.int32, (6, 3)))
def test_exact_integer_matmul_beyond_float64(a, b):
    # int32 x int32 sums exceed 2**53, so this takes the int64 path; compare with Python ints.
    result = exact_integer_matmul(a.astype(np.int64) >> 8, b.astype(np.int64) >> 8)
    expected = python_dot(a.astype(np.int64) >> 8, b.astype(np.int64) >> 8)
    assert result.tolist() == expected


def test_accumulate_checks_int32():
    assert accumulate(np.array([2**31 - 2]), np.array([1])).tolist() == [2**31 - 1]
    with pytest.raises(ArithmeticOverflowError, match="product \\+ bias"):
        accumulate(np.array([2**31 - 1]), np.array([1]))


@settings(max_examples=50)
@given(gemm_operands(np.int8), st.integers(0, 12))
def test_mla_gemm_composes_the_stages(operands, shift):
    x, w = operands
    bias = np.arange(w.shape[1], dtype=np.int32) * 1000 - 1500
    result = mla_gemm(x, w, bias, ArithFoldedRequantization(np.int64(shift)), ScalarType.int8)
    exact = python_dot(x, w)
    expected = [[clamp(exact_half_up(Fraction(v + int(bias[c]), 2**shift)), ScalarType.int8) for c, v in enumerate(row)] for row in exact]
    assert result.tolist() == expected
