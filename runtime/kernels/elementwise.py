"""Elementwise kernels: activations, arithmetic, comparisons, select and cast.

Every kernel keeps its input's dtype (float32 stays float32): scalar properties
are converted to that dtype once, when the kernel is built. Semantics follow
ONNX (e.g. integer division truncates toward zero, as ONNX Div on integers).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import scipy.special

from runtime.kernels.base import Kernel, numpy_dtype, scalar
from sima_dialect import ops


# Largest block of zeros `relu` keeps (per trailing shape and dtype, 32 at most)
ZERO_BLOCK_VALUES = 1 << 15


@functools.lru_cache(maxsize=32)
def _zeros(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    zeros = np.zeros(shape, dtype)
    zeros.flags.writeable = False
    return zeros


def _zero_block(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Read-only zeros shaped like the most trailing axes of `shape` that hold
    at most ZERO_BLOCK_VALUES values."""
    start, size = len(shape), 1
    while start > 0 and size * shape[start - 1] <= ZERO_BLOCK_VALUES:
        start -= 1
        size *= shape[start]
    return _zeros(shape[start:], dtype)


def relu(x: np.ndarray) -> np.ndarray:
    # against a block of zeros broadcast over the leading axes, NumPy's max takes
    # its vectorised loop; against a scalar 0 it takes a loop two to three times
    # slower. Same values (NaN stays NaN, -0.0 becomes 0.0).
    return np.maximum(x, _zero_block(x.shape, x.dtype))


def sigmoid(x: np.ndarray) -> np.ndarray:
    # expit neither overflows for large |x| nor leaves float32
    return scipy.special.expit(x)


def silu(x: np.ndarray) -> np.ndarray:
    return x * scipy.special.expit(x)


def _hard_sigmoid(x: np.ndarray, alpha: np.generic, beta: np.generic) -> np.ndarray:
    y = np.multiply(x, alpha, out=np.empty_like(x))  # an array even for 0-d x, so the steps below go in place
    y += beta
    return y.clip(x.dtype.type(0), x.dtype.type(1), out=y)  # the method: np.clip adds a few µs of Python


def hard_swish(x: np.ndarray) -> np.ndarray:
    # ONNX HardSwish: x * HardSigmoid(x; alpha = 1/6, beta = 0.5), the product in place
    y = _hard_sigmoid(x, x.dtype.type(1 / 6), x.dtype.type(0.5))
    y *= x
    return y


def erf(x: np.ndarray) -> np.ndarray:
    # scipy's float32 erf is correctly rounded from the double result
    return scipy.special.erf(x)


def reciprocal(x: np.ndarray) -> np.ndarray:
    return np.divide(x.dtype.type(1), x)


def build_clip(op: ops.ClipOp) -> Kernel:
    dtype = numpy_dtype(op.input)
    low, high = scalar(op.min.value.data, dtype), scalar(op.max.value.data, dtype)
    return lambda x: x.clip(low, high)


def build_hard_sigmoid(op: ops.HardSigmoidOp) -> Kernel:
    dtype = numpy_dtype(op.input)
    alpha, beta = scalar(op.alpha.value.data, dtype), scalar(op.beta.value.data, dtype)
    return lambda x: _hard_sigmoid(x, alpha, beta)


def build_leaky_relu(op: ops.LeakyReluOp) -> Kernel:
    alpha = scalar(op.alpha.value.data, numpy_dtype(op.input))
    return lambda x: np.where(x >= 0, x, x * alpha)


def build_gelu(op: ops.GeluOp) -> Kernel:
    dtype = numpy_dtype(op.input)
    half, one = dtype.type(0.5), dtype.type(1)
    if op.approximate.data == "tanh":
        coeff, cubic = dtype.type(math.sqrt(2 / math.pi)), dtype.type(0.044715)

        def gelu_tanh(x: np.ndarray) -> np.ndarray:
            inner = x * x
            inner *= cubic
            inner *= x
            inner += x
            inner *= coeff
            return (x * half) * (np.tanh(inner) + one)

        return gelu_tanh
    inv_sqrt2 = dtype.type(1 / math.sqrt(2))

    def gelu_erf(x: np.ndarray) -> np.ndarray:
        return (x * half) * (scipy.special.erf(x * inv_sqrt2) + one)

    return gelu_erf


def _truncating_divide(lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Integer division rounding toward zero (C and ONNX), not NumPy's floor."""
    quotient = np.floor_divide(lhs, rhs)
    remainder = lhs - quotient * rhs
    quotient += ((remainder != 0) & ((lhs < 0) != (rhs < 0))).astype(quotient.dtype)
    return quotient


def build_div(op: ops.DivOp) -> Kernel:
    if np.issubdtype(numpy_dtype(op.lhs), np.integer):
        return _truncating_divide
    return np.divide


_COMPARISONS = {
    "eq": np.equal,
    "ne": np.not_equal,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
}


def build_compare(op: ops.CompareOp) -> Kernel:
    return _COMPARISONS[op.kind.data]


def prelu(x: np.ndarray, slope: np.ndarray) -> np.ndarray:
    return np.where(x >= 0, x, x * slope)


def where(condition: np.ndarray, true_value: np.ndarray, false_value: np.ndarray) -> np.ndarray:
    return np.where(condition, true_value, false_value)


def build_cast(op: ops.CastOp) -> Kernel:
    # astype truncates float -> int toward zero, as ONNX Cast does
    dtype = numpy_dtype(op.output)
    return lambda x: x.astype(dtype)
