"""The MSE range search's speed-ups choose exactly the ranges of the search
they replaced: the definitions it had before (`_OldClipCosts`,
`_old_mean_rounding_error`, `_OldExpectedError`, kept below as they were)
against `runtime.observers.mse` now, on random histograms, adversarial ones
included (all values one number, exact zeros, one-sided, ranges from 2**-70
to 2**70, few and many bins, 2 to 16 bits, symmetric and asymmetric, with and
without a saturating reader's interval):

- `mse_range` selects the same range, bit for bit;
- every cost array the search computes equals the old one: the same
  candidates evaluated, the same values (so the same pruning decisions);
- the parts, bit for bit: the per-bin rounding errors (`_bin_rounding_errors`)
  and the clipping errors (`_ClipCosts.above`, in blocks and with its padded
  tables);
- `_StepClips.lower_bound` never exceeds a step's least clipping error, the
  first step it picks is the exact errors' one, and on an activation-like
  histogram it spares most candidates' clipping errors.

Speed is measured in bench/bench_quantize_time.py, not here.
"""

from __future__ import annotations

import struct
from unittest import mock

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from runtime.observers import mse
from runtime.observers.histogram import DensityBins, StreamingHistogram
from runtime.observers.mse import (
    _STEPS_PER_CHUNK,
    _bin_rounding_errors,
    _ClipCosts,
    _ExpectedError,
    _mirror,
    _StepClips,
    mse_range,
)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------- the definitions replaced -----


class _OldClipCosts:
    """Squared clipping error and count of the density above any threshold.

    A bin [l, u] holding c values uniformly contributes, for a threshold t,
    c / (u - l) * integral_{max(l, t)}^{u} (x - t)^2 dx. Bins wholly above t
    are summed with suffix sums of moments taken about the density's mean
    (to keep the expansion of (x - t)^2 well conditioned); at most one bin
    straddles t and is added on its own.
    """

    def __init__(self, density: DensityBins):
        self.lower, self.upper, self.count = density.lower, density.upper, density.count
        width = self.upper - self.lower
        centre = 0.5 * (self.lower + self.upper)
        self.reference = float(np.average(centre, weights=self.count))
        centre = centre - self.reference

        def suffix(terms):  # suffix[k] = sum over bins k.., and 0 past the end
            return np.concatenate([np.cumsum(terms[::-1])[::-1], [0.0]])

        self.count_suffix = suffix(self.count)
        self.first_moment_suffix = suffix(self.count * centre)
        # A uniform bin's second moment about its centre is width^2 / 12.
        self.second_moment_suffix = suffix(self.count * (centre**2 + width**2 / 12.0))

    def above(self, thresholds: np.ndarray) -> np.ndarray:
        """Squared clipping error of the values above each threshold."""
        t = np.asarray(thresholds, dtype=np.float64)
        bins = len(self.count)
        # First bin whose upper end lies above t; the bins after it lie wholly above.
        k = np.searchsorted(self.upper, t, side="right")
        after = np.minimum(k + 1, bins)
        shifted = t - self.reference
        cost = (
            self.second_moment_suffix[after]
            - 2.0 * shifted * self.first_moment_suffix[after]
            + shifted**2 * self.count_suffix[after]
        )
        # Bin k itself (if any): whole, straddling t, or a zero-width point mass.
        exists = k < bins
        kk = np.minimum(k, bins - 1)
        low, up, c = self.lower[kk], self.upper[kk], self.count[kk]
        start = np.where(exists, np.maximum(low, t), up)
        width = up - low
        # The fraction of the bin above t (a point mass: all of it, as up > t).
        fraction = np.divide(up - start, width, out=exists.astype(np.float64), where=width > 0)
        a, b = up - t, start - t
        cost = cost + np.where(exists, c * fraction * (a * a + a * b + b * b) / 3.0, 0.0)
        # The suffix-sum expansion can round slightly below zero.
        return np.maximum(cost, 0.0)


