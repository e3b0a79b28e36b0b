"""Activation ranges chosen for the error they cause at the LOGITS (issue #5).

    refined, choices = logit_refined_module(calibrated, samples)

Greedy coordinate descent on the network's own objective: starting from the
MSE ranges select-scales chose, each roundable int8 tensor in the function's
order (`runtime.logit_error.RoundedRun`: activations rounded, weights and
arithmetic float) tries the candidates `range_refinement.candidate` makes of
its range (each end scaled by `RATIOS`, the upper end first, then the lower
one), with every other tensor rounded at its current choice, and keeps the one
of least squared error of the centred logits against the float network's on
the calibration `samples`; a candidate replaces the current range only if
strictly better, so the objective never rises above the MSE ranges'.

`range_refinement.py` does the same locally (error at the next conv); this is
the global version (one suffix run of the network per candidate).

Measured (`bench/bench_top1_techniques.py`, cls, 32 calibration samples for
the search, 100 / 300 other inputs): it overfits. The calibration objective
falls 11.4 -> 1.22, but output SQNR / top-1 go 20.69 / 94% (300: 94.0%) ->
18.73 / 94% (93.0%), and with compensation 23.68 / 96% (97.7%) -> 22.89 / 96%
(93.0%), at ~560 s on a loaded machine. Not used by any preset.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from xdsl.dialects.builtin import ModuleOp

from runtime.interpreter import find_function
from runtime.logit_error import RoundedRun
from runtime.range_refinement import candidate, range_of
from sima_dialect.calibration_ops import ObserveOp
from sima_dialect.types import QuantizedType

RATIOS = (0.6, 0.7, 0.8, 0.9, 1.1, 1.25)
"""Factors each end of the current range is scaled by to make the candidates."""


def logit_refined_choices(
    calibrated: ModuleOp, samples: Sequence[Mapping[str, Any]], *, asymmetric: bool = True,
    ratios: Sequence[float] = RATIOS, sweeps: int = 1,
) -> tuple[dict[str, QuantizedType], list[float]]:
    """The chosen quantization of every roundable tensor (observe key -> type) and
    the objective after each sweep (the first entry: the MSE ranges')."""
    run = RoundedRun(calibrated, samples)
    reference = run.logits({}, keep=False)
    choices = run.mse_choices()

    def error(logits: np.ndarray) -> float:
        return float(np.sum(np.square(logits - reference)))

    best = error(run.logits(choices))
    history = [best]
    for _ in range(sweeps):
        for key in list(choices):
            current = choices[key]
            low, _ = range_of(current)
            ends = (1, 0) if asymmetric and low < 0 else (1,) if asymmetric else (None,)
            kept, trial_ratios = current, [1.0, 1.0]
            seen = {(current.scale_value, current.zero_point_value)}
            for end in ends:
                for ratio in ratios:
                    trial = [ratio, ratio] if end is None else [r if i != end else ratio for i, r in enumerate(trial_ratios)]
                    element = candidate(current, trial[0], trial[1], asymmetric)
                    if (element.scale_value, element.zero_point_value) in seen:
                        continue
                    seen.add((element.scale_value, element.zero_point_value))
                    value = error(run.logits({**choices, key: element}, changed_from=key, keep=False))
                    if value < best:
                        best, kept, trial_ratios_found = value, element, trial
                        trial_ratios = trial_ratios_found
            if kept is not current:
                choices[key] = kept
                run.logits(choices, changed_from=key)  # the state the next tensors start from
        history.append(best)
    return choices, history


def logit_refined_module(
    calibrated: ModuleOp, samples: Sequence[Mapping[str, Any]], *, asymmetric: bool = True, **options
) -> tuple[ModuleOp, list[float]]:
    """A copy of the calibrated module whose observes carry the chosen quantizations,
    and the objective's history."""
    choices, history = logit_refined_choices(calibrated, samples, asymmetric=asymmetric, **options)
    refined = calibrated.clone()
    for op in find_function(refined).walk():
        if isinstance(op, ObserveOp) and op.key.data in choices:
            op.properties["quant"] = choices[op.key.data]
    return refined, history


__all__ = ["RATIOS", "logit_refined_choices", "logit_refined_module"]
