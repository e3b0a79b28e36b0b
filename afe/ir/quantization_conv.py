"""Quantization functions for convolution and matrix multiply (seed 002).

The planner relates a real calculation c = a * w + b to the integer one of the
MLA model (`runtime.integer_arithmetic`, whose docstring is the arithmetic
specification) by

    Qw = w * Sw        Qa = a * Sa        Qc = c * Sc + Zc
    Qc = S * (Qa * Qw) / 2**h + constant terms,   S = 2**h * Sc / (Sa * Sw)

where h is the intrinsic shift of the int15 algorithm (0 for int8 inputs). It
picks Sw, Sc, S and h, then repairs the plan until every integer constant and
every worst-case intermediate fits its width. Repairs that change values fixed
at the start (`ConvBacktrackingParameters`) restart the computation via
`_Retry` inside `run_backtracking_loop`; each restart strictly increases an
adjustment (an intrinsic shift, a per-channel weight right-shift, a precision
fallback), so the loop ends.

Repairs:
* S not a power of two (sima, restricted TFLite): its fraction f in (0.5, 1] is
  folded into Sw (weights lose less than one bit). Where twice that scale gives
  a channel a smaller squared weight error (its largest weights clip at 127),
  the plan starts with a weight adjustment of -1 (`clipped_weight_refinement`);
  backtracking gives that bit up before any other.
* shift above its maximum (the product is much finer than the output): raise the
  intrinsic shift (int15) or right-shift the weights (`weight_adjustment`); a
  channel that needs 8 or more bits removed is below the output's resolution
  and quantizes to zero weights.
* shift below 0 (the product is coarser than the output; no left shift exists):
  the output scale Sc is coarsened by a power of two (with a warning), or with
  `allow_full_output_precision` a 16-bit convolution is widened to int32 output.
* output range not reachable in int32, bias or worst-case accumulator
  (sum |Qw| * max|Qa| / 2**h + |B|) overflowing int32: raise the intrinsic
  shift or right-shift the weights of the channels at fault.
* channels whose weights are all zero after quantization: Sw = 0, S = 1, and the
  output is the bias alone.

The planner takes NumPy arrays and `Quantization` objects; it knows no IR.
Weights have the output channel on their last axis (HWIO, or [K, N] for dense).
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Callable
from typing import Protocol, TypeVar

import numpy as np

from afe.ir.attributes import ConvAddActivationAttrs, ObservedDistribution
from afe.ir.defines import NodeReporter, Quantization, quantization_from_range
from afe.ir.tensor_type import ScalarType
from runtime.integer_arithmetic import (
    ACCUMULATOR_MAX,
    ARITH_FOLDED_MAX_SHIFT,
    INTRINSIC_SHIFT_HI,
    INTRINSIC_SHIFT_LO,
    TFLITE_MAX_SHIFT,
    TFLITE_MULTIPLIER_BITS,
    WEIGHT_BITS,
    ArithFoldedRequantization,
    BaseRequantization,
    FloatRequantization,
    RoundType,
    TFLiteRequantization,
    ArithmeticOverflowError,
    check_accumulator,
    check_fits,
    exact_integer_matmul,
    round_half_away_from_zero,
    shift_right_floor,
)

__all__ = [
    "ChannelScale",
    "ChannelQScale",
    "ChannelShift",
    "INTRINSIC_SHIFT_LO",
    "INTRINSIC_SHIFT_HI",
    "RoundType",
    "ConvolutionPrecision",
    "ConvPlanRequantization",
    "ConvPlanQuantizations",
    "ConvBacktrackingParameters",
    "BiasCorrector",
    "reshape_weight_to_output_channels",
    "get_quantization_range",
    "decompose_power_of_2",
    "normalize_with_pow2",
    "weight_single_quantization_scale",
    "weight_quantization_scale",
    "select_convolution_scales",
    "run_backtracking_loop",
    "adjust_plan_zero_weights",
    "clipped_weight_refinement",
    "try_increase_intrinsic_shift",
    "try_adjust_plan_shift_value",
    "try_adjust_plan_product_value",
    "try_adjust_accumulator_range",
    "quantize_convolution_scales",
    "quantize_weight_tensor",
    "try_quantize_bias_tensor",
    "quantized_product_zero_value",
    "output_zp_correction_in_bias",
    "quantize_convolution_parameters",
    "get_bfloat16_with_int_weights_quant_params",
]

ChannelScale = np.ndarray
"""Float64 scale factors: 0-D (per tensor) or 1-D (one per output channel)."""
ChannelQScale = np.ndarray
"""Integer multipliers, shaped as a ChannelScale."""
ChannelShift = np.ndarray
"""Integer shifts / exponents, shaped as a ChannelScale."""

BACKTRACKING_LIMIT = 32
# A weight adjustment this large leaves no weight bit: the channel is zero.
_WEIGHT_ADJUSTMENT_ZERO = WEIGHT_BITS
# Warn when weights keep fewer bits than this (int8 weights have 7 magnitude bits).
_WEIGHT_BITS_WARNING = 4
# Larger than any float64 exponent: marks a requantization scale that under/overflowed.
_UNREPRESENTABLE_SHIFT = 1100


class _Retry(Exception):
    """Raised inside a backtracking computation to restart it with changed parameters."""


# ---------------------------------------------------------------------------
# scales


def reshape_weight_to_output_channels(weight: np.ndarray) -> np.ndarray:
    """The weight as [K, C_out]: output[..., c] depends on reshaped[..., c] and bias[c].

    `sima` weights (HWIO convolution, [K, N] dense) already have the output
    channel last, so this flattens the other axes.
    """
    weight = np.asarray(weight)
    if weight.ndim == 0:
        raise ValueError("weight must have at least one axis (the output channel)")
    return weight.reshape(-1, weight.shape[-1])


def get_quantization_range(dtype: ScalarType | type | np.dtype, asymmetry: bool) -> tuple[int, int]:
    """The integer range to quantize into: all of a signed type if asymmetric, else symmetric.

    :param dtype: A signed integer type.
    :param asymmetry: Whether to use an asymmetric range.
    :return: (qmin, qmax); symmetric ranges are (-qmax, qmax).
    """
    scalar_type = dtype if isinstance(dtype, ScalarType) else ScalarType.from_numpy(dtype)
    if not scalar_type.is_signed_integer:
        raise ValueError(f"quantized type must be a signed integer type, got {scalar_type.value}")
    if asymmetry:
        return scalar_type.min_value, scalar_type.max_value
    return -scalar_type.max_value, scalar_type.max_value


def decompose_power_of_2(x: ChannelScale, rounding: RoundType) -> tuple[ChannelShift, ChannelScale]:
    """Decompose x into (i, f) with x = f * 2**i exactly.

    UPWARD: 0.5 < f <= 1; TONEAREST: sqrt(0.5) <= f <= sqrt(2); TRUNC: 1 <= f < 2.
    Where x is 0, f and i are 0. x must be finite and non-negative.
    """
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)) or np.any(x < 0):
        raise ValueError(f"decompose_power_of_2 needs finite non-negative values, got {x}")
    mantissa, exponent = np.frexp(x)  # x = mantissa * 2**exponent, mantissa in [0.5, 1)
    exponent = exponent.astype(np.int64)
    if rounding is RoundType.UPWARD:
        exact_pow2 = mantissa == 0.5
        f = np.where(exact_pow2, 1.0, mantissa)
        i = np.where(exact_pow2, exponent - 1, exponent)
    elif rounding is RoundType.TRUNC:
        f, i = mantissa * 2.0, exponent - 1
    elif rounding is RoundType.TONEAREST:
        low = mantissa < math.sqrt(0.5)
        f = np.where(low, mantissa * 2.0, mantissa)
        i = np.where(low, exponent - 1, exponent)
    else:
        raise ValueError(f"unknown rounding {rounding}")
    zero = x == 0
    return np.where(zero, 0, i).astype(np.int64), np.where(zero, 0.0, f)


def normalize_with_pow2(x: ChannelScale) -> tuple[ChannelShift, ChannelScale]:
    """Exponents i and factors y in (0.5, 1] with x = y * 2**i."""
    return decompose_power_of_2(x, RoundType.UPWARD)


def weight_single_quantization_scale(weight: np.ndarray, bits: int = 8) -> float:
    """Scale Sw (Qw = w * Sw) mapping max |w| to 2**(bits-1) - 1.

    0 for an all-zero weight, and for weights so small (below ~1e-306) that the
    scale would overflow float64: both quantize to zero.
    """
    largest = float(np.max(np.abs(weight), initial=0.0))
    if not math.isfinite(largest):
        raise ValueError("weight tensor contains inf or NaN")
    scale = (2 ** (bits - 1) - 1) / largest if largest > 0 else 0.0
    return scale if math.isfinite(scale) else 0.0


def weight_quantization_scale(weight: np.ndarray, per_channel: bool, bits: int = 8) -> ChannelScale:
    """Weight scale: 1-D per output channel, or 0-D per tensor; 0 where the weights are all zero."""
    if not per_channel:
        return np.asarray(weight_single_quantization_scale(weight, bits), dtype=np.float64)
    per_channel_weights = reshape_weight_to_output_channels(weight)
    return np.array(
        [weight_single_quantization_scale(per_channel_weights[:, c], bits) for c in range(per_channel_weights.shape[1])],
        dtype=np.float64,
    )


# ---------------------------------------------------------------------------
# precision


class ConvolutionPrecision(enum.Enum):
    """The precision to quantize a convolution for: output type and requantization arithmetic.

    sima_*: arith-folded requantization (a pure shift); tflite_*: 8-bit
    multiplier, shift and zero point; restricted_tflite_*: TFLite arithmetic with
    the multiplier forced to 1; sima_int32: the accumulator's int32 output.
    """

    sima_int8 = "sima_int8"
    tflite_int8 = "tflite_int8"
    restricted_tflite_int8 = "restricted_tflite_int8"
    sima_int16 = "sima_int16"
    tflite_int16 = "tflite_int16"
    restricted_tflite_int16 = "restricted_tflite_int16"
    sima_int32 = "sima_int32"

    def has_multiplier(self) -> bool:
        """True if the TFLite multiplier can differ from 1."""
        return self in (ConvolutionPrecision.tflite_int8, ConvolutionPrecision.tflite_int16)

    def has_zp_correction(self) -> bool:
        """True if a zero point is added after the shift (not folded into the bias)."""
        return self.is_tflite()

    def is_arith_folded(self) -> bool:
        return self in (ConvolutionPrecision.sima_int8, ConvolutionPrecision.sima_int16, ConvolutionPrecision.sima_int32)

    def is_tflite(self) -> bool:
        return not self.is_arith_folded()

    @property
    def output_type(self) -> ScalarType:
        if self is ConvolutionPrecision.sima_int32:
            return ScalarType.int32
        return ScalarType.int16 if self.value.endswith("int16") else ScalarType.int8

    @property
    def max_shift(self) -> int:
        return ARITH_FOLDED_MAX_SHIFT if self.is_arith_folded() else TFLITE_MAX_SHIFT

    def restricted(self) -> ConvolutionPrecision:
        """The restricted TFLite precision with this output type (the ReLU fallback)."""
        return {
            ScalarType.int8: ConvolutionPrecision.restricted_tflite_int8,
            ScalarType.int16: ConvolutionPrecision.restricted_tflite_int16,
        }[self.output_type]

    @classmethod
    def for_mode(cls, requantization_mode, bits: int) -> ConvolutionPrecision:
        """The precision for a RequantizationMode ('sima' / 'tflite') and output bits (8, 16, 32)."""
        mode = getattr(requantization_mode, "value", requantization_mode)
        if bits == 32:
            return cls.sima_int32
        return cls(f"{mode}_int{bits}")


# ---------------------------------------------------------------------------
# the adjustable plan


def _as_channel_array(x, dtype) -> np.ndarray:
    return np.array(x, dtype=dtype, copy=True)


@dataclasses.dataclass
class ConvPlanRequantization:
    """Requantization S held both as a float and as (multiplier, shift), scale ~ multiplier * 2**-shift.

    Without a multiplier (sima, restricted TFLite), multiplier is 1 and
    scale = f * 2**-shift with f in (0.5, 1] the fraction still to fold into
    the weights. With a multiplier, multiplier is the 8-bit rounding of
    scale * 2**shift, in [2**6, 2**7 - 1].
    """

    scale: ChannelScale
    shift: ChannelShift
    multiplier: ChannelQScale

    @classmethod
    def from_scale(cls, scale: ChannelScale, has_multiplier: bool) -> ConvPlanRequantization:
        scale = np.asarray(scale, dtype=np.float64)
        shift, multiplier = _quantize_requant_scale(scale, has_multiplier)
        return cls(scale.copy(), shift, multiplier)

    def deepcopy(self) -> ConvPlanRequantization:
        return ConvPlanRequantization(self.scale.copy(), self.shift.copy(), self.multiplier.copy())

    def adjust_shift(self, adjustment: ChannelShift | int) -> None:
        """Add to the right shift (the scale follows: divided by 2**adjustment)."""
        adjustment = np.asarray(adjustment, dtype=np.int64)
        self.shift = self.shift + adjustment
        self.scale = np.ldexp(self.scale, -adjustment)

    def set_unit_scale(self, positions: np.ndarray) -> None:
        """Scale 1, shift 0 and multiplier 1 at the given positions."""
        self.scale = np.where(positions, 1.0, self.scale)
        self.shift = np.where(positions, 0, self.shift).astype(np.int64)
        self.multiplier = np.where(positions, 1, self.multiplier).astype(np.int64)


def _quantize_requant_scale(scale: np.ndarray, has_multiplier: bool) -> tuple[np.ndarray, np.ndarray]:
    """(shift, multiplier) for a requantization scale.

    A scale that underflowed to 0 gets a shift beyond any maximum and one that
    overflowed to inf a negative one beyond any minimum, so the repairs see them.
    """
    usable = np.isfinite(scale) & (scale > 0)
    exponent, fraction = normalize_with_pow2(np.where(usable, scale, 1.0))
    unusable_shift = np.where(scale == 0, _UNREPRESENTABLE_SHIFT, -_UNREPRESENTABLE_SHIFT)
    if not has_multiplier:
        return np.where(usable, -exponent, unusable_shift).astype(np.int64), np.ones_like(exponent)
    mantissa_bits = TFLITE_MULTIPLIER_BITS - 1
    multiplier = round_half_away_from_zero(np.ldexp(fraction, mantissa_bits))  # in [64, 128]
    overflow = multiplier == 2**mantissa_bits
    multiplier = np.where(overflow, 2 ** (mantissa_bits - 1), multiplier)
    shift = mantissa_bits - exponent - np.where(overflow, 1, 0)
    return np.where(usable, shift, unusable_shift).astype(np.int64), np.where(usable, multiplier, 1).astype(np.int64)


@dataclasses.dataclass
class ConvPlanQuantizations:
    """Adjustable quantization parameters for a convolution or matrix multiply.

    Relates c = a * w + b to Qc = S * (Qa * Qw) / 2**h + constant terms, with
    Qw = w * Sw, Qa = a * Sa, Qc = c * Sc + Zc and S = 2**h * Sc / (Sa * Sw).

    :param weight: Sw, 0-D or 1-D; may contain 0 (the weights are all zero there).
    :param output: Quantization (Sc, Zc) of the output.
    :param requant: S, kept consistent with the other fields by every method.
    :param intrinsic_shift: h, shaped as weight.
    :param input_scale: Sa.
    :param has_multiplier: Whether S is represented with a TFLite multiplier.
    :param output_coarsening: How many powers of two the output scale Sc was
        divided by to keep shifts non-negative (0 if it has its calibrated value).
    """

    weight: ChannelScale
    output: Quantization
    requant: ConvPlanRequantization
    intrinsic_shift: np.ndarray
    input_scale: float
    has_multiplier: bool
    output_coarsening: int = 0

    def deepcopy(self) -> ConvPlanQuantizations:
        return dataclasses.replace(
            self,
            weight=self.weight.copy(),
            requant=self.requant.deepcopy(),
            intrinsic_shift=self.intrinsic_shift.copy(),
        )

    def _rescale_requant(self, exponent: np.ndarray | int) -> None:
        """S *= 2**exponent, keeping the multiplier representation consistent."""
        exponent = np.asarray(exponent, dtype=np.int64)
        nonzero = self.weight != 0
        self.requant.adjust_shift(np.where(nonzero, -exponent, 0))

    def set_intrinsic_shift(self, value: np.ndarray) -> None:
        """Set h; S scales by 2**(h_new - h_old)."""
        value = np.broadcast_to(np.asarray(value, dtype=np.int64), self.weight.shape).copy()
        self._rescale_requant(value - self.intrinsic_shift)
        self.intrinsic_shift = value

    def set_weight_zero(self, positions: np.ndarray) -> None:
        """Sw = 0 at the given channel positions."""
        self.weight = np.where(positions, 0.0, self.weight)

    def set_requant_one(self, positions: np.ndarray) -> None:
        """S = 1 at the given channel positions."""
        self.requant.set_unit_scale(positions)

    def scale_weight_pow2(self, exponent: np.ndarray | int) -> None:
        """Sw *= 2**exponent (so S /= 2**exponent)."""
        exponent = np.asarray(exponent, dtype=np.int64)
        self.weight = np.ldexp(self.weight, exponent)
        self._rescale_requant(-exponent)

    def scale_output_pow2(self, exponent: int) -> None:
        """Sc *= 2**exponent (so S *= 2**exponent)."""
        self.output = self.output.with_scale_pow2(int(exponent))
        self._rescale_requant(int(exponent))
        if exponent < 0:
            self.output_coarsening -= int(exponent)

    def scale_requant_pow2(self, exponent: np.ndarray) -> None:
        """S *= 2**exponent."""
        self._rescale_requant(exponent)

    def bias_scale(self) -> ChannelScale:
        """Scale of the bias in accumulator units: Sa * Sw / 2**h, or Sc/S = Sc where Sw = 0."""
        product_scale = np.ldexp(self.input_scale * self.weight, -self.intrinsic_shift)
        return np.where(self.weight == 0, self.output.scale / self.requant.scale, product_scale)


def select_convolution_scales(
    weight: np.ndarray,
    input_quant: Quantization,
    output_distribution: ObservedDistribution,
    *,
    precision: ConvolutionPrecision,
    asymmetry: bool,
    per_channel: bool,
) -> ConvPlanQuantizations:
    """The initial plan: optimal Sw for the weights, Sc for the observed output, S from both.

    It ignores every integer limit; the try_adjust_* steps repair those.
    Outputs of int32 precision are symmetric (zero point 0).
    """
    weight_scale = weight_quantization_scale(weight, per_channel, WEIGHT_BITS)
    output_type = precision.output_type
    output = quantization_from_range(
        output_distribution.min,
        output_distribution.max,
        output_type.bits,
        asymmetric=asymmetry and output_type is not ScalarType.int32,
    )
    active = weight_scale != 0
    fraction, exponent = _requant_scale_parts(output.scale, float(input_quant.scale), np.where(active, weight_scale, 1.0))
    # An S beyond float64's range (an output range far finer than the product) would
    # become inf and lose its exponent. Coarsen the output here, as
    # try_adjust_plan_shift_value would, so S stays finite and exact.
    active_exponent = np.where(active, exponent, 0)
    coarsening = max(int(np.max(active_exponent, initial=0)) - _MAX_INITIAL_REQUANT_EXPONENT, 0)
    if coarsening:
        output = _coarsened_output(output, coarsening, _positions(active & (active_exponent == active_exponent.max())))
    scale = np.where(active, np.ldexp(fraction, np.where(active, exponent - coarsening, 0)), 1.0)
    requant = ConvPlanRequantization.from_scale(scale, precision.has_multiplier())
    return ConvPlanQuantizations(
        weight=weight_scale,
        output=output,
        requant=requant,
        intrinsic_shift=np.zeros(weight_scale.shape, dtype=np.int64),
        input_scale=float(input_quant.scale),
        has_multiplier=precision.has_multiplier(),
        output_coarsening=coarsening,
    )


# Largest power of two the initial S may reach; the repairs multiply S by at most
# 2**(INTRINSIC_SHIFT_HI + WEIGHT_BITS), far below float64's 2**1024.
_MAX_INITIAL_REQUANT_EXPONENT = 960


def _requant_scale_parts(output_scale: float, input_scale: float, weight_scale: ChannelScale) -> tuple[ChannelScale, ChannelShift]:
    """S = Sc / (Sa * Sw) as fraction * 2**exponent, computed without overflow or underflow.

    The fraction is in (0.5, 4); the exponent is exact even where S itself
    would not fit float64.
    """
    mc, ec = np.frexp(np.float64(output_scale))
    ma, ea = np.frexp(np.float64(input_scale))
    mw, ew = np.frexp(np.asarray(weight_scale, dtype=np.float64))
    return mc / (ma * mw), (int(ec) - int(ea) - ew).astype(np.int64)


def _coarsened_output(output: Quantization, coarsening: int, positions: str, earlier_coarsening: int = 0) -> Quantization:
    """The output quantization with its scale divided by 2**coarsening; a clear error if that underflows.

    `earlier_coarsening` (already applied to `output`) only makes the message speak
    of the calibrated output step.
    """
    coarse_scale = math.ldexp(output.scale, -coarsening)
    if not (coarse_scale > 0 and math.isfinite(coarse_scale)):
        calibrated_step = math.ldexp(output.step, -earlier_coarsening)
        raise ValueError(
            f"the product of input and weights of {positions} is coarser than the calibrated output "
            f"step ({calibrated_step:.6g}) by a factor 2**{coarsening + earlier_coarsening}, and a step that "
            "coarse is beyond float64: the input range times the weights exceeds what float64 can represent"
        )
    return output.with_scale_pow2(-coarsening)


# ---------------------------------------------------------------------------
# backtracking


@dataclasses.dataclass
class ConvBacktrackingParameters:
    """Values fixed at the start of an attempt; changing them restarts the computation.

    :param precision: Precision of the output calculation.
    :param relu_fallback_precision: Precision to use if `precision` cannot run
        the fused ReLU (arith-folded ReLU needs output zero point 0); None if
        `precision` is fully supported.
    :param intrinsic_shift_adjustment: bool, True where the int15 algorithm uses
        INTRINSIC_SHIFT_HI instead of INTRINSIC_SHIFT_LO; a 0-D False for int8 input.
    :param weight_adjustment: int, extra right-shift of the weights (bits of
        weight precision given up); 0-D per tensor, 1-D per channel. -1 (one bit
        more, clipping the largest weights) where `clipped_weight_refinement` chose it.
    """

    precision: ConvolutionPrecision
    relu_fallback_precision: ConvolutionPrecision | None
    intrinsic_shift_adjustment: np.ndarray
    weight_adjustment: np.ndarray

    @staticmethod
    def default_intrinsic_shift_adjustment(n_channels: int, per_channel: bool, use_int15: bool) -> np.ndarray:
        if use_int15 and per_channel:
            return np.zeros(n_channels, dtype=bool)
        return np.zeros((), dtype=bool)

    @staticmethod
    def default_weight_adjustment(n_channels: int, per_channel: bool) -> np.ndarray:
        return np.zeros(n_channels if per_channel else (), dtype=np.int64)

    def intrinsic_shift(self, use_int15: bool) -> np.ndarray:
        """h for each channel: 0 (int8), INTRINSIC_SHIFT_LO or INTRINSIC_SHIFT_HI (int15)."""
        if not use_int15:
            return np.zeros(self.weight_adjustment.shape, dtype=np.int64)
        h = np.where(self.intrinsic_shift_adjustment, INTRINSIC_SHIFT_HI, INTRINSIC_SHIFT_LO).astype(np.int64)
        return np.broadcast_to(h, self.weight_adjustment.shape).copy()


_A = TypeVar("_A")


def run_backtracking_loop(
    f: Callable[[NodeReporter], _A],
    backtracking_limit: int,
    backtracking_error_message: str,
    error_reporter: NodeReporter | None = None,
) -> _A:
    """Call f until it returns instead of raising _Retry, at most `backtracking_limit` times.

    Warnings of abandoned attempts are dropped; those of the successful one are
    passed to `error_reporter`. Running out of attempts raises a
    UserFacingException naming the node.
    """
    reporter = error_reporter if error_reporter is not None else NodeReporter()
    for _ in range(backtracking_limit):
        attempt_reporter = NodeReporter(reporter.node_name, log=False)
        try:
            result = f(attempt_reporter)
        except _Retry:
            continue
        for warning in attempt_reporter.warnings:
            reporter.warn(warning)
        return result
    raise reporter.error(f"{backtracking_error_message} (gave up after {backtracking_limit} attempts)")


def _positions(mask: np.ndarray) -> str:
    mask = np.asarray(mask)
    if mask.ndim == 0:
        return "all output channels"
    channels = np.flatnonzero(mask)
    shown = ", ".join(str(c) for c in channels[:8]) + (", ..." if len(channels) > 8 else "")
    return f"output channel(s) {shown}"


def _channel_mask(bt: ConvBacktrackingParameters, mask: np.ndarray) -> np.ndarray:
    """Reduce a per-channel mask to the shape of the weight adjustment (any, if per tensor)."""
    mask = np.asarray(mask, dtype=bool)
    return mask if bt.weight_adjustment.ndim else np.asarray(mask.any())


def _try_reduce_product(bt: ConvBacktrackingParameters, positions: np.ndarray, bits_needed: np.ndarray, use_int15: bool) -> None:
    """Make S larger by `bits_needed` powers of two at `positions`, then _Retry.

    The int15 intrinsic shift goes first (it costs little precision); then the
    weights are right-shifted. Raises _Retry whenever something changed.
    """
    positions = _channel_mask(bt, positions)
    if not positions.any():
        return
    if use_int15:
        try_increase_intrinsic_shift(bt, positions & ~bt.intrinsic_shift_adjustment)
    bits_needed = np.asarray(bits_needed, dtype=np.int64)
    if bt.weight_adjustment.ndim == 0:
        bits_needed = np.asarray(bits_needed.max(initial=0))
    grow = positions & (bt.weight_adjustment < _WEIGHT_ADJUSTMENT_ZERO)
    if grow.any():
        step = np.maximum(bits_needed, 1)
        bt.weight_adjustment = np.where(
            grow, np.minimum(bt.weight_adjustment + step, _WEIGHT_ADJUSTMENT_ZERO), bt.weight_adjustment
        )
        raise _Retry()


def adjust_plan_zero_weights(
    weights: np.ndarray, quantizations: ConvPlanQuantizations, per_channel: bool, error_reporter: NodeReporter
) -> None:
    """Where the quantized weights would be all zero, set Sw = 0 and S = 1 (output = bias)."""
    per_channel_weights = reshape_weight_to_output_channels(weights)
    scaled = np.abs(per_channel_weights) * quantizations.weight
    all_zero = np.all(scaled < 0.5, axis=0)  # round half away from zero gives 0 below 0.5
    if not per_channel:
        all_zero = np.asarray(all_zero.all())
    newly_zero = all_zero & (quantizations.weight != 0)
    if np.any(newly_zero):
        has_weights = np.any(per_channel_weights != 0, axis=0)
        lost = newly_zero & (has_weights if per_channel else np.asarray(has_weights.any()))
        if np.any(lost):
            error_reporter.warn(
                f"the weights of {_positions(lost)} are too small for the output's quantization "
                "and quantize to zero; the output there is the bias alone"
            )
    if np.any(all_zero):
        quantizations.set_weight_zero(all_zero)
        quantizations.set_requant_one(all_zero)


def clipped_weight_refinement(weights: np.ndarray, quantizations: ConvPlanQuantizations, per_channel: bool) -> np.ndarray:
    """1 where the weights are better quantized at twice the scale the plan folds them to, else 0.

    Without a multiplier, S is a power of two and its fraction f in (0.5, 1] is
    folded into Sw: the weights of a channel then span max|Qw| in (63.5, 127],
    up to one bit short of int8. At twice that scale they keep that bit and the
    largest ones clip at 127. Per channel (per tensor without `per_channel`),
    the finer scale is chosen where its weight error (rounding plus clipping,
    squared, summed over the channel) is smaller; a tie keeps the scale that
    never clips. The result is a weight adjustment of -1 (one bit more) where
    chosen: backtracking gives that bit up first when an integer does not fit.
    """
    active = quantizations.weight != 0
    _, fraction = normalize_with_pow2(np.where(active, quantizations.requant.scale, 1.0))
    folded = np.where(active, quantizations.weight * fraction, 0.0)
    # In units of the folded weight step (|w| * folded <= 127), so tiny or huge weights compare exactly.
    scaled = reshape_weight_to_output_channels(weights).astype(np.float64) * folded
    qmax = 2 ** (WEIGHT_BITS - 1) - 1

    def squared_error(refinement: int) -> np.ndarray:
        target = np.ldexp(scaled, refinement)
        error = np.clip(round_half_away_from_zero(target), -qmax, qmax) - target
        total = np.ldexp(np.square(error).sum(axis=0), -2 * refinement)
        return total if per_channel else np.asarray(total.sum())

    finer = active & (squared_error(1) < squared_error(0))
    return finer.astype(np.int64)


def try_increase_intrinsic_shift(backtracking_parameters: ConvBacktrackingParameters, positions: np.ndarray) -> None:
    """Set intrinsic_shift_adjustment to True at `positions`; _Retry if anything changed."""
    current = backtracking_parameters.intrinsic_shift_adjustment
    positions = np.asarray(positions, dtype=bool)
    if current.ndim == 0:
        positions = np.asarray(positions.any())
    if np.any(positions & ~current):
        backtracking_parameters.intrinsic_shift_adjustment = current | positions
        raise _Retry()


def try_adjust_plan_shift_value(
    backtracking_parameters: ConvBacktrackingParameters,
    quantizations: ConvPlanQuantizations,
    use_int15: bool,
    error_reporter: NodeReporter,
) -> None:
    """Bring every requantization shift into [0, max shift].

    Shifts below 0 coarsen the output scale (in the plan; no restart). Shifts
    above the maximum raise the intrinsic shift or right-shift the weights
    (restart). Channels with zero weights have shift 0 and are left alone.
    """
    precision = backtracking_parameters.precision
    active = quantizations.weight != 0
    shift = quantizations.requant.shift
    too_small = active & (shift < 0)
    if np.any(too_small):
        coarsen = int(-shift[too_small].min())
        # Refuse (clearly) an output scale that would underflow.
        at_fault = _positions(too_small & (shift == -coarsen))
        _coarsened_output(quantizations.output, coarsen, at_fault, quantizations.output_coarsening)
        quantizations.scale_output_pow2(-coarsen)
        shift = quantizations.requant.shift
    if quantizations.output_coarsening:
        # Counts the coarsening select_convolution_scales did to keep S finite.
        error_reporter.warn(
            f"the output quantization is finer than the product of input and weights can resolve; "
            f"the output scale is coarsened by 2**{quantizations.output_coarsening}"
        )
    too_large = active & (shift > precision.max_shift)
    if np.any(too_large):
        _try_reduce_product(
            backtracking_parameters, too_large, np.where(too_large, shift - precision.max_shift, 0), use_int15
        )


def _output_accumulator_bound(quantizations: ConvPlanQuantizations, precision: ConvolutionPrecision) -> np.ndarray:
    """|A| needed to reach every representable output value, per channel (0 where Sw = 0)."""
    qmin, qmax = get_quantization_range(precision.output_type, asymmetry=True)
    zp = quantizations.output.zero_point
    # In sima mode the zero point is folded into the bias and so into A.
    reach = max(abs(qmin), abs(qmax)) if precision.is_arith_folded() else max(zp - qmin, qmax - zp)
    # Rounding lets A exceed reach / S by half an output step.
    with np.errstate(over="ignore"):
        bound = (reach + 0.5) / quantizations.requant.scale
    return np.where(quantizations.weight != 0, bound, 0.0)


def try_adjust_plan_product_value(
    backtracking_parameters: ConvBacktrackingParameters,
    quantizations: ConvPlanQuantizations,
    use_int15: bool,
    error_reporter: NodeReporter,
) -> None:
    """Make the accumulator values that produce the output's representable range fit int32.

    Not applicable to int32 outputs, whose range is the accumulator's own.
    """
    precision = backtracking_parameters.precision
    if precision.output_type is ScalarType.int32:
        return
    bound = _output_accumulator_bound(quantizations, precision)
    over = bound > ACCUMULATOR_MAX
    if np.any(over):
        excess = np.minimum(np.where(over, bound, 1.0) / ACCUMULATOR_MAX, 2.0**1000)
        bits = np.ceil(np.log2(excess)).astype(np.int64)
        _try_reduce_product(backtracking_parameters, over, bits, use_int15)


def worst_case_accumulator(
    q_weight: np.ndarray, q_bias: np.ndarray, input_bits: int, intrinsic_shift: np.ndarray
) -> np.ndarray:
    """Largest magnitude, over every input of the given width, of any int32
    intermediate of the MLA model (P, A = P + B, and the int15 partial products), per channel."""
    weight_sum = np.abs(reshape_weight_to_output_channels(q_weight).astype(np.int64)).sum(axis=0)
    largest_input = 2 ** (input_bits - 1)
    # |floor(sum x w / 2**h)| <= ceil(sum|w| * 2**(bits-1) / 2**h); this also bounds the
    # int15 high-byte partial (sum|w| * 2**7) << (8 - h).
    worst = -((-weight_sum * largest_input) >> intrinsic_shift) + np.abs(np.asarray(q_bias, dtype=np.int64))
    if input_bits == 16:
        worst = np.maximum(worst, weight_sum * 255)  # the int15 low-byte partial sum
    return worst


def try_adjust_accumulator_range(
    backtracking_parameters: ConvBacktrackingParameters,
    q_weight: np.ndarray,
    q_bias: np.ndarray,
    use_int15: bool,
) -> None:
    """Make the worst case |P| + |B| over all inputs fit int32 (the int15 partial
    products are bounded by the same sum); otherwise reduce the product and _Retry."""
    input_bits = 16 if use_int15 else 8
    h = backtracking_parameters.intrinsic_shift(use_int15)
    worst = worst_case_accumulator(q_weight, q_bias, input_bits, np.broadcast_to(h, q_bias.shape))
    over = worst > ACCUMULATOR_MAX
    if np.any(over):
        bits = np.ceil(np.log2(np.where(over, worst, 1) / ACCUMULATOR_MAX)).astype(np.int64)
        _try_reduce_product(backtracking_parameters, over, bits, use_int15)


def quantize_convolution_scales(
    quantizations: ConvPlanQuantizations, precision: ConvolutionPrecision, allow_full_output_precision: bool
) -> tuple[ChannelScale, ChannelScale, BaseRequantization[np.ndarray], ScalarType, Quantization]:
    """The final weight scale, bias scale, requantization, output type and output quantization.

    Without a multiplier the fraction of S is folded into Sw, making S = 2**-shift
    exactly. `allow_full_output_precision` is handled by the caller, which widens
    a 16-bit plan whose output had to be coarsened to sima_int32 and replans.
    """
    del allow_full_output_precision  # the widening decision is taken before this point
    plan = quantizations.deepcopy()
    active = plan.weight != 0
    if not precision.has_multiplier():
        exponent, fraction = normalize_with_pow2(np.where(active, plan.requant.scale, 1.0))
        plan.weight = np.where(active, plan.weight * fraction, 0.0)
        plan.requant = ConvPlanRequantization(
            scale=np.where(active, np.ldexp(1.0, exponent), 1.0),
            shift=np.where(active, -exponent, 0).astype(np.int64),
            multiplier=np.ones(exponent.shape, dtype=np.int64),
        )
    check_fits(plan.requant.shift, 0, precision.max_shift, "requantization shift")
    output_type = precision.output_type
    if precision.is_arith_folded():
        requant: BaseRequantization = ArithFoldedRequantization(plan.requant.shift)
    else:
        requant = TFLiteRequantization(plan.requant.multiplier, plan.requant.shift, plan.output.zero_point)
    return plan.weight, plan.bias_scale(), requant, output_type, plan.output


def quantize_weight_tensor(weight: np.ndarray, weight_scale: ChannelScale, bits: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Quantized weights (int8, round half away from zero, clipped to +-(2**(bits-1) - 1))
    and the fake-quantized weights (quantized / scale, 0 where the scale is 0)."""
    weight = np.asarray(weight, dtype=np.float64)
    scale = np.asarray(weight_scale, dtype=np.float64)
    qmax = 2 ** (bits - 1) - 1
    quantized = np.clip(round_half_away_from_zero(weight * scale), -qmax, qmax).astype(np.int8)
    with np.errstate(divide="ignore", invalid="ignore"):
        fake = np.where(scale != 0, quantized / np.where(scale != 0, scale, 1.0), 0.0)
    return quantized, fake.astype(np.float32)