def _old_mean_rounding_error(low, up, step):
    """Mean of (x - step * round(x / step))^2 for x uniform on [low, up]
    (broadcast; the value at low when low == up).

    Rounding is constant on cells [(k - 1/2) step, (k + 1/2) step). Within one
    cell the integral of (x - q)^2 is (A^2 + AB + B^2) / 3 times the length
    (A, B the ends' offsets from q), free of cancellation however narrow the
    bin; a bin over two cells is split at the boundary; over more, whole
    periods are counted (step^3 / 12 each) and the partial ends added, with
    y = x / step + 1/2 = k + f, period-relative position h(f) = (f - 1/2)^3.
    Each case is computed only for the bins it applies to (this is the inner
    loop of the MSE search).
    """
    shape = np.broadcast_shapes(np.shape(low), np.shape(up), np.shape(step))
    low, up, step = (a.ravel() for a in np.broadcast_arrays(low, up, step))
    y_low, y_up = low / step + 0.5, up / step + 0.5
    k_low, k_up = np.floor(y_low), np.floor(y_up)
    cells = k_up - k_low
    out = np.empty(cells.shape)

    def one_cell(a, b):  # mean of (x - q)^2 over an interval whose ends are a, b from q
        return (a * a + a * b + b * b) / 3.0

    same = np.flatnonzero(cells == 0)
    if same.size:
        s, kl = step[same], k_low[same]
        out[same] = one_cell(up[same] - kl * s, low[same] - kl * s)
    two = np.flatnonzero(cells == 1)
    if two.size:
        lo_, up_, s, kl, ku = low[two], up[two], step[two], k_low[two], k_up[two]
        width = up_ - lo_
        boundary = (kl + 0.5) * s
        half = 0.5 * s
        out[two] = ((boundary - lo_) / width) * one_cell(half, lo_ - kl * s) + (
            (up_ - boundary) / width
        ) * one_cell(up_ - ku * s, -half)
    many = np.flatnonzero(cells > 1)
    if many.size:
        s, kl, ku = step[many], k_low[many], k_up[many]
        f_low, f_up = y_low[many] - kl, y_up[many] - ku
        out[many] = s**3 * (
            (ku - kl) / 12.0 + ((f_up - 0.5) ** 3 - (f_low - 0.5) ** 3) / 3.0
        ) / (up[many] - low[many])
    return out.reshape(shape)


class _OldExpectedError:
    """Expected squared quantization error of the density for many candidate
    quantizers (step, lo, hi), lo and hi being multiples of the step."""

    def __init__(self, density: DensityBins):
        self.lower, self.upper, self.count = density.lower, density.upper, density.count
        self.above = _OldClipCosts(density)
        self.below = _OldClipCosts(_mirror(density))
        self.width = self.upper - self.lower

    def _bin_errors(self, steps: np.ndarray) -> np.ndarray:
        """Expected squared rounding error of each bin's values, summed, for
        each step (rows)."""
        return self.count * _old_mean_rounding_error(self.lower, self.upper, steps[:, None])

    def __call__(self, steps: np.ndarray, owner: np.ndarray, lows: np.ndarray,
                 highs: np.ndarray) -> np.ndarray:
        """Cost of candidate i: step `steps[owner[i]]`, range [lows[i], highs[i]].
        `owner` is sorted (the candidates of one step are contiguous).

        A candidate costs at least its clipping error, so a step whose every
        candidate clips more than the best cost found so far cannot hold the
        minimum: its rounding errors (the expensive part) are not computed and
        its candidates cost inf. The minimum and its first index are those
        of the full evaluation.
        """
        clip = self.below.above(-lows) + self.above.above(highs)
        cost = np.full(lows.size, np.inf)
        bounds = np.searchsorted(owner, np.arange(steps.size + 1))
        has_candidates = bounds[1:] > bounds[:-1]
        step_clip = np.full(steps.size, np.inf)
        step_clip[has_candidates] = np.minimum.reduceat(clip, bounds[:-1][has_candidates])
        # The likeliest winner first, for a tight bound: clipping plus the
        # rounding error of values spread evenly over steps (step^2 / 12 each).
        estimate = step_clip + float(self.count.sum()) * steps**2 / 12.0
        first = int(np.argmin(estimate))
        rest = np.argsort(step_clip, kind="stable")
        rest = rest[rest != first]
        # The likeliest step alone sets the first bound.
        chunks = [np.array([first])] + [
            rest[begin:begin + _STEPS_PER_CHUNK] for begin in range(0, rest.size, _STEPS_PER_CHUNK)
        ]
        best = np.inf
        for chunk in chunks:
            # A relative margin keeps steps whose cost could round to a tie.
            chunk = chunk[step_clip[chunk] <= best * (1.0 + 1e-9)]
            if chunk.size == 0:
                break  # the rest clip even more: `rest` is sorted by clipping
            chunk = chunk[has_candidates[chunk]]
            if chunk.size == 0:
                continue
            counts = bounds[chunk + 1] - bounds[chunk]
            row = np.repeat(np.arange(chunk.size), counts)
            # The candidates of the chunk's steps, each step's contiguously.
            index = np.arange(row.size) + np.repeat(bounds[chunk] - np.cumsum(counts) + counts, counts)
            cost[index] = clip[index] + self._inside(steps[chunk], row, lows[index], highs[index])
            best = min(best, float(cost[index].min()))
        return cost

    def _inside(self, chunk_steps: np.ndarray, row: np.ndarray, lo: np.ndarray,
                hi: np.ndarray) -> np.ndarray:
        """Rounding error of the values inside [lo, hi] at step chunk_steps[row]."""
        lower, upper, count = self.lower, self.upper, self.count
        # Bins [first, stop) reach into [lo, hi]; the end ones may straddle it.
        f = np.searchsorted(upper, lo, side="right")
        s = np.searchsorted(lower, hi, side="left")
        per_bin = self._bin_errors(chunk_steps)
        cumulative = np.concatenate(
            [np.zeros((chunk_steps.size, 1)), np.cumsum(per_bin, axis=1)], axis=1
        )
        step = chunk_steps[row]
        inside = np.where(s > f, cumulative[row, s] - cumulative[row, f], 0.0)
        # Replace the end bins' whole-bin error by that of their in-range part.
        for k, applies in ((f, s > f), (s - 1, s - 1 > f)):
            kk = np.clip(k, 0, lower.size - 1)
            whole = cumulative[row, kk + 1] - cumulative[row, kk]
            a = np.maximum(lower[kk], lo)
            b = np.maximum(np.minimum(upper[kk], hi), a)
            width = self.width[kk]
            part = np.where(
                width > 0,
                count[kk] * ((b - a) / np.where(width > 0, width, 1.0))
                * _old_mean_rounding_error(a, b, step),
                whole,  # a point mass reaching into the range lies wholly inside
            )
            inside += np.where(applies, part - whole, 0.0)
        return inside


