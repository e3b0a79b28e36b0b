"""Exact emulation of the MLA's bfloat16 arithmetic (the "bfloat16" section of
`runtime.integer_arithmetic`'s docstring is its specification).

Every function here returns what that model defines, bit for bit, on any
machine: roundings are done on bit patterns (uint32 / uint64 arithmetic), and
the dot products behind convolution, dense and matmul are rounded once from
their exact value. NumPy's float64 BLAS computes them fast; `certified_float32`
accepts a BLAS sum where it is provably exact (every term a multiple of 2**q,
the sum of magnitudes below 2**(53 + q)) or where its error bound cannot move
the float32 rounding, and recomputes the rest exactly (int64 sums of the terms'
integer significands, or `math.fsum` with round to odd), so BLAS's summation
order never shows in a result.

bfloat16 arrays are `ml_dtypes.bfloat16` (BFLOAT16 below), as the interpreter
holds `bf16` tensors.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import ml_dtypes
import numpy as np

BFLOAT16 = np.dtype(ml_dtypes.bfloat16)
TABLE_SIZE = 1 << 16
"""A bfloat16 lookup table has one entry per bit pattern."""

_F32_ABS = np.uint32(0x7FFF_FFFF)
_F32_INF = np.uint32(0x7F80_0000)
_BF16_NAN = np.uint64(0x7FC0)  # the quiet NaN every NaN becomes (with its sign)
_UNIT_ROUNDOFF = 2.0**-53  # float64's


# ---------------------------------------------------------------------------
# rounding


def float64_to_float32_round_to_odd(x: np.ndarray) -> np.ndarray:
    """float64 -> float32 rounded to odd: truncated toward zero, with the last
    bit set where that was inexact. Rounding this to bfloat16 (16 fewer bits)
    gives the same result as rounding the float64 value directly (no double rounding)."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore"):
        nearest = x.astype(np.float32)
    bits = nearest.view(np.uint32).copy()
    finite = np.isfinite(x)
    back = nearest.astype(np.float64)
    inexact = finite & (back != x)
    # nearest rounded away from zero (perhaps to inf): one step back toward zero
    away = inexact & (np.abs(back) > np.abs(x))
    bits = np.where(away, bits - np.uint32(1), bits)
    bits = np.where(inexact, bits | np.uint32(1), bits)
    return bits.astype(np.uint32).view(np.float32)


def round_to_bfloat16(x: np.ndarray) -> np.ndarray:
    """float32 / float64 (or bfloat16, unchanged) -> bfloat16, round to nearest even.

    Infinities keep their sign; a NaN becomes the quiet NaN 0x7FC0 with its
    sign (as ml_dtypes' and torch's casts do); values beyond the largest
    bfloat16 round to infinity as IEEE rounding does.
    """
    x = np.asarray(x)
    if x.dtype == BFLOAT16:
        return x.copy()
    if x.dtype == np.float64:
        x = float64_to_float32_round_to_odd(x)
    elif x.dtype != np.float32:
        raise TypeError(f"round_to_bfloat16 takes float32 or float64 values, got {x.dtype}")
    bits = x.view(np.uint32).astype(np.uint64)
    nan = (bits & np.uint64(_F32_ABS)) > np.uint64(_F32_INF)
    lsb = (bits >> np.uint64(16)) & np.uint64(1)
    rounded = (bits + np.uint64(0x7FFF) + lsb) >> np.uint64(16)  # a carry into the exponent is correct
    quiet_nan = ((bits >> np.uint64(16)) & np.uint64(0x8000)) | _BF16_NAN
    return np.where(nan, quiet_nan, rounded).astype(np.uint16).view(BFLOAT16)


def to_float32(x: np.ndarray) -> np.ndarray:
    """bfloat16 -> float32, exact (the bfloat16 bits are the float32's high half)."""
    x = np.asarray(x)
    if x.dtype != BFLOAT16:
        raise TypeError(f"expected bfloat16 values, got {x.dtype}")
    return (x.view(np.uint16).astype(np.uint32) << np.uint32(16)).view(np.float32)


def _positive_zero(x: np.ndarray) -> np.ndarray:
    """The model's zero is +0: -0.0 becomes +0.0 (a float32 array)."""
    return np.where(x == 0, np.float32(0.0), x).astype(np.float32)


def result_to_bfloat16(x: np.ndarray) -> np.ndarray:
    """An op's float32 / float64 result rounded to bfloat16, with every zero +0
    (also one that a tiny negative value underflows to)."""
    rounded = round_to_bfloat16(x).view(np.uint16)
    return np.where(rounded == 0x8000, np.uint16(0), rounded).astype(np.uint16).view(BFLOAT16)


