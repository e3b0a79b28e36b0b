"""Calibration observers (runtime.observers): streaming statistics, exact
merging, and the range each calibration method selects."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from runtime.observers import (
    HistogramEntropyObserver,
    HistogramMSEObserver,
    HistogramPercentileObserver,
    MinMaxObserver,
    MovingAverageMinMaxObserver,
    ObserverError,
    StreamingHistogram,
    observer_from_dict,
)
from runtime.observers.base import range_with_zero

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ------------------------------------------------------------ strategies ---


def _batches(elements, max_batches=5, max_size=40):
    def one_batch(dtype):
        return hnp.arrays(dtype, st.integers(0, max_size), elements=elements(dtype))

    return st.sampled_from([np.float32, np.float64]).flatmap(
        lambda dtype: st.lists(one_batch(dtype), min_size=1, max_size=max_batches)
    ).filter(lambda batches: sum(b.size for b in batches) > 0)


def _any_finite(dtype):
    width = 32 if dtype == np.float32 else 64
    # Subnormals and signed zeros included: the grid must stay exact for them.
    return st.floats(-1e6, 1e6, allow_nan=False, width=width)


def _moderate(dtype):
    width = 32 if dtype == np.float32 else 64
    small_or_zero = st.sampled_from([0.0, -0.0])
    return st.one_of(
        st.floats(-1e4, 1e4, allow_nan=False, allow_subnormal=False, width=width), small_or_zero
    )


any_batches = _batches(_any_finite)
moderate_batches = _batches(_moderate)


def _observer_factories(num_bins):
    return [
        MinMaxObserver,
        lambda: MovingAverageMinMaxObserver(0.01),
        lambda: HistogramMSEObserver(num_bins),
        lambda: HistogramEntropyObserver(num_bins),
        lambda: HistogramPercentileObserver(99.0, num_bins),
    ]


def _observe(factory, batches):
    observer = factory()
    for batch in batches:
        observer.update(batch)
    return observer


# ----------------------------------------------------------- histogram -----


def _grid_index(value: float, exponent: int) -> int:
    """floor(value / 2**exponent) in exact rational arithmetic."""
    return math.floor(Fraction(value) / Fraction(2) ** exponent)


def _exact_histogram(values: np.ndarray, histogram: StreamingHistogram) -> np.ndarray:
    """All values binned on the histogram's final grid, computed independently."""
    expected = np.zeros(histogram.num_bins, dtype=np.int64)
    for value in values.tolist():
        expected[_grid_index(value, histogram.exponent) - histogram.start] += 1
    return expected


@SETTINGS
@given(batches=any_batches, num_bins=st.sampled_from([2, 3, 8, 64]))
def test_histogram_equals_exact_binning_of_all_data(batches, num_bins):
    """However the range grows between batches, no count is lost or moved."""
    histogram = StreamingHistogram(num_bins)
    for batch in batches:
        histogram.update(batch)
    values = np.concatenate([b.astype(np.float64) for b in batches])
    assert histogram.total == values.size == int(histogram.counts.sum())
    assert histogram.min_val == values.min() and histogram.max_val == values.max()
    assert histogram.zero_count == int(np.count_nonzero(values == 0))
    np.testing.assert_array_equal(histogram.counts, _exact_histogram(values, histogram))
    # The grid is the finest that holds [min, max] in num_bins bins (within
    # the bounds: 2**-40 of the largest magnitude, and 2**-1074).
    assert np.flatnonzero(histogram.counts)[0] == 0
    magnitude = max(abs(values.min()), abs(values.max()))
    finest = -1074 if magnitude == 0 else max(math.frexp(magnitude)[1] - 40, -1074)
    assert histogram.exponent >= finest
    if histogram.exponent > finest:
        finer = histogram.exponent - 1
        assert _grid_index(values.max(), finer) - _grid_index(values.min(), finer) + 1 > num_bins