# ------------------------------------------------------------ inputs -----


@st.composite
def histograms(draw):
    """A histogram of values of one of several shapes, scaled by 2**k, and
    maybe the interval of a reader that saturates (`mse_range`'s `interval`)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    size = draw(st.integers(1, 3000))
    shape = draw(st.sampled_from(["laplace", "one value", "one-sided", "zeros", "two clusters", "few"]))
    if shape == "laplace":
        values = rng.laplace(size=size) * rng.uniform(0.1, 3.0) + rng.uniform(-1.0, 1.0)
    elif shape == "one value":
        values = np.full(size, draw(st.sampled_from([1.0, -1.0, 0.3, -7.25, 1e-3])))
    elif shape == "one-sided":
        values = np.abs(rng.normal(size=size)) * draw(st.sampled_from([1.0, -1.0]))
    elif shape == "zeros":
        values = rng.normal(size=size) * (rng.random(size) < 0.3)
    elif shape == "two clusters":
        values = np.concatenate([rng.normal(0.0, 0.1, size), rng.normal(5.0, 0.01, size // 10 + 1)])
    else:
        values = np.array(draw(st.lists(st.sampled_from([0.0, 1.0, -3.0, 7.5, 0.5, 2.0**-20]), min_size=1,
                                        max_size=12)))
    values = values * 2.0 ** draw(st.integers(-70, 70))
    histogram = StreamingHistogram(draw(st.sampled_from([2, 5, 64, 256, 300, 2048])))
    for batch in np.array_split(values, draw(st.integers(1, 3))):
        histogram.update(batch)
    interval = None
    if draw(st.booleans()):
        low, high = sorted(np.quantile(values, draw(st.lists(st.floats(0.0, 1.0), min_size=2, max_size=2))))
        interval = (float(low), float(high))
    return histogram, interval


def _bits(value: float) -> bytes:
    return struct.pack("<d", value)


def _evaluations(histogram, bits, symmetric, interval):
    """mse_range's evaluations: [(error, steps, owner, lows, highs, costs)]."""
    calls = []
    new_call = _ExpectedError.__call__

    def recording(error, *candidates):
        result = new_call(error, *candidates)
        calls.append((error, *candidates, result))
        return result

    with mock.patch.object(_ExpectedError, "__call__", recording):
        mse_range(histogram, bits, symmetric, interval)
    return calls


def _old_search():
    return mock.patch.object(mse, "_ExpectedError", _OldExpectedError)


# ------------------------------------------------------------- tests -----


@SETTINGS
@given(case=histograms(), bits=st.sampled_from([2, 4, 8, 16]), symmetric=st.booleans())
def test_mse_range_selects_the_old_range_bit_for_bit(case, bits, symmetric):
    histogram, interval = case
    new = mse_range(histogram, bits, symmetric, interval)
    with _old_search():
        old = mse_range(histogram, bits, symmetric, interval)
    assert [_bits(end) for end in new] == [_bits(end) for end in old]


@SETTINGS
@given(case=histograms(), bits=st.sampled_from([4, 8, 16]), symmetric=st.booleans())
def test_every_cost_the_search_computes_is_the_old_one(case, bits, symmetric):
    """Not only the choice: each evaluation (coarse and fine) computes the costs
    of the same candidates, to the same values, and skips the same ones."""
    histogram, interval = case
    for error, steps, owner, lows, highs, result in _evaluations(histogram, bits, symmetric, interval):
        old = _OldExpectedError(DensityBins(error.lower, error.upper, error.count))
        np.testing.assert_array_equal(result, old(steps, owner, lows, highs))


