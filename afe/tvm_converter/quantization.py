"""Constants of pre-quantized (TFLite / QNN) convolutions in the MLA arithmetic (seed 004).

A pre-quantized convolution or dense is three operators: an int32 product
`acc = sum (x - zp_x) * w + bias`, and a requantization from the product's
quantization to the output's. These functions turn their constants into those
of one `sima` convolution in either arithmetic of `runtime.integer_arithmetic`:

* `requantize_qnn_convolution_dense` (QuantizationFlavor.sima): the scale's
  fraction is folded into the weights, leaving a pure rounding shift;
* `tflite_requantization_constants` (QuantizationFlavor.tflite): the weights are
  kept and an 8-bit multiplier, a shift and the output zero point requantize.

`Quantization.scale` multiplies (q = real * scale + zp), as everywhere in afe.
Weight layouts are the QNN ones: HWIGO for convolution, OI for dense.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from afe.ir.defines import Quantization
from afe.ir.quantization_conv import normalize_with_pow2
from runtime.integer_arithmetic import (
    ACCUMULATOR_MAX,
    ARITH_FOLDED_MAX_SHIFT,
    TFLITE_MAX_SHIFT,
    TFLITE_MULTIPLIER_BITS,
    WEIGHT_MAX,
    check_accumulator,
    check_fits,
    round_half_away_from_zero,
)


def correction_factors(input_q: Quantization, output_q: Quantization) -> tuple[float, float, int]:
    """(sc, zc, n) with output = (input * sc + zc) * 2**-n and sc in (0.5, 1].

    From real = (q_in - z_in) / s_in and q_out = real * s_out + z_out:
    q_out = q_in * r - z_in * r + z_out with r = s_out / s_in = sc * 2**-n.
    """
    ratio = output_q.scale / input_q.scale
    exponent, fraction = normalize_with_pow2(np.asarray(ratio))
    shift = -int(exponent)
    sc = float(fraction)
    zc = float(np.ldexp(float(output_q.zero_point), shift) - input_q.zero_point * sc)
    return sc, zc, shift


def _weight_to_k_by_c(weight: np.ndarray, is_dense: bool) -> np.ndarray:
    """[K, C_out] view of a QNN weight (HWIGO convolution: C_out = G * O; OI dense)."""
    weight = np.asarray(weight)
    if is_dense:
        if weight.ndim != 2:
            raise ValueError(f"dense weight must be 2-D (OI), got shape {weight.shape}")
        return weight.T
    if weight.ndim != 5:
        raise ValueError(f"convolution weight must be 5-D (HWIGO), got shape {weight.shape}")
    return weight.reshape(-1, weight.shape[3] * weight.shape[4])


def _k_by_c_to_weight(k_by_c: np.ndarray, like: np.ndarray, is_dense: bool) -> np.ndarray:
    return k_by_c.T.copy() if is_dense else k_by_c.reshape(like.shape)


def _product_scales(product_q: Quantization | Sequence[Quantization], n_channels: int) -> np.ndarray:
    if isinstance(product_q, Quantization):
        return np.asarray(product_q.scale, dtype=np.float64)
    scales = np.array([q.scale for q in product_q], dtype=np.float64)
    if scales.shape != (n_channels,):
        raise ValueError(f"per-channel product quantization needs {n_channels} entries, got {len(scales)}")
    return scales


def _bias_with_zero_point(bias: np.ndarray | None, data_zero_point: int, weight_kc: np.ndarray) -> np.ndarray:
    """bias - zp_x * sum_k w[k, c]: the product of QNN's (x - zp_x) moved into the bias."""
    n_channels = weight_kc.shape[1]
    b = np.zeros(n_channels, dtype=np.int64) if bias is None else np.asarray(bias, dtype=np.int64)
    if b.shape != (n_channels,):
        raise ValueError(f"bias shape {b.shape} must be ({n_channels},)")
    return b - int(data_zero_point) * weight_kc.astype(np.int64).sum(axis=0)


