"""runtime.bfloat16 against independent references: torch's bfloat16 casts and
arithmetic, and exact rational arithmetic (fractions.Fraction) with the
model's roundings written out from the IEEE definition."""

from __future__ import annotations

import math
import struct
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from runtime.bfloat16 import (
    BFLOAT16,
    bf16_binary,
    bf16_conv2d,
    bf16_dense,
    bf16_global_avg_pool,
    bf16_lut,
    bf16_matmul,
    exact_sum_to_float32,
    exact_sums_to_float32,
    float64_to_float32_round_to_odd,
    lookup_table_bfloat16,
    round_to_bfloat16,
    rounded_contraction,
    to_float32,
)

# ---------------------------------------------------------------------------
# the reference: IEEE round-to-nearest-even of an exact rational


def round_fraction(value: Fraction, mantissa_bits: int, min_exponent: int, max_exponent: int) -> float:
    """value rounded to nearest even in a binary format with `mantissa_bits` bits
    after the point, normal exponents [min_exponent, max_exponent] (subnormals below)."""
    sign = -1.0 if value < 0 else 1.0
    if value == 0:
        return 0.0
    magnitude = abs(value)
    exponent = magnitude.numerator.bit_length() - magnitude.denominator.bit_length()
    if Fraction(2) ** exponent > magnitude:
        exponent -= 1
    exponent = max(exponent, min_exponent)
    ulp = Fraction(2) ** (exponent - mantissa_bits)
    units, remainder = divmod(magnitude, ulp)
    half = ulp / 2
    if remainder > half or (remainder == half and units % 2 == 1):
        units += 1
    rounded = units * ulp
    if rounded == 0:
        return sign * 0.0
    if rounded >= Fraction(2) ** (max_exponent + 1):
        return sign * math.inf
    return sign * float(rounded)


def ref_bfloat16(value: Fraction) -> float:
    return round_fraction(value, 7, -126, 127)


def ref_float32(value: Fraction) -> float:
    return round_fraction(value, 23, -126, 127)


def bits16(x: np.ndarray) -> list[int]:
    return np.asarray(x).view(np.uint16).ravel().tolist()


def op_result(x: np.ndarray) -> np.ndarray:
    """The model's rounding of an op's result: RN_bf16, every zero +0."""
    rounded = round_to_bfloat16(x).view(np.uint16)
    return np.where(rounded == 0x8000, 0, rounded).astype(np.uint16).view(BFLOAT16)


def as_bf16(values) -> np.ndarray:
    """Python floats that are bfloat16 values, as a bfloat16 array."""
    return np.array([struct.unpack(">I", struct.pack(">f", v))[0] >> 16 for v in values], dtype=np.uint16).view(BFLOAT16)


def bf16_arrays(shape, low=-4.0, high=4.0):
    """bfloat16 arrays (drawn as float32, rounded), with zeros and exact values."""
    return hnp.arrays(np.float32, shape, elements=st.floats(low, high, width=32)).map(round_to_bfloat16)


# ---------------------------------------------------------------------------
# rounding


@given(hnp.arrays(np.uint32, (64,), elements=st.integers(0, 2**32 - 1)))
@example(np.array([0x3F808000, 0x3F818000, 0x7F7FFFFF, 0x7F7F8000, 0xFF7F8000, 0x00008000, 0x80018000,
                   0x7F800000, 0xFF800000, 0x7FC00000, 0xFFFFFFFF, 0x7F800001, 0x80000000, 0x3F80FFFF], dtype=np.uint32))
def test_float32_to_bfloat16_matches_torch(bits):
    x = bits.view(np.float32)
    ours = round_to_bfloat16(x)
    theirs = torch.from_numpy(x.copy()).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    nan = np.isnan(x)
    assert np.array_equal(ours.view(np.uint16)[~nan], theirs[~nan])
    # a NaN becomes the quiet NaN with its sign
    assert np.array_equal(ours.view(np.uint16)[nan], np.where(np.signbit(x[nan]), 0xFFC0, 0x7FC0))
    # sima.cast f32 -> bf16 (ml_dtypes) is this rounding, NaNs included
    with np.errstate(invalid="ignore"):
        cast = x.astype(BFLOAT16)
    assert np.array_equal(ours.view(np.uint16), cast.view(np.uint16))


finite64 = st.floats(allow_nan=False, allow_infinity=False, width=64)


@given(st.lists(finite64 | st.floats(-1e-38, 1e-38) | st.floats(3.3e38, 3.41e38), min_size=1, max_size=32))
@example([1.0 + 2.0**-8, 1.0 + 2.0**-8 + 2.0**-40, 1.0 + 3 * 2.0**-8, 3.3895313892515355e38, 3.3961775292304611e38,
          2.0**-133, 2.0**-134, 3 * 2.0**-135, -(2.0**-134) * 1.0000001])
