"""Kernel of sima.qsoftmax: the axis moved last, `integer_arithmetic.softmax_integers`."""

from __future__ import annotations

import numpy as np

from runtime.integer_arithmetic import softmax_integers
from runtime.integer_kernels.boundary import quantized_element, scalar_type
from runtime.kernels.base import Kernel, static_shape
from sima_dialect import quantized_ops as q


def build_qsoftmax(op: q.QSoftmaxOp) -> Kernel:
    axis = op.axis.value.data % len(static_shape(op.input))
    multiplier, shift = op.multiplier.value.data, op.shift.value.data
    zero_point, output_type = quantized_element(op.output).zero_point_value, scalar_type(op.output)

    def qsoftmax(x: np.ndarray, table: np.ndarray) -> np.ndarray:
        last = np.moveaxis(x, axis, -1)
        result = softmax_integers(last, table, multiplier, shift, zero_point, output_type)
        return np.moveaxis(result, -1, axis)

    return qsoftmax
