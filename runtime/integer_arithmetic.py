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

NumPy evaluation: products of int8/int16 values summed in float64 are exact
while K * max|x| * max|w| < 2**53 (K the reduction length), in float32 while it
is < 2**24, so the GEMMs run on BLAS in float32 or float64 and are checked
against that bound (`exact_integer_matmul`).
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