def test_histogram_growth_keeps_counts_across_many_regrids():
    histogram = StreamingHistogram(16)
    values = []
    for scale in [1e-3, 1e-1, 1.0, 37.0, 1e4]:
        batch = np.linspace(-scale, 2 * scale, 101)
        values.append(batch)
        histogram.update(batch)
    assert histogram.total == 505 == histogram.counts.sum()
    np.testing.assert_array_equal(histogram.counts, _exact_histogram(np.concatenate(values), histogram))


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("value", [0.0, 3.7, -2.5e-30, 6.0e20])
def test_constant_tensor(value):
    """A constant tensor (one repeated value) gives a finite bin width and a
    range from 0 to the value, with no division by zero."""
    batch = np.full(1000, value, dtype=np.float32)
    expected = range_with_zero(float(batch[0]), float(batch[0]), symmetric=False)
    for factory in _observer_factories(2048):
        observer = _observe(factory, [batch, batch])
        lo, hi = observer.select_range(8, symmetric=False)
        assert (lo, hi) == pytest.approx(expected, rel=1e-9, abs=0.0)
        a = max(-lo, hi)
        assert observer.select_range(8, symmetric=True) == pytest.approx((-a, a), rel=1e-9, abs=0.0)
    histogram = StreamingHistogram(2048)
    histogram.update(batch)
    assert 0.0 < histogram.bin_width < math.inf


# ------------------------------------------------------------ merge ---------


@SETTINGS
@given(batches=any_batches, split=st.integers(0, 5), num_bins=st.sampled_from([2, 8, 64]))
def test_merge_equals_sequential_observation_exactly(batches, split, num_bins):
    """Min/max and histogram statistics merge exactly, bit for bit."""
    split = min(split, len(batches))
    factories = [MinMaxObserver] + [
        lambda: HistogramMSEObserver(num_bins),
        lambda: HistogramEntropyObserver(num_bins),
        lambda: HistogramPercentileObserver(99.0, num_bins),
    ]
    for factory in factories:
        sequential = _observe(factory, batches)
        merged = _observe(factory, batches[:split])
        merged.merge(_observe(factory, batches[split:]))
        assert merged.to_dict() == sequential.to_dict()


@SETTINGS
@given(
    batches=moderate_batches,
    split=st.integers(0, 5),
    num_bins=st.sampled_from([8, 64, 2048]),
    bits=st.sampled_from([4, 8, 16]),
    symmetric=st.booleans(),
)
def test_merge_selects_the_same_range_for_every_method(batches, split, num_bins, bits, symmetric):
    split = min(split, len(batches))
    for factory in _observer_factories(num_bins):
        sequential = _observe(factory, batches)
        merged = _observe(factory, batches[:split])
        merged.merge(_observe(factory, batches[split:]))
        expected = sequential.select_range(bits, symmetric)
        scale = max(1.0, *(abs(v) for v in expected))
        # Exact for all but the moving average, whose merge re-associates sums.
        assert merged.select_range(bits, symmetric) == pytest.approx(expected, rel=1e-12, abs=1e-12 * scale)


@SETTINGS
@given(batches=any_batches, split=st.integers(0, 5))
def test_moving_average_merge_equals_sequential(batches, split):
    split = min(split, len(batches))
    sequential = _observe(lambda: MovingAverageMinMaxObserver(0.01), batches)
    merged = _observe(lambda: MovingAverageMinMaxObserver(0.01), batches[:split])
    merged.merge(_observe(lambda: MovingAverageMinMaxObserver(0.01), batches[split:]))
    scale = max(abs(sequential.first_min), abs(sequential.first_max), 1e-300)
    assert merged.num_batches == sequential.num_batches
    assert merged.min_val == pytest.approx(sequential.min_val, rel=1e-12, abs=1e-12 * scale)
    assert merged.max_val == pytest.approx(sequential.max_val, rel=1e-12, abs=1e-12 * scale)