def test_float64_to_bfloat16_is_one_rounding(values):
    """No double rounding through float32: compared with exact rational rounding."""
    ours = to_float32(round_to_bfloat16(np.array(values, dtype=np.float64)))
    for value, got in zip(values, ours.tolist()):
        want = math.copysign(ref_bfloat16(Fraction(value)), value)  # a zero keeps its sign
        assert got == want and math.copysign(1, got) == math.copysign(1, want), (value, got, want)


@given(st.lists(finite64, min_size=1, max_size=16))
def test_round_to_odd_brackets_the_value(values):
    x = np.array(values, dtype=np.float64)
    odd = float64_to_float32_round_to_odd(x).astype(np.float64)
    exact = odd == x
    bits = odd.astype(np.float32).view(np.uint32)[~exact]
    assert np.all(bits & 1 == 1)  # inexact: the odd one of the two float32 neighbours
    lower = (bits & np.uint32(0xFFFFFFFE)).view(np.float32).astype(np.float64)
    upper = (bits + np.uint32(1)).view(np.float32).astype(np.float64)
    assert np.all((np.abs(lower) < np.abs(x[~exact])) & (np.abs(x[~exact]) < np.abs(upper)))


# ---------------------------------------------------------------------------
# exactly rounded sums and dot products


@given(st.lists(st.floats(-1e30, 1e30) | st.sampled_from([1.0, 2.0**-24, -(2.0**-24), 2.0**-60, -(2.0**-60)]), min_size=1, max_size=12))
@example([1.0, 2.0**-24, 2.0**-60])  # a float32 tie broken by a term float64 cannot hold
@example([1.0, 2.0**-24, -(2.0**-60)])
@example([1.0, -1.0])
def test_exact_sum_to_float32(terms):
    exact = sum((Fraction(t) for t in terms), Fraction(0))
    got = exact_sum_to_float32(terms)
    assert float(got) == ref_float32(exact)
    if exact == 0:
        assert not np.signbit(got)


@st.composite
def few_bit_terms(draw):
    """Rows of terms with at most 24 significant bits, exponents near (int64 path) or far (fsum path)."""
    rows, count = draw(st.integers(1, 6)), draw(st.integers(1, 12))
    span = draw(st.sampled_from([4, 30, 200]))
    mantissas = draw(hnp.arrays(np.int64, (rows, count), elements=st.integers(-(2**24) + 1, 2**24 - 1)))
    exponents = draw(hnp.arrays(np.int64, (rows, count), elements=st.integers(-span, span)))
    return np.ldexp(mantissas.astype(np.float64), exponents)


@settings(max_examples=80, deadline=None)
@given(few_bit_terms())
@example(np.array([[2.0**24, 1.0, 2.0**-30], [2.0**24, 1.0, -(2.0**-30)], [2.0**24, 1.0, 0.0], [3.0, -3.0, 0.0]]))
def test_exact_sums_to_float32_vectorised(terms):
    got = exact_sums_to_float32(terms)
    for row, value in zip(terms, got):
        want = ref_float32(sum((Fraction(float(t)) for t in row), Fraction(0)))
        assert float(value) == want and not (value == 0 and np.signbit(value)), (row, value, want)


def test_exact_sums_to_float32_refuses_wide_terms():
    with pytest.raises(ValueError, match="at most 24 significant bits"):
        exact_sums_to_float32(np.array([[1.0 + 2.0**-40]]))


def reference_contraction(lhs, rhs, bias):
    b_, m_, k_ = lhs.shape
    n_ = rhs.shape[-1]
    out = np.zeros((b_, m_, n_), dtype=np.float32)
    for b in range(b_):
        for m in range(m_):
            for n in range(n_):
                total = sum((Fraction(float(lhs[b, m, k])) * Fraction(float(rhs[b, k, n])) for k in range(k_)), Fraction(0))
                if bias is not None:
                    total += Fraction(float(bias[b, n]))
                out[b, m, n] = ref_float32(total) + 0.0  # the model's zero is +0
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 2), st.integers(1, 5), st.integers(1, 12), st.integers(1, 4), st.booleans(),
    st.sampled_from([1.0, 2.0**-20, 2.0**40]), st.data(),
)
def test_rounded_contraction_is_the_exact_sum_rounded_once(b, m, k, n, with_bias, spread, data):
    lhs = to_float32(data.draw(bf16_arrays((b, m, k)))).astype(np.float64)
    rhs = to_float32(data.draw(bf16_arrays((b, k, n)))).astype(np.float64)
    # exponents far apart make float64 sums inexact and cancellation frequent
    lhs[..., ::2] *= spread
    rhs = np.where(data.draw(hnp.arrays(bool, rhs.shape)), -rhs, rhs)
    bias = to_float32(data.draw(bf16_arrays((b, n)))).astype(np.float64) if with_bias else None
    got = rounded_contraction(lhs, rhs, bias)
    assert np.array_equal(got.view(np.uint32), reference_contraction(lhs, rhs, bias).view(np.uint32))


