"""Kernels of the bfloat16 ops (`sima_dialect.bfloat16_ops`): thin wrappers
around `runtime.bfloat16`, which computes the model bit for bit."""

from __future__ import annotations

import numpy as np

from runtime import bfloat16 as bf
from runtime.kernels.base import Kernel, ints
from sima_dialect import bfloat16_ops as b

_KIND_OF = {op_type: kind for kind, op_type in b.BF16_BINARY_OPS.items()}


def build_bf16_conv2d(op: b.BF16Conv2DOp) -> Kernel:
    strides, pads, dilations = ints(op.strides), ints(op.pads), ints(op.dilations)
    groups = op.groups.value.data
    low, high = op.activation_bounds()

    def bf16_conv2d(x: np.ndarray, w: np.ndarray, bias: np.ndarray, scale: np.ndarray) -> np.ndarray:
        return bf.bf16_conv2d(
            x, w, bias, scale, strides=strides, pads=pads, dilations=dilations, groups=groups, act_min=low, act_max=high
        )

    return bf16_conv2d


def build_bf16_dense(op: b.BF16DenseOp) -> Kernel:
    low, high = op.activation_bounds()
    return lambda x, w, bias, scale: bf.bf16_dense(x, w, bias, scale, low, high)


def build_bf16_binary(op: b.BF16BinaryOp) -> Kernel:
    kind = _KIND_OF[type(op)]
    return lambda lhs, rhs: bf.bf16_binary(kind, lhs, rhs)


def build_bf16_matmul(op: b.BF16MatMulOp) -> Kernel:
    return bf.bf16_matmul


def build_bf16_lut(op: b.BF16LutOp) -> Kernel:
    return bf.bf16_lut


def build_bf16_global_avg_pool(op: b.BF16GlobalAvgPoolOp) -> Kernel:
    return bf.bf16_global_avg_pool


BFLOAT16_KERNELS = {
    b.BF16Conv2DOp: build_bf16_conv2d,
    b.BF16DenseOp: build_bf16_dense,
    b.BF16MatMulOp: build_bf16_matmul,
    **{op_type: build_bf16_binary for op_type in b.BF16_BINARY_OPS.values()},
    b.BF16LutOp: build_bf16_lut,
    b.BF16GlobalAvgPoolOp: build_bf16_global_avg_pool,
}
