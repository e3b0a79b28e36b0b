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

NumPy evaluation: products of int8/int16 values summed in float64 are exact
while K * max|x| * max|w| < 2**53 (K the reduction length), so the GEMMs run on
BLAS in float64 and are checked against that bound (`exact_integer_matmul`).
"""

from __future__ import annotations

import abc
import dataclasses
import enum
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
_FLOAT64_EXACT = 2**53


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

    Sums in float64 through BLAS when K * max|a| * max|b| < 2**53 (always for
    int8/int16 x int8 with K < 2**31); otherwise in int64, checking that bound too.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind not in "iu" or b.dtype.kind not in "iu":
        raise TypeError(f"exact_integer_matmul needs integer arrays, got {a.dtype} and {b.dtype}")
    k = a.shape[-1]
    bound = k * _magnitude_bound(a) * _magnitude_bound(b)
    if bound < _FLOAT64_EXACT:
        return np.rint(np.matmul(a.astype(np.float64), b.astype(np.float64))).astype(np.int64)
    if bound >= 2**63:
        raise ArithmeticOverflowError(f"integer GEMM of reduction length {k} can exceed int64")
    return np.matmul(a.astype(np.int64), b.astype(np.int64))


def int8_product(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The int8 algorithm's product P = x @ w (int8 input, int8 weights), checked to fit int32."""
    _check_dtype(x, np.int8, "input")
    _check_dtype(w, np.int8, "weight")
    product = exact_integer_matmul(x, w)
    check_accumulator(product, "int8 product")
    return product


def int15_product(x: np.ndarray, w: np.ndarray, intrinsic_shift: np.ndarray | int) -> np.ndarray:
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
    p_hi = exact_integer_matmul(x_hi, w)
    p_lo = exact_integer_matmul(x_lo, w)
    check_accumulator(p_hi, "int15 high-byte product")
    check_accumulator(p_lo, "int15 low-byte product")
    p_hi_shifted = p_hi << (INT15_LOW_BITS - h)
    check_accumulator(p_hi_shifted, "int15 shifted high-byte product")
    product = p_hi_shifted + (p_lo >> h)
    check_accumulator(product, "int15 product")
    return product


def mla_product(x: np.ndarray, w: np.ndarray, intrinsic_shift: np.ndarray | int = 0) -> np.ndarray:
    """P for an int8 (h must be 0) or int16 (int15 algorithm) input."""
    if x.dtype == np.int8:
        if np.any(np.asarray(intrinsic_shift) != 0):
            raise ValueError("the int8 algorithm has no intrinsic shift")
        return int8_product(x, w)
    return int15_product(x, w, intrinsic_shift)


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
        check_accumulator(accumulator, "accumulator")
        scaled = np.asarray(accumulator, dtype=np.int64) * self.multiplier
        check_fits(scaled, -(2**39), 2**39 - 1, "accumulator * multiplier (40-bit)")
        shifted = shift_right_round_half_away(scaled, self.shift)
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