def test_rounded_contraction_breaks_ties_that_float64_blas_gets_wrong():
    # exact 1 + 2**-24 + 2**-60 rounds up to 1 + 2**-23; float64 loses 2**-60 and would round to 1
    lhs = np.array([[[1.0, 2.0**-24, 2.0**-60]]])
    assert rounded_contraction(lhs, np.ones((1, 3, 1)))[0, 0, 0] == np.float32(1 + 2.0**-23)
    # exact cancellation gives +0
    got = rounded_contraction(np.array([[[1.5, -1.5]]]), np.ones((1, 2, 1)))
    assert got[0, 0, 0] == 0 and not np.signbit(got[0, 0, 0])


# ---------------------------------------------------------------------------
# ops against loops over Fractions


def reference_conv(x, w, bias, scale, strides, pads, dilations, groups, act=(-math.inf, math.inf)):
    xf = to_float32(x).astype(np.float64)
    wf = to_float32(w).astype(np.float64) if w.dtype == BFLOAT16 else w.astype(np.float64)
    n, h, wd, c = xf.shape
    kh, kw, cig, co = wf.shape
    oh = (h + pads[0] + pads[2] - dilations[0] * (kh - 1) - 1) // strides[0] + 1
    ow = (wd + pads[1] + pads[3] - dilations[1] * (kw - 1) - 1) // strides[1] + 1
    per_group = co // groups
    out = np.zeros((n, oh, ow, co), dtype=np.float32)
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                for o in range(co):
                    g = o // per_group
                    total = Fraction(float(bias[o])) if bias is not None else Fraction(0)
                    for p in range(kh):
                        for q in range(kw):
                            y = i * strides[0] + p * dilations[0] - pads[0]
                            z = j * strides[1] + q * dilations[1] - pads[1]
                            if 0 <= y < h and 0 <= z < wd:
                                for ci in range(cig):
                                    total += Fraction(xf[b, y, z, g * cig + ci]) * Fraction(wf[p, q, ci, o])
                    a = np.float32(ref_float32(total))
                    if scale is not None:
                        a = np.float32(a * np.float32(scale[o]))
                    a = np.float32(min(max(a, np.float32(act[0])), np.float32(act[1])))
                    out[b, i, j, o] = a
    return op_result(out)


@st.composite
def conv_cases(draw):
    groups = draw(st.sampled_from([1, 2]))
    cig, per_group = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    strides = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    dilations = (draw(st.integers(1, 2)), 1)
    pads = tuple(draw(st.integers(0, 1)) for _ in range(4))
    h = draw(st.integers(dilations[0] * (kh - 1) + 1, 6))
    w = draw(st.integers(kw, 6))
    x = draw(bf16_arrays((1, h, w, cig * groups)))
    int_weights = draw(st.booleans())
    if int_weights:
        weight = draw(hnp.arrays(np.int8, (kh, kw, cig, per_group * groups), elements=st.integers(-127, 127)))
        scale = draw(hnp.arrays(np.float32, (per_group * groups,), elements=st.floats(2.0**-10, 1.0, width=32)))
    else:
        weight, scale = draw(bf16_arrays((kh, kw, cig, per_group * groups))), None
    bias = draw(st.none() | hnp.arrays(np.float32, (per_group * groups,), elements=st.floats(-8, 8, width=32)))
    act = draw(st.sampled_from([(-math.inf, math.inf), (0.0, math.inf), (0.0, 6.0)]))
    return x, weight, bias, scale, strides, pads, dilations, groups, act


@settings(max_examples=40, deadline=None)
@given(conv_cases())
def test_bf16_conv2d_matches_the_exact_reference(case):
    x, weight, bias, scale, strides, pads, dilations, groups, act = case
    got = bf16_conv2d(x, weight, bias, scale, strides=strides, pads=pads, dilations=dilations, groups=groups,
                      act_min=act[0], act_max=act[1])
    want = reference_conv(x, weight, bias, scale, strides, pads, dilations, groups, act)
    assert got.dtype == BFLOAT16 and bits16(got) == bits16(want)


