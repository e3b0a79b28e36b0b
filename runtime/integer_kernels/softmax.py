"""Kernel of sima.qsoftmax: the axis moved last, `integer_arithmetic.softmax_integers`.

The checked function tests its constants and every intermediate on every call,
which costs more than the arithmetic on short rows (a classifier's 2 or 4
classes). Its tests of the table, the multiplier and the shift are run once
per table, on a row of one value, where p = 2**15, its largest, so p * M is
checked at its worst; the other intermediates are bounded by the model itself:
each of the N <= 2**15 exponentials is at most 2**23, so the sum is at most
2**38 and the numerator e * 2**15 + S / 2 below 2**39. So `fast_qsoftmax`
computes the same formulas without the per-call checks.
"""

from __future__ import annotations

import numpy as np

from runtime.integer_arithmetic import SOFTMAX_MAX_LENGTH, SOFTMAX_PROB_BITS, integer_range, softmax_integers
from runtime.integer_kernels.boundary import quantized_element, scalar_type
from runtime.kernels.base import Kernel, PreparedWeight, static_shape
from sima_dialect import quantized_ops as q


def build_qsoftmax(op: q.QSoftmaxOp) -> Kernel:
    shape = static_shape(op.input)
    axis = op.axis.value.data % len(shape)
    multiplier, shift = op.multiplier.value.data, op.shift.value.data
    zero_point, output_type = quantized_element(op.output).zero_point_value, scalar_type(op.output)

    def qsoftmax(x: np.ndarray, table: np.ndarray) -> np.ndarray:
        last = np.moveaxis(x, axis, -1)
        result = softmax_integers(last, table, multiplier, shift, zero_point, output_type)
        return np.moveaxis(result, -1, axis)

    if not 0 < shape[axis] <= SOFTMAX_MAX_LENGTH:
        return qsoftmax  # refused by the checked function, with its error
    low, high = integer_range(output_type)
    output_dtype = np.dtype(output_type.numpy_type())
    last_axis = axis == len(shape) - 1
    half = (1 << shift) >> 1  # rshift_half_away of p * M >= 0: floor((p * M + 2**(n-1)) / 2**n); 0 for n = 0

    def validated(table: np.ndarray) -> np.ndarray:
        """The table as int64, after the checked function's tests of it and of M and n."""
        row = np.zeros((1, 1), dtype=np.int8 if table.shape == (256,) else np.int16)
        softmax_integers(row, table, multiplier, shift, zero_point, output_type)
        return table.astype(np.int64)

    tables = PreparedWeight(validated)
    table_shapes = {np.dtype(np.int8): (256,), np.dtype(np.int16): (65536,)}

    def fast_qsoftmax(x: np.ndarray, table: np.ndarray) -> np.ndarray:
        if table.shape != table_shapes.get(x.dtype):
            return qsoftmax(x, table)  # refused by the checked function, with its error
        exps_table = tables(table)
        wide = (x if last_axis else np.moveaxis(x, axis, -1)).astype(np.int64)
        exps = exps_table.take(wide.max(axis=-1, keepdims=True) - wide)
        sums = exps.sum(axis=-1, keepdims=True)
        probability = ((exps << SOFTMAX_PROB_BITS) + (sums >> 1)) // sums
        scaled = (probability * multiplier + half) >> shift
        scaled += zero_point
        np.minimum(scaled, high, out=scaled)
        result = np.maximum(scaled, low, out=scaled).astype(output_dtype)
        return result if last_axis else np.moveaxis(result, -1, axis)

    return fast_qsoftmax
