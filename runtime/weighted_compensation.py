"""Compensation fitted to the error AFTER the layer's activation (issue #5, idea 2 of
session 8): a Gauss-Newton weighting of `with_activation_compensation`'s least squares.

    rounded, report = weight_rounded_module(quantized, calibrated, samples, compensate=True,
                                            accumulator_for=activation_weighted_accumulator)

The compensation (`runtime/weight_rounding.py`) fits each layer so that its output on
the quantized inputs matches the float layer's. What the network reads is f(output),
f the activation after it (the layer's own clip bounds, then a hard_swish reader): an
error where f is flat (hard_swish below -3, beyond a relu6's ends) costs nothing, one
where f is steep costs in full. Linearising f at the float output y (Gauss-Newton),
the error of a row counts f'(y)**2 times; the fit then minimises
sum_rows f'(y)**2 ([x;1] . t - [x~;1] . V)**2, i.e. the same moments with every row
(its ones column too) scaled by |f'(y)|, floored at sqrt(SLOPE_FLOOR) so that a channel
whose float output is always flat still has a determined fit.

Only where the weights are per row AND per channel at no cost: layers with one output
channel per group (depthwise convolutions, where 65 % of cls's remaining error enters);
a layer with many channels per group would need one Gram matrix per channel. Other
layers keep the plain accumulator (`activation_weighted_accumulator` returns None).

Measured on cls (`bench/bench_top1_techniques.py --configs +gncomp`, 32 calibration inputs;
logit SQNR dB / top-1 % on 100 inputs (300 others)): +comp 23.68 / 96 (23.57 / 97.7);
weighted with floor 0.01: 21.06 / 95 (22.11 / 97.3), 0.25: 22.76 / 95 (23.38 / 96.3), 1.0:
23.44 / 96 (23.98 / 96.7). No gain: a negative result, kept opt-in for the bench only.
"""

from __future__ import annotations

import numpy as np

from runtime.weight_rounding import MAX_PATCHES_PER_SAMPLE, COMPENSATION_FOLDS, CompensationAccumulator, GemmInputs
from sima_dialect import ops
from sima_dialect.calibration_ops import ObserveOp
from sima_dialect.quantized_ops import QuantizedGemmOp

SLOPE_FLOOR = 0.01
"""Least squared slope a row is weighted by (a flat activation still weighs a little)."""


def hard_swish_slope(y: np.ndarray) -> np.ndarray:
    """d/dy of y * relu6(y + 3) / 6: 0 below -3, (2y + 3) / 6 between, 1 above 3."""
    return np.where(y <= -3.0, 0.0, np.where(y >= 3.0, 1.0, (2.0 * y + 3.0) / 6.0))


def activation_slope(float_op: ops.Conv2DOp | ops.DenseOp):
    """The slope of what follows `float_op`'s output as a function of the output, or None
    where that is the identity (no clip bounds, no hard_swish reader)."""
    low, high = float_op.activation_bounds()
    readers = [use.operation for use in float_op.results[0].uses if not isinstance(use.operation, ObserveOp)]
    swish = len(readers) == 1 and isinstance(readers[0], ops.HardSwishOp)
    if low == -np.inf and high == np.inf and not swish:
        return None

    def slope(y: np.ndarray) -> np.ndarray:
        inside = ((y > low) & (y < high)).astype(np.float64)
        return inside * hard_swish_slope(np.clip(y, low, high)) if swish else inside

    return slope


class WeightedCompensationAccumulator(CompensationAccumulator):
    """`CompensationAccumulator` of a layer with one output channel per group, each row
    (float and quantized, ones columns included) scaled by max(f'(y)**2, floor)**0.5, y the
    float layer's output on that row."""

    def __init__(self, inputs: GemmInputs, weight: np.ndarray, bias: np.ndarray, slope, *, floor: float | None = None,
                 folds: int = COMPENSATION_FOLDS, cap: int = MAX_PATCHES_PER_SAMPLE):
        super().__init__(inputs, folds, cap)
        self.weight, self.bias, self.slope = np.asarray(weight, np.float64), np.asarray(bias, np.float64), slope
        self.floor = SLOPE_FLOOR if floor is None else floor

    def add(self, fold: int, float_input: np.ndarray, quantized_input: np.ndarray) -> None:
        x = self.inputs.rows(float_input, self.cap).astype(np.float64)  # [G, M, K]
        q = self.inputs.rows(quantized_input, self.cap).astype(np.float64)
        y = np.einsum("gmk,gk->gm", x, self.weight) + self.bias[:, None]
        scale = np.sqrt(np.maximum(np.square(self.slope(y)), self.floor))[:, :, None]
        stacked = np.concatenate([x * scale, scale, q * scale, scale], axis=2)
        gram = np.swapaxes(stacked, 1, 2) @ stacked
        k = x.shape[2]
        if self._moments is None:
            self._moments = [np.zeros((self.folds, x.shape[0], k + 1, k + 1)) for _ in range(3)]
        self._moments[0][fold] += gram[:, : k + 1, : k + 1]
        self._moments[1][fold] += gram[:, : k + 1, k + 1 :]
        self._moments[2][fold] += gram[:, k + 1 :, k + 1 :]


def activation_weighted_accumulator(
    op: QuantizedGemmOp, float_op: ops.Conv2DOp | ops.DenseOp, float_weight: np.ndarray, float_bias: np.ndarray
) -> WeightedCompensationAccumulator | None:
    """The weighted accumulator for a layer with one output channel per group followed by
    an activation; None (the plain one) otherwise. (`weight_rounded_module(accumulator_for=)`.)"""
    inputs = GemmInputs.of(op)
    grouped = inputs.group_weight(np.asarray(float_weight, dtype=np.float64))  # [G, K, C/G]
    slope = activation_slope(float_op)
    if grouped.shape[2] != 1 or slope is None:
        return None
    bias = np.broadcast_to(np.asarray(float_bias, dtype=np.float64), (grouped.shape[0],))
    return WeightedCompensationAccumulator(inputs, grouped[:, :, 0], bias, slope)


__all__ = [
    "SLOPE_FLOOR",
    "WeightedCompensationAccumulator",
    "activation_slope",
    "activation_weighted_accumulator",
    "hard_swish_slope",
]
