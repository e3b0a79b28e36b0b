"""sima.qlayer_norm: the kernel bit for bit against a slow Python-int reference
written from the arithmetic model (runtime/integer_arithmetic.py, "Layer
norm"), the exact integer square root, the constants the quantize pass folds
gamma / beta / epsilon into, and the accuracy against the float layer norm."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from integer_references import quant, round_half_away, run_op, sat
from passes.quantize_normalization import layer_norm_constants
from runtime.integer_arithmetic import ArithmeticOverflowError, integer_sqrt, layer_norm_integers
from sima_dialect.quantized_ops import QLayerNormOp

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reference_layer_norm_row(row, gamma, beta, epsilon, shift, zero_point):
    """The model's formulas on Python ints (math.isqrt, Fraction)."""
    n = len(row)
    s1, s2 = sum(row), sum(q * q for q in row)
    root = math.isqrt((n * s2 - s1 * s1 + epsilon) << 24)
    out = []
    for q, g, b in zip(row, gamma, beta):
        z = round_half_away(Fraction((n * q - s1) << 23, root))
        out.append(sat(round_half_away(Fraction(z * g + b, 2**shift)) + zero_point, 8))
    return out


@st.composite
def layer_norm_cases(draw):
    rank = draw(st.integers(1, 3))
    shape = draw(hnp.array_shapes(min_dims=rank, max_dims=rank, min_side=1, max_side=6))
    axis = draw(st.integers(-rank, rank - 1))
    normalized = shape[axis % rank:]
    x = draw(hnp.arrays(np.int8, shape, elements=st.integers(-128, 127)))
    gamma = draw(hnp.arrays(np.int16, normalized, elements=st.integers(-32767, 32767)))
    beta = draw(hnp.arrays(np.int32, normalized, elements=st.integers(-(2**31), 2**31 - 1)))
    return dict(
        x=x, gamma=gamma, beta=beta, axis=axis,
        epsilon=draw(st.one_of(st.integers(1, 100), st.integers(1, 2**38))),
        shift=draw(st.integers(0, 38)), zero_point=draw(st.integers(-128, 127)),
    )


@SETTINGS
@given(layer_norm_cases())
def test_qlayer_norm_matches_the_python_int_reference(case):
    c = case
    result = run_op(
        lambda x, g, b: QLayerNormOp(x, g, b, quant(8, 0.5, c["zero_point"]), axis=c["axis"], epsilon=c["epsilon"], shift=c["shift"]),
        [(c["x"], quant(8, 0.1, -7))],
        [c["gamma"], c["beta"]],
    )
    axis = c["axis"] % c["x"].ndim
    count = int(np.prod(c["x"].shape[axis:]))
    rows = c["x"].reshape(-1, count).tolist()
    gamma, beta = c["gamma"].ravel().tolist(), c["beta"].ravel().tolist()
    expected = [reference_layer_norm_row(row, gamma, beta, c["epsilon"], c["shift"], c["zero_point"]) for row in rows]
    assert result.dtype == np.int8
    np.testing.assert_array_equal(result, np.array(expected).reshape(c["x"].shape))


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.integers(0, 2**40), st.integers(2**62 - 2**20, 2**63 - 1)))
def test_integer_sqrt_is_exact(v):
    assert int(integer_sqrt(np.array([v], dtype=np.int64))[0]) == math.isqrt(v)


def test_the_kernel_checks_its_widths():
    x = np.zeros((1, 8), np.int8)
    with pytest.raises(ValueError, match="epsilon"):
        layer_norm_integers(x, np.ones(8, np.int16), np.zeros(8, np.int32), 0, 10, 0, 8)
    with pytest.raises(ArithmeticOverflowError, match="gamma"):
        layer_norm_integers(x, np.full(8, 2**15, np.int32), np.zeros(8, np.int32), 1, 10, 0, 8)
    with pytest.raises(TypeError, match="int8"):
        layer_norm_integers(x.astype(np.int16), np.ones(8, np.int16), np.zeros(8, np.int32), 1, 10, 0, 8)


# ---------------------------------------------------------------------------
# the pass's constants, end to end against the float layer norm


def float_layer_norm(x, gamma, beta, epsilon):
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from([8, 96, 120, 512]),
    st.sampled_from([0.01, 0.05, 0.3]),
    st.sampled_from([1e-5, 1e-6, 1e-2]),
    st.integers(0, 2**32 - 1),
)
def test_qlayer_norm_is_within_one_output_step_of_the_float_layer_norm(count, step_in, epsilon, seed):
    """The integer path differs from the exact layer norm of the dequantized
    input only by the Q11 rounding of z, the 16-bit gamma and the final
    rounding: at most one output step (here the output step covers the
    exact result's range in 255 steps, so nothing saturates)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (4, count)).astype(np.int8)
    x[1] = x[1] // 16  # a row with a small variance
    gamma = rng.normal(1.0, 0.5, count)
    beta = rng.normal(0.0, 0.3, count)
    exact = float_layer_norm(x.astype(np.float64) * step_in, gamma, beta, epsilon)
    low, high = min(exact.min(), 0.0), max(exact.max(), 0.0)
    step_out = (high - low) / 255 * 1.01
    zero_point = int(np.clip(round(-128 - low / step_out), -128, 127))
    g, b, eps, shift = layer_norm_constants(gamma, beta, count, epsilon, step_in, step_out)
    result = run_op(
        lambda v, gv, bv: QLayerNormOp(v, gv, bv, quant(8, step_out, zero_point), axis=-1, epsilon=eps, shift=shift),
        [(x, quant(8, step_in, 0))],
        [g, b],
    )
    error_in_steps = np.abs((result.astype(np.float64) - zero_point) * step_out - exact) / step_out
    assert error_in_steps.max() <= 1.0
