"""MSE range selection for tensors whose readers saturate (`mse.mse_range` with
an interval; select-scales passes `passes.saturating_readers.saturation_interval`).

A reader constant outside [low, high] (hard_swish below -3, relu below 0) sees
clip(x, low, high), so the range is chosen for the density of those values
(`mse.saturated`): the mass beyond an end becomes a point mass at the end.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_observers_ranges import expected_mse

from runtime.observers import HistogramMSEObserver
from runtime.observers.base import range_with_zero
from runtime.observers.histogram import DensityBins
from runtime.observers.mse import saturated

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_values = hnp.arrays(
    np.float64,
    st.integers(1, 200),
    elements=st.one_of(st.floats(-60, 60, allow_nan=False, allow_subnormal=False), st.sampled_from([0.0, -3.0, 2.0])),
)
_intervals = st.sampled_from([(-3.0, np.inf), (0.0, np.inf), (-np.inf, 6.0), (-1.5, 2.0), (-10.0, -2.0), (1.0, 5.0)])


def _mass_below(density: DensityBins, t: float) -> float:
    """Mass of the piecewise-uniform density at or below t."""
    width = density.upper - density.lower
    fraction = np.where(
        width > 0, np.clip((t - density.lower) / np.where(width > 0, width, 1.0), 0.0, 1.0), density.lower <= t
    )
    return float(np.sum(density.count * fraction))


@SETTINGS
@given(values=_values, interval=_intervals, num_bins=st.sampled_from([16, 2048]), t=st.floats(-70, 70))
def test_saturated_is_the_density_of_the_clipped_values(values, interval, num_bins, t):
    """Same total; nothing outside the interval; inside it, the same mass below
    any threshold as the original density (clip moves only what lies beyond)."""
    observer = HistogramMSEObserver(num_bins)
    observer.update(values)
    density = observer.histogram.density()
    low, high = interval
    clipped = saturated(density, low, high)
    assert np.all(np.diff(clipped.lower) >= 0) and np.all(clipped.lower <= clipped.upper)
    assert clipped.lower.min() >= low and clipped.upper.max() <= high
    assert clipped.count.sum() == pytest.approx(density.count.sum(), rel=1e-12)
    if low <= t < high:
        assert _mass_below(clipped, t) == pytest.approx(_mass_below(density, t), rel=1e-9, abs=1e-9)


@SETTINGS
@given(values=_values, interval=_intervals, bits=st.sampled_from([4, 8]), symmetric=st.booleans())
def test_range_for_saturating_readers_beats_their_full_range(values, interval, bits, symmetric):
    """The acceptance property of MSE, for the values the readers see: the
    chosen range lies in the interval (extended to 0) and its expected error on
    the clipped density is no larger than that of the clipped values' full range."""
    observer = HistogramMSEObserver(2048)
    observer.update(values)
    low, high = interval
    lo, hi = observer.select_range(bits, symmetric, interval=interval)
    clipped_min, clipped_max = float(np.clip(values.min(), low, high)), float(np.clip(values.max(), low, high))
    full_lo, full_hi = range_with_zero(clipped_min, clipped_max, symmetric)
    if not symmetric:  # within one step: the window's ends are multiples of its step
        step = (hi - lo) / (2**bits - 1)
        assert min(low, 0.0) - step * (1 + 1e-9) <= lo and hi <= max(high, 0.0) + step * (1 + 1e-9)
    if full_hi == full_lo:
        assert (lo, hi) == (0.0, 0.0)
        return
    clipped = SimpleNamespace(density=lambda: saturated(observer.histogram.density(), low, high))
    chosen = expected_mse(clipped, lo, hi, bits, symmetric)
    full = expected_mse(clipped, full_lo, full_hi, bits, symmetric)
    assert chosen <= full * (1 + 1e-9) + 1e-300


@SETTINGS
@given(values=_values, bits=st.sampled_from([4, 8]), symmetric=st.booleans())
def test_an_interval_holding_every_value_changes_nothing(values, bits, symmetric):
    observer = HistogramMSEObserver(2048)
    observer.update(values)
    wide = (float(values.min()) - 1.0, np.inf)
    assert observer.select_range(bits, symmetric, interval=wide) == observer.select_range(bits, symmetric)


def _hard_swish(x: np.ndarray) -> np.ndarray:
    return x * np.clip(x + 3.0, 0.0, 6.0) / 6.0


def _quantized(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """As the scale selection quantizes (asymmetric int8, 0 on the grid)."""
    step = (hi - lo) / 255
    zero_point = round(-lo / step)
    return np.clip(np.round(values / step), -zero_point, 255 - zero_point) * step


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_hard_swish_sees_less_error_than_with_the_plain_range(seed):
    """A conv output read by hard_swish, with the long negative tail real ones
    have (orientation's: [-31, 27]): the interval-aware range gives hard_swish's
    output a smaller error, on the data itself, than the plain MSE range."""
    rng = np.random.default_rng(seed)
    values = np.concatenate([rng.normal(0.5, 2.0, 40000), -rng.exponential(6.0, 8000), rng.exponential(3.0, 2000)])
    observer = HistogramMSEObserver(2048)
    observer.update(values)
    plain = observer.select_range(8, False)
    aware = observer.select_range(8, False, interval=(-3.0, np.inf))
    assert aware[0] > -3.1 and plain[0] < -6.0  # the aware one: -3 up to a zero point on the grid

    def reader_error(lo_hi):
        return float(np.mean((_hard_swish(_quantized(values, *lo_hi)) - _hard_swish(values)) ** 2))

    assert reader_error(aware) < 0.8 * reader_error(plain)


def test_saturated_splits_a_tiny_bin_far_from_an_end_without_overflow():
    """A bin far narrower than its distance to an end (1e-300 wide, 1e10 away):
    its fraction beyond the end is all or nothing, with no overflowing division."""
    density = DensityBins(np.array([0.0, 1.0]), np.array([1e-300, 2.0]), np.array([3.0, 4.0]))
    with np.errstate(all="raise"):
        beyond = saturated(density, 1e10, 2e10)
        inside = saturated(density, -1e10, 1.5)
    assert beyond.lower.tolist() == [1e10] and beyond.count.tolist() == [7.0]
    assert inside.count.tolist() == [3.0, 2.0, 2.0] and inside.upper.tolist() == [1e-300, 1.5, 1.5]
