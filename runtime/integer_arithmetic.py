"""The MLA integer arithmetic model: the one place that defines it.

The quantizer plans for this model (`afe.ir.quantization_conv`), and every
bit-exact executor (the interpreter, the MLA simulator) computes with the
functions below, so the two cannot drift apart.

Integer types
-------------
* Activations: int8 or int16, two's complement, affine: q = round(x * scale) + zp.
* Weights: int8, symmetric, in [-127, 127]. A weight adjustment of k bits (chosen
  by the planner) narrows them to about [-127 / 2**k, 127 / 2**k].
* Bias and every convolution / matmul intermediate: int32, the accumulator.
  The accumulator does not wrap and does not saturate: a plan that could make it
  overflow is a bug, and the kernels below raise `ArithmeticOverflowError`.
* Requantized outputs: int8, int16 or int32, saturated to their range.

Generalized matrix product (convolution, dense, matmul), per output channel c
------------------------------------------------------------------------------
int8 input (the int8 algorithm), intrinsic shift h = 0:

    P[c] = sum_k x[k] * w[k, c]                          exact in int32

int16 input (the "int15" algorithm), intrinsic shift h[c] in
{INTRINSIC_SHIFT_LO = 1, INTRINSIC_SHIFT_HI = 8}: the multiplier array is 8x8
bits, so the input is split into bytes, x = x_hi * 2**8 + x_lo with
x_hi = x >> 8 in [-128, 127] (signed) and x_lo = x & 0xFF in [0, 255], and

    P_hi[c] = sum_k x_hi[k] * w[k, c]                    int32
    P_lo[c] = sum_k x_lo[k] * w[k, c]                    int32
    P[c]    = (P_hi[c] << (8 - h[c])) + (P_lo[c] >> h[c])   every term int32

">>" is an arithmetic (floor) shift, so P[c] = floor(sum_k x[k] w[k, c] / 2**h[c])
exactly. With h = 1 the product is that of a 15-bit input (the LSB of the
product is dropped): hence the name. h = 8 drops 7 more bits and is used where
h = 1 could overflow. `msb_left_shift` (seed 003) is True where h = 1, i.e.
where the high-byte partial product is shifted left (by 7).

Accumulation: A[c] = P[c] + B[c], B the int32 bias. B holds the quantized bias,
the correction for the input zero point (the product of the zero point with the
weights, computed with the same formula as P, so convolutions pad with the
input zero point), and in sima mode the output zero point scaled by 2**n.

Requantization of A to the output type T
----------------------------------------
sima (`ArithFoldedRequantization`, shift n in [0, ARITH_FOLDED_MAX_SHIFT = 31]):

    y = sat_T(rshift_half_up(A, n))
    rshift_half_up(a, n) = floor(a / 2**n + 1/2)       (ties toward +inf)
                         = (a >> n) + ((a >> (n - 1)) & 1)  for n > 0

  computed without leaving int32. The scale's fraction is folded into the
  weights and the output zero point into the bias, so this is a pure shift.
  A fused ReLU clamps A at 0 before the shift: this is right only when the
  output zero point is 0, which is why the planner falls back to the
  restricted TFLite arithmetic for ReLU with a non-zero output zero point.

tflite (`TFLiteRequantization`, seed 000: "TFLite's arithmetic with an 8-bit
constant multiplier"): multiplier M in [1, 127] (a signed 8-bit constant;
normalized multipliers are in [64, 127], the restricted form uses M = 1),
shift n in [0, TFLITE_MAX_SHIFT = 38], zero point z:

    t = rshift_half_away(A * M, n)      A * M is exact in a 40-bit register (|A*M| < 2**38)
    t = max(t, 0)                       only with a fused ReLU
    y = sat_T(t + z)

  rshift_half_away rounds to nearest, ties away from zero (TFLite's
  RoundingDivideByPOT). Unlike TFLite's 31-bit multiplier, the 8-bit multiplier
  approximates the real scale to a relative error below 2**-7 (half a unit of M >= 64).

Float to integer conversion (quantizing weights, biases and inputs) rounds half
away from zero (`round_half_away_from_zero`) and saturates.

The other integer ops (sima.requantize, qadd / qsub / qmul, qmatmul, average pools, lut)
------------------------------------------------------------------------------------------
They end with the TFLite requantization R = (M, n, z_out) above. Where the real
factor to apply is 127.5 or more, which no n >= 0 reaches with M <= 127, the
accumulator is first shifted left by L, exactly (`shift_left_checked`: the
result must fit int32). Every intermediate below is checked to fit int32.

    requantize  A = (q - z_in) << L;  y = R(A)                            (`requantize_integers`)
    add / sub   a_i = (q_i - z_i) << L                                    (`add_integers`)
                t_i = rshift_half_away(a_i * M_i, n_i)    M_i in [1, 127], n_i in [0, 38]
                A = t_1 + t_2 (sub: t_1 - t_2);  y = R(A)
    mul         A = ((q_1 - z_1) * (q_2 - z_2)) << L;  y = R(A)            (`multiply_integers`)
    matmul      A = (sum_k (a_k - z_a) * (b_k - z_b)) << L;  y = R(A)      (`matmul_integers`)
    avg pools   A = sum of (q - z_in) over the window's c valid taps (padding holds
                z_in, so it adds 0); y = sat(rshift_half_away(A * M[c], n[c]) + z_out):
                the divisor c is folded into the multiplier (`requantize_window_sums`)
    lut         y = table[q - min_T], 256 (int8) or 65536 (int16) entries  (`lookup`)

Add / sub are TFLite's quantized ADD with the model's 8-bit multipliers: the
left shift (20 for int8 inputs, 14 for int16) gives the rescaled inputs t_i,
in the common unit 2 * max(step_1, step_2) / 2**L, bits below an input's step.

Float boundary (sima.quantize, sima.dequantize) and lookup tables
------------------------------------------------------------------

    quantize    q = sat_T(round_half_away_from_zero(x / step) + z)      (`quantize`)
                with the exact quotient x / step (ties and near-ties are decided
                exactly, not by the rounded float64 quotient); NaN is an error
    dequantize  x = (q - z) * step, the exact product rounded once to the
                nearest float32, ties to even                           (`dequantize`)
    table       table[q - min_T] = quantize(f(dequantize(q)))           (`lookup_table`)

Softmax (sima.qsoftmax), along one axis of length N <= SOFTMAX_MAX_LENGTH = 2**15
-------------------------------------------------------------------------------------
Input q (int8 or int16, step s), table E of 2**bits int32 entries (a constant,
E[d] = round_half_away(exp(-d * s) * 2**23), so E[0] = 2**23 and E[d] in [0, 2**23]),
result requantization R = (M, n, z_out) as for the other integer ops:

    d = max_axis(q) - q              in [0, 2**bits - 1]   (int17)
    e = E[d]                         in [0, 2**23]         (exp of the real difference, Q23)
    S = sum_axis(e)                  in [2**23, N * 2**23 <= 2**38]   (40-bit register)
    p = floor((e << 15 + (S >> 1)) / S)
      = floor(e * 2**15 / S + 1/2)   in [0, 2**15]         (the probability, Q15; numerator < 2**39)
    y = sat(rshift_half_away(p * M, n) + z_out)          M * 2**-n ~ 2**-15 / step_out

  Subtracting the row maximum makes every exponent <= 0, so no term overflows
  and the largest term is exactly 1.0 (`softmax_integers`). The sum and the
  divide use the 40-bit register of the requantization (A * M), not int32:
  with Q15 exponentials summed in int32 the sum's error grew with N (up to 5
  steps of a 2**-16 output at N = 300, measured). With Q23 the error of p is
  below 2**-16 plus N * 2**-24: at most 1 step of a 2**-8 output and 2 steps
  of a 2**-16 output (tested against the float softmax).

Layer norm (sima.qlayer_norm), over the trailing axes (N values, N <= 4096), int8
-------------------------------------------------------------------------------
Input q (int8; its zero point cancels in q - mean), gamma G (int16, one per
normalized element), beta B (int32), shift n in [0, 38], epsilon Eps >= 1 (int):

    s1 = sum q                       |s1| <= N * 2**7             (int32)
    s2 = sum q * q                   s2 <= N * 2**14              (int32)
    D  = N * s2 - s1 * s1            = N**2 * var(q), in [0, N**2 * 2**14]  (int64, < 2**39)
    V  = D + Eps                     Eps = max(1, round(N**2 * epsilon / s_in**2)) <= 2**38  (int64, < 2**39)
    r  = isqrt(V << 24)              = floor(sqrt(V) * 2**12), exact  (int64 operand, r < 2**32)
    c  = N * q - s1                  = N * (q - mean), |c| <= N * 2**8  (int32)
    z  = round_half_away((c << 23) / r)   the normalized value, Q11, |z| <= 2**11 * sqrt(N) (int32)
    A  = z * G + B                   in the 40-bit register (|A| < 2**39)
    y  = sat(rshift_half_away(A, n) + z_out)

  G = round(gamma * 2**(n - 11) / step_out) and B = round(beta * 2**n / step_out),
  n the largest shift that keeps |G| <= 32767 and |B| < 2**38 (`layer_norm_integers`).
  The variance numerator D, V, the square root and the Q23 divide need 64-bit
  intermediates (int32 suffices for D only when N <= 362); they are checked
  against those widths. rec's layer norms have N = 120 and 96.

Transposed convolution (sima.qconv2d_transpose)
-----------------------------------------------
The convolution of the input stuffed with stride - 1 values between pixels,
the stuffed values and the padding all equal to the input zero point (real 0),
with the spatially flipped weights: every output is then a sum over the same
K taps as a convolution, so the generalized matrix product above (P, A, the
requantization, the int15 split) applies unchanged, bias and zero-point
correction included.

Linear resize (sima.qresize_linear), same quantization in and out
---------------------------------------------------------------
Each output coordinate maps to the exact rational input coordinate c of the
ONNX coordinate mode (half_pixel: ((2x + 1) * in - out) / (2 * out), ...),
clamped to [0, in - 1]; low = floor(c), high = min(low + 1, in - 1), and the
weights are in Q F (F = weight_bits, with (bits - 1) + F <= 30):

    w_high = floor((c - low) * 2**F + 1/2),  w_low = 2**F - w_high
    t = rshift_half_up(w_low_h * q[low_h] + w_high_h * q[high_h], F)   rows    (sum < 2**(bits - 1 + F), int32)
    y = rshift_half_up(w_low_w * t[low_w] + w_high_w * t[high_w], F)   columns (likewise)

  Each blend lies between its two neighbours, so no saturation; rounding after
  each axis keeps every sum in int32 with Q15 weights even for int16 (one
  rounding over both axes would allow only Q7 for int16: up to 2**-8 of the
  int16 range off, measured). Error: under 1 step for int8, about 1 step for
  int16 (`resize_weights`, `resize_linear_integers`).

PReLU with one slope per channel (sima.qprelu)
----------------------------------------------
c = q - z_in (int17); per channel k of the last axis, signed multipliers
M_pos, M_neg[k] in [-127, 127] and shifts n_pos, n_neg[k] in [0, 38]:

    y = sat(rshift_half_away(c * M_pos, n_pos) + z_out)        where c >= 0
    y = sat(rshift_half_away(c * M_neg[k], n_neg[k]) + z_out)  where c < 0

  M_pos * 2**-n_pos ~ s_in / s_out, M_neg[k] * 2**-n_neg[k] ~ slope[k] * s_in / s_out
  (a negative slope gives a negative multiplier; ties round away from zero,
  symmetric in the sign); every product fits 40 bits (`prelu_integers`).

bfloat16 (the bfloat16_scheme; emulated exactly by `runtime.bfloat16`)
------------------------------------------------------------------------
Format: bfloat16 is the upper half of a float32 (1 sign, 8 exponent, 7 stored
mantissa bits; subnormals, +-inf and NaN as in float32). RN_bf16 and RN_f32
round to nearest, ties to even (IEEE 754), from the exact value; overflow
gives +-inf, a NaN becomes the quiet NaN 0x7FC0 with its sign. Every zero an
op produces is +0. A bf16 MLA region holds its activations in bf16 (`tensor<...xbf16>`):

    entry        x_bf16 = RN_bf16(x_f32)                      (sima.cast f32 -> bf16)
    exit         x_f32  = x_bf16, exact                       (sima.cast bf16 -> f32)

Generalized matrix product (sima.bf16_conv2d, sima.bf16_dense, sima.bf16_matmul),
per output element, with bias b (float32) and weights w either bf16 (bf16
weight scheme) or int8 with a float32 scale s per output channel (integer
weights, seed 002's `get_bfloat16_with_int_weights_quant_params`):

    A = RN_f32(sum_k x[k] * w[k] + b)     the products are exact (8 x 8 significant
                                          bits), their sum is exact (an accumulator
                                          wide enough never to round), rounded once
    A = RN_f32(A * s)                     int8 weights only: w = Qw / s_w, s = 1 / s_w
                                          (float32), the bias b in product units (b * s_w)
    y = RN_bf16(clamp(A, act_min, act_max))   a fused relu / clip in float32

  The single rounding makes the result independent of summation order (which
  the seeds do not name); `runtime.bfloat16.rounded_contraction` computes it
  with float64 BLAS and recomputes exactly (math.fsum + round to odd) every
  element whose rounding the BLAS error bound does not certify.

Elementwise (sima.bf16_add / bf16_sub / bf16_mul): one float32 operation on the
bf16 operands (exact widening), y = RN_bf16(RN_f32(a op b)).
Unary ops (sima.bf16_lut): a table of 65536 bf16 entries, one per bit pattern,
T[bits(x)] = RN_bf16(f(x)) with f the op's float function; the op is the lookup.
global_avg_pool (sima.bf16_global_avg_pool): y = RN_bf16(RN_f32(RN_f32(sum_HW x) *
RN_f32(1 / (H * W)))), the sum exact and rounded once as above.
Data movement (reshape, transpose, concat, slice, pad, max_pool, ...): the same
ops on bf16 tensors; they select values and round nothing.

NumPy evaluation: products of int8/int16 values summed in float64 are exact
while K * max|x| * max|w| < 2**53 (K the reduction length), in float32 while it
is < 2**24, so the GEMMs run on BLAS in float32 or float64 and are checked
against that bound (`exact_integer_matmul`). The kernels use the tighter bound
max|x| * max_c sum_k |w[k, c]| (every partial sum of a column, in any order,
is below it), computed once from the actual weights, and prove from it and
the bias that the int32 checks above cannot fail; where the proof fails they
run the checked functions of this module (`runtime/integer_kernels/exact_float.py`).
Functions of one int8 / int16 value (dequantize, requantize, lut, a qadd / qmul
with a one-value constant, and chains of them over one tensor) are tables made
by running the kernels on every value of the type (`runtime/integer_kernels/chains.py`).
This is evaluation only: it computes exactly the integers defined above.
"""