# ---------------------------------------------------------------------------
# exactly rounded dot products


def exact_sum_to_float32(terms: Sequence[float]) -> np.float32:
    """The exact sum of float64 `terms`, rounded once to float32 (nearest even); +0 for zero.

    math.fsum gives the exact sum rounded to float64; where that rounding was
    inexact, the neighbour with an odd last bit (round to odd) keeps the
    float32 rounding right. Non-finite terms follow IEEE (inf - inf = NaN).
    """
    values = np.asarray(terms, dtype=np.float64)
    if not np.isfinite(values).all():
        with np.errstate(over="ignore", invalid="ignore"):
            return np.float32(np.sum(values))
    values = values.tolist()
    total = math.fsum(values)
    residual = math.fsum([*values, -total])  # exact sum - total, its sign exact
    if residual != 0.0:
        other = math.nextafter(total, math.inf if residual > 0 else -math.inf)
        if np.array(total).view(np.uint64) & np.uint64(1) == 0:
            total = other
    with np.errstate(over="ignore"):
        result = np.float32(total)
    return np.float32(0.0) if result == 0 else result


def _lowest_unit(values: np.ndarray, axis: int, significant_bits: int) -> np.ndarray:
    """Along `axis`, the smallest exponent q with every nonzero value a multiple of
    2**q (values of at most `significant_bits` bits); a large number where all are 0."""
    # the smallest nonzero magnitude has the smallest exponent
    smallest = np.where(values != 0, np.abs(values), np.inf).min(axis=axis, initial=np.inf)
    _, exponent = np.frexp(np.where(np.isfinite(smallest), smallest, 1.0))
    return np.where(np.isfinite(smallest), exponent.astype(np.int64) - significant_bits, _NO_UNIT)


_NO_UNIT = 1 << 20  # "no nonzero value": larger than any exponent


def rounded_contraction(
    lhs: np.ndarray, rhs: np.ndarray, bias: np.ndarray | None = None, operand_bits: int = 24
) -> np.ndarray:
    """float32 [B, M, N]: exact(lhs[b] @ rhs[b] + bias[b]) rounded once to float32.

    :param lhs: float64 [B, M, K]; rhs: float64 [B, K, N]; bias: float64 [B, N] or None.
        Every product lhs * rhs must be exact in float64 (bfloat16 x bfloat16,
        bfloat16 x int8), as it is for the MLA's operands.
    :param operand_bits: at most this many significant bits in any lhs / rhs
        value (8 for bfloat16 and int8; 24, any float32, is always safe). The
        bias is float32 (24 bits).

    BLAS computes the sums in float64; `certified_float32` rounds them.
    """
    lhs = np.asarray(lhs, dtype=np.float64)
    rhs = np.asarray(rhs, dtype=np.float64)
    result = np.matmul(lhs, rhs)
    unit = _lowest_unit(lhs, 2, operand_bits)[:, :, None] + _lowest_unit(rhs, 1, operand_bits)[:, None, :]
    # a cheap upper bound of sum |products| (inflated past its own rounding) often
    # proves every sum exact; only otherwise is the true one computed
    magnitude = np.abs(lhs).sum(axis=2)[:, :, None] * np.abs(rhs).max(axis=1, initial=0.0)[:, None, :] * (1 + 2.0**-30)
    count = lhs.shape[-1]
    if bias is not None:
        bias = np.asarray(bias, dtype=np.float64)[:, None, :]
        result = result + bias
        unit = np.minimum(unit, _lowest_unit(bias, 1, 24)[:, None, :])
        count += 1
    with np.errstate(over="ignore"):
        if not np.all(magnitude + (0.0 if bias is None else np.abs(bias)) < np.ldexp(0.5, np.minimum(53 + unit, 1100))):
            magnitude = np.matmul(np.abs(lhs), np.abs(rhs))
    if bias is not None:
        magnitude = magnitude + np.abs(bias)

    def terms_at(index: tuple[np.ndarray, ...]) -> np.ndarray:
        b, m, j = index
        terms = lhs[b, m, :] * rhs[b, :, j]
        return terms if bias is None else np.concatenate([terms, bias[b, 0, j][:, None]], axis=1)

    return certified_float32(result, magnitude, unit, count, terms_at)