def test_merge_three_shards_in_order():
    rng = np.random.default_rng(3)
    batches = [rng.normal(size=50) * (i + 1) for i in range(9)]
    for factory in _observer_factories(128):
        sequential = _observe(factory, batches)
        merged = _observe(factory, batches[:3])
        merged.merge(_observe(factory, batches[3:6]))
        merged.merge(_observe(factory, batches[6:]))
        assert merged.select_range(8, False) == pytest.approx(sequential.select_range(8, False), rel=1e-12)


def test_merge_rejects_mismatched_observers():
    with pytest.raises(ObserverError, match="cannot merge"):
        HistogramMSEObserver(64).merge(HistogramMSEObserver(128))
    with pytest.raises(ObserverError, match="cannot merge"):
        HistogramMSEObserver(64).merge(HistogramEntropyObserver(64))
    with pytest.raises(ObserverError, match="cannot merge"):
        HistogramPercentileObserver(99.0, 64).merge(HistogramPercentileObserver(99.9, 64))
    with pytest.raises(ObserverError, match="constants"):
        MovingAverageMinMaxObserver(0.01).merge(MovingAverageMinMaxObserver(0.1))


# ------------------------------------------------------ range contract -------


@pytest.mark.filterwarnings("error")  # no overflow or division by zero on the way
@SETTINGS
@given(
    batches=moderate_batches,
    num_bins=st.sampled_from([8, 64, 512, 2048]),
    bits=st.sampled_from([2, 4, 8, 16]),
    symmetric=st.booleans(),
)
def test_every_range_contains_zero_and_the_scheme_shape(batches, num_bins, bits, symmetric):
    """lo <= 0 <= hi always (0 must be exact); symmetric ranges are (-a, a).
    Ranges stay within the observed range extended to 0, except that the MSE
    range may reach up to one quantization step past it (its ends lie on the
    quantizer's grid)."""
    values = np.concatenate(batches).astype(np.float64)
    full_lo, full_hi = range_with_zero(values.min(), values.max(), symmetric)
    for factory in _observer_factories(num_bins):
        observer = _observe(factory, batches)
        lo, hi = observer.select_range(bits, symmetric)
        assert lo <= 0.0 <= hi
        if symmetric:
            assert lo == -hi
        slack = (full_hi - full_lo) / (2**bits - 2) * 1.000001 if isinstance(observer, HistogramMSEObserver) else 0.0
        slack += 1e-12 * max(1.0, full_hi - full_lo)
        assert full_lo - slack <= lo and hi <= full_hi + slack


def test_ranges_of_a_relu_output_start_at_zero():
    rng = np.random.default_rng(0)
    batch = np.maximum(rng.normal(size=20000), 0.0)
    for factory in _observer_factories(2048):
        lo, hi = _observe(factory, [batch]).select_range(8, symmetric=False)
        assert lo == 0.0 and 0.0 < hi <= batch.max()


def test_select_range_without_data_is_an_error():
    for factory in _observer_factories(64):
        with pytest.raises(ObserverError, match="no data observed"):
            factory().select_range()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_rejected(bad):
    for factory in _observer_factories(64):
        observer = factory()
        with pytest.raises(ObserverError, match="NaN or Inf"):
            observer.update(np.array([1.0, bad, 2.0]))


def test_empty_batches_are_ignored():
    for factory in _observer_factories(64):
        observer = _observe(factory, [np.zeros(0), np.array([1.0, -2.0]), np.zeros((0, 3))])
        reference = _observe(factory, [np.array([1.0, -2.0])])
        assert observer.to_dict() == reference.to_dict()


# ------------------------------------------------------- serialisation -------


@SETTINGS
@given(batches=moderate_batches)
def test_statistics_round_trip_through_json(batches):
    for factory in _observer_factories(32):
        observer = _observe(factory, batches)
        data = json.loads(json.dumps(observer.to_dict()))
        restored = observer_from_dict(data)
        assert type(restored) is type(observer)
        assert restored.to_dict() == observer.to_dict()
        assert restored.select_range(8, False) == observer.select_range(8, False)


def test_from_dict_rejects_unknown_kinds():
    with pytest.raises(ObserverError, match="unknown observer kind"):
        observer_from_dict({"kind": "median"})
