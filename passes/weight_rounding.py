"""`weight-rounding`: replace the int8 weights of quantized convolutions and
dense layers with recorded, re-rounded ones, keeping every guarantee of the plan.

The data step (`runtime/weight_rounding.py`, GPTQ on calibration data)
chooses other integers for the weights on the planner's own per-channel
steps; this pass only applies them, so it can be run and tested on IR alone.

Input. A `sima.qconv2d` or `sima.qdense` carrying the discardable attribute

    rounded_weight = #sima.ndarray<"<name>", tensor<...xi8>, "0x...">

shaped as the op's weight, and optionally

    rounded_bias_delta = array<f64: d_0, d_1, ...>

one real amount per output channel to add to the layer's pre-activation output
with the new weights (compensating weights refit the bias too). Ops without
`rounded_weight` are left alone.

Rewrite, per output channel c:
- the bias holds the input zero-point correction -P0(Qw) (`quantized_product_zero_value`:
  P for an input filled with the zero point, floor(z_in sum Qw / 2**h)), so
  B[c] += P0(old Qw)[c] - P0(new Qw)[c] + round(d_c / unit[c]) (`accumulator_unit`);
  everything else in B (the rounded
  float bias, the output zero point of sima mode, any bias correction) does
  not depend on Qw and stays;
- the channel takes the new weights and bias only if they are in [-127, 127] (the
  planner's symmetric int8 range) and the planner's worst case
  |P| + |B| (`worst_case_accumulator`, over every input of the input's width)
  still fits int32; otherwise it keeps its weights and bias, and a warning
  names the node and the channels.
The new constants are `<weight>.wr` and `<bias>.wr` (each only where its values
changed); the attributes are removed;
the bound is re-checked on the result with `integer_arithmetic.check_accumulator`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import DenseArrayBase, ModuleOp, f64
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.utils.exceptions import PassFailedException

from afe.ir.quantization_conv import quantized_product_zero_value, reshape_weight_to_output_channels, worst_case_accumulator
from passes.bias_correction import accumulator_unit
from passes.channel_scaling import describe
from passes.patterns import builders
from runtime.integer_arithmetic import ACCUMULATOR_MAX, WEIGHT_BITS, check_accumulator, round_half_away_from_zero
from sima_dialect.ops import ConstantOp
from sima_dialect.quantized_ops import QConv2DOp, QDenseOp, QuantizedGemmOp
from sima_dialect.weights import ElidedWeightsError, NDArrayAttr

ROUNDED_WEIGHT_ATTR = "rounded_weight"
"""The discardable attribute holding a layer's re-rounded int8 weights (a `#sima.ndarray`)."""

ROUNDED_BIAS_ATTR = "rounded_bias_delta"
"""The optional discardable attribute holding the real amount (array<f64>, one per output
channel) added to a layer's bias together with its re-rounded weights."""

CHECKED_OPS = (QConv2DOp, QDenseOp)
"""The quantized ops whose int8 weights the pass replaces."""

_QMAX = 2 ** (WEIGHT_BITS - 1) - 1

_log = logging.getLogger(__name__)


def _fail(op: QuantizedGemmOp, message: str) -> PassFailedException:
    return PassFailedException(f"weight-rounding: {describe(op)}: {message}")


def _constants(op: QuantizedGemmOp) -> tuple[np.ndarray, np.ndarray]:
    arrays = []
    for value in (op.weight, op.bias):
        array = builders.constant_array(value.owner) if isinstance(value.owner, ConstantOp) else None
        if array is None:
            raise _fail(op, "its weight and bias must be readable constants")
        arrays.append(array)
    return arrays[0], arrays[1]


