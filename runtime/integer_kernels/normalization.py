"""Kernel of sima.qlayer_norm: the normalized axes flattened into one, then
`integer_arithmetic.layer_norm_integers`."""

from __future__ import annotations

import numpy as np

from runtime.integer_arithmetic import layer_norm_integers
from runtime.integer_kernels.boundary import quantized_element, scalar_type
from runtime.kernels.base import Kernel, static_shape
from sima_dialect import quantized_ops as q


def build_qlayer_norm(op: q.QLayerNormOp) -> Kernel:
    shape = static_shape(op.input)
    axis = op.axis.value.data % len(shape)
    count = int(np.prod(shape[axis:]))
    epsilon, shift = op.epsilon.value.data, op.shift.value.data
    zero_point, output_type = quantized_element(op.output).zero_point_value, scalar_type(op.output)

    def qlayer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
        rows = x.reshape(*x.shape[:axis], count)
        result = layer_norm_integers(rows, gamma.reshape(count), beta.reshape(count), epsilon, shift, zero_point, output_type)
        return result.reshape(x.shape)

    return qlayer_norm
