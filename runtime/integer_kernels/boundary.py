"""Kernels of the float boundary and of requantization: quantize, dequantize, requantize."""

from __future__ import annotations

from runtime.integer_arithmetic import dequantize, quantize, requantize_integers
from runtime.kernels.base import Kernel
from sima_dialect import quantized_ops as q


def quantized_element(value) -> q.QuantizedType:
    """The `!sima.quant` element type of an operand or result (the verifier has checked it)."""
    return value.type.element_type


def scalar_type(value):
    return q.storage_type(quantized_element(value))


def build_quantize(op: q.QuantizeOp) -> Kernel:
    target = quantized_element(op.output)
    step, zero_point, output_type = target.scale_value, target.zero_point_value, scalar_type(op.output)
    return lambda x: quantize(x, step, zero_point, output_type)


def build_dequantize(op: q.DequantizeOp) -> Kernel:
    source = quantized_element(op.input)
    step, zero_point = source.scale_value, source.zero_point_value
    return lambda x: dequantize(x, step, zero_point)


def build_requantize(op: q.RequantizeOp) -> Kernel:
    zero_point = quantized_element(op.input).zero_point_value
    left_shift, requantization, output_type = op.left_shift.value.data, op.requantization(), scalar_type(op.output)
    return lambda x: requantize_integers(x, zero_point, left_shift, requantization, output_type)
