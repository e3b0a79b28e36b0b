"""The fast range searches of the histogram observers against plain, slow
references on random histograms: the same selected ranges, and every
candidate cost the search computes equal to a direct evaluation.

- entropy: `_KLSearch.kl` reads each level's term from a table of windows; the
  reference builds P and Q of every candidate bin by bin.
- MSE: `_ExpectedError` skips steps whose clipping error alone exceeds the best
  cost found so far, and evaluates each rounding case only where it applies;
  the reference evaluates every candidate on every bin, clipping included,
  with nothing skipped.
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from runtime.observers import HistogramMSEObserver, StreamingHistogram
from runtime.observers import entropy
from runtime.observers.base import range_with_zero
from runtime.observers.entropy import _KLSearch, entropy_range
from runtime.observers.mse import _ExpectedError, _mean_rounding_error, mse_range

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Few values (so the plain references stay cheap on any number of bins), with
# repeats and exact zeros: point masses, empty levels, near-ties.
_values = hnp.arrays(
    np.float64,
    st.integers(1, 60),
    elements=st.one_of(
        st.floats(-100, 100, allow_nan=False, allow_subnormal=False),
        st.sampled_from([0.0, 1.0, -3.0, 7.5]),
    ),
)


# ------------------------------------------------------------- entropy -----


def _plain_kl(search: _KLSearch, lo: int, hi: int) -> float:
    """KL(P || Q) of the range [lo, hi) of grid bins, as `_KLSearch` defines it,
    built bin by bin: P clips the outside mass into the end bins; bin j of n
    goes to level round((j + 1/2) * steps / n) (half up); a level's in-range
    mass is shared by its bins non-empty in P; an empty end level receiving
    clipped mass gets half a sample."""
    counts, first, levels = search.counts, search.first, search.levels
    inside = counts[lo - first:hi - first]
    if inside.sum() == 0:
        return np.inf
    p = inside.copy()
    p[0] += counts[:lo - first].sum()
    p[-1] += counts[hi - first:].sum()
    n, steps = inside.size, levels - 1
    j = np.arange(n)
    level = ((2 * j + 1) * steps + n) // (2 * n)
    mass = np.bincount(level, weights=inside, minlength=levels)
    nonempty = np.bincount(level, weights=(p > 0).astype(np.float64), minlength=levels)
    q = np.where((p > 0) & (mass[level] > 0), mass[level] / np.maximum(nonempty[level], 1.0), 0.0)
    for end in {0, n - 1}:
        if p[end] > 0 and q[end] == 0:
            q[end] = 0.5
    p, q = p / counts.sum(), q / q.sum()
    used = p > 0
    return float(np.sum(p[used] * np.log(p[used] / q[used])))


def _plain_kl_search(search: _KLSearch, lows: np.ndarray, highs: np.ndarray) -> np.ndarray:
    return np.array([_plain_kl(search, int(lo), int(hi)) for lo, hi in zip(lows, highs)])


def _entropy_runs(histogram, bits, symmetric):
    """entropy_range with the fast KL and with the plain KL, recording the
    candidates each evaluates: (range, calls), calls = [(search, lows, highs, kl)]."""
    runs = []
    for kl in (_KLSearch.kl, _plain_kl_search):
        calls = []

        def recording_kl(search, lows, highs, kl=kl, calls=calls):
            result = kl(search, lows, highs)
            calls.append((search, lows.copy(), highs.copy(), result))
            return result

        with mock.patch.object(_KLSearch, "kl", recording_kl):
            runs.append((entropy_range(histogram, bits, symmetric), calls))
    return runs


def _plain_kl_of_choice(calls) -> float:
    """The plain KL of the candidate a search chose: its last evaluation's
    argmin (the fine stage's, when there is one)."""
    search, lows, highs, result = calls[-1]
    k = int(np.argmin(result))
    return _plain_kl(search, int(lows[k]), int(highs[k]))


@SETTINGS
@given(values=_values, num_bins=st.sampled_from([16, 48, 128, 200]), bits=st.integers(2, 5),
       symmetric=st.booleans())
def test_entropy_search_selects_the_range_a_plain_kl_selects(values, num_bins, bits, symmetric):
    """Few levels for many bins: most candidates merge bins into levels (the
    fast path). Every KL the search computes matches the plain one, and the
    search selects the range the plain KL selects -- or, where two candidates
    tie up to rounding (KL 0 computed as 0 or 6e-17), one as good by the
    plain KL."""
    histogram = StreamingHistogram(num_bins)
    histogram.update(values)
    (fast, fast_calls), (reference, plain_calls) = _entropy_runs(histogram, bits, symmetric)
    for search, lows, highs, result in fast_calls:
        plain = _plain_kl_search(search, lows, highs)
        assert np.array_equal(np.isinf(result), np.isinf(plain))
        finite = np.isfinite(plain)
        np.testing.assert_allclose(result[finite], plain[finite], rtol=1e-9, atol=1e-12)
    if fast != reference:
        assert _plain_kl_of_choice(fast_calls) <= _plain_kl_of_choice(plain_calls) + 1e-12


@settings(max_examples=25, deadline=None)
@given(values=_values, num_bins=st.sampled_from([16, 64, 200]), bits=st.integers(2, 4))
def test_entropy_window_table_equals_the_direct_level_sums(values, num_bins, bits):
    """The table of level terms is skipped when it would be large (few bits,
    very many bins); both ways give the same KL to the last bit."""
    histogram = StreamingHistogram(num_bins)
    histogram.update(values)
    histogram = histogram.covering(*range_with_zero(values.min(), values.max(), False))
    occupied = np.flatnonzero(histogram.counts)
    lowest = min(histogram.start + int(occupied[0]), 0)
    highest = max(histogram.start + int(occupied[-1]) + 1, 0)
    pairs = [(lo, hi) for lo in range(lowest, 1) for hi in range(0, highest + 1) if hi > lo]
    lows, highs = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    levels = 2**bits
    search = _KLSearch(histogram, lowest, highest, levels)
    if search.total == 0:  # only exact zeros: entropy_range never searches
        return
    with_table = search.kl(lows, highs)
    with mock.patch.object(entropy, "_CHUNK_ENTRIES", 2):  # no room for a table
        direct = _KLSearch(histogram, lowest, highest, levels).kl(lows, highs)
    np.testing.assert_array_equal(with_table, direct)


def test_entropy_search_on_a_coarse_grid_matches_the_plain_kl():
    """Beyond `_EXHAUSTIVE_PAIRS` candidates (two-sided data on 512 bins at
    8 bits): the coarse-then-fine search, with the plain KL, selects the same."""
    rng = np.random.default_rng(11)
    values = np.concatenate([rng.laplace(size=20000), rng.normal(3.0, 0.2, size=3000)])
    histogram = StreamingHistogram(512)
    histogram.update(values)
    (fast, _), (reference, _) = _entropy_runs(histogram, 8, False)
    assert fast == reference
    assert fast[1] < values.max()  # the search did clip: a real choice was made


# ----------------------------------------------------------------- MSE -----


def _plain_costs(error: _ExpectedError, steps: np.ndarray, owner: np.ndarray, lows: np.ndarray,
                 highs: np.ndarray) -> np.ndarray:
    """Expected squared error (times the count) of every candidate, summed
    over every bin of the density: clipped values cost their squared distance
    to the nearer end, in-range values the mean rounding error of their part
    of the bin. Nothing is skipped or accumulated across candidates."""
    lower, upper, count = error.lower, error.upper, error.count
    step, lo, hi = steps[owner][:, None], lows[:, None], highs[:, None]
    width = upper - lower
    point = width == 0
    safe_width = np.where(point, 1.0, width)
    a, b = np.clip(lower, lo, hi), np.clip(upper, lo, hi)
    fraction = np.where(point, ((lower >= lo) & (lower <= hi)).astype(np.float64), (b - a) / safe_width)
    inside = count * fraction * _mean_rounding_error(a, b, step)
    # Above hi: the bin's part [max(lower, hi), upper]; below lo: [lower, min(upper, lo)].
    start = np.maximum(lower, hi)
    above = np.where(point, np.where(lower > hi, count * (lower - hi) ** 2, 0.0),
                     np.where(upper > hi, count / safe_width * ((upper - hi) ** 3 - (start - hi) ** 3) / 3.0, 0.0))
    end = np.minimum(upper, lo)
    below = np.where(point, np.where(lower < lo, count * (lo - lower) ** 2, 0.0),
                     np.where(lower < lo, count / safe_width * ((lo - lower) ** 3 - (lo - end) ** 3) / 3.0, 0.0))
    return np.sum(inside + above + below, axis=1)


@pytest.mark.filterwarnings("error")  # pruning must not divide by zero or overflow
@SETTINGS
@given(values=_values, num_bins=st.sampled_from([16, 128, 512, 2048]), bits=st.sampled_from([2, 4, 8]),
       symmetric=st.booleans())
def test_mse_search_selects_the_range_a_plain_evaluation_selects(values, num_bins, bits, symmetric):
    """Every cost the fast search computes equals the plain evaluation; every
    candidate it skips costs more than the minimum; the search over plain
    costs of all candidates selects the same range, or (a tie up to rounding)
    one as good by the plain costs. 512 and 2048 bins take the
    coarse-then-fine path."""
    histogram = StreamingHistogram(num_bins)
    histogram.update(values)
    computed = []
    fast_call = _ExpectedError.__call__

    def recording_call(error, steps, owner, lows, highs):
        result = fast_call(error, steps, owner, lows, highs)
        computed.append((error, steps, owner, lows, highs, result))
        return result

    with mock.patch.object(_ExpectedError, "__call__", recording_call):
        fast = mse_range(histogram, bits, symmetric)
    for error, steps, owner, lows, highs, result in computed:
        plain = _plain_costs(error, steps, owner, lows, highs)
        tolerance = 1e-9 * plain.min() + 1e-12 * float(error.count.sum()) * float(steps.max()) ** 2
        evaluated = np.isfinite(result)
        assert evaluated.any()
        np.testing.assert_allclose(result[evaluated], plain[evaluated], rtol=1e-9, atol=tolerance)
        assert np.all(plain[~evaluated] >= result.min() - tolerance)
        assert plain[np.argmin(result)] <= plain.min() + tolerance
    plain_calls = []

    def recording_plain(error, steps, owner, lows, highs):
        result = _plain_costs(error, steps, owner, lows, highs)
        plain_calls.append((error, steps, owner, lows, highs, result))
        return result

    with mock.patch.object(_ExpectedError, "__call__", recording_plain):
        reference = mse_range(histogram, bits, symmetric)
    if fast != reference:  # only a tie up to rounding may pick another range
        assert _plain_cost_of_choice(computed) <= _plain_cost_of_choice(plain_calls) * (1 + 1e-9)


def _plain_cost_of_choice(calls) -> float:
    """The plain cost of the candidate mse_range chose from its evaluations:
    the coarse stage's argmin, replaced by the fine stage's if that is lower."""
    chosen, plain = np.inf, np.inf
    for error, steps, owner, lows, highs, result in calls:
        k = int(np.argmin(result))
        if result[k] < chosen:
            chosen = result[k]
            plain = _plain_costs(error, steps, owner[k:k + 1], lows[k:k + 1], highs[k:k + 1])[0]
    return float(plain)


def test_mse_search_skips_most_steps_on_a_heavy_tailed_activation():
    """The pruning is real on data like an activation's: most coarse steps
    clip too much to win and are never evaluated, and the range is the same
    as the plain evaluation's."""
    rng = np.random.default_rng(12)
    observer = HistogramMSEObserver(2048)
    observer.update(rng.laplace(size=50000))
    results = []
    fast_call = _ExpectedError.__call__

    def recording_call(error, steps, owner, lows, highs):
        results.append(fast_call(error, steps, owner, lows, highs))
        return results[-1]

    with mock.patch.object(_ExpectedError, "__call__", recording_call):
        fast = observer.select_range(8, symmetric=True)
    coarse = results[0]
    assert np.isinf(coarse).sum() > coarse.size / 2
    with mock.patch.object(_ExpectedError, "__call__", _plain_costs):
        assert observer.select_range(8, symmetric=True) == fast
    lo, hi = fast
    assert -lo == hi < np.abs(range_with_zero(observer.min_val, observer.max_val, True)).max()
