"""`bias-correction`: fold recorded per-channel corrections into the int32 biases
of quantized convolutions and dense layers (Nagel et al. 2019, "Data-Free
Quantization Through Weight Equalization and Bias Correction", section 4.2).

Quantizing weights and inputs shifts the expected output of a layer: per
output channel c, E[y_float[c] - y_quant[c]] is not 0. Adding that expected
error to the bias removes it. The expectation is measured on data
(`runtime/bias_correction.py`, which records it); this pass only applies it.

Input. A `sima.qconv2d` or `sima.qdense` carrying the discardable attribute

    bias_correction = array<f64: e_0, e_1, ...>

one finite number per output channel, in the real units of the layer's output
(before its activation): the amount to add to the layer's pre-activation
output. Ops without the attribute are left alone.

Rewrite. In the accumulator A = P + B the bias B is an integer in the unit of
the accumulator, whose real value per unit is, per channel,

    step_out * 2**-shift[c]                 (requant_mode = "sima")
    step_out * multiplier[c] * 2**-shift[c] (requant_mode = "tflite")

(see `runtime/integer_arithmetic.py`; the int15 intrinsic shift is inside P),
so B[c] += round_half_away_from_zero(e_c / unit[c]). The planner guarantees
that for every input of the input's type |P| + |B| fits int32; the corrected
bias must keep that: a channel whose correction would break it gets the
largest correction that keeps it (and the pass logs a warning naming the node
and the channels). The new bias constant is named `<bias>.bc`, the attribute
is removed, and the bound is re-checked on the result with
`integer_arithmetic.check_accumulator`.
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

from afe.ir.quantization_conv import worst_case_accumulator
from passes.channel_scaling import describe
from passes.patterns import builders
from runtime.integer_arithmetic import (
    ACCUMULATOR_MAX,
    ArithFoldedRequantization,
    check_accumulator,
    round_half_away_from_zero,
)
from sima_dialect.ops import ConstantOp, shape_of
from sima_dialect.quantized_ops import QConv2DOp, QDenseOp, QuantizedGemmOp
from sima_dialect.types import QuantizedType

BIAS_CORRECTION_ATTR = "bias_correction"
"""The discardable attribute holding a layer's recorded correction (f64, one per output channel)."""

CORRECTED_OPS = (QConv2DOp, QDenseOp)
"""The quantized ops with an int32 bias the pass corrects."""

_log = logging.getLogger(__name__)


def accumulator_unit(op: QuantizedGemmOp) -> np.ndarray:
    """The real value of one accumulator unit of each output channel of `op` (f64 [C])."""
    output = op.output.type.element_type
    assert isinstance(output, QuantizedType)
    channels = shape_of(op.bias)[0]
    return np.broadcast_to(output.scale_value * op.requantization().real_scale(), (channels,)).astype(np.float64)


def accumulator_offset(op: QuantizedGemmOp) -> np.ndarray:
    """The part of the accumulator that is the output zero point, not a real value:
    z_out * 2**shift in sima mode (folded into the bias), 0 in tflite mode."""
    channels = shape_of(op.bias)[0]
    requantization = op.requantization()
    if not isinstance(requantization, ArithFoldedRequantization):
        return np.zeros(channels, dtype=np.int64)
    zero_point = op.output.type.element_type.zero_point_value
    return np.broadcast_to(np.int64(zero_point) << requantization.shift, (channels,)).astype(np.int64)


def _integer_arrays(op: QuantizedGemmOp) -> tuple[np.ndarray, np.ndarray] | None:
    """The op's int8 weights and int32 bias, or None when they are not readable constants."""
    arrays = []
    for value in (op.weight, op.bias):
        if not isinstance(value.owner, ConstantOp):
            return None
        array = builders.constant_array(value.owner)
        if array is None:
            return None
        arrays.append(array)
    return arrays[0], arrays[1]


def _bias_bound(op: QuantizedGemmOp, weight: np.ndarray) -> np.ndarray:
    """The largest |B[c]| with which |P| + |B| fits int32 for every input (int64 [C]):
    |P| <= ceil(sum_k |w[k, c]| * 2**(bits - 1) / 2**h[c]), the planner's bound
    (`worst_case_accumulator`, which re-checks the result)."""
    input_bits = op.input.type.element_type.bits
    weight_sum = np.abs(weight.reshape(-1, weight.shape[-1]).astype(np.int64)).sum(axis=0)
    intrinsic_shift = np.broadcast_to(op.intrinsic_shift_values(), weight_sum.shape)
    product = -((-weight_sum * 2 ** (input_bits - 1)) >> intrinsic_shift)
    return np.maximum(ACCUMULATOR_MAX - product, 0)