from __future__ import annotations

import abc
import dataclasses
import enum
import math
from collections.abc import Callable
from typing import Generic, TypeVar

import numpy as np

from afe.ir.tensor_type import ScalarType, signed_integer_type

ACCUMULATOR_BITS = 32
ACCUMULATOR_MIN = -(2**31)
ACCUMULATOR_MAX = 2**31 - 1
WEIGHT_BITS = 8
WEIGHT_MAX = 2 ** (WEIGHT_BITS - 1) - 1
INTRINSIC_SHIFT_LO = 1
INTRINSIC_SHIFT_HI = 8
INT15_LOW_BITS = 8
ARITH_FOLDED_MAX_SHIFT = 31
TFLITE_MULTIPLIER_BITS = 8
TFLITE_MULTIPLIER_MAX = 2 ** (TFLITE_MULTIPLIER_BITS - 1) - 1
TFLITE_MAX_SHIFT = 38
# A * M lives in a 40-bit register: |A * M| < 2**39.
PRODUCT_REGISTER_LIMIT = 2**39
# Left shift of the accumulator before a TFLite requantization (`shift_left_checked`).
MAX_LEFT_SHIFT = ACCUMULATOR_BITS - 1
# Headroom shift of add / sub inputs (TFLite's left_shift for int8; int16 keeps 17-bit inputs in int32).
ADD_LEFT_SHIFT_INT8 = 20
ADD_LEFT_SHIFT_INT16 = 14
_FLOAT64_EXACT = 2**53
_FLOAT32_EXACT = 2**24


