"""Activation ranges re-chosen on the compensated int8 network, alternating with the
compensation (issue #5, idea 1 of session 8).

    quantized, rounds = alternated_module(calibrated, config, samples, rounds=1)

`with_range_refinement` (`runtime/range_refinement.py`) chooses each int8 range on
the prefix of the network with NEAREST-rounded float weights, and
`with_activation_compensation` (`runtime/weight_rounding.py`) then fits the weights
to those ranges. Here the order is closed into a loop: quantize, compensate; then

1. the prefix the ranges are chosen on is the COMPENSATED network: a copy of the
   calibrated module whose conv / dense weights and biases are the compensated int8
   layers' in real units (`compensated_float_module`: integer weight times its
   channel's step, float bias plus the fitted bias change), every activation before
   the tensor rounded to its (already re-chosen) range, as range refinement does;
2. each range re-chosen for the error it causes at the next gemm (its compensated
   weights) on that prefix (`refined_ranges`, candidates around the current range,
   kept only if strictly better);
3. the calibrated module takes the new ranges, is quantized again and the whole
   network compensated again (each layer's fit now sees the new ranges).

With `float_target`, step 2 compares instead with the FLOAT network: the paths
through the compensated weights on the rounded tensor against the same paths through
the float weights on the float network's tensor (the error the next layer's output
really carries, upstream error included; `refined_ranges(..., target=)`).

`rounds` repeats 1-3. Compensation's target stays the float layer's output on the
float inputs (the calibrated module's own weights), whatever the prefix.

Measured (`bench/bench_top1_techniques.py`, 32 calibration inputs, 16 for the ranges;
logit SQNR dB / top-1 % on 100 inputs, (300 others)): cls +comp 23.68 / 96 (23.57 / 97.7),
one round 22.26 / 96 (22.71 / 97.7), with `float_target` 25.54 / 99 (22.91 / 97.0), two
rounds 23.66 / 95 (97.3), 32 range inputs 23.00 / 96 (23.65 / 96.3); +groups +comp 23.84 /
96 (22.46 / 97.0), +groups with `float_target` 26.72 / 99 (24.75 / 96.7). orientation +comp
22.58 / 93 (94.3), one round 25.30 / 95 (95.7), `float_target` 24.87 / 96 (94.7), +groups
with `float_target` 29.35 / 99 (98.0) (+groups +rr +comp: 28.26 / 98 (98.3)). The gains on
the 100 inputs do not carry over to the 300 on cls: it stays opt-in (bench `+alt`, `+altf`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from xdsl.dialects.builtin import ModuleOp

from afe.ir.quantization_conv import reshape_weight_to_output_channels
from passes.patterns import builders
from passes.quantize import quantize_module
from runtime.interpreter import find_function
from runtime.range_refinement import RANGE_REFINEMENT_SAMPLES, RefinedRange, refined_ranges
from runtime.weight_rounding import WEIGHT_ROUNDING_SAMPLES, RoundingReport, _float_bias, _layers, weight_rounded_module, weight_steps
from sima_dialect import ops
from sima_dialect.calibration_ops import ObserveOp


class CompensatedRangesError(ValueError):
    pass


def compensated_weights(rounded: ModuleOp, calibrated: ModuleOp, report: RoundingReport) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Node name -> (weight, bias) in real units of every layer the compensation fitted
    (`report`): its chosen integers times its channel's step, shaped as the float weight,
    and the float bias plus the recorded bias change."""
    found = {}
    float_ops = {op.node_name: op for op in find_function(calibrated).walk() if isinstance(op, ops.Conv2DOp | ops.DenseOp) and op.node_name}
    for op, _, float_weight in _layers(rounded, calibrated):
        layer = report.layers.get(op.node_name)
        if layer is None:
            continue
        channels = reshape_weight_to_output_channels(float_weight).shape[1]
        bias = _float_bias(float_ops[op.node_name], channels)
        if bias is None:
            continue
        steps = weight_steps(op)
        weight = (np.asarray(layer.weight, dtype=np.float64) * steps).astype(np.float32)  # output channel last (HWIO / [K, N])
        delta = np.zeros(channels) if layer.bias_delta is None else layer.bias_delta
        found[op.node_name] = (weight.reshape(np.shape(float_weight)), (np.broadcast_to(bias, (channels,)) + delta).astype(np.float32))
    return found


