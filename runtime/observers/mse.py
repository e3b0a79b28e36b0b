"""Histogram MSE range selection: the range whose quantization has the least
expected squared error on the histogram.

The histogram is read as a piecewise-uniform density (`DensityBins`: values
spread evenly within each bin, exact min and max, exact zeros apart). For a
candidate quantizer — the step and the integer grid the scale selection
builds from the range (`base.asymmetric_steps`, `base.symmetric_half_steps`):
real values k * step, clipped to [lo, hi] — the expected error is computed in
closed form: squared distance to the nearer end for values outside, the
integral of the rounding sawtooth for values inside, nothing for exact zeros.

Candidates: widths (symmetric: bounds a) at fractions m / num_bins of the
observed range extended to 0 — first every (num_bins / 256)-th of them, then
all within one such spacing of the best — each width with every zero point
that places the window over the data (at most `_MAX_ZERO_POINTS`, evenly
spread, beyond that). The full observed range, quantized exactly as the scale
selection quantizes it, is always a candidate, so the selected range never
has a larger expected error than it. (A ragged objective could hide a better
width between coarse candidates; the search is exhaustive up to 256 bins.)

Cost: a step's rounding errors take one pass over the bins, its clipping
errors one lookup per candidate. A candidate costs at least its clipping
error, so once a good candidate is known, the steps whose every candidate
clips more (too narrow, most of them on real activations) are skipped
without changing the minimum or which candidate holds it.
"""

from __future__ import annotations

import math

import numpy as np

from runtime.observers.base import ObserverError, asymmetric_steps, range_with_zero, symmetric_half_steps
from runtime.observers.histogram import DensityBins, StreamingHistogram

_MAX_ZERO_POINTS = 512
# Widths searched first; then the finer ones (num_bins of them over the
# range) within one coarse spacing of the coarse optimum.
_COARSE_CANDIDATES = 256
# Candidate steps per vectorised chunk: each costs one pass over the bins.
_STEPS_PER_CHUNK = 128


class _ClipCosts:
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


def _mirror(density: DensityBins) -> DensityBins:
    return DensityBins(-density.upper[::-1], -density.lower[::-1], density.count[::-1])


def _without_zeros(density: DensityBins) -> DensityBins:
    """Exact zeros are never clipped (0 is in every range) and never rounded."""
    keep = ~((density.lower == 0.0) & (density.upper == 0.0))
    return DensityBins(density.lower[keep], density.upper[keep], density.count[keep])


def _mean_rounding_error(low, up, step):
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


class _ExpectedError:
    """Expected squared quantization error of the density for many candidate
    quantizers (step, lo, hi), lo and hi being multiples of the step."""

    def __init__(self, density: DensityBins):
        self.lower, self.upper, self.count = density.lower, density.upper, density.count
        self.above = _ClipCosts(density)
        self.below = _ClipCosts(_mirror(density))
        self.width = self.upper - self.lower

    def _bin_errors(self, steps: np.ndarray) -> np.ndarray:
        """Expected squared rounding error of each bin's values, summed, for
        each step (rows)."""
        return self.count * _mean_rounding_error(self.lower, self.upper, steps[:, None])

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
                * _mean_rounding_error(a, b, step),
                whole,  # a point mass reaching into the range lies wholly inside
            )
            inside += np.where(applies, part - whole, 0.0)
        return inside