def certified_float32(
    result: np.ndarray,
    magnitude: np.ndarray,
    unit: np.ndarray,
    count: int,
    terms_at: Callable[[tuple[np.ndarray, ...]], np.ndarray],
) -> np.ndarray:
    """RN_f32 of exact sums, from their float64 value r (any summation order).

    :param result: r; magnitude: the float64 sums of |terms|; unit: an exponent q
        with every term a multiple of 2**q; count: terms per sum;
        terms_at(index): the terms [U, count] of the sums at a np.nonzero index.

    r is exact where sum |terms| < 2**(53 + q): then every partial sum, in any
    order, is exact. Elsewhere r differs from the exact sum s by at most
    gamma * sum|terms| (gamma = n u / (1 - n u)); where r - e and r + e round to
    the same float32, so does s. What is left (ties within the bound) is
    recomputed exactly (`exact_sums_to_float32`).
    """
    n = count + 2  # the bias addition and the magnitude's own rounding
    gamma = n * _UNIT_ROUNDOFF / (1 - n * _UNIT_ROUNDOFF)
    with np.errstate(over="ignore", invalid="ignore"):
        # the margin covers the computed magnitude's own relative error (< 2**-33 for count < 2**20)
        exact = magnitude < np.ldexp(1.0 - 2.0**-30, np.minimum(53 + unit, 1100))
        error = 2.0 * gamma * magnitude
        low, high = (result - error).astype(np.float32), (result + error).astype(np.float32)
        rounded = result.astype(np.float32)
    certain = (exact | (low == high)) & np.isfinite(result) & np.isfinite(error)
    index = np.nonzero(~certain)
    if len(index[0]):
        rounded[index] = exact_sums_to_float32(terms_at(index))
    return _positive_zero(rounded)


_TERM_BITS = 24  # significant bits of every term: bf16 x bf16 (16), bf16 x int8 (15), a float32 bias (24)


def exact_sums_to_float32(terms: np.ndarray) -> np.ndarray:
    """float32 [U]: each row of float64 `terms` [U, T] summed exactly, rounded once; +0 for zero.

    Every term must have at most 24 significant bits (true of the MLA's
    products and float32 biases). Then term = m * 2**e with an integer
    |m| < 2**24, and a row whose exponents span little enough is summed
    exactly in int64; its sum is rounded to odd at 53 bits (a float64, then
    scaled exactly) and from there once to float32. Other rows (wide spans,
    non-finite terms) go through `exact_sum_to_float32`.
    """
    terms = np.asarray(terms, dtype=np.float64)
    rows, count = terms.shape
    result = np.zeros(rows, dtype=np.float32)
    finite = np.isfinite(terms).all(axis=1)
    mantissa, exponent = np.frexp(np.where(finite[:, None], terms, 0.0))
    integers = np.ldexp(mantissa, _TERM_BITS)
    if not np.array_equal(integers, np.round(integers)):
        raise ValueError(f"exact_sums_to_float32 needs terms of at most {_TERM_BITS} significant bits")
    integers = integers.astype(np.int64)
    exponent = exponent.astype(np.int64) - _TERM_BITS
    nonzero = integers != 0
    lowest = np.where(nonzero, exponent, np.iinfo(np.int64).max).min(axis=1, initial=np.iinfo(np.int64).max)
    lowest = np.where(nonzero.any(axis=1), lowest, 0)
    spread = np.where(nonzero, exponent - lowest[:, None], 0)
    headroom = 62 - _TERM_BITS - max(count - 1, 1).bit_length()
    exact = finite & (spread.max(axis=1, initial=0) <= headroom)
    shifted = np.where(exact[:, None], integers << np.where(exact[:, None], spread, 0), 0)
    total = shifted.sum(axis=1)  # exact: |total| < 2**62
    magnitude = np.abs(total)
    # round |total| to odd at (at least) 52 bits: drop k low bits, set the last bit if any was 1
    _, bits = np.frexp(magnitude.astype(np.float64))
    drop = np.maximum(bits.astype(np.int64) - 52, 0)
    kept = magnitude >> drop
    sticky = (magnitude & ((np.int64(1) << drop) - 1)) != 0
    odd = np.where(sticky, kept | 1, kept)
    value = np.ldexp(np.sign(total) * odd.astype(np.float64), lowest + drop)  # exact in float64
    with np.errstate(over="ignore"):
        result[exact] = value[exact].astype(np.float32)
    for row in np.flatnonzero(~exact):
        result[row] = exact_sum_to_float32(terms[row])
    return _positive_zero(result)


# ---------------------------------------------------------------------------
# the MLA ops


_OPERAND_BITS = 8  # significant bits of a bfloat16 value or an int8 weight