def try_quantize_bias_tensor(
    backtracking_parameters: ConvBacktrackingParameters,
    bias: np.ndarray | None,
    zp_correction: np.ndarray,
    bias_scale: ChannelScale,
    use_int15: bool,
    per_channel: bool,
    constant_channels: np.ndarray | None = None,
) -> np.ndarray:
    """B = round(bias * bias_scale) + zp_correction as int32; reduce the product and
    _Retry where it does not fit.

    In `constant_channels` (zero weights, S = 1) the output is the constant
    sat(B): there B is clipped to +-2**30, which saturates to the same output.
    """
    del per_channel  # the shape of the backtracking parameters carries it
    correction = np.asarray(zp_correction, dtype=np.int64)
    n_channels = correction.shape[-1] if correction.ndim else np.shape(bias)[-1]
    bias = np.zeros(n_channels) if bias is None else np.asarray(bias, dtype=np.float64)
    if not np.all(np.isfinite(bias)):
        raise ValueError("bias contains inf or NaN")
    with np.errstate(over="ignore"):  # a bias beyond float64 in accumulator units is just "too large"
        scaled = np.broadcast_to(bias * np.asarray(bias_scale, dtype=np.float64), (n_channels,))
    margin = 2.0**62
    exact = np.abs(scaled) < margin
    total = np.where(exact, round_half_away_from_zero(np.where(exact, scaled, 0.0)) + correction, 0)
    total_float = np.where(exact, total.astype(np.float64), scaled)
    over = np.abs(total_float) > ACCUMULATOR_MAX
    constant = np.zeros(n_channels, dtype=bool) if constant_channels is None else np.broadcast_to(constant_channels, (n_channels,))
    adjustable = np.broadcast_to(backtracking_parameters.weight_adjustment < _WEIGHT_ADJUSTMENT_ZERO, (n_channels,))
    reducible = over & adjustable & ~constant
    if np.any(reducible):
        excess = np.abs(np.where(reducible, total_float, 1.0)) / ACCUMULATOR_MAX
        bits = np.ceil(np.log2(np.minimum(excess, 2.0**_WEIGHT_ADJUSTMENT_ZERO))).astype(np.int64)
        _try_reduce_product(backtracking_parameters, reducible, bits, use_int15)
    if np.any(over & ~constant):
        raise ArithmeticOverflowError("quantized bias does not fit int32 after every adjustment")
    clipped = np.clip(total_float, -(2.0**30), 2.0**30)
    return np.where(over, clipped, total).astype(np.int64).astype(np.int32)


