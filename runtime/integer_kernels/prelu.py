"""Kernel of sima.qprelu (one slope per channel): `integer_arithmetic.prelu_integers`."""

from __future__ import annotations

import numpy as np

from runtime.integer_arithmetic import prelu_integers
from runtime.integer_kernels.boundary import quantized_element, scalar_type
from runtime.kernels.base import Kernel, ints
from sima_dialect import quantized_ops as q


def build_qprelu(op: q.QPreluOp) -> Kernel:
    input_zero_point = quantized_element(op.input).zero_point_value
    zero_point, output_type = quantized_element(op.output).zero_point_value, scalar_type(op.output)
    positive = (op.multiplier.value.data, op.shift.value.data)
    neg_multiplier = np.array(ints(op.neg_multiplier), dtype=np.int64)
    neg_shift = np.array(ints(op.neg_shift), dtype=np.int64)
    return lambda x: prelu_integers(x, input_zero_point, positive, neg_multiplier, neg_shift, zero_point, output_type)
