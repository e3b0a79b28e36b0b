"""Kernels of the quantized elementwise ops: qadd, qsub, qmul (broadcast) and lut."""

from __future__ import annotations

import numpy as np

from runtime.integer_arithmetic import add_integers, lookup, multiply_integers
from runtime.integer_kernels.boundary import quantized_element, scalar_type, storage_dtype
from runtime.integer_kernels.exact_float import (
    centered_product,
    rescaled_sum,
    table_lookup_kernel,
    tabulate_binary,
    value_table,
)
from runtime.kernels.base import Kernel
from sima_dialect import quantized_ops as q


def build_qadd_qsub(op: q.QAddOp | q.QSubOp) -> Kernel:
    lhs_rescale, rhs_rescale = op.input_rescales()
    left_shift, requantization, output_type = op.left_shift.value.data, op.requantization(), scalar_type(op.output)
    subtract = op.SUBTRACT

    def qadd(lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
        return add_integers(lhs, rhs, lhs_rescale, rhs_rescale, left_shift, requantization, output_type, subtract=subtract)

    # the same integers, faster (exact_float): one table for two int8 inputs, else a table per input
    lhs_dtype, rhs_dtype = storage_dtype(op.lhs), storage_dtype(op.rhs)
    return (
        tabulate_binary(qadd, lhs_dtype, rhs_dtype)
        or rescaled_sum(
            value_table(lambda q: lhs_rescale.apply(q, left_shift), lhs_dtype),
            value_table(lambda q: rhs_rescale.apply(q, left_shift), rhs_dtype),
            lhs_dtype, rhs_dtype, requantization, storage_dtype(op.output), subtract,
        )
        or qadd
    )


def build_qmul(op: q.QMulOp) -> Kernel:
    lhs_zero_point = quantized_element(op.lhs).zero_point_value
    rhs_zero_point = quantized_element(op.rhs).zero_point_value
    left_shift, requantization, output_type = op.left_shift.value.data, op.requantization(), scalar_type(op.output)

    def qmul(lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
        return multiply_integers(lhs, lhs_zero_point, rhs, rhs_zero_point, left_shift, requantization, output_type)

    # the same integers, faster (exact_float)
    lhs_dtype, rhs_dtype = storage_dtype(op.lhs), storage_dtype(op.rhs)
    return (
        tabulate_binary(qmul, lhs_dtype, rhs_dtype)
        or centered_product(
            lhs_zero_point, rhs_zero_point, lhs_dtype, rhs_dtype, left_shift, requantization, storage_dtype(op.output)
        )
        or qmul
    )


def build_lut(op: q.LutOp) -> Kernel:
    return table_lookup_kernel(lookup, storage_dtype(op.input))
