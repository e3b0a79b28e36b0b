"""afe.tvm_converter.quantization (seed 004): pre-quantized convolution constants in MLA arithmetic."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from afe.ir.defines import Quantization
from afe.ir.tensor_type import ScalarType
from afe.tvm_converter.quantization import (
    correction_factors,
    requantize_qnn_convolution_dense,
    tflite_requantization_constants,
)
from runtime.integer_arithmetic import ArithFoldedRequantization, TFLiteRequantization, mla_gemm

scales = st.floats(1e-6, 1e6)
zero_points = st.integers(-128, 127)


@given(scales, zero_points, scales, zero_points, st.integers(-128, 127))
def test_correction_factors(s_in, z_in, s_out, z_out, q_in):
    sc, zc, n = correction_factors(Quantization.representable(s_in, z_in, 8), Quantization.representable(s_out, z_out, 8))
    assert 0.5 < sc <= 1.0
    converted = (q_in * sc + zc) * 2.0**-n
    direct = (q_in - z_in) * s_out / s_in + z_out
    assert converted == pytest.approx(direct, rel=1e-9, abs=1e-9 * (abs(z_out) + abs(z_in) * s_out / s_in))


@st.composite
def qnn_convolutions(draw):
    """A random QNN convolution (HWIGO int8 weight) or dense (OI) with its requantization."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    is_dense = draw(st.booleans())
    per_channel = draw(st.booleans())
    if is_dense:
        o, i = draw(st.integers(1, 6)), draw(st.integers(1, 30))
        weight = rng.integers(-127, 128, size=(o, i)).astype(np.int8)
        n_channels, k = o, i
    else:
        h, w, i, g, o = 3, 3, draw(st.integers(1, 4)), 1, draw(st.integers(1, 4))
        weight = rng.integers(-127, 128, size=(h, w, i, g, o)).astype(np.int8)
        n_channels, k = g * o, h * w * i
    bias = rng.integers(-5000, 5000, size=n_channels).astype(np.int32) if draw(st.booleans()) else None
    data_zero_point = draw(zero_points)
    input_scale = draw(st.floats(1.0, 100.0))
    weight_scales = rng.uniform(20.0, 200.0, size=n_channels)
    product_scales = input_scale * weight_scales  # multiplicative: q = real * scale
    if per_channel:
        product_q = [Quantization.representable(s, 0, 32) for s in product_scales]
    else:
        product_q = Quantization.representable(product_scales[0], 0, 32)
        product_scales = np.full(n_channels, product_scales[0])
    # Output finer than a product unit is not representable by a right shift: keep r < 1.
    output_q = Quantization.representable(product_scales.min() * draw(st.floats(1e-5, 0.9)), draw(zero_points), 8)
    x = rng.integers(-128, 128, size=(16, k)).astype(np.int8)
    return weight, bias, data_zero_point, product_q, product_scales, output_q, is_dense, x


def weight_as_k_by_c(weight, is_dense):
    return weight.T if is_dense else weight.reshape(-1, weight.shape[3] * weight.shape[4])


def qnn_reference(weight, bias, data_zero_point, product_scales, output_q, is_dense, x):
    """TFLite/QNN semantics: int32 acc of (x - zp) * w + bias, then requantize with the real ratio."""
    w = weight_as_k_by_c(weight, is_dense).astype(np.int64)
    acc = (x.astype(np.int64) - data_zero_point) @ w + (0 if bias is None else bias.astype(np.int64))
    return acc, acc * (output_q.scale / product_scales) + output_q.zero_point


@settings(max_examples=100, deadline=None)
@given(qnn_convolutions())
def test_sima_conversion_matches_qnn_within_documented_rounding(case):
    weight, bias, zp, product_q, product_scales, output_q, is_dense, x = case
    new_weight, new_bias, shift = requantize_qnn_convolution_dense(weight, bias, zp, product_q, output_q, is_dense)
    assert new_weight.shape == weight.shape and new_weight.dtype == np.int8
    assert new_bias.dtype == np.int32
    assert isinstance(shift, int) == isinstance(product_q, Quantization)
    out = mla_gemm(x, weight_as_k_by_c(new_weight, is_dense), new_bias, ArithFoldedRequantization(np.asarray(shift)), ScalarType.int8)
    _, exact = qnn_reference(weight, bias, zp, product_scales, output_q, is_dense, x)
    # Error sources: half a unit of each converted weight and of the bias, at 2**-shift
    # per unit, and the final rounding (the reference is unrounded).
    unit = np.ldexp(1.0, -np.broadcast_to(shift, product_scales.shape))
    weight_error = 0.5 * unit * (np.abs(x.astype(np.int64) - zp).sum(axis=1, keepdims=True) + 1)
    bound = 0.5 + weight_error + 1e-9
    inside = (exact > -128 + bound) & (exact < 127 - bound)
    assert np.all(np.abs(out - exact)[inside] <= np.broadcast_to(bound, exact.shape)[inside])