class ArithmeticOverflowError(ArithmeticError):
    """An integer intermediate left the width the MLA model gives it."""


class RoundType(enum.Enum):
    """How `decompose_power_of_2` rounds the exponent (see afe.ir.quantization_conv)."""

    UPWARD = "upward"
    TONEAREST = "tonearest"
    TRUNC = "trunc"


# ---------------------------------------------------------------------------
# rounding and saturation


def round_half_away_from_zero(x: np.ndarray | float) -> np.ndarray:
    """Round to the nearest integer, ties away from zero, as int64 (exact)."""
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)) or np.any(np.abs(x) >= 2.0**62):
        raise ArithmeticOverflowError("value to round is not finite or does not fit int64")
    whole = np.trunc(x)
    # x - trunc(x) is exact in float64, so the tie test is exact too.
    away = np.abs(x - whole) >= 0.5
    return (whole + np.where(away, np.sign(x), 0.0)).astype(np.int64)


def round_half_to_even(x: np.ndarray | float) -> np.ndarray:
    """Round to the nearest integer, ties to even, as int64."""
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)) or np.any(np.abs(x) >= 2.0**62):
        raise ArithmeticOverflowError("value to round is not finite or does not fit int64")
    return np.rint(x).astype(np.int64)


def _int64_and_shift(a: np.ndarray, n: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a)
    if a.dtype.kind not in "iu":
        raise TypeError(f"integer shift of a non-integer array ({a.dtype})")
    n = np.asarray(n, dtype=np.int64)
    if np.any(n < 0) or np.any(n > 62):
        raise ValueError(f"right shift amount must be in [0, 62], got {n}")
    return a.astype(np.int64), n


def shift_right_floor(a: np.ndarray, n: np.ndarray | int) -> np.ndarray:
    """floor(a / 2**n): the arithmetic right shift."""
    a, n = _int64_and_shift(a, n)
    return a >> n


def shift_right_round_half_up(a: np.ndarray, n: np.ndarray | int) -> np.ndarray:
    """floor(a / 2**n + 1/2): round to nearest, ties toward +inf (the sima shift)."""
    a, n = _int64_and_shift(a, n)
    if n.size == 1 and n.ndim <= a.ndim:
        n = n.reshape(())
    if n.ndim == 0:  # one shift for all: no broadcasting, no select
        return a if n == 0 else (a >> n) + ((a >> (n - 1)) & 1)
    half_bit = (a >> np.maximum(n - 1, 0)) & 1
    return np.where(n > 0, (a >> n) + half_bit, a)


def shift_right_round_half_away(a: np.ndarray, n: np.ndarray | int) -> np.ndarray:
    """a / 2**n rounded to nearest, ties away from zero (TFLite's RoundingDivideByPOT)."""
    a, n = _int64_and_shift(a, n)
    magnitude = shift_right_round_half_up(np.abs(a), n)
    return np.where(a < 0, -magnitude, magnitude)


def integer_range(bits_or_type: int | ScalarType) -> tuple[int, int]:
    scalar_type = bits_or_type if isinstance(bits_or_type, ScalarType) else signed_integer_type(bits_or_type)
    return scalar_type.min_value, scalar_type.max_value


