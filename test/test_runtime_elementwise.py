"""Elementwise kernels against per-element Python math and onnxruntime."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from onnx import TensorProto
from runtime_ir import Weight, run_onnx_node, run_op

from sima_dialect import ops

RTOL, ATOL = 2e-6, 1e-6


def elementwise(function, *arrays, out_shape=None):
    """Apply a scalar Python function element by element, broadcasting like NumPy."""
    out_shape = out_shape or np.broadcast_shapes(*(a.shape for a in arrays))
    broadcast = [np.broadcast_to(a, out_shape) for a in arrays]
    return np.array([function(*(float(b[i]) for b in broadcast)) for i in np.ndindex(*out_shape)]).reshape(out_shape)


def sample(low=-4.0, high=4.0, shape=(1, 3, 4, 5), seed=0):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)


def _sigmoid(v):
    return 1 / (1 + math.exp(-v))


UNARY = [
    # op class, properties, per-element reference, ONNX op and attributes (None: no ONNX op), input range
    (ops.ReluOp, {}, lambda v: max(v, 0.0), ("Relu", {}), (-4, 4)),
    (ops.SigmoidOp, {}, _sigmoid, ("Sigmoid", {}), (-20, 20)),
    (ops.TanhOp, {}, math.tanh, ("Tanh", {}), (-4, 4)),
    (ops.SiluOp, {}, lambda v: v * _sigmoid(v), None, (-8, 8)),
    (ops.HardSwishOp, {}, lambda v: v * min(max(v + 3, 0), 6) / 6, ("HardSwish", {}), (-5, 5)),
    (ops.ExpOp, {}, math.exp, ("Exp", {}), (-4, 4)),
    (ops.LogOp, {}, math.log, ("Log", {}), (0.01, 10)),
    (ops.SqrtOp, {}, math.sqrt, ("Sqrt", {}), (0, 10)),
    (ops.ErfOp, {}, math.erf, ("Erf", {}), (-3, 3)),
    (ops.ReciprocalOp, {}, lambda v: 1 / v, ("Reciprocal", {}), (0.1, 4)),
    (ops.AbsOp, {}, abs, ("Abs", {}), (-4, 4)),
    (ops.NegOp, {}, lambda v: -v, ("Neg", {}), (-4, 4)),
    (ops.HardSigmoidOp, {"alpha": 0.3, "beta": 0.4}, lambda v: max(0, min(1, 0.3 * v + 0.4)), ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}), (-4, 4)),
    (ops.LeakyReluOp, {"alpha": 0.1}, lambda v: v if v >= 0 else 0.1 * v, ("LeakyRelu", {"alpha": 0.1}), (-4, 4)),
    (ops.GeluOp, {"approximate": "none"}, lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2))), ("Gelu", {"approximate": "none"}), (-5, 5)),
    (
        ops.GeluOp,
        {"approximate": "tanh"},
        lambda v: 0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v**3))),
        ("Gelu", {"approximate": "tanh"}),
        (-5, 5),
    ),
]


def case_id(op_class, properties) -> str:
    return "-".join([op_class.name, *(f"{k}={v}" for k, v in properties.items())])


@pytest.mark.parametrize("op_class,properties,reference,onnx_op,domain", UNARY, ids=[case_id(c[0], c[1]) for c in UNARY])
def test_unary_matches_python_math_and_onnxruntime(op_class, properties, reference, onnx_op, domain):
    x = sample(*domain)
    (got,) = run_op(op_class, [x], **properties)
    assert got.dtype == np.float32 and got.shape == x.shape
    np.testing.assert_allclose(got, elementwise(reference, x), rtol=RTOL, atol=ATOL)
    if onnx_op is not None:
        name, attributes = onnx_op
        (onnx_out,) = run_onnx_node(name, {"x": x}, ["y"], **attributes)
        np.testing.assert_allclose(got, onnx_out, rtol=RTOL, atol=ATOL)


def test_erf_is_correctly_rounded_float32():
    x = sample(-4, 4, shape=(4096,), seed=3)
    (got,) = run_op(ops.ErfOp, [x])
    exact = np.array([math.erf(float(v)) for v in x], dtype=np.float64).astype(np.float32)
    np.testing.assert_array_equal(got, exact)


def test_clip_matches_python_and_onnxruntime():
    x = sample()
    (got,) = run_op(ops.ClipOp, [x], min=-1.5, max=2.0)
    np.testing.assert_array_equal(got, elementwise(lambda v: min(max(v, -1.5), 2.0), x).astype(np.float32))
    bounds = {"lo": np.array(-1.5, np.float32), "hi": np.array(2.0, np.float32)}
    np.testing.assert_array_equal(got, run_onnx_node("Clip", {"x": x}, ["y"], bounds)[0])


def test_special_values_follow_ieee_without_warnings():
    x = np.array([0.0, -1.0, np.inf, -np.inf], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (log,) = run_op(ops.LogOp, [x])
        (reciprocal,) = run_op(ops.ReciprocalOp, [x])
        (sigmoid,) = run_op(ops.SigmoidOp, [np.array([-1000.0, 1000.0], dtype=np.float32)])
    np.testing.assert_array_equal(log[[0, 2]], [-np.inf, np.inf])
    assert np.isnan(log[1])
    np.testing.assert_array_equal(reciprocal, [np.inf, -1.0, 0.0, -0.0])
    np.testing.assert_array_equal(sigmoid, [0.0, 1.0])


SPECIAL = [-0.0, 0.0, np.nan, np.inf, -np.inf, 1e-45, -1e-45, -3.0, 3.0, 2.9999998, -2.9999998, 6e30]


@pytest.mark.parametrize("shape", [(12,), (2, 3, 2), (1, 300, 200, 12)], ids=["vector", "small", "past-zero-block"])
def test_relu_and_hard_swish_give_the_plain_numpy_formulas_bit_for_bit(shape):
    """relu's max against a cached zero block, hard_swish's in-place steps: the
    same bits as max(x, 0) and x * clip(x / 6 + 1/2, 0, 1), signed zeros and NaN included."""
    x = np.resize(np.array(SPECIAL, np.float32), shape)
    x *= np.resize(np.array([1, -1, 2], np.float32), shape)  # every value with both signs somewhere
    (relu,) = run_op(ops.ReluOp, [x])
    (hard_swish,) = run_op(ops.HardSwishOp, [x])
    with np.errstate(all="ignore"):
        plain_relu = np.maximum(x, np.float32(0))
        plain_hard_swish = x * np.clip(x * np.float32(1 / 6) + np.float32(0.5), np.float32(0), np.float32(1))
    np.testing.assert_array_equal(relu.view(np.uint32), plain_relu.view(np.uint32))
    np.testing.assert_array_equal(hard_swish.view(np.uint32), plain_hard_swish.view(np.uint32))


BINARY = [
    (ops.AddOp, lambda a, b: a + b, "Add"),
    (ops.SubOp, lambda a, b: a - b, "Sub"),
    (ops.MulOp, lambda a, b: a * b, "Mul"),
    (ops.DivOp, lambda a, b: a / b, "Div"),
    (ops.PowOp, lambda a, b: a**b, "Pow"),
    (ops.MaximumOp, max, "Max"),
    (ops.MinimumOp, min, "Min"),
]


@pytest.mark.parametrize("op_class,reference,onnx_op", BINARY, ids=[c[0].name for c in BINARY])
def test_binary_broadcasts_like_python_loops_and_onnxruntime(op_class, reference, onnx_op):
    lhs = sample(0.5, 3, shape=(2, 1, 3), seed=1)
    rhs = sample(0.5, 3, shape=(4, 1), seed=2)
    (got,) = run_op(op_class, [lhs, rhs], [((2, 4, 3), np.float32)])
    np.testing.assert_allclose(got, elementwise(reference, lhs, rhs), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(got, run_onnx_node(onnx_op, {"a": lhs, "b": rhs}, ["y"])[0], rtol=RTOL, atol=ATOL)


def test_binary_with_a_constant_operand():
    x = sample()
    bias = sample(shape=(5,), seed=4)
    (got,) = run_op(ops.AddOp, [x, Weight(bias)], [(x.shape, np.float32)])
    np.testing.assert_array_equal(got, x + bias)


def test_integer_division_truncates_toward_zero_as_onnx():
    lhs = np.array([-7, 7, -7, 7, 6, -6, 0], dtype=np.int32)
    rhs = np.array([2, 2, -2, -2, 3, 3, -5], dtype=np.int32)
    (got,) = run_op(ops.DivOp, [lhs, rhs], [((7,), np.int32)])
    np.testing.assert_array_equal(got, [int(a / b) for a, b in zip(lhs.tolist(), rhs.tolist())])
    np.testing.assert_array_equal(got, run_onnx_node("Div", {"a": lhs, "b": rhs}, ["y"])[0])


COMPARISONS = [
    ("eq", lambda a, b: a == b, "Equal"),
    ("ne", lambda a, b: a != b, None),
    ("lt", lambda a, b: a < b, "Less"),
    ("le", lambda a, b: a <= b, "LessOrEqual"),
    ("gt", lambda a, b: a > b, "Greater"),
    ("ge", lambda a, b: a >= b, "GreaterOrEqual"),
]


@pytest.mark.parametrize("kind,reference,onnx_op", COMPARISONS, ids=[c[0] for c in COMPARISONS])
def test_compare_gives_a_mask_like_python_and_onnxruntime(kind, reference, onnx_op):
    # small integers held as floats, so ties occur
    lhs = np.round(sample(-2, 2, shape=(3, 4), seed=5))
    rhs = np.round(sample(-2, 2, shape=(4,), seed=6))
    (got,) = run_op(ops.CompareOp, [lhs, rhs], [((3, 4), np.bool_)], kind=kind)
    assert got.dtype == np.bool_
    np.testing.assert_array_equal(got, elementwise(reference, lhs, rhs).astype(bool))
    if onnx_op is not None:
        np.testing.assert_array_equal(got, run_onnx_node(onnx_op, {"a": lhs, "b": rhs}, ["y"])[0])


def test_prelu_with_per_channel_slope():
    x = sample(shape=(1, 2, 3, 4))
    slope = sample(0, 1, shape=(4,), seed=7)
    (got,) = run_op(ops.PreluOp, [x, Weight(slope)], [(x.shape, np.float32)])
    reference = np.array([[[[v if v >= 0 else v * slope[c] for c, v in enumerate(px)] for px in row] for row in x[0]]])
    np.testing.assert_allclose(got, reference, rtol=RTOL)
    np.testing.assert_allclose(got, run_onnx_node("PRelu", {"x": x}, ["y"], {"slope": slope})[0], rtol=RTOL)


def test_where_broadcasts_all_three():
    condition = np.array([[True], [False]])
    a = sample(shape=(2, 3), seed=8)
    b = sample(shape=(3,), seed=9)
    (got,) = run_op(ops.WhereOp, [condition, a, b], [((2, 3), np.float32)])
    np.testing.assert_array_equal(got, [[a[i, j] if condition[i, 0] else b[j] for j in range(3)] for i in range(2)])
    np.testing.assert_array_equal(got, run_onnx_node("Where", {"c": condition, "a": a, "b": b}, ["y"])[0])


@pytest.mark.parametrize(
    "source,target,onnx_to",
    [
        (np.array([-2.7, -0.5, 0.5, 2.7, 100.9, -100.9], np.float32), np.int32, TensorProto.INT32),
        (np.array([-2.7, -0.5, 0.5, 2.7, 100.9, -100.9], np.float32), np.int8, TensorProto.INT8),
        (np.array([0.0, -0.0, 0.3, -2.0], np.float32), np.bool_, TensorProto.BOOL),
        (np.array([-3, 0, 7], np.int32), np.float32, TensorProto.FLOAT),
        (np.array([True, False]), np.float32, TensorProto.FLOAT),
    ],
)
def test_cast_truncates_like_onnx(source, target, onnx_to):
    (got,) = run_op(ops.CastOp, [source], [(source.shape, target)])
    assert got.dtype == target
    truncated = [bool(v) if target is np.bool_ else (int(v) if np.issubdtype(target, np.integer) else float(v)) for v in source.tolist()]
    np.testing.assert_array_equal(got, np.array(truncated, dtype=target))
    np.testing.assert_array_equal(got, run_onnx_node("Cast", {"x": source}, ["y"], to=onnx_to)[0])