def compensated_float_module(calibrated: ModuleOp, weights: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> ModuleOp:
    """A copy of `calibrated` whose named conv / dense layers hold `weights` (node name ->
    (weight, bias), real units) instead of their float weights and biases."""
    copy = calibrated.clone()
    for op in find_function(copy).walk():
        if not isinstance(op, ops.Conv2DOp | ops.DenseOp) or op.node_name not in weights:
            continue
        weight, bias = weights[op.node_name]
        # a layer without a bias keeps none: the prefix misses its fitted bias change (the int8 layer has it)
        replaced = [(op.weight, weight)] + ([] if op.bias is None else [(op.bias, bias)])
        if not all(isinstance(operand.owner, ops.ConstantOp) for operand, _ in replaced):
            raise CompensatedRangesError(f"{op.node_name}: its weight and bias must be constants to take the compensated ones")
        for operand, array in replaced:
            constant = operand.owner
            if sum(1 for _ in operand.uses) != 1:
                raise CompensatedRangesError(f"{op.node_name}: its weight / bias constant is shared with another op")
            old = builders.constant_array(constant)
            constant.properties["value"] = builders.derived_constant(constant, np.asarray(array, dtype=old.dtype).reshape(old.shape), "comp").value
    return copy


def with_ranges(calibrated: ModuleOp, chosen: Mapping[str, Any]) -> ModuleOp:
    """A copy of `calibrated` whose observes named in `chosen` (key -> quantization) carry those."""
    copy = calibrated.clone()
    for op in find_function(copy).walk():
        if isinstance(op, ObserveOp) and op.key.data in chosen:
            op.properties["quant"] = chosen[op.key.data]
    return copy


@dataclass
class AlternationRound:
    """One round: the ranges it re-chose (those that moved) and the compensation's report after."""

    moved: list[RefinedRange]
    report: RoundingReport


def alternated_module(
    calibrated: ModuleOp,
    config,
    samples: Sequence[Mapping[str, Any]],
    *,
    rounds: int = 1,
    refinement_samples: int = RANGE_REFINEMENT_SAMPLES,
    asymmetric: bool = True,
    float_target: bool = False,
    progress: bool | None = False,
) -> tuple[ModuleOp, ModuleOp, list[AlternationRound]]:
    """The compensated quantized module after `rounds` rounds of ranges re-chosen on the
    compensated network and compensation refitted (module docstring), the calibrated module
    with the last ranges, and each round's record. `samples`: calibration inputs, the
    first WEIGHT_ROUNDING_SAMPLES fit the compensation, the first `refinement_samples`
    choose the ranges; `float_target`: module docstring."""
    if rounds < 0:
        raise CompensatedRangesError(f"rounds must be >= 0, got {rounds}")
    samples = list(samples)
    if not samples:
        raise CompensatedRangesError("re-choosing ranges on the compensated network needs at least one calibration sample")
    fit_samples = samples[:WEIGHT_ROUNDING_SAMPLES]
    rounded, report = weight_rounded_module(quantize_module(calibrated, config), calibrated, fit_samples, compensate=True, progress=progress)
    history = []
    for _ in range(rounds):
        prefix = compensated_float_module(calibrated, compensated_weights(rounded, calibrated, report))
        refinements = refined_ranges(prefix, samples[:refinement_samples], asymmetric=asymmetric, target=calibrated if float_target else None)
        moved = [r for r in refinements if r.chosen != r.mse]
        calibrated = with_ranges(calibrated, {r.key: r.chosen for r in moved})
        rounded, report = weight_rounded_module(quantize_module(calibrated, config), calibrated, fit_samples, compensate=True, progress=progress)
        history.append(AlternationRound(moved, report))
    return rounded, calibrated, history


__all__ = [
    "AlternationRound",
    "CompensatedRangesError",
    "alternated_module",
    "compensated_float_module",
    "compensated_weights",
    "with_ranges",
]