def saturate(x: np.ndarray, bits_or_type: int | ScalarType) -> np.ndarray:
    """Clamp integers to a signed type's range and store them in that type."""
    scalar_type = bits_or_type if isinstance(bits_or_type, ScalarType) else signed_integer_type(bits_or_type)
    lo, hi = integer_range(scalar_type)
    return np.clip(np.asarray(x, dtype=np.int64), lo, hi).astype(scalar_type.numpy_type())


def check_fits(values: np.ndarray, lo: int, hi: int, what: str) -> None:
    """Raise ArithmeticOverflowError if any value is outside [lo, hi]."""
    values = np.asarray(values)
    if values.size and (values.min() < lo or values.max() > hi):
        raise ArithmeticOverflowError(
            f"{what} out of range: values in [{values.min()}, {values.max()}] do not fit [{lo}, {hi}]"
        )


def check_accumulator(values: np.ndarray, what: str) -> None:
    check_fits(values, ACCUMULATOR_MIN, ACCUMULATOR_MAX, f"{what} (int32 accumulator)")


# ---------------------------------------------------------------------------
# exact integer GEMM


def _magnitude_bound(x: np.ndarray) -> int:
    """max |x| from the dtype for small integer types, from the data otherwise."""
    if x.dtype.itemsize <= 2:
        info = np.iinfo(x.dtype)
        return max(-int(info.min), int(info.max))
    return int(np.abs(x.astype(np.int64)).max(initial=0))


def exact_integer_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for integer arrays ([..., K] x [K, N]), exact, as int64.

    Sums through BLAS in float32 when K * max|a| * max|b| < 2**24 (int8 x int8
    with K up to 1023), in float64 when it is < 2**53 (always for int8/int16 x
    int8 with K < 2**31): every partial sum is then an integer the float type
    holds exactly, whatever order BLAS sums in. Otherwise in int64, checking
    that bound too.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind not in "iu" or b.dtype.kind not in "iu":
        raise TypeError(f"exact_integer_matmul needs integer arrays, got {a.dtype} and {b.dtype}")
    k = a.shape[-1]
    bound = k * _magnitude_bound(a) * _magnitude_bound(b)
    for float_type, exact_below in ((np.float32, _FLOAT32_EXACT), (np.float64, _FLOAT64_EXACT)):
        if bound < exact_below:
            return np.matmul(a.astype(float_type), b.astype(float_type)).astype(np.int64)
    if bound >= 2**63:
        raise ArithmeticOverflowError(f"integer GEMM of reduction length {k} can exceed int64")
    return np.matmul(a.astype(np.int64), b.astype(np.int64))


Contraction = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""An exact integer sum of products of an input and the weights (default: `exact_integer_matmul`).

Kernels whose products are not one GEMM (a depthwise convolution: a sum over
kernel taps) pass their own; the products below apply it to the input (or its
bytes) exactly as they apply the GEMM."""


def int8_product(x: np.ndarray, w: np.ndarray, contract: Contraction = exact_integer_matmul) -> np.ndarray:
    """The int8 algorithm's product P = x @ w (int8 input, int8 weights), checked to fit int32."""
    _check_dtype(x, np.int8, "input")
    _check_dtype(w, np.int8, "weight")
    product = contract(x, w)
    check_accumulator(product, "int8 product")
    return product


def int15_product(
    x: np.ndarray, w: np.ndarray, intrinsic_shift: np.ndarray | int, contract: Contraction = exact_integer_matmul
) -> np.ndarray:
    """The int15 algorithm's product P = floor(x @ w / 2**h) for int16 input, int8 weights.

    Computed as the hardware does, from the byte-split partial products, each
    of which is checked to fit int32. `intrinsic_shift` is a scalar or one value
    per output channel, each INTRINSIC_SHIFT_LO or INTRINSIC_SHIFT_HI.
    """
    _check_dtype(x, np.int16, "input")
    _check_dtype(w, np.int8, "weight")
    h = np.asarray(intrinsic_shift, dtype=np.int64)
    if not np.all((h == INTRINSIC_SHIFT_LO) | (h == INTRINSIC_SHIFT_HI)):
        raise ValueError(f"intrinsic shift must be {INTRINSIC_SHIFT_LO} or {INTRINSIC_SHIFT_HI}, got {h}")
    x_hi = (x >> INT15_LOW_BITS).astype(np.int8)
    x_lo = (x.astype(np.int32) & 0xFF).astype(np.int16)
    p_hi = contract(x_hi, w)
    p_lo = contract(x_lo, w)
    check_accumulator(p_hi, "int15 high-byte product")
    check_accumulator(p_lo, "int15 low-byte product")
    p_hi_shifted = p_hi << (INT15_LOW_BITS - h)
    check_accumulator(p_hi_shifted, "int15 shifted high-byte product")
    product = p_hi_shifted + (p_lo >> h)
    check_accumulator(product, "int15 product")
    return product


def mla_product(
    x: np.ndarray, w: np.ndarray, intrinsic_shift: np.ndarray | int = 0, contract: Contraction = exact_integer_matmul
) -> np.ndarray:
    """P for an int8 (h must be 0) or int16 (int15 algorithm) input."""
    if x.dtype == np.int8:
        if np.any(np.asarray(intrinsic_shift) != 0):
            raise ValueError("the int8 algorithm has no intrinsic shift")
        return int8_product(x, w, contract)
    return int15_product(x, w, intrinsic_shift, contract)


