"""Where a channel-grouped block is cut (`runtime/channel_groups.py`, `cut=`; issue #5):

- `best_cut` with amplification 1 / r^2 is the default (range) rule, and with any
  amplification it returns the threshold cut of least amplified noise
  r_(t-1)^2 sum_{c<t} s_c + r_max^2 sum_{c>=t} s_c (hypothesis, brute force);
- a mid-range channel the depthwise conv amplifies most joins the small group under the
  depthwise rule, not under the range rule;
- `ranked_plans(cut="depthwise")` keeps the range rule's blocks and gains and cuts each
  block for its depthwise weights; the default is unchanged; bad options are refused.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from passes.channel_scaling import _float_constant
from passes.smooth_quant import channel_absmax
from passes.split_channel_groups import group_blocks
from runtime.channel_groups import best_cut, channel_group_plans, ranked_plans
from sima_dialect.calibration_ops import ObserveOp
from test_split_channel_groups import _statistics, block_net, samples

positive = st.floats(0.01, 100.0, allow_nan=False)


def _cost(ranges, amplification, first) -> float:
    inside = np.isin(np.arange(ranges.size), first)
    return float(ranges[inside].max() ** 2 * amplification[inside].sum() + ranges.max() ** 2 * amplification[~inside].sum())


@settings(max_examples=200, deadline=None)
@given(st.lists(positive, min_size=2, max_size=12))
def test_the_default_cut_weighs_by_inverse_squared_range(ranges):
    ranges = np.array(ranges)
    (first, gain), (weighed_first, weighed_gain) = best_cut(ranges), best_cut(ranges, 1.0 / ranges**2)
    assert first == weighed_first and gain == pytest.approx(weighed_gain, rel=1e-12)


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 12).flatmap(lambda n: st.tuples(st.lists(positive, min_size=n, max_size=n),
                                                       st.lists(st.floats(0.0, 100.0), min_size=n, max_size=n))))
def test_the_amplified_cut_is_the_cheapest_threshold_cut(pair):
    ranges, amplification = np.array(pair[0]), np.array(pair[1])
    first, gain = best_cut(ranges, amplification)
    order = np.argsort(ranges, kind="stable")
    whole = ranges.max() ** 2 * amplification.sum()
    if whole == 0:
        assert (first, gain) == ([], 1.0)
        return
    costs = [_cost(ranges, amplification, order[:t]) for t in range(1, ranges.size)]
    assert first == sorted(order[: len(first)].tolist())  # a threshold cut: the smallest ranges apart
    assert _cost(ranges, amplification, first) == pytest.approx(min(costs), rel=1e-9)
    assert gain == pytest.approx(whole / min(costs), rel=1e-9)


def test_a_strongly_amplified_mid_range_channel_joins_the_small_group():
    ranges = np.array([0.3, 0.4, 3.0, 14.0, 10.0, 12.0])
    assert best_cut(ranges)[0] == [0, 1]
    amplification = np.array([30.0, 20.0, 25.0, 0.3, 0.1, 0.2])  # channel 2 (range 3) read by large weights
    first, gain = best_cut(ranges, amplification)
    assert first == [0, 1, 2] and gain > 10
    assert _cost(ranges, amplification, first) < _cost(ranges, amplification, [0, 1])


def test_bad_amplification_and_cut_are_refused(tmp_path):
    with pytest.raises(ValueError, match="amplification must hold 3"):
        best_cut(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="amplification"):
        best_cut(np.array([1.0, 2.0, 3.0]), np.array([1.0, -2.0, 1.0]))
    module = block_net(tmp_path, 4, np.array([10.0, 0.1, 9.0, 0.2]), seed=1)
    with pytest.raises(ValueError, match="cut must be one of range, depthwise, got 'weights'"):
        channel_group_plans(module, cut="weights")


def test_depthwise_cut_keeps_the_blocks_and_gains_and_cuts_for_the_depthwise_weights(tmp_path):
    scales = np.array([20.0, 0.2, 15.0, 0.3, 0.5, 18.0, 1.0, 2.0], dtype=np.float32)  # the two rules cut it apart
    module = block_net(tmp_path, 8, scales, function="HardSwish", after=("Relu",), seed=5)
    statistics = _statistics(module, samples(16, seed=1))
    by_range, by_depthwise = ranked_plans(statistics), ranked_plans(statistics, cut="depthwise")
    assert by_range and [(p, g) for p, _, g in by_range] == [(p, g) for p, _, g in by_depthwise]
    assert channel_group_plans(statistics) == [(p, f) for p, f, g in by_range if g >= 10.0]  # the default: range
    block = group_blocks(statistics)[0]
    read = (block.function or block.producer).results[0]
    ranges = next(r for u in read.uses if isinstance(u.operation, ObserveOp) and (r := channel_absmax(u.operation, 8)) is not None)
    weights = np.asarray(_float_constant(block.depthwise.operands[1])[1], dtype=np.float64)
    amplification = np.square(weights).reshape(-1, 8).sum(axis=0)
    assert by_depthwise[0][1] == best_cut(ranges, amplification)[0]
    assert by_range[0][1] == best_cut(ranges)[0]
    assert by_depthwise[0][1] != by_range[0][1]  # the option changes the cut here