def quantized_product_zero_value(
    q_weight: np.ndarray, zero_point: int, intrinsic_shift: np.ndarray | int
) -> np.ndarray:
    """P (as the MLA computes it) for an input filled with the zero point, per output channel."""
    per_channel_weights = reshape_weight_to_output_channels(q_weight).astype(np.int64)
    exact = exact_integer_matmul(np.full((1, per_channel_weights.shape[0]), zero_point, dtype=np.int64), per_channel_weights)[0]
    # floor(sum x w / 2**h) is what both the int8 (h = 0) and int15 algorithms compute.
    return shift_right_floor(exact, np.broadcast_to(np.asarray(intrinsic_shift, dtype=np.int64), exact.shape))


def output_zp_correction_in_bias(
    precision: ConvolutionPrecision, output_quant: Quantization, requantization: BaseRequantization[np.ndarray]
) -> np.ndarray | int:
    """Zc * 2**shift for arith-folded requantization (the zero point enters A through the bias);
    0 where the zero point is added after the shift (TFLite)."""
    if precision.has_zp_correction():
        return 0
    shift = np.asarray(requantization.shift, dtype=np.int64)
    return output_quant.zero_point * (np.int64(1) << shift)


class BiasCorrector(Protocol):
    """Computes a float correction added to the bias from the weight quantization error.

    Called with the float weights and the fake-quantized ones; returns one value
    per output channel (or None for no correction).
    """

    def __call__(self, weight: np.ndarray, fake_quantized_weight: np.ndarray) -> np.ndarray | None: ...