def accumulate(product: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """A = P + B, checked to fit the int32 accumulator."""
    check_accumulator(product, "product")
    if bias is None:
        return np.asarray(product, dtype=np.int64)
    check_accumulator(bias, "bias")
    total = np.asarray(product, dtype=np.int64) + np.asarray(bias, dtype=np.int64)
    check_accumulator(total, "product + bias")
    return total


def _check_dtype(x: np.ndarray, dtype: type, what: str) -> None:
    if np.asarray(x).dtype != np.dtype(dtype):
        raise TypeError(f"{what} must be {np.dtype(dtype).name}, got {np.asarray(x).dtype}")


# ---------------------------------------------------------------------------
# requantization

T = TypeVar("T")


class BaseRequantization(abc.ABC, Generic[T]):
    """Requantization of the accumulator to the output type.

    Per-channel constants are 1-D and broadcast against the last (channel) axis.
    """

    @abc.abstractmethod
    def requantize(self, accumulator: np.ndarray, output_type: ScalarType, relu: bool = False) -> np.ndarray:
        """The output integers for accumulator values A (see the module docstring)."""

    @abc.abstractmethod
    def real_scale(self) -> np.ndarray:
        """The real factor the requantization multiplies by (ignoring rounding), float64."""


def scale_by_multiplier(accumulator: np.ndarray, multiplier: np.ndarray | int, shift: np.ndarray | int) -> np.ndarray:
    """rshift_half_away(A * M, n), the TFLite rescale: A must fit int32 and A * M the 40-bit register."""
    check_accumulator(accumulator, "accumulator")
    scaled = np.asarray(accumulator, dtype=np.int64) * np.asarray(multiplier, dtype=np.int64)
    check_fits(scaled, -PRODUCT_REGISTER_LIMIT, PRODUCT_REGISTER_LIMIT - 1, "accumulator * multiplier (40-bit)")
    return shift_right_round_half_away(scaled, shift)


def _check_shift(shift: np.ndarray, max_shift: int, what: str) -> np.ndarray:
    shift = np.asarray(shift, dtype=np.int64)
    if shift.ndim > 1 or np.any(shift < 0) or np.any(shift > max_shift):
        raise ValueError(f"{what} shift must be a scalar or 1-D in [0, {max_shift}], got {shift}")
    return shift


@dataclasses.dataclass(frozen=True, eq=False)
class ArithFoldedRequantization(BaseRequantization[np.ndarray]):
    """sima mode: y = sat(rshift_half_up(A, shift)); zero point folded into the bias."""

    shift: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "shift", _check_shift(self.shift, ARITH_FOLDED_MAX_SHIFT, "arith-folded"))

    def requantize(self, accumulator: np.ndarray, output_type: ScalarType, relu: bool = False) -> np.ndarray:
        check_accumulator(accumulator, "accumulator")
        acc = np.asarray(accumulator, dtype=np.int64)
        if relu:
            acc = np.maximum(acc, 0)
        return saturate(shift_right_round_half_up(acc, self.shift), output_type)

    def real_scale(self) -> np.ndarray:
        return np.ldexp(1.0, -self.shift)

    def __repr__(self) -> str:
        return f"ArithFoldedRequantization(shift={self.shift.tolist()})"


@dataclasses.dataclass(frozen=True, eq=False)
class TFLiteRequantization(BaseRequantization[np.ndarray]):
    """tflite mode: y = sat(rshift_half_away(A * multiplier, shift) + zero_point)."""

    multiplier: np.ndarray
    shift: np.ndarray
    zero_point: int = 0

    def __post_init__(self) -> None:
        multiplier = np.asarray(self.multiplier, dtype=np.int64)
        if multiplier.ndim > 1 or np.any(multiplier < 1) or np.any(multiplier > TFLITE_MULTIPLIER_MAX):
            raise ValueError(f"TFLite multiplier must be in [1, {TFLITE_MULTIPLIER_MAX}], got {multiplier}")
        object.__setattr__(self, "multiplier", multiplier)
        object.__setattr__(self, "shift", _check_shift(self.shift, TFLITE_MAX_SHIFT, "TFLite"))
        object.__setattr__(self, "zero_point", int(self.zero_point))

    def requantize(self, accumulator: np.ndarray, output_type: ScalarType, relu: bool = False) -> np.ndarray:
        shifted = scale_by_multiplier(accumulator, self.multiplier, self.shift)
        if relu:
            shifted = np.maximum(shifted, 0)
        return saturate(shifted + self.zero_point, output_type)

    def real_scale(self) -> np.ndarray:
        return np.ldexp(self.multiplier.astype(np.float64), -self.shift)

    def __repr__(self) -> str:
        return (
            f"TFLiteRequantization(multiplier={self.multiplier.tolist()}, "
            f"shift={self.shift.tolist()}, zero_point={self.zero_point})"
        )


@dataclasses.dataclass(frozen=True, eq=False)
class FloatRequantization(BaseRequantization[np.ndarray]):
    """bfloat16 activations with integer weights: y = A * scale in floating point."""

    scale: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "scale", np.asarray(self.scale, dtype=np.float64))

    def requantize(self, accumulator: np.ndarray, output_type: ScalarType, relu: bool = False) -> np.ndarray:
        result = np.asarray(accumulator, dtype=np.float64) * self.scale
        if relu:
            result = np.maximum(result, 0.0)
        return result.astype(output_type.numpy_type())

    def real_scale(self) -> np.ndarray:
        return self.scale


def mla_gemm(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None,
    requantization: BaseRequantization,
    output_type: ScalarType,
    *,
    intrinsic_shift: np.ndarray | int = 0,
    relu: bool = False,
) -> np.ndarray:
    """The whole quantized generalized matrix product: requantize(P + B)."""
    accumulator = accumulate(mla_product(x, w, intrinsic_shift), bias)
    return requantization.requantize(accumulator, output_type, relu)


# ---------------------------------------------------------------------------
# the other integer ops (see the module docstring)


def shift_left_checked(values: np.ndarray, left_shift: int, what: str) -> np.ndarray:
    """values * 2**left_shift, exact; the values and the result must fit int32."""
    if not 0 <= int(left_shift) <= MAX_LEFT_SHIFT:
        raise ValueError(f"left shift must be in [0, {MAX_LEFT_SHIFT}], got {left_shift}")
    values = np.asarray(values, dtype=np.int64)
    check_accumulator(values, what)
    shifted = values << int(left_shift)
    if left_shift:
        check_accumulator(shifted, f"{what} << {int(left_shift)}")
    return shifted


def _centered(q: np.ndarray, zero_point: int) -> np.ndarray:
    return np.asarray(q, dtype=np.int64) - int(zero_point)


def requantize_integers(
    q: np.ndarray, zero_point: int, left_shift: int, requantization: TFLiteRequantization, output_type: ScalarType
) -> np.ndarray:
    """sima.requantize: R((q - z_in) << L)."""
    return requantization.requantize(shift_left_checked(_centered(q, zero_point), left_shift, "q - zero point"), output_type)


@dataclasses.dataclass(frozen=True)
class InputRescale:
    """How add / sub bring one input to the common unit: t = rshift_half_away(((q - z) << L) * M, n)."""

    zero_point: int
    multiplier: int
    shift: int

    def __post_init__(self) -> None:
        if not 1 <= int(self.multiplier) <= TFLITE_MULTIPLIER_MAX:
            raise ValueError(f"input multiplier must be in [1, {TFLITE_MULTIPLIER_MAX}], got {self.multiplier}")
        if not 0 <= int(self.shift) <= TFLITE_MAX_SHIFT:
            raise ValueError(f"input shift must be in [0, {TFLITE_MAX_SHIFT}], got {self.shift}")

    def apply(self, q: np.ndarray, left_shift: int) -> np.ndarray:
        headroom = shift_left_checked(_centered(q, self.zero_point), left_shift, "input - zero point")
        rescaled = scale_by_multiplier(headroom, self.multiplier, self.shift)
        check_accumulator(rescaled, "rescaled input")
        return rescaled

    def real_scale(self) -> float:
        return math.ldexp(int(self.multiplier), -int(self.shift))