def checked_rounding(
    op: QuantizedGemmOp, weight: np.ndarray, bias: np.ndarray, candidate: np.ndarray, bias_delta: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The int8 weight and int32 bias of `op` with `candidate` weights (and the
    real `bias_delta` per channel, if any) taken per channel where the plan's
    guarantees hold, from its current `weight` and `bias`; and the mask of
    channels that kept their weights and bias although the candidate differed."""
    candidate = np.asarray(candidate)
    if candidate.shape != weight.shape:
        raise _fail(op, f"{ROUNDED_WEIGHT_ATTR} must be shaped as the weight {list(weight.shape)}, got {list(candidate.shape)}")
    if candidate.dtype.kind not in "iu":
        raise _fail(op, f"{ROUNDED_WEIGHT_ATTR} must hold integers, got {candidate.dtype}")
    old = reshape_weight_to_output_channels(weight).astype(np.int64)
    new = reshape_weight_to_output_channels(candidate).astype(np.int64)
    zero_point = op.input.type.element_type.zero_point_value
    input_bits = op.input.type.element_type.bits
    shift = np.broadcast_to(op.intrinsic_shift_values(), bias.shape)
    delta = _bias_steps(op, bias_delta, bias.shape)
    new_bias = (
        bias.astype(np.int64)
        + quantized_product_zero_value(old, zero_point, shift)
        - quantized_product_zero_value(new, zero_point, shift)
        + delta
    )
    changed = np.any(new != old, axis=0) | (delta != 0)
    in_range = np.all(np.abs(new) <= _QMAX, axis=0)
    fits = worst_case_accumulator(new, new_bias, input_bits, shift) <= ACCUMULATOR_MAX
    take = changed & in_range & fits
    weight_out = np.where(take[None, :], new, old).reshape(weight.shape).astype(np.int8)
    bias_out = np.where(take, new_bias, bias).astype(np.int32)
    check_accumulator(worst_case_accumulator(weight_out, bias_out, input_bits, shift), "re-rounded worst-case accumulator")
    return weight_out, bias_out, changed & ~take


def _bias_steps(op: QuantizedGemmOp, bias_delta: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    """`bias_delta` (real units per output channel) in accumulator units, rounded (int64)."""
    if bias_delta is None:
        return np.zeros(shape, dtype=np.int64)
    delta = np.asarray(bias_delta, dtype=np.float64)
    if delta.shape != shape or not np.all(np.isfinite(delta)):
        raise _fail(op, f"{ROUNDED_BIAS_ATTR} must hold {shape[0]} finite numbers (one per output channel), got {delta.size}")
    unit = accumulator_unit(op)
    steps = np.where(unit > 0, delta / np.where(unit > 0, unit, 1.0), 0.0)
    # far beyond int32 anyway: clip before the int64 conversion so it cannot overflow
    return np.clip(round_half_away_from_zero(steps), -(2.0**40), 2.0**40).astype(np.int64)


def record_rounding(op: QuantizedGemmOp, candidate: np.ndarray, bias_delta: np.ndarray | None = None) -> None:
    """Attach `candidate` (int8, shaped as the weight) and, if given, `bias_delta`
    (real units, one per output channel) to `op` for the pass."""
    name = getattr(op.weight.owner.value, "weight_name", None) if isinstance(op.weight.owner, ConstantOp) else None
    op.attributes[ROUNDED_WEIGHT_ATTR] = NDArrayAttr.from_array(f"{name or op.node_name or 'weight'}.wr", np.asarray(candidate, dtype=np.int8))
    if bias_delta is not None:
        op.attributes[ROUNDED_BIAS_ATTR] = DenseArrayBase.from_list(f64, [float(v) for v in np.asarray(bias_delta, dtype=np.float64).ravel()])


def recorded_bias_delta(op: QuantizedGemmOp) -> np.ndarray | None:
    """The `rounded_bias_delta` attribute of `op` as a float64 array, None if it has none."""
    attribute = op.attributes.get(ROUNDED_BIAS_ATTR)
    if attribute is None:
        return None
    if not isinstance(attribute, DenseArrayBase) or not attribute.elt_type.name.startswith("f"):
        raise _fail(op, f"{ROUNDED_BIAS_ATTR} must be an array<f64: ...>, got {attribute}")
    return np.array(attribute.get_values(), dtype=np.float64)


def recorded_rounding(op: QuantizedGemmOp) -> np.ndarray | None:
    """The `rounded_weight` attribute of `op` as an array, None if it has none."""
    attribute = op.attributes.get(ROUNDED_WEIGHT_ATTR)
    if attribute is None:
        return None
    if not isinstance(attribute, NDArrayAttr):
        raise _fail(op, f"{ROUNDED_WEIGHT_ATTR} must be a #sima.ndarray of int8 weights, got {attribute}")
    try:
        return attribute.array
    except ElidedWeightsError:
        raise _fail(op, f"{ROUNDED_WEIGHT_ATTR} is elided; print the IR with --print-weights") from None


def apply_rounding(op: QuantizedGemmOp, candidate: np.ndarray, bias_delta: np.ndarray | None = None) -> np.ndarray:
    """Replace `op`'s weight and bias with the checked re-rounded ones (`<name>.wr`);
    returns the mask of channels that kept their weights."""
    weight, bias = _constants(op)
    new_weight, new_bias, kept = checked_rounding(op, weight, bias, candidate, bias_delta)
    for index, (value, old_array, array) in enumerate(((op.weight, weight, new_weight), (op.bias, bias, new_bias)), start=1):
        if np.array_equal(old_array, array):
            continue
        old = value.owner
        assert isinstance(old, ConstantOp)
        constant = builders.derived_constant(old, array, "wr")
        Rewriter.insert_op(constant, InsertPoint.before(op))
        op.operands[index] = constant.output
        if not old.output.uses:
            Rewriter.erase_op(old)
    if kept.any():
        channels = np.flatnonzero(kept)
        _log.warning(
            "%s: output channel(s) %s keep their nearest-rounded weights: the re-rounded ones would break the int8 "
            "range or the int32 accumulator bound",
            describe(op),
            ", ".join(map(str, channels[:10])) + (" ..." if channels.size > 10 else ""),
        )
    return kept


@dataclass(frozen=True)
class WeightRoundingPass(ModulePass):
    """Replace the int8 weights of qconv2d / qdense by their recorded re-rounded ones, within the plan's bounds."""

    name = "weight-rounding"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for gemm in [o for o in op.walk() if isinstance(o, CHECKED_OPS)]:
            candidate = recorded_rounding(gemm)
            if candidate is None:
                if ROUNDED_BIAS_ATTR in gemm.attributes:
                    raise _fail(gemm, f"{ROUNDED_BIAS_ATTR} needs the {ROUNDED_WEIGHT_ATTR} it goes with")
                continue
            apply_rounding(gemm, candidate, recorded_bias_delta(gemm))
            del gemm.attributes[ROUNDED_WEIGHT_ATTR]
            gemm.attributes.pop(ROUNDED_BIAS_ATTR, None)


__all__ = [
    "CHECKED_OPS",
    "ROUNDED_BIAS_ATTR",
    "ROUNDED_WEIGHT_ATTR",
    "WeightRoundingPass",
    "apply_rounding",
    "checked_rounding",
    "record_rounding",
    "recorded_bias_delta",
    "recorded_rounding",
]
