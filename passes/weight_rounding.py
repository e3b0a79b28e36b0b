"""`weight-rounding`: replace the int8 weights of quantized convolutions and
dense layers with recorded, re-rounded ones, keeping every guarantee of the plan.

The data step (`runtime/weight_rounding.py`, GPTQ on calibration data)
chooses other integers for the weights on the planner's own per-channel
steps; this pass only applies them, so it can be run and tested on IR alone.

Input. A `sima.qconv2d` or `sima.qdense` carrying the discardable attribute

    rounded_weight = #sima.ndarray<"<name>", tensor<...xi8>, "0x...">

shaped as the op's weight. Ops without the attribute are left alone.

Rewrite, per output channel c:
- the bias holds the input zero-point correction -P0(Qw) (`quantized_product_zero_value`:
  P for an input filled with the zero point, floor(z_in sum Qw / 2**h)), so
  B[c] += P0(old Qw)[c] - P0(new Qw)[c]; everything else in B (the rounded
  float bias, the output zero point of sima mode, any bias correction) does
  not depend on Qw and stays;
- the channel takes the new weights only if they are in [-127, 127] (the
  planner's symmetric int8 range) and the planner's worst case
  |P| + |B| (`worst_case_accumulator`, over every input of the input's width)
  still fits int32; otherwise it keeps its weights and bias, and a warning
  names the node and the channels.
The new constants are `<weight>.wr` and `<bias>.wr` (each only where its values
changed); the attribute is removed;
the bound is re-checked on the result with `integer_arithmetic.check_accumulator`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.utils.exceptions import PassFailedException

from afe.ir.quantization_conv import quantized_product_zero_value, reshape_weight_to_output_channels, worst_case_accumulator
from passes.channel_scaling import describe
from passes.patterns import builders
from runtime.integer_arithmetic import ACCUMULATOR_MAX, WEIGHT_BITS, check_accumulator
from sima_dialect.ops import ConstantOp
from sima_dialect.quantized_ops import QConv2DOp, QDenseOp, QuantizedGemmOp
from sima_dialect.weights import ElidedWeightsError, NDArrayAttr

ROUNDED_WEIGHT_ATTR = "rounded_weight"
"""The discardable attribute holding a layer's re-rounded int8 weights (a `#sima.ndarray`)."""

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


def checked_rounding(op: QuantizedGemmOp, weight: np.ndarray, bias: np.ndarray, candidate: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The int8 weight and int32 bias of `op` with `candidate` weights taken
    per channel where the plan's guarantees hold, from its current `weight` and
    `bias`; and the mask of channels that kept their weights although the
    candidate differed."""
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
    new_bias = (
        bias.astype(np.int64) + quantized_product_zero_value(old, zero_point, shift) - quantized_product_zero_value(new, zero_point, shift)
    )
    changed = np.any(new != old, axis=0)
    in_range = np.all(np.abs(new) <= _QMAX, axis=0)
    fits = worst_case_accumulator(new, new_bias, input_bits, shift) <= ACCUMULATOR_MAX
    take = changed & in_range & fits
    weight_out = np.where(take[None, :], new, old).reshape(weight.shape).astype(np.int8)
    bias_out = np.where(take, new_bias, bias).astype(np.int32)
    check_accumulator(worst_case_accumulator(weight_out, bias_out, input_bits, shift), "re-rounded worst-case accumulator")
    return weight_out, bias_out, changed & ~take


def record_rounding(op: QuantizedGemmOp, candidate: np.ndarray) -> None:
    """Attach `candidate` (int8, shaped as the weight) to `op` for the pass."""
    name = getattr(op.weight.owner.value, "weight_name", None) if isinstance(op.weight.owner, ConstantOp) else None
    op.attributes[ROUNDED_WEIGHT_ATTR] = NDArrayAttr.from_array(f"{name or op.node_name or 'weight'}.wr", np.asarray(candidate, dtype=np.int8))


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


def apply_rounding(op: QuantizedGemmOp, candidate: np.ndarray) -> np.ndarray:
    """Replace `op`'s weight and bias with the checked re-rounded ones (`<name>.wr`);
    returns the mask of channels that kept their weights."""
    weight, bias = _constants(op)
    new_weight, new_bias, kept = checked_rounding(op, weight, bias, candidate)
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
                continue
            apply_rounding(gemm, candidate)
            del gemm.attributes[ROUNDED_WEIGHT_ATTR]


__all__ = [
    "CHECKED_OPS",
    "ROUNDED_WEIGHT_ATTR",
    "WeightRoundingPass",
    "apply_rounding",
    "checked_rounding",
    "record_rounding",
    "recorded_rounding",
]