def corrected_bias(op: QuantizedGemmOp, correction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The int32 bias of `op` with `correction` (real units, one per output channel)
    added, and a mask of the channels whose correction was limited to keep the
    accumulator within int32."""
    arrays = _integer_arrays(op)
    if arrays is None:
        raise PassFailedException(f"bias-correction: {describe(op)}: its weight and bias must be readable constants")
    weight, bias = arrays
    correction = np.asarray(correction, dtype=np.float64)
    if correction.shape != bias.shape or not np.all(np.isfinite(correction)):
        raise PassFailedException(
            f"bias-correction: {describe(op)}: {BIAS_CORRECTION_ATTR} must hold {bias.shape[0]} finite numbers "
            f"(one per output channel), got {correction.size}{'' if np.all(np.isfinite(correction)) else ' with inf or NaN'}"
        )
    unit = accumulator_unit(op)
    steps = np.where(unit > 0, correction / np.where(unit > 0, unit, 1.0), 0.0)
    bound = _bias_bound(op, weight)
    # beyond the bound anyway: clip in float first, so the int64 conversion cannot overflow
    steps = np.clip(round_half_away_from_zero(steps), -2.0**40, 2.0**40).astype(np.int64)
    wanted = bias.astype(np.int64) + steps
    new = np.clip(wanted, np.minimum(-bound, bias), np.maximum(bound, bias))
    limited = new != wanted
    input_bits = op.input.type.element_type.bits
    intrinsic_shift = np.broadcast_to(op.intrinsic_shift_values(), new.shape)
    check_accumulator(worst_case_accumulator(weight, new, input_bits, intrinsic_shift), "corrected worst-case accumulator")
    return new.astype(np.int32), limited


def recorded_correction(op: QuantizedGemmOp) -> np.ndarray | None:
    """The `bias_correction` attribute of `op` as a float64 array, None if it has none."""
    attribute = op.attributes.get(BIAS_CORRECTION_ATTR)
    if attribute is None:
        return None
    if not isinstance(attribute, DenseArrayBase) or not attribute.elt_type.name.startswith("f"):
        raise PassFailedException(
            f"bias-correction: {describe(op)}: {BIAS_CORRECTION_ATTR} must be an array<f64: ...>, got {attribute}"
        )
    return np.array(attribute.get_values(), dtype=np.float64)


def record_correction(op: QuantizedGemmOp, correction: np.ndarray) -> None:
    """Attach `correction` (one real number per output channel) to `op` for the pass."""
    values = [float(v) for v in np.asarray(correction, dtype=np.float64).ravel()]
    op.attributes[BIAS_CORRECTION_ATTR] = DenseArrayBase.from_list(f64, values)


def apply_correction(op: QuantizedGemmOp, correction: np.ndarray) -> np.ndarray:
    """Replace `op`'s bias with the corrected one (`<bias>.bc`); returns the mask of limited channels."""
    new, limited = corrected_bias(op, correction)
    old = op.bias.owner
    assert isinstance(old, ConstantOp)
    constant = builders.derived_constant(old, new, "bc")
    Rewriter.insert_op(constant, InsertPoint.before(op))
    op.operands[2] = constant.output
    if not old.output.uses:
        Rewriter.erase_op(old)
    if limited.any():
        channels = np.flatnonzero(limited)
        _log.warning(
            "%s: the bias correction of output channel(s) %s was limited so that the accumulator fits int32",
            describe(op),
            ", ".join(map(str, channels[:10])) + (" ..." if channels.size > 10 else ""),
        )
    return limited


@dataclass(frozen=True)
class BiasCorrectionPass(ModulePass):
    """Fold the recorded per-channel bias corrections into the int32 biases of qconv2d / qdense."""

    name = "bias-correction"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for gemm in [o for o in op.walk() if isinstance(o, CORRECTED_OPS)]:
            correction = recorded_correction(gemm)
            if correction is None:
                continue
            apply_correction(gemm, correction)
            del gemm.attributes[BIAS_CORRECTION_ATTR]


__all__ = [
    "BIAS_CORRECTION_ATTR",
    "BiasCorrectionPass",
    "accumulator_offset",
    "accumulator_unit",
    "apply_correction",
    "corrected_bias",
    "record_correction",
    "recorded_correction",
]