def add_integers(
    lhs: np.ndarray,
    rhs: np.ndarray,
    lhs_rescale: InputRescale,
    rhs_rescale: InputRescale,
    left_shift: int,
    requantization: TFLiteRequantization,
    output_type: ScalarType,
    *,
    subtract: bool = False,
) -> np.ndarray:
    """sima.qadd / sima.qsub: R(t_lhs +- t_rhs), inputs broadcast."""
    t_lhs = lhs_rescale.apply(lhs, left_shift)
    t_rhs = rhs_rescale.apply(rhs, left_shift)
    return requantization.requantize(t_lhs - t_rhs if subtract else t_lhs + t_rhs, output_type)


def multiply_integers(
    lhs: np.ndarray,
    lhs_zero_point: int,
    rhs: np.ndarray,
    rhs_zero_point: int,
    left_shift: int,
    requantization: TFLiteRequantization,
    output_type: ScalarType,
) -> np.ndarray:
    """sima.qmul: R(((q_1 - z_1) * (q_2 - z_2)) << L), inputs broadcast."""
    product = _centered(lhs, lhs_zero_point) * _centered(rhs, rhs_zero_point)
    return requantization.requantize(shift_left_checked(product, left_shift, "product"), output_type)


def matmul_integers(
    lhs: np.ndarray,
    lhs_zero_point: int,
    rhs: np.ndarray,
    rhs_zero_point: int,
    left_shift: int,
    requantization: TFLiteRequantization,
    output_type: ScalarType,
) -> np.ndarray:
    """sima.qmatmul: R((sum_k (a - z_a)(b - z_b)) << L) for [..., M, K] x [..., K, N]."""
    products = exact_integer_matmul(_centered(lhs, lhs_zero_point), _centered(rhs, rhs_zero_point))
    return requantization.requantize(shift_left_checked(products, left_shift, "sum of products"), output_type)


def requantize_window_sums(
    sums: np.ndarray, multiplier: np.ndarray, shift: np.ndarray, zero_point: int, output_type: ScalarType
) -> np.ndarray:
    """Average pools: sat(rshift_half_away(A * M, n) + z) with M and n given per position
    (chosen by the number of valid taps; the divisor is folded into them)."""
    multiplier, shift = np.asarray(multiplier, dtype=np.int64), np.asarray(shift, dtype=np.int64)
    if np.any(multiplier < 1) or np.any(multiplier > TFLITE_MULTIPLIER_MAX):
        raise ValueError(f"pool multipliers must be in [1, {TFLITE_MULTIPLIER_MAX}]")
    if np.any(shift < 0) or np.any(shift > TFLITE_MAX_SHIFT):
        raise ValueError(f"pool shifts must be in [0, {TFLITE_MAX_SHIFT}]")
    return saturate(scale_by_multiplier(sums, multiplier, shift) + int(zero_point), output_type)


def lookup(q: np.ndarray, table: np.ndarray) -> np.ndarray:
    """table[q - min_T]: one entry per value of q's integer type (256 for int8, 65536 for int16)."""
    q, table = np.asarray(q), np.asarray(table)
    if q.dtype not in (np.dtype(np.int8), np.dtype(np.int16)):
        raise TypeError(f"lookup tables index int8 or int16 values, got {q.dtype}")
    info = np.iinfo(q.dtype)
    if table.shape != (int(info.max) - int(info.min) + 1,):
        raise ValueError(f"a lookup table for {q.dtype} needs {int(info.max) - int(info.min) + 1} entries, got shape {table.shape}")
    return table[q.astype(np.intp) - int(info.min)]


# ---------------------------------------------------------------------------
# the float boundary: quantize, dequantize, lookup tables

# 2**27 + 1: splits a float64 into two halves whose products are exact (Dekker).
_SPLITTER = 134217729.0
# Quotients beyond this saturate any integer type whatever their rounding.
_QUOTIENT_LIMIT = 2.0**40