def _density(rng, bins: int, point_masses: bool) -> DensityBins:
    """Sorted bins on a grid, some empty (gaps), some zero-width."""
    width = 2.0 ** int(rng.integers(-12, 4))
    grid = np.sort(rng.choice(np.arange(-3 * bins, 3 * bins), size=bins, replace=False))
    lower, upper = grid * width, (grid + 1) * width
    if point_masses:
        points = rng.random(bins) < 0.2
        upper[points] = lower[points]
    return DensityBins(lower, upper, rng.integers(1, 1000, size=bins).astype(np.float64))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), bins=st.integers(1, 400), point_masses=st.booleans())
def test_bin_rounding_errors_equal_the_old_mean_rounding_error_bit_for_bit(seed, bins, point_masses):
    """Steps from a tenth of a bin to many bins: one, two and many cells per bin."""
    rng = np.random.default_rng(seed)
    density = _density(rng, bins, point_masses)
    bin_width = float(np.max(density.upper - density.lower)) or 1.0
    steps = bin_width * 2.0 ** rng.uniform(-4.0, 6.0, size=int(rng.integers(1, 40)))
    new = _bin_rounding_errors(density.lower, density.upper, steps)
    old = _old_mean_rounding_error(density.lower, density.upper, steps[:, None])
    assert new.tobytes() == old.tobytes()


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), bins=st.integers(1, 400), point_masses=st.booleans(),
       mirrored=st.booleans())
def test_clip_costs_equal_the_old_ones_bit_for_bit(seed, bins, point_masses, mirrored):
    """Thresholds below, inside, on the edges of and beyond the bins, more of
    them than one block holds."""
    rng = np.random.default_rng(seed)
    density = _density(rng, bins, point_masses)
    if mirrored:
        density = _mirror(density)
    edges = np.concatenate([density.lower, density.upper])
    span = float(edges.max() - edges.min()) or 1.0
    thresholds = np.concatenate([
        edges,
        rng.uniform(edges.min() - span, edges.max() + span, size=int(rng.integers(1, 3 * mse._BLOCK))),
    ])
    rng.shuffle(thresholds)
    new = _ClipCosts(density).above(thresholds)
    old = _OldClipCosts(density).above(thresholds)
    assert new.tobytes() == old.tobytes()


def _problem(histogram, bits, interval=None):
    """The coarse candidates `mse_range` gives `_ExpectedError` (asymmetric)."""
    calls = _evaluations(histogram, bits, False, interval)
    return calls[0][:5] if calls else None  # a histogram of zeros alone has no range to search


@SETTINGS
@given(case=histograms(), bits=st.sampled_from([8, 16]))
def test_step_clip_lower_bounds_bound_the_exact_least_clipping_errors(case, bits):
    """On 8 and 16 bits, where steps have many zero points (the bounded path)."""
    histogram, interval = case
    problem = _problem(histogram, bits, interval)
    assume(problem is not None)
    error, steps, owner, lows, highs = problem
    clips = _StepClips(error, steps.size, owner, lows, highs)
    old = _OldExpectedError(DensityBins(error.lower, error.upper, error.count))
    exact = np.full(steps.size, np.inf)
    np.minimum.at(exact, owner, old.below.above(-lows) + old.above.above(highs))
    assert np.all(clips.lower_bound <= exact)
    # The first step the search evaluates is the one the exact errors give,
    # and what it learns on the way is exact.
    for extra in (float(error.count.sum()) * steps**2 / 12.0, np.zeros(steps.size)):
        assert clips.argmin_plus(extra) == int(np.argmin(exact + extra))
    np.testing.assert_array_equal(clips.step_clip[clips.known], exact[clips.known])


def test_most_clipping_errors_of_an_activation_are_never_computed():
    """On a heavy-tailed activation (2048 bins, 8 bits) the bounds rule out
    most narrow steps: their candidates' clipping errors stay uncomputed."""
    rng = np.random.default_rng(3)
    histogram = StreamingHistogram(2048)
    histogram.update(rng.laplace(size=50000))
    error, steps, owner, lows, highs = _problem(histogram, 8)
    assert lows.size > mse._BLOCK  # the bounded path
    computed = []
    learn = _StepClips.learn

    def recording(clips, which):
        learn(clips, which)
        computed.append(np.isfinite(clips.clip).sum())

    with mock.patch.object(_StepClips, "learn", recording):
        error(steps, owner, lows, highs)
    assert computed[-1] < lows.size / 5
