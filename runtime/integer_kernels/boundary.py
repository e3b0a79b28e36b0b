"""Kernels of the float boundary and of requantization: quantize, dequantize, requantize.

Dequantize and requantize are functions of one int8 / int16 value: they run
as tables made by the checked functions (`exact_float.tabulate_unary`).
Quantize rounds the float64 quotient and hands the few elements near a tie
to the exact `integer_arithmetic.quantize` (`quantize_rounding_quotient`).
"""

from __future__ import annotations

import numpy as np

from runtime.integer_arithmetic import dequantize, quantize, requantize_integers
from runtime.integer_kernels.exact_float import quantize_rounding_quotient, tabulate_unary
from runtime.kernels.base import Kernel
from sima_dialect import quantized_ops as q


def quantized_element(value) -> q.QuantizedType:
    """The `!sima.quant` element type of an operand or result (the verifier has checked it)."""
    return value.type.element_type


def scalar_type(value):
    return q.storage_type(quantized_element(value))


def storage_dtype(value) -> np.dtype:
    """The NumPy dtype holding a quantized value's integers."""
    return np.dtype(scalar_type(value).numpy_type())


def build_quantize(op: q.QuantizeOp) -> Kernel:
    target = quantized_element(op.output)
    step, zero_point, output_type = target.scale_value, target.zero_point_value, scalar_type(op.output)
    return quantize_rounding_quotient(step, zero_point, output_type, quantize)


def build_dequantize(op: q.DequantizeOp) -> Kernel:
    source = quantized_element(op.input)
    step, zero_point = source.scale_value, source.zero_point_value
    kernel = lambda x: dequantize(x, step, zero_point)  # noqa: E731
    return tabulate_unary(kernel, storage_dtype(op.input)) or kernel


def build_requantize(op: q.RequantizeOp) -> Kernel:
    zero_point = quantized_element(op.input).zero_point_value
    left_shift, requantization, output_type = op.left_shift.value.data, op.requantization(), scalar_type(op.output)
    kernel = lambda x: requantize_integers(x, zero_point, left_shift, requantization, output_type)  # noqa: E731
    return tabulate_unary(kernel, storage_dtype(op.input)) or kernel
