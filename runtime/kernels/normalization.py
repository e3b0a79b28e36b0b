"""Normalisation and reductions: softmax, layer_norm, reduce, argmax."""

from __future__ import annotations

import numpy as np

from runtime.kernels.base import Kernel, PreparedWeight, ints, normalized_axes, numpy_dtype, static_shape
from sima_dialect import ops


def build_softmax(op: ops.SoftmaxOp) -> Kernel:
    axis = op.axis.value.data

    def softmax(x: np.ndarray) -> np.ndarray:
        y = x - x.max(axis=axis, keepdims=True)
        np.exp(y, out=y)
        y /= y.sum(axis=axis, keepdims=True)
        return y

    return softmax


def build_layer_norm(op: ops.LayerNormOp) -> Kernel:
    rank = len(static_shape(op.input))
    axes = tuple(range(op.axis.value.data % rank, rank))
    dtype = numpy_dtype(op.output)
    epsilon = dtype.type(op.epsilon.value.data)
    prepared_scale = PreparedWeight(lambda s: s.astype(dtype, copy=False))
    prepared_bias = PreparedWeight(lambda b: b.astype(dtype, copy=False))

    def layer_norm(x: np.ndarray, scale: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
        centered = x - x.mean(axis=axes, keepdims=True, dtype=dtype)
        variance = np.mean(np.square(centered), axis=axes, keepdims=True, dtype=dtype)
        variance += epsilon
        centered /= np.sqrt(variance, out=variance)
        centered *= prepared_scale(scale)
        if bias is not None:
            centered += prepared_bias(bias)
        return centered

    if op.bias is not None:
        return layer_norm
    return lambda x, scale: layer_norm(x, scale)


_REDUCTIONS = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}


def build_reduce(op: ops.ReduceOp) -> Kernel:
    reduction = _REDUCTIONS[op.kind.data]
    axes = normalized_axes(ints(op.axes), len(static_shape(op.input)))
    keepdims = bool(op.keepdims.value.data)
    dtype = numpy_dtype(op.output)
    # sum and mean take the dtype explicitly: NumPy would widen int32 sums to int64
    # and integer means to float64
    extra = {"dtype": dtype} if op.kind.data in ("sum", "mean") else {}

    def reduce(x: np.ndarray) -> np.ndarray:
        return np.asarray(reduction(x, axis=axes, keepdims=keepdims, **extra))

    return reduce


def build_argmax(op: ops.ArgMaxOp) -> Kernel:
    axis = op.axis.value.data
    keepdims = bool(op.keepdims.value.data)
    dtype = numpy_dtype(op.output)
    # np.argmax returns the first occurrence of the maximum, as ONNX's default
    return lambda x: np.argmax(x, axis=axis, keepdims=keepdims).astype(dtype, copy=False)