def test_sima_conversion_uses_the_weight_range():
    # A requantization ratio of 3/8 needs no weight scaling: f = 0.75, n = 1; the weights
    # have room for one more bit, so they are doubled (k = 1) and the shift becomes 2.
    weight = np.array([[40, -20, 60]], dtype=np.int8)  # OI
    product = Quantization.representable(8.0, 0, 32)
    output = Quantization.representable(3.0, 5, 8)
    new_weight, new_bias, shift = requantize_qnn_convolution_dense(weight, None, 0, product, output, is_dense=True)
    assert shift == 2
    assert new_weight.tolist() == [[60, -30, 90]]  # 40 * 0.75 * 2
    assert new_bias.tolist() == [5 * 4]


def test_sima_conversion_rejects_scales_above_one():
    weight = np.ones((1, 4), dtype=np.int8)
    with pytest.raises(ValueError, match="QuantizationFlavor.tflite"):
        requantize_qnn_convolution_dense(
            weight, None, 0, Quantization.representable(1.0, 0, 32), Quantization.representable(2.0, 0, 8), True
        )


@settings(max_examples=100, deadline=None)
@given(qnn_convolutions())
def test_tflite_constants_match_qnn_within_the_multiplier_error(case):
    weight, bias, zp, product_q, product_scales, output_q, is_dense, x = case
    new_bias, multiplier, zero_point, shift = tflite_requantization_constants(weight, bias, zp, product_q, output_q, is_dense)
    per_channel = not isinstance(product_q, Quantization)
    assert isinstance(multiplier, np.ndarray) == per_channel and isinstance(shift, np.ndarray) == per_channel
    assert np.all((np.asarray(multiplier) >= 64) & (np.asarray(multiplier) <= 127))
    ratio = output_q.scale / product_scales
    represented = np.asarray(multiplier) * np.ldexp(1.0, -np.asarray(shift))
    assert np.all(np.abs(represented / ratio - 1) < 2.0**-7)
    requant = TFLiteRequantization(np.asarray(multiplier), np.asarray(shift), zero_point)
    out = mla_gemm(x, weight_as_k_by_c(weight, is_dense), new_bias, requant, ScalarType.int8)
    acc, exact = qnn_reference(weight, bias, zp, product_scales, output_q, is_dense, x)
    # Exactly the documented arithmetic on the same accumulator...
    shifted = np.vectorize(_half_away)(acc * np.asarray(multiplier), np.broadcast_to(shift, acc.shape))
    assert np.array_equal(out, np.clip(shifted + zero_point, -128, 127))
    # ...which is the real requantization to within the multiplier's relative error.
    inside = (exact > -127) & (exact < 126)
    assert np.all(np.abs(out - exact)[inside] <= 0.5 + 2.0**-7 * np.abs(acc * ratio)[inside] + 1e-9)


def _half_away(value: int, n: int) -> int:
    """value / 2**n rounded half away from zero, in Python integers."""
    magnitude = (abs(int(value)) + (1 << int(n)) // 2) >> int(n) if n else abs(int(value))
    return -magnitude if value < 0 else magnitude


def test_tflite_constants_bias():
    weight = np.array([[1, 2], [3, 4]], dtype=np.int8)  # OI: channel 0 weights 1, 2
    q = Quantization.representable(100.0, 0, 32)
    out = Quantization.representable(10.0, -3, 8)
    assert tflite_requantization_constants(weight, None, 0, q, out, True)[0] is None
    new_bias, multiplier, zero_point, shift = tflite_requantization_constants(weight, np.array([10, 20]), 2, q, out, True)
    assert new_bias.tolist() == [10 - 2 * 3, 20 - 2 * 7]
    assert zero_point == -3
    assert math.isclose(multiplier * 2.0**-shift, 0.1, rel_tol=2.0**-7)
