"""Matrix products: batched matmul of two activations, and dense (fully connected)."""

from __future__ import annotations

import numpy as np

from runtime.kernels.base import Kernel, PreparedWeight, fused_activation, numpy_dtype
from sima_dialect import ops


def matmul(lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    return np.matmul(lhs, rhs)


def build_dense(op: ops.DenseOp) -> Kernel:
    dtype = numpy_dtype(op.output)
    matrix = PreparedWeight(lambda w: w.astype(dtype, copy=False))
    prepared_bias = PreparedWeight(lambda b: b.astype(dtype, copy=False))
    activation = fused_activation(op, dtype)

    def dense(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        # fold the leading axes into one, so BLAS sees a single [M, K] x [K, N] product
        k, n = w.shape
        y = np.matmul(x.reshape(-1, k), matrix(w)).reshape(*x.shape[:-1], n)
        if b is not None:
            y += prepared_bias(b)
        if activation is not None:
            activation(y)
        return y

    if op.bias is not None:
        return dense
    return lambda x, w: dense(x, w)