def _operand(x: np.ndarray, what: str) -> np.ndarray:
    """A bfloat16 or integer (int8 weights) operand as exact float64."""
    x = np.asarray(x)
    if x.dtype == BFLOAT16:
        return to_float32(x).astype(np.float64)
    if x.dtype.kind == "i":
        return x.astype(np.float64)
    raise TypeError(f"{what} must be bfloat16 or integer, got {x.dtype}")


def _bias(bias: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray | None:
    """The float32 bias as [groups, channels per group], float64."""
    if bias is None:
        return None
    bias = np.asarray(bias)
    if bias.dtype != np.float32:
        raise TypeError(f"bias must be float32, got {bias.dtype}")
    return bias.astype(np.float64).reshape(shape)


def finish(
    accumulator: np.ndarray,
    scale: np.ndarray | None,
    act_min: float = -math.inf,
    act_max: float = math.inf,
) -> np.ndarray:
    """The output stage of conv / dense / matmul: A (float32) times the float32
    scale (integer weights), clamped to [act_min, act_max], rounded to bfloat16."""
    a = np.asarray(accumulator, dtype=np.float32)
    if scale is not None:
        with np.errstate(over="ignore", invalid="ignore"):
            a = a * np.asarray(scale, dtype=np.float32)  # IEEE float32 multiply: one rounding
    if act_min > -math.inf or act_max < math.inf:
        a = np.clip(a, np.float32(act_min), np.float32(act_max))
    return result_to_bfloat16(a)


def bf16_conv2d(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    scale: np.ndarray | None,
    *,
    strides: Sequence[int],
    pads: Sequence[int],
    dilations: Sequence[int],
    groups: int,
    act_min: float = -math.inf,
    act_max: float = math.inf,
) -> np.ndarray:
    """bfloat16 NHWC conv2d with bfloat16 or int8 HWIO weights (see the model)."""
    # imported here: the kernels package imports the dialect, whose bf16 ops import this module
    from runtime.kernels.windows import output_size, pad_spatial, patches

    xf = _operand(x, "conv2d input")
    wf = _operand(weight, "conv2d weight")
    n, h, w, c_in = xf.shape
    kh, kw, c_in_group, c_out = wf.shape
    out_h = output_size(h, kh, strides[0], pads[0] + pads[2], dilations[0])
    out_w = output_size(w, kw, strides[1], pads[1] + pads[3], dilations[1])
    padded = pad_spatial(xf, pads)
    if c_in_group == 1 and groups == c_out:
        accumulator = _depthwise(padded, wf, _bias(bias, (1, c_out)), (out_h, out_w), strides, dilations)
        return finish(accumulator, scale, act_min, act_max)
    windows = patches(padded, (0, out_h), out_w, (kh, kw), strides, dilations)  # [N, OH, OW, KH, KW, C]
    per_group = c_out // groups
    lhs = windows.reshape(n * out_h * out_w, kh, kw, groups, c_in_group)
    lhs = lhs.transpose(3, 0, 1, 2, 4).reshape(groups, n * out_h * out_w, kh * kw * c_in_group)
    rhs = wf.reshape(kh, kw, c_in_group, groups, per_group).transpose(3, 0, 1, 2, 4)
    rhs = rhs.reshape(groups, kh * kw * c_in_group, per_group)
    accumulator = rounded_contraction(lhs, rhs, _bias(bias, (groups, per_group)), _OPERAND_BITS)  # [G, M, O]
    accumulator = accumulator.transpose(1, 0, 2).reshape(n, out_h, out_w, c_out)
    return finish(accumulator, scale, act_min, act_max)


def _depthwise(padded, weight, bias, out_hw, strides, dilations) -> np.ndarray:
    """float32 [N, OH, OW, C]: the rounded sums of a depthwise convolution, tap by tap
    (whole-tensor multiply-adds; no im2col)."""
    (out_h, out_w), (sh, sw), (dh, dw) = out_hw, strides, dilations
    kh, kw, _, channels = weight.shape
    taps = [
        padded[:, i * dh : i * dh + sh * (out_h - 1) + 1 : sh, j * dw : j * dw + sw * (out_w - 1) + 1 : sw, :]
        for i in range(kh)
        for j in range(kw)
    ]
    w = weight.reshape(kh * kw, channels)
    result = np.zeros(taps[0].shape) if bias is None else np.broadcast_to(bias[0], taps[0].shape).copy()
    magnitude = np.abs(result)
    for tap, tap_weight in zip(taps, w):
        result += tap * tap_weight
        magnitude += np.abs(tap) * np.abs(tap_weight)
    units = _lowest_unit(padded[..., None], -1, _OPERAND_BITS)  # per pixel
    pixel_units = np.full(taps[0].shape, _NO_UNIT, dtype=np.int64)
    for i in range(kh):
        for j in range(kw):
            window = units[:, i * dh : i * dh + sh * (out_h - 1) + 1 : sh, j * dw : j * dw + sw * (out_w - 1) + 1 : sw]
            np.minimum(pixel_units, window, out=pixel_units)
    unit = pixel_units + _lowest_unit(w, 0, _OPERAND_BITS)
    if bias is not None:
        unit = np.minimum(unit, _lowest_unit(bias, 0, 24))

    def terms_at(index: tuple[np.ndarray, ...]) -> np.ndarray:
        channel = index[-1]
        terms = np.stack([tap[index] * w[t, channel] for t, tap in enumerate(taps)], axis=1)
        return terms if bias is None else np.concatenate([terms, bias[0, channel][:, None]], axis=1)

    return certified_float32(result, magnitude, unit, kh * kw + (bias is not None), terms_at)


def bf16_dense(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    scale: np.ndarray | None,
    act_min: float = -math.inf,
    act_max: float = math.inf,
) -> np.ndarray:
    """bfloat16 [..., K] x [K, N] (bfloat16 or int8 weights)."""
    xf = _operand(x, "dense input")
    wf = _operand(weight, "dense weight")
    lead = xf.shape[:-1]
    accumulator = rounded_contraction(
        xf.reshape(1, -1, xf.shape[-1]), wf[None], _bias(bias, (1, wf.shape[1])), _OPERAND_BITS
    )
    return finish(accumulator[0].reshape(*lead, wf.shape[1]), scale, act_min, act_max)


def bf16_matmul(lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """bfloat16 matmul of two activations (NumPy broadcasting of the batch axes)."""
    a, b = _operand(lhs, "matmul lhs"), _operand(rhs, "matmul rhs")
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = np.broadcast_to(a, (*batch, *a.shape[-2:])).reshape(-1, *a.shape[-2:])
    b = np.broadcast_to(b, (*batch, *b.shape[-2:])).reshape(-1, *b.shape[-2:])
    accumulator = rounded_contraction(a, b, operand_bits=_OPERAND_BITS)
    return finish(accumulator.reshape(*batch, a.shape[-2], b.shape[-1]), None)


BINARY_KINDS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
}


def bf16_binary(kind: str, lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """add / sub / mul: one IEEE float32 operation on the bfloat16 operands, rounded to bfloat16."""
    if kind not in BINARY_KINDS:
        raise ValueError(f"unknown bfloat16 elementwise kind {kind!r}; one of {', '.join(BINARY_KINDS)}")
    with np.errstate(over="ignore", invalid="ignore"):
        result = BINARY_KINDS[kind](to_float32(lhs), to_float32(rhs))
    return result_to_bfloat16(result)


def every_bfloat16() -> np.ndarray:
    """All 65536 bfloat16 values, indexed by their bit pattern."""
    return np.arange(TABLE_SIZE, dtype=np.uint32).astype(np.uint16).view(BFLOAT16)


def lookup_table_bfloat16(function: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """The table of a unary op: RN_bf16(f(x)) for every bfloat16 x (f on float32), zeros +0."""
    with np.errstate(all="ignore"):
        values = np.asarray(function(to_float32(every_bfloat16())))
    if values.dtype not in (np.float32, np.float64):
        values = values.astype(np.float32)
    return result_to_bfloat16(values)


def bf16_lut(x: np.ndarray, table: np.ndarray) -> np.ndarray:
    """table[bit pattern of x]."""
    if table.dtype != BFLOAT16 or table.shape != (TABLE_SIZE,):
        raise ValueError(f"a bfloat16 table has {TABLE_SIZE} bfloat16 entries, got {table.shape} {table.dtype}")
    return table[np.asarray(x).view(np.uint16)]


def bf16_global_avg_pool(x: np.ndarray) -> np.ndarray:
    """[N, H, W, C] -> [N, 1, 1, C]: exact sum over H, W rounded to float32, times
    float32(1 / (H W)), rounded to bfloat16."""
    xf = _operand(x, "global_avg_pool input")
    n, h, w, c = xf.shape
    columns = xf.reshape(n, h * w, c).transpose(0, 2, 1).reshape(1, n * c, h * w)
    total = rounded_contraction(columns, np.ones((1, h * w, 1)), operand_bits=_OPERAND_BITS)  # [1, N C, 1]
    reciprocal = np.float32(1.0) / np.float32(h * w)
    return finish(total.reshape(n, 1, 1, c), np.asarray(reciprocal))