def no_bias_correction(weight: np.ndarray, fake_quantized_weight: np.ndarray) -> None:
    """The BiasCorrector that corrects nothing."""
    return None


def quantize_convolution_parameters(
    input_quant: Quantization,
    output_distribution: ObservedDistribution,
    weight: np.ndarray,
    bias: np.ndarray | None,
    *,
    per_channel: bool,
    bias_corrector: BiasCorrector = no_bias_correction,
    asymmetry: bool,
    use_int15: bool,
    use_sima_relu_workaround: bool,
    precision: ConvolutionPrecision,
    allow_full_output_precision: bool,
    error_reporter: NodeReporter | None = None,
) -> tuple[np.ndarray, np.ndarray, BaseRequantization[np.ndarray], ScalarType, Quantization, np.ndarray]:
    """Quantized weight (int8, shaped as `weight`), bias (int32 [C]), requantization,
    output type, output quantization and msb_left_shift.

    msb_left_shift is a bool array shaped as the intrinsic shift adjustment
    (0-D, or [C] for per-channel int15): True where the int15 algorithm uses
    h = INTRINSIC_SHIFT_LO; all False for int8 inputs. The intrinsic shift is
    h = 0 (int8), or INTRINSIC_SHIFT_LO where msb_left_shift else INTRINSIC_SHIFT_HI.

    The result satisfies the MLA model: every constant fits its type, and for
    every input of the input's type the accumulator fits int32.
    """
    reporter = error_reporter if error_reporter is not None else NodeReporter()
    weight = np.asarray(weight)
    if weight.ndim < 1 or weight.size == 0:
        raise reporter.error(f"weight must be a non-empty tensor, got shape {weight.shape}")
    if not np.all(np.isfinite(weight)):
        raise reporter.error("weight contains inf or NaN")
    n_channels = weight.shape[-1]
    if bias is not None:
        bias = np.asarray(bias, dtype=np.float64)
        if bias.shape != (n_channels,):
            raise reporter.error(f"bias shape {bias.shape} must be ({n_channels},), one value per output channel")
        if not np.all(np.isfinite(bias)):
            raise reporter.error("bias contains inf or NaN")
    expected_input_bits = 16 if use_int15 else 8
    if input_quant.bits != expected_input_bits:
        raise reporter.error(
            f"input is quantized to int{input_quant.bits}, but the "
            f"{'int15' if use_int15 else 'int8'} algorithm needs int{expected_input_bits}"
        )
    if use_sima_relu_workaround and precision not in (ConvolutionPrecision.sima_int8, ConvolutionPrecision.sima_int16):
        raise ValueError(f"use_sima_relu_workaround applies to sima_int8/sima_int16 only, not {precision.value}")

    bt = ConvBacktrackingParameters(
        precision=precision,
        relu_fallback_precision=precision.restricted() if use_sima_relu_workaround else None,
        intrinsic_shift_adjustment=ConvBacktrackingParameters.default_intrinsic_shift_adjustment(
            n_channels, per_channel, use_int15
        ),
        weight_adjustment=ConvBacktrackingParameters.default_weight_adjustment(n_channels, per_channel),
    )

    def refine_weights() -> None:
        # Recovers the bit the folded fraction costs where that lowers the weight error; the
        # fraction is invariant under the power-of-two repairs, so the choice is made once.
        if not precision.has_multiplier():
            initial = select_convolution_scales(
                weight, input_quant, output_distribution, precision=precision, asymmetry=asymmetry, per_channel=per_channel
            )
            bt.weight_adjustment = -clipped_weight_refinement(weight, initial, per_channel)

    def attempt(attempt_reporter: NodeReporter):
        plan = select_convolution_scales(
            weight, input_quant, output_distribution, precision=bt.precision, asymmetry=asymmetry, per_channel=per_channel
        )
        plan.set_intrinsic_shift(bt.intrinsic_shift(use_int15))
        plan.scale_weight_pow2(-bt.weight_adjustment)
        adjust_plan_zero_weights(weight, plan, per_channel, attempt_reporter)
        try_adjust_plan_shift_value(bt, plan, use_int15, attempt_reporter)
        if plan.output_coarsening and allow_full_output_precision and bt.precision.output_type is ScalarType.int16:
            bt.precision = ConvolutionPrecision.sima_int32
            bt.relu_fallback_precision = None
            raise _Retry()
        try_adjust_plan_product_value(bt, plan, use_int15, attempt_reporter)
        weight_scale, bias_scale, requant, output_type, output_quant = quantize_convolution_scales(
            plan, bt.precision, allow_full_output_precision
        )
        if bt.relu_fallback_precision is not None and bt.precision.is_arith_folded() and output_quant.zero_point != 0:
            # The arith-folded ReLU clamps A at 0, which is real 0 only if Zc == 0.
            bt.precision, bt.relu_fallback_precision = bt.relu_fallback_precision, None
            raise _Retry()
        weight_scale_full = np.broadcast_to(weight_scale, (n_channels,))
        q_weight, fake_weight = quantize_weight_tensor(weight, weight_scale_full, WEIGHT_BITS)
        h = plan.intrinsic_shift
        zp_correction = -quantized_product_zero_value(q_weight, input_quant.zero_point, h) + output_zp_correction_in_bias(
            bt.precision, output_quant, requant
        )
        correction = bias_corrector(weight, fake_weight)
        corrected_bias = bias
        if correction is not None:
            corrected_bias = (np.zeros(n_channels) if bias is None else bias) + np.asarray(correction, dtype=np.float64)
        q_bias = try_quantize_bias_tensor(
            bt,
            corrected_bias,
            zp_correction,
            np.broadcast_to(bias_scale, (n_channels,)),
            use_int15,
            per_channel,
            constant_channels=np.broadcast_to(weight_scale == 0, (n_channels,)),
        )
        try_adjust_accumulator_range(bt, q_weight, q_bias, use_int15)
        # The invariant the MLA model relies on, checked on the final constants.
        worst = worst_case_accumulator(q_weight, q_bias, expected_input_bits, np.broadcast_to(h, (n_channels,)))
        check_accumulator(worst, "worst-case accumulator")
        kept_bits = WEIGHT_BITS - 1 - bt.weight_adjustment
        narrowed = (kept_bits > 0) & (kept_bits < _WEIGHT_BITS_WARNING)
        if np.any(narrowed):
            attempt_reporter.warn(
                f"the weights of {_positions(narrowed)} keep fewer than {_WEIGHT_BITS_WARNING} bits "
                "so that the integers fit the MLA's int32 accumulator"
            )
        msb_left_shift = ~bt.intrinsic_shift_adjustment if use_int15 else np.zeros((), dtype=bool)
        return q_weight, q_bias, requant, output_type, output_quant, np.array(msb_left_shift)

    try:
        refine_weights()
        return run_backtracking_loop(
            attempt,
            BACKTRACKING_LIMIT,
            "could not find a convolution quantization whose integers fit the MLA's int32 accumulator",
            reporter,
        )
    except (ValueError, ArithmeticOverflowError) as error:
        # Scales beyond float64's range, or a bias the accumulator cannot hold.
        raise reporter.error(f"cannot quantize this convolution: {error}") from error


def get_bfloat16_with_int_weights_quant_params(
    attrs: ConvAddActivationAttrs, per_channel: bool, bits: int
) -> tuple[np.ndarray, np.ndarray | None, BaseRequantization[np.ndarray]]:
    """Integer weights (int8 or int4 values, stored as int8) for a bfloat16 convolution.

    The bias stays floating point: it is returned in product units (bias * Sw),
    to be added to the float product before the requantization multiplies by 1/Sw.
    """
    if bits not in (4, 8):
        raise ValueError(f"bfloat16 convolutions take int8 or int4 weights, not {bits} bits")
    weight_scale = weight_quantization_scale(attrs.weights, per_channel, bits)
    # All-zero weights quantize to 0 under any scale; scale 1 keeps their bias intact.
    weight_scale = np.where(weight_scale == 0, 1.0, weight_scale)
    n_channels = np.shape(attrs.weights)[-1]
    q_weight, _ = quantize_weight_tensor(attrs.weights, np.broadcast_to(weight_scale, (n_channels,)), bits)
    bias = None if attrs.bias is None else (np.asarray(attrs.bias, dtype=np.float64) * weight_scale).astype(np.float32)
    return q_weight, bias, FloatRequantization(1.0 / weight_scale)