def _zero_point_candidates(step: np.ndarray, lo_all: float, hi_all: float,
                           steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Integers z for the windows [-z * step, (steps - z) * step] that matter,
    for every step: (owner, z), the index of each z's step and z itself, the
    z of one step contiguous. Past either end of the interval between the z
    whose hi just covers the data and the z whose lo does, moving the window
    only clips more."""
    toward_hi = np.maximum(0.0, steps - np.ceil(hi_all / step))
    toward_lo = np.minimum(float(steps), np.ceil(-lo_all / step))
    first, last = np.minimum(toward_hi, toward_lo), np.maximum(toward_hi, toward_lo)
    counts = (last - first + 1).astype(np.int64)
    if counts.max() <= _MAX_ZERO_POINTS:  # every integer in [first, last]
        owner = np.repeat(np.arange(step.size), counts)
        offset = np.arange(owner.size) - np.repeat(np.cumsum(counts) - counts, counts)
        return owner, first[owner] + offset
    # Wide intervals (many bits): evenly spread integers.
    zero_points = [
        np.arange(a, b + 1) if b - a + 1 <= _MAX_ZERO_POINTS
        else np.unique(np.round(np.linspace(a, b, _MAX_ZERO_POINTS)))
        for a, b in zip(first, last)
    ]
    owner = np.repeat(np.arange(step.size), [z.size for z in zero_points])
    return owner, np.concatenate(zero_points)


def _fractions(count: int, around: float | None) -> np.ndarray:
    """Candidate fractions of the full range: `_COARSE_CANDIDATES` evenly
    spaced ones, or, around a coarse optimum, the `count`-spaced ones within
    one coarse spacing of it."""
    coarse = min(count, _COARSE_CANDIDATES)
    if around is None:
        return np.arange(1, coarse + 1) / coarse
    reach = math.ceil(count / coarse)
    centre = round(around * count)
    j = np.arange(max(1, centre - reach), min(count, centre + reach) + 1)
    return j / count


def _best_symmetric(error: _ExpectedError, bound: float, fractions: np.ndarray, bits: int):
    bounds = bound * fractions
    cost = error(bounds / symmetric_half_steps(bits), np.arange(bounds.size), -bounds, bounds)
    best = int(np.argmin(cost))
    return float(cost[best]), float(fractions[best]), (-float(bounds[best]), float(bounds[best]))


def _best_asymmetric(error: _ExpectedError, lo_all: float, hi_all: float,
                     fractions: np.ndarray, bits: int):
    levels = asymmetric_steps(bits)
    step = (hi_all - lo_all) * fractions / levels
    owner, z = _zero_point_candidates(step, lo_all, hi_all, levels)
    lows, highs = -z * step[owner], (levels - z) * step[owner]
    cost = error(step, owner, lows, highs)
    best = int(np.argmin(cost))
    return float(cost[best]), float(fractions[owner[best]]), (float(lows[best]), float(highs[best]))


def saturated(density: DensityBins, low: float, high: float) -> DensityBins:
    """The density of clip(x, low, high): the mass beyond an end becomes a point
    mass at that end (a bin straddling it is split in proportion to its parts)."""
    lower, upper, count = density.lower, density.upper, density.count
    width = upper - lower
    # fraction of each bin below `low`, above `high` (a point mass: all or nothing);
    # the part is clipped to the bin before dividing, so a tiny width cannot overflow
    divisor = np.where(width > 0, width, 1.0)
    below = np.where(width > 0, np.clip(low - lower, 0.0, width) / divisor, lower < low)
    above = np.where(width > 0, np.clip(upper - high, 0.0, width) / divisor, upper > high)
    inside = count * np.maximum(1.0 - below - above, 0.0)
    keep = inside > 0
    parts = [(np.clip(lower[keep], low, high), np.clip(upper[keep], low, high), inside[keep])]
    for end, fraction in ((low, below), (high, above)):
        mass = float(np.sum(count * fraction))
        if mass > 0:
            parts.append((np.array([end]), np.array([end]), np.array([mass])))
    lower, upper, count = (np.concatenate(column) for column in zip(*parts))
    order = np.lexsort((upper, lower))
    return DensityBins(lower[order], upper[order], count[order])


def mse_range(
    histogram: StreamingHistogram, bits: int, symmetric: bool, interval: tuple[float, float] | None = None
) -> tuple[float, float]:
    """The range of least expected squared error of the histogram's values, or,
    with `interval` = (low, high), of clip(x, low, high): the error a reader
    that is constant outside the interval (relu, hard_swish, hard_sigmoid,
    clip) sees, since values beyond an end give it the same result as the end
    (`passes.saturating_readers`). The range then lies within the interval
    (extended to 0)."""
    lo_all, hi_all = histogram.min_val, histogram.max_val
    density = histogram.density()
    if interval is not None and (interval[0] > lo_all or interval[1] < hi_all):
        low, high = interval
        if not low <= high:
            raise ObserverError(f"an interval needs low <= high, got {interval}")
        density = saturated(density, low, high)
        lo_all, hi_all = min(max(lo_all, low), high), max(min(hi_all, high), low)
    density = _without_zeros(density)
    lo_all, hi_all = range_with_zero(lo_all, hi_all, symmetric=False)
    if density.count.size == 0 or hi_all == lo_all:
        return range_with_zero(lo_all, hi_all, symmetric)
    # Work at unit scale, so that cubes of steps neither overflow nor
    # underflow: scaling by a power of two is exact and keeps the argmin.
    width = hi_all - lo_all
    exponent = math.frexp(width if math.isfinite(width) else max(-lo_all, hi_all))[1] + 1
    density = DensityBins(
        np.ldexp(density.lower, -exponent), np.ldexp(density.upper, -exponent), density.count
    )
    lo_all, hi_all = math.ldexp(lo_all, -exponent), math.ldexp(hi_all, -exponent)
    error = _ExpectedError(density)
    if symmetric:
        def best(fractions):
            return _best_symmetric(error, max(-lo_all, hi_all), fractions, bits)
    else:
        def best(fractions):
            return _best_asymmetric(error, lo_all, hi_all, fractions, bits)
    # Coarse widths first, then every fine width near the coarse optimum.
    coarse_cost, fraction, chosen = best(_fractions(histogram.num_bins, None))
    if histogram.num_bins > _COARSE_CANDIDATES:
        fine_cost, _, fine_chosen = best(_fractions(histogram.num_bins, fraction))
        if fine_cost < coarse_cost:
            chosen = fine_chosen
    lo, hi = (math.ldexp(end, exponent) for end in chosen)
    return range_with_zero(lo, hi, symmetric=symmetric)