@pytest.mark.parametrize("int_weights", [False, True])
def test_bf16_depthwise_conv2d_matches_the_exact_reference(int_weights):
    rng = np.random.default_rng(5)
    x = round_to_bfloat16((rng.normal(size=(2, 7, 6, 5)) * np.exp2(rng.integers(-12, 4, size=(2, 7, 6, 5)))).astype(np.float32))
    if int_weights:
        weight, scale = rng.integers(-127, 128, size=(3, 3, 1, 5)).astype(np.int8), np.full(5, 0.01, np.float32)
    else:
        weight, scale = round_to_bfloat16(rng.normal(size=(3, 3, 1, 5)).astype(np.float32)), None
    bias = rng.normal(size=5).astype(np.float32)
    args = ((2, 1), (1, 0, 1, 1), (1, 2), 5)
    got = bf16_conv2d(x, weight, bias, scale, strides=args[0], pads=args[1], dilations=args[2], groups=args[3], act_min=0.0)
    assert bits16(got) == bits16(reference_conv(x, weight, bias, scale, *args, act=(0.0, math.inf)))


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 4), st.integers(1, 9), st.integers(1, 4), st.booleans(), st.data())
def test_bf16_dense_and_matmul_match_the_exact_reference(m, k, n, int_weights, data):
    x = data.draw(bf16_arrays((m, k)))
    if int_weights:
        w = data.draw(hnp.arrays(np.int8, (k, n), elements=st.integers(-127, 127)))
        scale = np.full(n, 0.125, dtype=np.float32)
    else:
        w, scale = data.draw(bf16_arrays((k, n))), None
    bias = data.draw(hnp.arrays(np.float32, (n,), elements=st.floats(-4, 4, width=32)))
    want = reference_conv(x[:, None, None, :], w[None, None], bias, scale, (1, 1), (0, 0, 0, 0), (1, 1), 1)
    assert bits16(bf16_dense(x, w, bias, scale)) == bits16(want)
    if not int_weights:
        no_bias = reference_conv(x[:, None, None, :], w[None, None], None, None, (1, 1), (0, 0, 0, 0), (1, 1), 1)
        assert bits16(bf16_matmul(x, w)) == bits16(no_bias)


@given(st.sampled_from(["add", "sub", "mul"]), hnp.arrays(np.uint16, (32,)), hnp.arrays(np.uint16, (32,)))
def test_bf16_binary_matches_torch(kind, a_bits, b_bits):
    a, b = a_bits.view(BFLOAT16), b_bits.view(BFLOAT16)
    got = bf16_binary(kind, a, b)
    ta = torch.from_numpy(a_bits.astype(np.int16)).view(torch.bfloat16)
    tb = torch.from_numpy(b_bits.astype(np.int16)).view(torch.bfloat16)
    # torch computes bfloat16 arithmetic in float32 and rounds the result, as the model does
    want = {"add": torch.add, "sub": torch.sub, "mul": torch.mul}[kind](ta.float(), tb.float()).to(torch.bfloat16)
    want = want.float().numpy()
    got32 = to_float32(got)
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got32), nan)
    assert np.array_equal(got32[~nan], want[~nan])  # compares +0 == -0 ...
    assert not np.signbit(got32[got32 == 0]).any()  # ... and the model's zero is +0, underflows included


def test_bf16_binary_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="unknown bfloat16 elementwise kind 'div'"):
        bf16_binary("div", as_bf16([1.0]), as_bf16([1.0]))


def test_lookup_table_covers_every_bfloat16():
    table = lookup_table_bfloat16(lambda v: np.tanh(v.astype(np.float64)))
    x = as_bf16([0.0, -0.5, 1.0, 3.0, -100.0])
    expected = [ref_bfloat16(Fraction(math.tanh(v))) + 0.0 for v in to_float32(x).tolist()]
    assert to_float32(bf16_lut(x, table)).tolist() == expected
    with pytest.raises(ValueError, match="65536 bfloat16 entries"):
        bf16_lut(x, table[:10])


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 2), st.integers(1, 5), st.integers(1, 5), st.integers(1, 3), st.data())
def test_bf16_global_avg_pool_matches_the_exact_reference(n, h, w, c, data):
    x = data.draw(bf16_arrays((n, h, w, c)))
    got = bf16_global_avg_pool(x)
    xf = to_float32(x).astype(np.float64)
    want = np.zeros((n, 1, 1, c), dtype=np.float32)
    reciprocal = np.float32(1.0) / np.float32(h * w)
    for b in range(n):
        for ch in range(c):
            total = sum((Fraction(v) for v in xf[b, :, :, ch].ravel()), Fraction(0))
            value = np.float32(np.float32(ref_float32(total)) * reciprocal)
            want[b, 0, 0, ch] = 0.0 if value == 0 else value
    assert bits16(got) == bits16(op_result(want))