def requantize_qnn_convolution_dense(
    weight: np.ndarray,
    bias: np.ndarray | None,
    data_zero_point: int,
    product_q: Quantization | list[Quantization],
    output_q: Quantization,
    is_dense: bool,
) -> tuple[np.ndarray, np.ndarray, int | np.ndarray]:
    """Weight (int8, same layout), bias (int32) and shift of the arith-folded `sima`
    operator equal, up to rounding, to QNN conv/dense + bias-add + requantize.

    With r = s_out / s_product = f * 2**-n (f in (0.5, 1]) per channel, the
    weights become round(w * f * 2**k), k >= 0 the largest that keeps them in
    int8 (and the accumulator within int32), and the shift n + k; the bias
    becomes round(bias * f * 2**k) - zp_x * sum w' + z_out * 2**(n + k).
    """
    weight_kc = _weight_to_k_by_c(weight, is_dense).astype(np.int64)
    n_channels = weight_kc.shape[1]
    scales = _product_scales(product_q, n_channels)
    exponent, fraction = normalize_with_pow2(output_q.scale / scales)
    exponent = np.broadcast_to(exponent, (n_channels,))
    fraction = np.broadcast_to(fraction, (n_channels,))
    shift = -exponent
    if np.any(shift < 0):
        raise ValueError(
            "the output is quantized more finely than the product (requantization scale above 1); "
            "the sima arithmetic has no left shift: convert with QuantizationFlavor.tflite"
        )
    float_bias = np.zeros(n_channels) if bias is None else np.asarray(bias, dtype=np.float64)
    if float_bias.shape != (n_channels,):
        raise ValueError(f"bias shape {float_bias.shape} must be ({n_channels},)")
    largest = np.abs(weight_kc).max(axis=0) * fraction
    with np.errstate(divide="ignore"):
        headroom = np.where(largest > 0, np.floor(np.log2(WEIGHT_MAX / np.where(largest > 0, largest, 1.0))), 0)
    extra = np.clip(headroom, 0, ARITH_FOLDED_MAX_SHIFT - shift).astype(np.int64)
    per_tensor = scales.ndim == 0
    if per_tensor:  # one shared shift: the channel with the least headroom decides
        extra = np.full(n_channels, extra[largest > 0].min(initial=ARITH_FOLDED_MAX_SHIFT - int(shift[0])))
    while True:
        factor = np.ldexp(fraction, extra)
        new_weight = np.clip(round_half_away_from_zero(weight_kc * factor), -WEIGHT_MAX, WEIGHT_MAX)
        total_shift = shift + extra
        new_bias = (
            round_half_away_from_zero(float_bias * factor)
            - int(data_zero_point) * new_weight.sum(axis=0)
            + output_q.zero_point * (np.int64(1) << total_shift)
        )
        # Worst case over all int8 inputs of the accumulator (see runtime.integer_arithmetic).
        over = np.abs(new_weight).sum(axis=0) * 128 + np.abs(new_bias) > ACCUMULATOR_MAX
        if not over.any():
            break
        reducible = (np.full(n_channels, over.any()) if per_tensor else over) & (extra > 0)
        if not reducible.any():
            raise ValueError("converted convolution constants do not fit the int32 accumulator")
        extra = np.where(reducible, extra - 1, extra)
    check_fits(total_shift, 0, ARITH_FOLDED_MAX_SHIFT, "converted requantization shift")
    check_accumulator(new_bias, "converted bias")
    return (
        _k_by_c_to_weight(new_weight.astype(np.int8), np.asarray(weight), is_dense),
        new_bias.astype(np.int32),
        int(total_shift[0]) if per_tensor else total_shift,
    )


def tflite_requantization_constants(
    weight: np.ndarray,
    bias: np.ndarray | None,
    data_zero_point: int,
    input_q: Quantization | list[Quantization],
    output_q: Quantization,
    is_dense: bool,
) -> tuple[np.ndarray | None, int | np.ndarray, int, int | np.ndarray]:
    """Bias, multiplier (scale correction), output zero point (zero point correction) and
    shift for `TFLiteRequantization`; per-tensor ints or per-channel arrays.

    The weights are unchanged; the bias absorbs -zp_x * sum w. The multiplier M
    in [64, 127] and shift n satisfy M * 2**-n ~ s_out / s_product within a relative 2**-7.
    The bias is None only if no bias was given and the data zero point is 0.
    """
    weight_kc = _weight_to_k_by_c(weight, is_dense)
    n_channels = weight_kc.shape[1]
    scales = _product_scales(input_q, n_channels)
    exponent, fraction = normalize_with_pow2(output_q.scale / scales)
    mantissa_bits = TFLITE_MULTIPLIER_BITS - 1
    multiplier = round_half_away_from_zero(np.ldexp(fraction, mantissa_bits))
    overflow = multiplier == 2**mantissa_bits
    multiplier = np.where(overflow, 2 ** (mantissa_bits - 1), multiplier)
    shift = mantissa_bits - exponent - overflow.astype(np.int64)
    if np.any(shift < 0) or np.any(shift > TFLITE_MAX_SHIFT):
        raise ValueError(
            f"requantization scale {output_q.scale / scales} is outside what an 8-bit multiplier "
            f"and a right shift in [0, {TFLITE_MAX_SHIFT}] can represent"
        )
    if bias is None and data_zero_point == 0:
        new_bias = None
    else:
        new_bias = _bias_with_zero_point(bias, data_zero_point, weight_kc)
        check_accumulator(new_bias, "converted bias")
        new_bias = new_bias.astype(np.int32)
    if scales.ndim == 0:
        return new_bias, int(multiplier), int(output_q.zero_point), int(shift)
    return new_bias, multiplier.astype(np.int64), int(output_q.zero_point), shift.astype(np.int64)
