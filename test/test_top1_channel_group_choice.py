"""The split threshold of channel groups chosen by a score (`runtime/channel_groups.py`
`ranked_plans`, `plans_chosen_by`; issue #5):

- `ranked_plans` holds every block a cut helps, largest gain first, and
  `channel_group_plans(min_gain)` is exactly its blocks of gain >= min_gain (in the
  function's order), for thresholds between and at the gains;
- `plans_chosen_by` scores every prefix of the ranking once, in order, and returns the
  best-scored prefix, the shortest among equal scores (hypothesis over rankings and scores);
- on a block with very unequal channels, a score measured on calibration data (the int8
  model's output error) chooses to split it.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from afe.apis.defines import default_quantization
from afe.core.calibration_pipeline import calibrate_module
from passes.quantize import quantize_module
from runtime.channel_groups import channel_group_plans, plans_chosen_by, ranked_plans, split_module
from runtime.interpreter import Interpreter
from test_split_channel_groups import _statistics, block_net, first_conv, samples


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(1.01, 100.0), max_size=8), st.data())
def test_the_chosen_prefix_is_the_best_scored_and_shortest(gains, data):
    ranked = sorted([(f"node{i}", [i], gain) for i, gain in enumerate(gains)], key=lambda plan: -plan[2])
    table = data.draw(st.lists(st.sampled_from([0.0, 1.0, 2.5, 3.0]), min_size=len(ranked) + 1, max_size=len(ranked) + 1))
    asked = []

    def score(plans):
        asked.append([producer for producer, _ in plans])
        return table[len(plans)]

    plans, scores = plans_chosen_by(ranked, score)
    assert asked == [[producer for producer, _, _ in ranked[:count]] for count in range(len(ranked) + 1)]
    assert scores == table
    best = max(table)
    assert len(plans) == table.index(best)  # the first (fewest blocks) of the best
    assert plans == [(producer, first) for producer, first, _ in ranked[: len(plans)]]


def test_ranked_plans_are_the_plans_of_every_threshold(tmp_path):
    scales = np.array([20.0, 0.2, 15.0, 0.15, 0.25, 18.0], dtype=np.float32)
    module = block_net(tmp_path, 6, scales, function="HardSwish", after=("Relu",), seed=5)
    statistics = _statistics(module, samples(16, seed=1))
    ranked = ranked_plans(statistics)
    assert [producer for producer, _, _ in ranked] == [first_conv(module).node_name]
    producer, first, gain = ranked[0]
    assert first == [1, 3, 4] and gain > 10
    for threshold in (1.0, gain / 2, gain, gain * 1.01, 1e9):
        expected = [(producer, first)] if gain >= threshold else []
        assert channel_group_plans(statistics, threshold) == expected
    assert ranked_plans(statistics, leave=frozenset({producer})) == []
    assert ranked_plans(module) == []  # no statistics: nothing to rank


def test_a_calibration_score_chooses_to_split_unequal_channels(tmp_path):
    scales = np.array([20.0, 0.2, 15.0, 0.15, 0.25, 18.0], dtype=np.float32)
    module = block_net(tmp_path, 6, scales, function="HardSwish", after=("Relu",), seed=5)
    calibration = samples(16, seed=1)
    reference = [Interpreter(module).run(s)[0] for s in calibration]

    def score(plans):
        calibrated = calibrate_module(split_module(module, plans), calibration, default_quantization, progress=False)
        interpreter = Interpreter(quantize_module(calibrated, default_quantization))
        return -sum(float(np.sum((interpreter.run(s)[0] - r) ** 2)) for s, r in zip(calibration, reference))

    plans, scores = plans_chosen_by(ranked_plans(_statistics(module, calibration)), score)
    assert len(plans) == 1 and scores[1] > scores[0]