def _split(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = _SPLITTER * a
    high = c - (c - a)
    return high, a - high


def _two_product(a: np.ndarray, b: float) -> tuple[np.ndarray, np.ndarray]:
    """(p, e) with p = fl(a * b) and p + e = a * b exactly (no overflow or underflow assumed)."""
    p = a * b
    a_hi, a_lo = _split(a)
    b_hi, b_lo = _split(np.float64(b))
    e = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    return p, e


def _check_step(step: float) -> tuple[float, int]:
    """The step as m * 2**k with m in [0.5, 1)."""
    step = float(step)
    if not (math.isfinite(step) and step > 0):
        raise ValueError(f"quantization step must be positive and finite, got {step}")
    return math.frexp(step)


def quantize(x: np.ndarray, step: float, zero_point: int, output_type: int | ScalarType) -> np.ndarray:
    """sat_T(round_half_away_from_zero(x / step) + z) with the exact quotient x / step.

    The float64 quotient is the exact one rounded once, so rounding it is right
    except within its rounding error of a tie k + 1/2; there the sign of
    |x| - (k + 1/2) * step decides, the product held exactly as a double-double.
    """
    x = np.asarray(x)
    if x.dtype.kind not in "fV":  # "V": ml_dtypes' bfloat16
        raise TypeError(f"quantize takes a float array, got {x.dtype}")
    if x.ndim == 0:  # NumPy gives scalars, not arrays, for 0-d steps below (no item assignment)
        return quantize(x.reshape(1), step, zero_point, output_type).reshape(())
    values = x.astype(np.float64)
    if np.any(np.isnan(values)):
        raise ArithmeticOverflowError("cannot quantize NaN")
    mantissa, exponent = _check_step(step)
    with np.errstate(over="ignore", under="ignore"):
        scaled = np.ldexp(values, -exponent)  # x / step = scaled / mantissa; inf saturates below
    quotient = np.clip(scaled / mantissa, -_QUOTIENT_LIMIT, _QUOTIENT_LIMIT)
    magnitude = np.abs(quotient)
    whole = np.floor(magnitude)
    rounded = whole + (magnitude - whole >= 0.5)
    near_tie = np.abs(magnitude - whole - 0.5) <= magnitude * 2.0**-50
    if np.any(near_tie):
        tie = whole[near_tie] + 0.5
        product, error = _two_product(tie, mantissa)
        # |x| and (k + 1/2) * step agree to ~50 bits, so this difference is exact (Sterbenz)
        difference = np.abs(scaled[near_tie]) - product
        rounded[near_tie] = whole[near_tie] + (difference >= error)
    result = np.where(quotient < 0, -rounded, rounded).astype(np.int64)
    return saturate(result + int(zero_point), output_type)


def dequantize(q: np.ndarray, step: float, zero_point: int) -> np.ndarray:
    """(q - z) * step rounded once to the nearest float32 (ties to even).

    The float64 product p (error e: p + e exact) is rounded to float32; that
    double rounding can differ from a single one only when p is a float32
    midpoint and e != 0, and then the sign of e decides.
    """
    centered = np.asarray(q, dtype=np.int64) - int(zero_point)
    mantissa, exponent = _check_step(step)
    p, e = _two_product(centered.astype(np.float64), mantissa)
    with np.errstate(over="ignore", under="ignore"):
        p, e = np.ldexp(p, exponent), np.ldexp(e, exponent)
        nearest = p.astype(np.float32)
        wide = nearest.astype(np.float64)
        toward_p = np.nextafter(nearest, np.where(p > wide, np.float32(np.inf), np.float32(-np.inf)))
        midpoint = (wide + toward_p.astype(np.float64)) * 0.5
    tie = (p != wide) & (p == midpoint) & (e != 0) & np.isfinite(nearest)
    if np.any(tie):
        # the exact value lies beyond the midpoint on the side of e
        beyond = np.where((e > 0) == (toward_p > nearest), toward_p, nearest)
        nearest = np.where(tie, beyond, nearest)
    return nearest


def lookup_table(
    function,
    input_step: float,
    input_zero_point: int,
    input_type: int | ScalarType,
    output_step: float,
    output_zero_point: int,
    output_type: int | ScalarType,
) -> np.ndarray:
    """table[q - min] = quantize(f(dequantize(q))) for every q of the input type, f on float32."""
    low, high = integer_range(input_type)
    q = np.arange(low, high + 1, dtype=np.int64)
    real = dequantize(q, input_step, input_zero_point)
    values = np.asarray(function(real), dtype=np.float32)
    if values.shape != real.shape:
        raise ValueError(f"the table function must be elementwise: {real.shape} values gave shape {values.shape}")
    return quantize(values, output_step, output_zero_point, output_type)


# ---------------------------------------------------------------------------
# softmax, layer norm, linear resize, per-channel prelu (see the module docstring)

SOFTMAX_EXP_BITS = 23
SOFTMAX_PROB_BITS = 15
SOFTMAX_MAX_LENGTH = 2**15
LAYER_NORM_MAX_LENGTH = 4096
LAYER_NORM_Z_BITS = 11
LAYER_NORM_ROOT_BITS = 12
LAYER_NORM_GAMMA_MAX = 2**15 - 1
LAYER_NORM_MAX_EPSILON = 2**38
LAYER_NORM_BIAS_LIMIT = 2**38
SIGNED_MULTIPLIER_MAX = TFLITE_MULTIPLIER_MAX
_INT64_LIMIT = 2**63


def softmax_exp_table(step: float, bits: int) -> np.ndarray:
    """E[d] = round_half_away(exp(-d * step) * 2**23) for d in [0, 2**bits): the table of sima.qsoftmax."""
    d = np.arange(1 << bits, dtype=np.float64)
    return round_half_away_from_zero(np.exp(-d * float(step)) * float(1 << SOFTMAX_EXP_BITS)).astype(np.int32)


def softmax_integers(
    q: np.ndarray, table: np.ndarray, multiplier: int, shift: int, zero_point: int, output_type: ScalarType
) -> np.ndarray:
    """sima.qsoftmax along the last axis of q (int8 / int16)."""
    q, table = np.asarray(q), np.asarray(table)
    if q.dtype not in (np.dtype(np.int8), np.dtype(np.int16)):
        raise TypeError(f"softmax takes int8 or int16 values, got {q.dtype}")
    entries = 1 << (8 * q.dtype.itemsize)
    if table.shape != (entries,):
        raise ValueError(f"a softmax table for {q.dtype} needs {entries} entries, got shape {table.shape}")
    check_fits(table, 0, 1 << SOFTMAX_EXP_BITS, "softmax exp table")
    if int(table[0]) != 1 << SOFTMAX_EXP_BITS:
        raise ValueError(f"softmax exp table: entry 0 (exp(0)) must be {1 << SOFTMAX_EXP_BITS}, got {int(table[0])}")
    if q.shape[-1] > SOFTMAX_MAX_LENGTH:
        raise ValueError(f"softmax over {q.shape[-1]} values: at most {SOFTMAX_MAX_LENGTH}")
    wide = q.astype(np.int64)
    difference = wide.max(axis=-1, keepdims=True) - wide
    exps = table.astype(np.int64)[difference]
    sums = exps.sum(axis=-1, keepdims=True)
    check_fits(sums, 1, 1 << (SOFTMAX_EXP_BITS + 15), "softmax sum of exponentials (40-bit)")
    numerator = (exps << SOFTMAX_PROB_BITS) + (sums >> 1)
    check_fits(numerator, 0, PRODUCT_REGISTER_LIMIT - 1, "softmax numerator (40-bit)")
    probability = numerator // sums
    return saturate(scale_by_multiplier(probability, multiplier, shift) + int(zero_point), output_type)


def integer_sqrt(v: np.ndarray) -> np.ndarray:
    """floor(sqrt(v)) exactly, for int64 values in [0, 2**63)."""
    v = np.asarray(v, dtype=np.int64)
    if np.any(v < 0):
        raise ArithmeticOverflowError("square root of a negative value")
    root = np.floor(np.sqrt(v.astype(np.float64))).astype(np.int64)
    # the float64 root is within a few units of the exact one: correct it in
    # integers, comparing r with v // r (r * r would overflow near 2**63)
    for _ in range(4):
        safe = np.maximum(root, 1)
        root = np.where((root > 0) & (root > v // safe), root - 1, root)
        above = root + 1
        root = np.where(above <= v // above, above, root)
    return root


def _divide_round_half_away(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator rounded to nearest, ties away from zero (denominator > 0), exact."""
    magnitude = (2 * np.abs(numerator) + denominator) // (2 * denominator)
    return np.where(numerator < 0, -magnitude, magnitude)


def layer_norm_integers(
    q: np.ndarray, gamma: np.ndarray, beta: np.ndarray, epsilon: int, shift: int, zero_point: int, output_type: ScalarType
) -> np.ndarray:
    """sima.qlayer_norm over the last axis of q (int8); gamma (int16) and beta (int32) broadcast to it."""
    q = np.asarray(q)
    if q.dtype != np.dtype(np.int8):
        raise TypeError(f"layer norm takes int8 values, got {q.dtype}")
    n = q.shape[-1]
    if n > LAYER_NORM_MAX_LENGTH:
        raise ValueError(f"layer norm over {n} values: at most {LAYER_NORM_MAX_LENGTH}")
    if not 1 <= int(epsilon) <= LAYER_NORM_MAX_EPSILON:
        raise ValueError(f"layer norm epsilon must be in [1, {LAYER_NORM_MAX_EPSILON}], got {epsilon}")
    if not 0 <= int(shift) <= TFLITE_MAX_SHIFT:
        raise ValueError(f"layer norm shift must be in [0, {TFLITE_MAX_SHIFT}], got {shift}")
    check_fits(gamma, -LAYER_NORM_GAMMA_MAX, LAYER_NORM_GAMMA_MAX, "layer norm gamma")
    check_fits(beta, -LAYER_NORM_BIAS_LIMIT, LAYER_NORM_BIAS_LIMIT - 1, "layer norm beta")
    wide = q.astype(np.int64)
    s1 = wide.sum(axis=-1, keepdims=True)
    s2 = (wide * wide).sum(axis=-1, keepdims=True)
    check_accumulator(s2, "layer norm sum of squares")
    variance = n * s2 - s1 * s1 + int(epsilon)
    check_fits(variance, 1, (1 << 63 - 2 * LAYER_NORM_ROOT_BITS) - 1, "layer norm N**2 * variance + epsilon")
    root = integer_sqrt(variance << (2 * LAYER_NORM_ROOT_BITS))
    centered = n * wide - s1
    check_accumulator(centered, "layer norm N * (q - mean)")
    normalized = _divide_round_half_away(centered << (LAYER_NORM_Z_BITS + LAYER_NORM_ROOT_BITS), root)
    check_accumulator(normalized, "layer norm normalized value")
    scaled = normalized * np.asarray(gamma, dtype=np.int64) + np.asarray(beta, dtype=np.int64)
    check_fits(scaled, -PRODUCT_REGISTER_LIMIT, PRODUCT_REGISTER_LIMIT - 1, "layer norm z * gamma + beta (40-bit)")
    return saturate(shift_right_round_half_away(scaled, int(shift)) + int(zero_point), output_type)


def _source_coordinate(x: int, in_size: int, out_size: int, coordinate_mode: str) -> tuple[int, int]:
    """The input coordinate of output position x as an exact fraction (numerator, denominator > 0)."""
    if coordinate_mode in ("half_pixel", "pytorch_half_pixel"):
        if coordinate_mode == "pytorch_half_pixel" and out_size == 1:
            return 0, 1
        return (2 * x + 1) * in_size - out_size, 2 * out_size
    if coordinate_mode == "align_corners":
        return (0, 1) if out_size == 1 else (x * (in_size - 1), out_size - 1)
    if coordinate_mode == "asymmetric":
        return x * in_size, out_size
    raise ValueError(f"unknown coordinate mode {coordinate_mode!r}")


def resize_weights(in_size: int, out_size: int, coordinate_mode: str, weight_bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(low, high, w_high) per output position of a linear resize along one axis: the
    neighbours' indices and the Q`weight_bits` weight of `high` (that of `low` is 2**F - w_high)."""
    low, high, weight = [], [], []
    for x in range(out_size):
        numerator, denominator = _source_coordinate(x, in_size, out_size, coordinate_mode)
        numerator = min(max(numerator, 0), (in_size - 1) * denominator)  # clamp c to [0, in - 1]
        floor = numerator // denominator
        low.append(floor)
        high.append(min(floor + 1, in_size - 1))
        # floor((c - low) * 2**F + 1/2) = floor((2 * frac * 2**F + den) / (2 * den))
        weight.append(((numerator - floor * denominator) * (2 << weight_bits) + denominator) // (2 * denominator))
    return np.array(low, dtype=np.intp), np.array(high, dtype=np.intp), np.array(weight, dtype=np.int64)


def resize_linear_integers(x: np.ndarray, rows, cols, weight_bits: int) -> np.ndarray:
    """sima.qresize_linear of an NHWC int8 / int16 tensor; rows and cols from `resize_weights`."""
    x = np.asarray(x)
    bits = 8 * x.dtype.itemsize
    if x.dtype not in (np.dtype(np.int8), np.dtype(np.int16)) or bits - 1 + weight_bits > ACCUMULATOR_BITS - 2:
        raise ValueError(f"linear resize of {x.dtype} with Q{weight_bits} weights does not fit int32")
    one = 1 << weight_bits
    (row_low, row_high, row_w), (col_low, col_high, col_w) = rows, cols
    wide = x.astype(np.int64)
    wr = row_w[None, :, None, None]
    rows_sum = (one - wr) * wide[:, row_low] + wr * wide[:, row_high]
    check_accumulator(rows_sum, "linear resize row blend")
    blended_rows = shift_right_round_half_up(rows_sum, weight_bits)
    wc = col_w[None, None, :, None]
    columns_sum = (one - wc) * blended_rows[:, :, col_low] + wc * blended_rows[:, :, col_high]
    check_accumulator(columns_sum, "linear resize column blend")
    return saturate(shift_right_round_half_up(columns_sum, weight_bits), bits)


def prelu_integers(
    q: np.ndarray,
    input_zero_point: int,
    positive: tuple[int, int],
    negative_multiplier: np.ndarray,
    negative_shift: np.ndarray,
    zero_point: int,
    output_type: ScalarType,
) -> np.ndarray:
    """sima.qprelu: per channel (last axis) signed multipliers for the negative side."""
    centered = _centered(q, input_zero_point)
    multiplier = np.where(centered >= 0, int(positive[0]), np.asarray(negative_multiplier, dtype=np.int64))
    shift = np.where(centered >= 0, int(positive[1]), np.asarray(negative_shift, dtype=np.int64))
    check_fits(multiplier, -SIGNED_MULTIPLIER_MAX, SIGNED_MULTIPLIER_MAX, "prelu multiplier")
    check_fits(shift, 0, TFLITE_MAX_SHIFT, "prelu shift")
    product = centered * multiplier
    check_fits(product, -PRODUCT_REGISTER_LIMIT, PRODUCT_REGISTER_LIMIT - 1, "prelu product (40-bit)")
    return saturate(shift_right_round_half_away(product, shift) + int(zero_point), output_type)
