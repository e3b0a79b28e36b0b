"""Softmax, layer_norm, reduce and argmax against loop references and onnxruntime."""

from __future__ import annotations

import math

import numpy as np
import pytest
from runtime_ir import Weight, run_onnx_node, run_op

from sima_dialect import ops, shapes

RTOL, ATOL = 1e-5, 1e-6


def sample(shape, seed=0, low=-3.0, high=3.0):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)


def lanes(shape, axes):
    """For every index of the kept axes, the list of full indices along `axes`."""
    kept = [a for a in range(len(shape)) if a not in axes]
    for outer in np.ndindex(*[shape[a] for a in kept]):
        members = []
        for inner in np.ndindex(*[shape[a] for a in axes]):
            index = [0] * len(shape)
            for a, i in zip(kept, outer):
                index[a] = i
            for a, i in zip(axes, inner):
                index[a] = i
            members.append(tuple(index))
        yield outer, members


@pytest.mark.parametrize("axis", [-1, 1])
def test_softmax_matches_loops_and_onnxruntime(axis):
    x = sample((2, 3, 4), low=-30, high=30)
    (got,) = run_op(ops.SoftmaxOp, [x], axis=axis)
    reference = np.zeros(x.shape)
    for _, members in lanes(x.shape, [axis % 3]):
        peak = max(float(x[m]) for m in members)
        total = sum(math.exp(float(x[m]) - peak) for m in members)
        for m in members:
            reference[m] = math.exp(float(x[m]) - peak) / total
    np.testing.assert_allclose(got, reference, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(got, run_onnx_node("Softmax", {"x": x}, ["y"], axis=axis)[0], rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("axis,with_bias", [(-1, True), (1, True), (2, False)])
def test_layer_norm_matches_loops_and_onnxruntime(axis, with_bias):
    x = sample((2, 3, 4), seed=1) + 2
    normalized = x.shape[axis % 3 :]
    scale = sample(normalized, seed=2)
    bias = sample(normalized, seed=3) if with_bias else None
    (got,) = run_op(ops.LayerNormOp, [x, Weight(scale), None if bias is None else Weight(bias)], [(x.shape, np.float32)], axis=axis, epsilon=1e-5)
    reference = np.zeros(x.shape)
    axes = list(range(axis % 3, 3))
    for _, members in lanes(x.shape, axes):
        values = [float(x[m]) for m in members]
        mean = sum(values) / len(values)
        variance = sum((v - mean) ** 2 for v in values) / len(values)
        for m, v in zip(members, values):
            inner = m[axis % 3 :]
            reference[m] = (v - mean) / math.sqrt(variance + 1e-5) * scale[inner] + (bias[inner] if with_bias else 0)
    np.testing.assert_allclose(got, reference, rtol=RTOL, atol=1e-5)
    inits = {"scale": scale, **({"bias": bias} if with_bias else {})}
    onnx_out = run_onnx_node("LayerNormalization", {"x": x}, ["y"], inits, axis=axis, epsilon=1e-5)[0]
    np.testing.assert_allclose(got, onnx_out, rtol=RTOL, atol=1e-5)


REDUCTIONS = {
    "sum": (sum, "ReduceSum"),
    "mean": (lambda v: sum(v) / len(v), "ReduceMean"),
    "max": (max, "ReduceMax"),
    "min": (min, "ReduceMin"),
}


@pytest.mark.parametrize("kind", sorted(REDUCTIONS))
@pytest.mark.parametrize("axes,keepdims", [((1, 2), True), ((-1,), False), ((0, 2), False), ((0, 1, 2), False)])
def test_reduce_matches_loops_and_onnxruntime(kind, axes, keepdims):
    x = sample((2, 3, 4), seed=4)
    out_shape = shapes.reduce_output_shape(x.shape, axes, keepdims)
    (got,) = run_op(ops.ReduceOp, [x], [(out_shape, np.float32)], kind=kind, axes=axes, keepdims=keepdims)
    assert got.dtype == np.float32 and got.shape == out_shape
    function, onnx_op = REDUCTIONS[kind]
    reference = np.array([function([float(x[m]) for m in members]) for _, members in lanes(x.shape, [a % 3 for a in axes])])
    np.testing.assert_allclose(got.reshape(-1), reference, rtol=RTOL, atol=ATOL)
    inits = {"axes": np.array(axes, np.int64)}
    np.testing.assert_allclose(got, run_onnx_node(onnx_op, {"x": x}, ["y"], inits, keepdims=int(keepdims))[0], rtol=RTOL, atol=ATOL)


def test_integer_sum_stays_in_its_dtype():
    x = np.arange(12, dtype=np.int32).reshape(3, 4)
    (got,) = run_op(ops.ReduceOp, [x], [((3,), np.int32)], kind="sum", axes=(1,), keepdims=False)
    assert got.dtype == np.int32
    assert got.tolist() == [sum(row) for row in x.tolist()]


@pytest.mark.parametrize("axis,keepdims,out_dtype", [(1, False, np.int64), (-1, True, np.int32), (0, True, np.int64)])
def test_argmax_takes_the_first_maximum(axis, keepdims, out_dtype):
    # many ties: small integers
    x = np.round(sample((3, 4, 5), seed=5, low=0, high=2))
    out_shape = shapes.reduce_output_shape(x.shape, (axis,), keepdims)
    (got,) = run_op(ops.ArgMaxOp, [x], [(out_shape, out_dtype)], axis=axis, keepdims=keepdims)
    assert got.dtype == out_dtype
    reference = []
    for _, members in lanes(x.shape, [axis % 3]):
        values = [float(x[m]) for m in members]
        reference.append(values.index(max(values)))
    assert got.reshape(-1).tolist() == reference
    np.testing.assert_array_equal(got, run_onnx_node("ArgMax", {"x": x}, ["y"], axis=axis, keepdims=int(keepdims))[0])
