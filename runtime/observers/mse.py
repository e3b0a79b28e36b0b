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
without changing the minimum or which candidate holds it. Those steps' exact
clipping errors are not computed either: a lower bound per block of zero
points rules them out (`_StepClips`), and every decision is the one the
exact errors give. Temporaries are cut into cache-sized blocks (`_BLOCK`).
Every cost is computed by the same floating-point operations as before
these speed-ups (test/test_mse_search_speed.py keeps the old definitions).
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
# Elements per temporary array: 64 KiB of float64, below glibc's mmap
# threshold, so the many temporaries come from reused, cached heap memory
# instead of fresh pages (on large arrays the page faults cost more than the
# arithmetic). Every computation here is elementwise or along one row, so
# blocks give the same values as whole arrays.
_BLOCK = 8192
# Consecutive zero points of one step sharing a lower bound of their clipping
# error (`_StepClips`).
_ZERO_POINT_BLOCK = 16


def _blocks(size: int, per_item: int = 1):
    """Slices of at most `_BLOCK` elements (at least one item) over `size` items
    of `per_item` elements each."""
    items = max(1, _BLOCK // per_item)
    return (slice(begin, begin + items) for begin in range(0, size, items))


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
        # Indexed by k, the first bin whose upper end lies above a threshold
        # (k = bins: none): the suffix sums from bin k + 1, and bin k itself,
        # a row past the end standing for "no bin" (it adds nothing: no count,
        # at the last upper end, below which no threshold of that row lies).
        after = np.minimum(np.arange(1, self.count.size + 2), self.count.size)
        self._suffixes_after = [
            s[after] for s in (self.second_moment_suffix, self.first_moment_suffix, self.count_suffix)
        ]
        self._bin_lower = np.append(self.lower, self.upper[-1])
        self._bin_upper = np.append(self.upper, self.upper[-1])
        self._bin_count = np.append(self.count, 0.0)
        self._bin_width = np.append(width, 0.0)
        self._bin_has_width = self._bin_width > 0
        # For `rounding_bound`: the magnitudes the computed cost is made of
        # (the straddling bin's term is at most 12 times its second-moment term).
        self._magnitudes = (
            13.0 * float(self.second_moment_suffix[0]),
            2.0 * float(np.sum(self.count * np.abs(centre))),
            float(self.count_suffix[0]),
        )
        # Each suffix sum adds up to `bins` terms, each rounding once, and the
        # cost takes a few more operations: a generous multiple of the unit roundoff.
        self._roundoff = 4.0 * (self.count.size + 32) * 2.0**-52

    def rounding_bound(self, reach: float) -> float:
        """A bound on how far `above(t)` computed in float64 can lie from its
        exact value, for every threshold within `reach` of the reference."""
        second, first, count = self._magnitudes
        return self._roundoff * (second + reach * first + reach * reach * count)

    def above(self, thresholds: np.ndarray) -> np.ndarray:
        """Squared clipping error of the values above each threshold."""
        t = np.asarray(thresholds, dtype=np.float64)
        if t.size <= _BLOCK:
            return self._above(t)
        cost = np.empty(t.shape)
        for block in _blocks(t.size):
            cost[block] = self._above(t[block])
        return cost

    def _above(self, t: np.ndarray) -> np.ndarray:
        # First bin whose upper end lies above t; the bins after it lie wholly above.
        k = np.searchsorted(self.upper, t, side="right")
        second, first, count = (s.take(k) for s in self._suffixes_after)
        shifted = t - self.reference
        cost = second - 2.0 * shifted * first + shifted**2 * count
        # Bin k itself: whole, straddling t, or a zero-width point mass.
        low, up, c = self._bin_lower.take(k), self._bin_upper.take(k), self._bin_count.take(k)
        start = np.maximum(low, t)
        # The fraction of the bin above t (a point mass: all of it, as up > t).
        fraction = np.divide(up - start, self._bin_width.take(k), out=np.ones(k.size),
                             where=self._bin_has_width.take(k))
        a, b = up - t, start - t
        cost += c * fraction * (a * a + a * b + b * b) / 3.0
        # The suffix-sum expansion can round slightly below zero.
        return np.maximum(cost, 0.0, out=cost)


class _StepClips:
    """The clipping errors of the candidates of `_ExpectedError.__call__`,
    computed where a decision needs them.

    Each step's least clipping error (`step_clip`) orders the search and
    prunes it. Most steps are too narrow to win; for them a lower bound
    suffices: along one step's zero points (ascending) the error below the
    range decreases and the one above increases, so over a block of
    `_ZERO_POINT_BLOCK` consecutive ones the clipping error is at least the
    sum of the below error at the block's last and the above error at its
    first. Less twice the rounding bound of each computed error, it is a
    lower bound of the computed errors too. A step's exact errors are
    computed (`learn`) once its bound cannot rule it out, so every decision
    the search takes on `step_clip` is the one it took on all exact errors.
    """

    def __init__(self, error: "_ExpectedError", steps: int, owner, lows, highs):
        self._error, self._lows, self._highs = error, lows, highs
        self.bounds = np.searchsorted(owner, np.arange(steps + 1))
        self.has_candidates = self.bounds[1:] > self.bounds[:-1]
        self.clip = np.full(lows.size, np.nan)
        self.step_clip = np.full(steps, np.inf)
        self.known = ~self.has_candidates
        if lows.size <= _BLOCK:  # few candidates: all exact at once costs less than bounding
            self.learn(self.has_candidates)
            self.lower_bound = self.step_clip
            return
        # Each step's blocks, the last one possibly shorter.
        counts = self.bounds[1:] - self.bounds[:-1]
        blocks = -(-counts // _ZERO_POINT_BLOCK)
        block_step = np.repeat(np.arange(steps), blocks)
        first_block = np.cumsum(blocks) - blocks
        within = np.arange(block_step.size) - first_block[block_step]  # a block's rank in its step
        starts = self.bounds[block_step] + _ZERO_POINT_BLOCK * within
        ends = np.minimum(starts + _ZERO_POINT_BLOCK - 1, self.bounds[block_step + 1] - 1)
        # Along a step both ends move monotonically: its extremes are block ends.
        reach = float(np.max(np.abs([lows[starts], lows[ends], highs[starts], highs[ends]])))
        margin = 2.0 * (
            error.below.rounding_bound(reach + abs(error.below.reference))
            + error.above.rounding_bound(reach + abs(error.above.reference))
        )
        block_bound = self._clips(lows[ends], highs[starts]) - margin
        self.lower_bound = np.full(steps, np.inf)
        stepped = self.has_candidates
        self.lower_bound[stepped] = np.minimum.reduceat(block_bound, first_block[stepped])

    def _clips(self, lows: np.ndarray, highs: np.ndarray) -> np.ndarray:
        """Squared clipping error below each low plus above each high."""
        clip = np.empty(lows.size)
        for block in _blocks(lows.size):
            clip[block] = self._error.below.above(-lows[block]) + self._error.above.above(highs[block])
        return clip

    def candidates(self, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, index): the candidates of `steps`, each step's contiguously,
        and the position of each one's step in `steps`."""
        counts = self.bounds[steps + 1] - self.bounds[steps]
        row = np.repeat(np.arange(steps.size), counts)
        index = np.arange(row.size) + np.repeat(self.bounds[steps] - np.cumsum(counts) + counts, counts)
        return row, index

    def learn(self, which: np.ndarray) -> None:
        """Compute the exact clipping errors of the steps `which` (a mask)."""
        steps = np.flatnonzero(which & ~self.known)
        if steps.size == 0:
            return
        _, index = self.candidates(steps)
        self.clip[index] = self._clips(self._lows[index], self._highs[index])
        counts = self.bounds[steps + 1] - self.bounds[steps]
        self.step_clip[steps] = np.minimum.reduceat(self.clip[index], np.cumsum(counts) - counts)
        self.known[steps] = True

    def argmin_plus(self, extra: np.ndarray) -> int:
        """argmin(step_clip + extra) over all steps, as if every exact error
        were known: a step whose bound plus `extra` exceeds the least known
        sum cannot hold the minimum, nor tie with it."""
        bound = self.lower_bound + extra
        self.learn(bound <= bound.min())
        while True:
            total = self.step_clip + extra
            pending = ~self.known & (bound <= total.min())
            if not pending.any():
                return int(np.argmin(total))
            self.learn(pending)


def _mirror(density: DensityBins) -> DensityBins:
    return DensityBins(-density.upper[::-1], -density.lower[::-1], density.count[::-1])


def _without_zeros(density: DensityBins) -> DensityBins:
    """Exact zeros are never clipped (0 is in every range) and never rounded."""
    keep = ~((density.lower == 0.0) & (density.upper == 0.0))
    return DensityBins(density.lower[keep], density.upper[keep], density.count[keep])


def _one_cell(a, b):
    """Mean of (x - q)^2 over an interval whose ends are a, b from q."""
    return (a * a + a * b + b * b) / 3.0


def _two_cells(low, up, step, k_low, k_up):
    """`_mean_rounding_error` of intervals over two cells, split at the boundary."""
    width = up - low
    boundary = (k_low + 0.5) * step
    half = 0.5 * step
    return ((boundary - low) / width) * _one_cell(half, low - k_low * step) + (
        (up - boundary) / width
    ) * _one_cell(up - k_up * step, -half)


def _many_cells(low, up, step, k_low, k_up, y_low, y_up):
    """`_mean_rounding_error` of intervals over more than two cells: whole periods
    and the partial ends."""
    f_low, f_up = y_low - k_low, y_up - k_up
    return step**3 * (
        (k_up - k_low) / 12.0 + ((f_up - 0.5) ** 3 - (f_low - 0.5) ** 3) / 3.0
    ) / (up - low)


def _mean_rounding_error(low, up, step):
    """Mean of (x - step * round(x / step))^2 for x uniform on [low, up]
    (broadcast; the value at low when low == up).

    Rounding is constant on cells [(k - 1/2) step, (k + 1/2) step). Within one
    cell the integral of (x - q)^2 is (A^2 + AB + B^2) / 3 times the length
    (A, B the ends' offsets from q), free of cancellation however narrow the
    bin; a bin over two cells is split at the boundary; over more, whole
    periods are counted (step^3 / 12 each) and the partial ends added, with
    y = x / step + 1/2 = k + f, period-relative position h(f) = (f - 1/2)^3.
    Each case is computed only for the intervals it applies to.
    """
    shape = np.broadcast_shapes(np.shape(low), np.shape(up), np.shape(step))
    low, up, step = (a.ravel() for a in np.broadcast_arrays(low, up, step))
    y_low, y_up = low / step + 0.5, up / step + 0.5
    k_low, k_up = np.floor(y_low), np.floor(y_up)
    cells = k_up - k_low
    out = np.empty(cells.shape)
    same = np.flatnonzero(cells == 0)
    if same.size:
        s, kl = step[same], k_low[same]
        out[same] = _one_cell(up[same] - kl * s, low[same] - kl * s)
    two = np.flatnonzero(cells == 1)
    if two.size:
        out[two] = _two_cells(low[two], up[two], step[two], k_low[two], k_up[two])
    many = np.flatnonzero(cells > 1)
    if many.size:
        out[many] = _many_cells(low[many], up[many], step[many], k_low[many], k_up[many],
                                y_low[many], y_up[many])
    return out.reshape(shape)


def _bin_rounding_errors(lower, upper, steps):
    """`_mean_rounding_error` of every bin [lower, upper] (columns) at every step
    (rows), the same values, faster: the matrix is the inner loop of the MSE
    search. The one-cell case (most bins once the step exceeds the bin width)
    is computed everywhere, then the bins over two or more cells are
    recomputed from their own gathered operands."""
    column = steps[:, None]
    y_low, y_up = lower / column, upper / column
    y_low += 0.5
    y_up += 0.5
    k_low, k_up = np.floor(y_low), np.floor(y_up)
    shift = k_low * column
    out = _one_cell(upper - shift, lower - shift)
    cells = (k_up - k_low).ravel()
    out_flat, k_low, k_up = out.ravel(), k_low.ravel(), k_up.ravel()
    for case, error in ((cells == 1, _two_cells), (cells > 1, _many_cells)):
        index = np.flatnonzero(case)
        if index.size == 0:
            continue
        row, col = np.divmod(index, lower.size)
        operands = (lower.take(col), upper.take(col), steps.take(row), k_low.take(index),
                    k_up.take(index))
        if error is _many_cells:
            operands += (y_low.ravel().take(index), y_up.ravel().take(index))
        out_flat[index] = error(*operands)
    return out


class _ExpectedError:
    """Expected squared quantization error of the density for many candidate
    quantizers (step, lo, hi), lo and hi being multiples of the step."""

    def __init__(self, density: DensityBins):
        self.lower, self.upper, self.count = density.lower, density.upper, density.count
        self.above = _ClipCosts(density)
        self.below = _ClipCosts(_mirror(density))
        self.width = self.upper - self.lower

    def _cumulative_errors(self, steps: np.ndarray) -> np.ndarray:
        """Expected squared rounding error of the values of bins 0..j-1 (column j)
        for each step (rows)."""
        cumulative = np.empty((steps.size, self.count.size + 1))
        cumulative[:, 0] = 0.0
        for rows in _blocks(steps.size, self.count.size):
            per_bin = _bin_rounding_errors(self.lower, self.upper, steps[rows])
            per_bin *= self.count
            np.cumsum(per_bin, axis=1, out=cumulative[rows, 1:])
        return cumulative

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
        cost = np.full(lows.size, np.inf)
        clips = _StepClips(self, steps.size, owner, lows, highs)
        # The likeliest winner first, for a tight bound: clipping plus the
        # rounding error of values spread evenly over steps (step^2 / 12 each).
        rounding = float(self.count.sum()) * steps**2 / 12.0
        first = clips.argmin_plus(rounding)
        best = self._evaluate(np.array([first]), clips, steps, lows, highs, cost, np.inf)
        # Only the steps that may clip less than that bound are ever evaluated:
        # their exact clipping error decides the order, the rest keep inf.
        clips.learn(clips.lower_bound <= best * (1.0 + 1e-9))
        step_clip = clips.step_clip
        rest = np.argsort(step_clip, kind="stable")
        rest = rest[rest != first]
        chunks = [rest[begin:begin + _STEPS_PER_CHUNK] for begin in range(0, rest.size, _STEPS_PER_CHUNK)]
        for chunk in chunks:
            # A relative margin keeps steps whose cost could round to a tie.
            chunk = chunk[step_clip[chunk] <= best * (1.0 + 1e-9)]
            if chunk.size == 0:
                break  # the rest clip even more: `rest` is sorted by clipping
            chunk = chunk[clips.has_candidates[chunk]]
            if chunk.size == 0:
                continue
            best = self._evaluate(chunk, clips, steps, lows, highs, cost, best)
        return cost

    def _evaluate(self, chunk, clips: "_StepClips", steps, lows, highs, cost, best) -> float:
        """Fill `cost` for the candidates of the steps `chunk`; the new best cost."""
        row, index = clips.candidates(chunk)
        cost[index] = clips.clip[index] + self._inside(steps[chunk], row, lows[index], highs[index])
        return min(best, float(cost[index].min()))

    def _inside(self, chunk_steps: np.ndarray, row: np.ndarray, lo: np.ndarray,
                hi: np.ndarray) -> np.ndarray:
        """Rounding error of the values inside [lo, hi] at step chunk_steps[row]."""
        lower, upper, count = self.lower, self.upper, self.count
        # Bins [first, stop) reach into [lo, hi]; the end ones may straddle it.
        f = np.searchsorted(upper, lo, side="right")
        s = np.searchsorted(lower, hi, side="left")
        # Flat indices into the rows of `cumulative` (takes, not 2-d fancy indexing).
        cumulative = self._cumulative_errors(chunk_steps).ravel()
        base = row * (lower.size + 1)
        inside = np.where(s > f, cumulative.take(base + s) - cumulative.take(base + f), 0.0)
        # Replace the end bins' whole-bin error by that of their in-range part:
        # both ends at once, the first end's candidates then the last end's.
        k = np.clip(np.concatenate([f, s - 1]), 0, lower.size - 1)
        base, lo, hi = (np.concatenate([x, x]) for x in (base, lo, hi))
        whole = cumulative.take(base + k + 1) - cumulative.take(base + k)
        a = np.maximum(lower.take(k), lo)
        b = np.maximum(np.minimum(upper.take(k), hi), a)
        width = self.width.take(k)
        part = np.where(
            width > 0,
            count.take(k) * ((b - a) / np.where(width > 0, width, 1.0))
            * _mean_rounding_error(a, b, np.tile(chunk_steps.take(row), 2)),
            whole,  # a point mass reaching into the range lies wholly inside
        )
        change = np.where(np.concatenate([s > f, s - 1 > f]), part - whole, 0.0)
        inside += change[:row.size]
        inside += change[row.size:]
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
