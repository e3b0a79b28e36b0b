"""Kernels of the quantized average pools: qavg_pool and qglobal_avg_pool.

The window sums of q - z_in are exact int64 sums (taps of the padded input,
whose padding, 0 after centering, adds nothing); the divisor is folded into
the multiplier chosen per output position by its number of valid taps, and
`integer_arithmetic.requantize_window_sums` does the rest. The global pool
sums the raw integers (int32 where that holds them) and requantizes in float64
(`exact_float.FloatRequantizer`) where the input type proves every sum within
int32; the checked path runs otherwise.
"""

from __future__ import annotations

import numpy as np

from runtime.integer_arithmetic import (
    ACCUMULATOR_MAX,
    TFLITE_MAX_SHIFT,
    TFLITE_MULTIPLIER_MAX,
    TFLiteRequantization,
    requantize_window_sums,
)
from runtime.integer_kernels.boundary import quantized_element, scalar_type, storage_dtype
from runtime.integer_kernels.exact_float import FloatRequantizer
from runtime.kernels.base import Kernel, ints, static_shape
from runtime.kernels.pool import _valid_counts as valid_counts  # taps inside the input, per output position
from runtime.kernels.windows import pad_spatial, taps
from sima_dialect import quantized_ops as q

_NO_DILATION = (1, 1)


def build_qavg_pool(op: q.QAvgPoolOp) -> Kernel:
    kernel, strides, pads = ints(op.kernel), ints(op.strides), ints(op.pads)
    _, in_h, in_w, _ = static_shape(op.input)
    _, out_h, out_w, _ = static_shape(op.output)
    zero_point = quantized_element(op.input).zero_point_value
    out_zero_point, output_type = quantized_element(op.output).zero_point_value, scalar_type(op.output)
    multiplier = np.array(ints(op.multiplier), dtype=np.int64)
    shift = np.array(ints(op.shift), dtype=np.int64)
    if op.varying_divisor:
        counts = np.outer(
            valid_counts(in_h, out_h, kernel[0], strides[0], pads[0]),
            valid_counts(in_w, out_w, kernel[1], strides[1], pads[1]),
        )
        # constants per output position [OH, OW, 1], chosen by the divisor c (entry c - 1)
        multiplier, shift = multiplier[counts - 1][:, :, None], shift[counts - 1][:, :, None]
    elif multiplier.size > 1:
        area = kernel[0] * kernel[1]
        multiplier, shift = multiplier[area - 1], shift[area - 1]

    def qavg_pool(x: np.ndarray) -> np.ndarray:
        centered = pad_spatial(x.astype(np.int64) - zero_point, pads)
        sums = None
        for _, _, pixels in taps(centered, kernel, (out_h, out_w), strides, _NO_DILATION):
            sums = pixels.copy() if sums is None else sums + pixels
        return requantize_window_sums(sums, multiplier, shift, out_zero_point, output_type)

    return qavg_pool


def build_qglobal_avg_pool(op: q.QGlobalAvgPoolOp) -> Kernel:
    zero_point = quantized_element(op.input).zero_point_value
    out_zero_point, output_type = quantized_element(op.output).zero_point_value, scalar_type(op.output)
    multiplier, shift = op.multiplier.value.data, op.shift.value.data

    def qglobal_avg_pool(x: np.ndarray) -> np.ndarray:
        sums = (x.astype(np.int64) - zero_point).sum(axis=(1, 2), keepdims=True)
        return requantize_window_sums(sums, multiplier, shift, out_zero_point, output_type)

    # The same integers faster where H * W * max|q - z_in| proves the sums within
    # int32 (the check the checked path makes): integer sums, exact in float64,
    # and `FloatRequantizer` rounds as the TFLite shift does.
    _, height, width, _ = op.input.type.get_shape()
    info = np.iinfo(storage_dtype(op.input))
    magnitude = max(abs(int(info.min) - zero_point), abs(int(info.max) - zero_point))
    valid_constants = 1 <= multiplier <= TFLITE_MULTIPLIER_MAX and 0 <= shift <= TFLITE_MAX_SHIFT
    if height < 0 or width < 0 or height * width * magnitude > ACCUMULATOR_MAX or not valid_constants:
        return qglobal_avg_pool
    output_dtype = storage_dtype(op.output)
    requantize = FloatRequantizer(
        TFLiteRequantization(np.array(multiplier), np.array(shift), out_zero_point), np.zeros((), np.int64), output_dtype, False
    )
    correction = float(height * width * zero_point)
    # sums of the raw integers in int32 (NumPy's fastest reduction of int8) when it holds them
    raw_bound = height * width * max(-int(info.min), int(info.max))
    sum_type = np.int32 if raw_bound <= ACCUMULATOR_MAX else np.int64

    def float_global_avg_pool(x: np.ndarray) -> np.ndarray:
        sums = x.sum(axis=(1, 2), keepdims=True, dtype=sum_type).astype(np.float64)
        sums -= correction
        return requantize(sums)

    return float_global_avg_pool
