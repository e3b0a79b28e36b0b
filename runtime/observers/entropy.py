"""Histogram entropy range selection: the range on the histogram grid whose
quantized histogram is closest, in KL divergence, to the clipped histogram
(TensorRT's entropy calibration, generalised to two-sided ranges)."""

from __future__ import annotations

import math

import numpy as np

from runtime.observers.base import asymmetric_steps, range_with_zero, symmetric_half_steps
from runtime.observers.histogram import StreamingHistogram

# Above this many candidate pairs the KL search runs on a coarse grid first.
_EXHAUSTIVE_PAIRS = 16384
_COARSE_PER_SIDE = 96
# Candidate pairs per vectorised chunk (each pair costs `levels` entries).
_CHUNK_ENTRIES = 1 << 21


def _ceil_div(a: np.ndarray, b: int) -> np.ndarray:
    return -((-a) // b)


class _KLSearch:
    """KL(P || Q) for candidate ranges [lo * w, hi * w] on the histogram grid
    (TensorRT's entropy calibration, generalised to two-sided ranges).

    P is the histogram inside the range with the mass outside added to the
    two end bins (clipping). Q quantizes the in-range histogram, without the
    clipped mass: each bin goes to the level its centre rounds to (levels
    spread evenly over the range), and a level's mass is shared evenly by its
    bins that are non-empty in P. An end bin whose level holds no in-range
    mass but receives clipped mass gets half a sample in Q (instead of zero,
    which would make KL infinite), so clipping an isolated outlier is allowed.
    Exact zeros are left out: every range represents 0 exactly.

    Sums over bins and levels use prefix sums, so a candidate costs
    O(levels), and O(1) when levels outnumber its bins (one bin per level).
    A level's term depends only on its first bin and its size, so it is
    computed once per (size, first bin) in a table the candidates read.
    """

    def __init__(self, histogram: StreamingHistogram, first: int, stop: int, levels: int):
        # Absolute grid indices [first, stop) cover every candidate.
        self.first, self.levels = first, levels
        counts = np.zeros(stop - first, dtype=np.float64)
        occupied = np.flatnonzero(histogram.counts)
        counts[histogram.start + occupied - first] = histogram.counts[occupied]
        if histogram.zero_count:
            counts[-first] -= histogram.zero_count
        self.counts = counts
        safe = np.where(counts > 0, counts, 1.0)
        self.cum = np.concatenate([[0.0], np.cumsum(counts)])
        self.cum_hlogh = np.concatenate([[0.0], np.cumsum(counts * np.log(safe))])
        self.cum_nonzero = np.concatenate([[0], np.cumsum(counts > 0)])
        self.total = float(self.cum[-1])
        self._windows: np.ndarray | None = None

    def kl(self, lows: np.ndarray, highs: np.ndarray) -> np.ndarray:
        out = np.empty(lows.size)
        per_chunk = max(1, _CHUNK_ENTRIES // (self.levels + 1))
        for begin in range(0, lows.size, per_chunk):
            part = slice(begin, begin + per_chunk)
            out[part] = self._kl_chunk(lows[part] - self.first, highs[part] - self.first)
        return out

    def _end_groups(self, lo, n):
        """Per candidate: sum of G log(G / nz) over its levels, and the mass
        and non-empty bin count of its first and last level."""
        cum, nonzero_cum, steps = self.cum, self.cum_nonzero, self.levels - 1
        hi = lo + n
        group_term = self.cum_hlogh[hi] - self.cum_hlogh[lo]  # one bin per level
        first_mass, last_mass = self.counts[lo].copy(), self.counts[hi - 1].copy()
        first_nonzero = (first_mass > 0).astype(np.float64)
        last_nonzero = (last_mass > 0).astype(np.float64)
        merging = n > steps
        if merging.any():
            m_lo, m_n = lo[merging], n[merging]
            widths, which = np.unique(m_n, return_inverse=True)
            starts = self._level_starts(widths)
            sizes = np.diff(starts, axis=1)
            largest = int(sizes.max())
            if (largest + 1) * self.cum.size <= _CHUNK_ENTRIES:
                # Level l of a candidate is the window of sizes[l] bins from
                # lo + starts[l]: its term is read from the window table.
                table = self._window_terms(largest)
                window = sizes * table.shape[1] + starts[:, :-1]
                index = np.take(window, which, axis=0)
                index += m_lo[:, None]
                group_term[merging] = np.take(table, index).sum(axis=1)
            else:  # levels of very many bins (few bits, many bins): no table
                group_term[merging] = self._level_terms(starts[which] + m_lo[:, None]).sum(axis=1)
            ends = starts[:, [0, 1, -2, -1]][which] + m_lo[:, None]
            first_mass[merging] = cum[ends[:, 1]] - cum[ends[:, 0]]
            first_nonzero[merging] = nonzero_cum[ends[:, 1]] - nonzero_cum[ends[:, 0]]
            last_mass[merging] = cum[ends[:, 3]] - cum[ends[:, 2]]
            last_nonzero[merging] = nonzero_cum[ends[:, 3]] - nonzero_cum[ends[:, 2]]
        return group_term, (first_mass, first_nonzero), (last_mass, last_nonzero)

    def _level_starts(self, widths: np.ndarray) -> np.ndarray:
        """Per range width n (rows): the first bin of each level, and n last."""
        steps = self.levels - 1
        level = np.arange(self.levels + 1)
        # Bin j (of n) goes to level round((j + 1/2) * steps / n), half up;
        # level l starts at the first j with (2j + 1) steps >= (2l - 1) n.
        starts = _ceil_div((2 * level[None, :] - 1) * widths[:, None] - steps, 2 * steps)
        return np.clip(starts, 0, widths[:, None])

    def _level_terms(self, starts: np.ndarray) -> np.ndarray:
        """G log(G / nz) of the bins [starts[..., l], starts[..., l + 1]) (G
        their mass, nz how many are non-empty), for every l."""
        mass = np.diff(self.cum[starts], axis=-1)
        nonzero = np.diff(self.cum_nonzero[starts], axis=-1).astype(np.float64)
        return mass * (np.log(np.where(mass > 0, mass, 1.0)) - np.log(np.where(nonzero > 0, nonzero, 1.0)))

    def _window_terms(self, largest: int) -> np.ndarray:
        """table[k, p] = the level term of the k bins from p: computed once
        per window instead of once per candidate level. Windows past the end
        are never read."""
        if self._windows is None or self._windows.shape[0] <= largest:
            positions = np.arange(self.cum.size)
            ends = np.minimum(positions[None, :] + np.arange(largest + 1)[:, None], self.cum.size - 1)
            self._windows = self._level_terms(np.stack([np.broadcast_to(positions, ends.shape), ends], axis=-1))[..., 0]
        return self._windows

    def _kl_chunk(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        cum, total = self.cum, self.total
        n = hi - lo
        single = n == 1
        inside = cum[hi] - cum[lo]
        below, above = cum[lo], total - cum[hi]
        group_term, first_group, last_group = self._end_groups(lo, n)
        # The clipped mass of each end; a one-bin range takes both at its bin.
        ends = [
            (self.counts[lo], np.where(single, below + above, below), first_group),
            (self.counts[hi - 1], np.where(single, 0.0, above), last_group),
        ]

        # Q's total mass, with half a sample for each empty end level that
        # receives clipped mass; the end bins' level statistics as P sees them.
        q_total = inside.copy()
        adjusted = []
        for h, extra, (group_mass, group_nonzero) in ends:
            joins = (h == 0) & (extra > 0)  # the end bin becomes non-empty in P
            empty_level = (group_mass == 0) & (extra > 0)
            q_total += 0.5 * empty_level
            if_nonempty = group_mass > 0
            # A newly non-empty bin shares its level's mass: nz -> nz + 1.
            group_term = group_term - np.where(
                joins & if_nonempty,
                group_mass * np.log((group_nonzero + 1.0) / np.where(group_nonzero > 0, group_nonzero, 1.0)),
                0.0,
            )
            adjusted.append((h, extra, group_mass, group_nonzero + joins, empty_level))

        log_q_total = np.log(np.where(q_total > 0, q_total, 1.0))
        hlogh = self.cum_hlogh[hi] - self.cum_hlogh[lo]
        # N * KL with every bin at its own mass h (sum over levels of G log q).
        scaled = hlogh - inside * math.log(total) - group_term + inside * log_q_total
        for h, extra, group_mass, group_nonzero, empty_level in adjusted:
            log_q = np.where(
                empty_level,
                math.log(0.5),
                np.log(np.where(group_mass > 0, group_mass, 1.0))
                - np.log(np.where(group_nonzero > 0, group_nonzero, 1.0)),
            ) - log_q_total
            # N * p log(p / q) with p = mass / N, with and without the clipped mass.
            with_extra = (h + extra) * (np.log(np.where(h + extra > 0, h + extra, 1.0)) - log_q)
            without = h * (np.log(np.where(h > 0, h, 1.0)) - log_q)
            scaled += np.where(extra > 0, with_extra - without - extra * math.log(total), 0.0)
        return np.where(inside > 0, scaled / total, np.inf)


def entropy_range(histogram: StreamingHistogram, bits: int, symmetric: bool) -> tuple[float, float]:
    """The range on the histogram grid minimising KL(P || Q) (see `_KLSearch`).

    Candidate ends are grid edges: lo from the lowest occupied edge (or 0) up
    to 0, hi from 0 up to the highest; symmetric candidates are (-j, j). The
    chosen range is then clipped to the observed [min, max] (extended to 0).
    Up to `_EXHAUSTIVE_PAIRS` candidate pairs are all evaluated; beyond that a
    coarse grid of candidates is searched, then every pair within one coarse
    step of its best.
    """
    # Candidates reach 0 (and, symmetric, the mirror of the far end): search
    # on a grid coarse enough to hold that range in num_bins bins.
    histogram = histogram.covering(*range_with_zero(histogram.min_val, histogram.max_val, symmetric))
    occupied = np.flatnonzero(histogram.counts)
    first_bin = histogram.start + int(occupied[0])
    stop_bin = histogram.start + int(occupied[-1]) + 1
    lowest, highest = min(first_bin, 0), max(stop_bin, 0)
    if symmetric:
        reach = max(-lowest, highest)
        lowest, highest = -reach, reach
    full_bins = highest - lowest
    # A range of fewer bins than quantization steps merges no bins: Q equals
    # the clipped histogram, so KL rewards clipping everything into one bin.
    # As in TensorRT's calibration, a candidate spans at least `steps` bins
    # (or is the full range, when the data spans fewer).
    steps = 2 * symmetric_half_steps(bits) if symmetric else asymmetric_steps(bits)
    min_bins = min(steps, full_bins)
    # steps + 1 levels; beyond the number of bins they no longer matter.
    levels = int(min(steps + 1, full_bins + 2))
    search = _KLSearch(histogram, lowest, highest, levels)
    if search.total == 0:  # only exact zeros
        return range_with_zero(histogram.min_val, histogram.max_val, symmetric)

    if symmetric:
        bounds = np.arange(-(-min_bins // 2), highest + 1)
        scores = search.kl(-bounds, bounds)
        best = int(bounds[int(np.argmin(scores))])
        lo_edge, hi_edge = -best, best
    else:
        lows = np.arange(lowest, 1)
        highs = np.arange(0, highest + 1)
        lo_edge, hi_edge = _search_pairs(search, lows, highs, min_bins)

    width = histogram.bin_width
    lo = max(lo_edge * width, min(histogram.min_val, 0.0))
    hi = min(hi_edge * width, max(histogram.max_val, 0.0))
    if symmetric:
        bound = max(-lo, hi)
        return range_with_zero(-bound, bound, symmetric=True)
    return range_with_zero(lo, hi, symmetric=False)


def _best_pair(search: _KLSearch, lows: np.ndarray, highs: np.ndarray,
               min_bins: int) -> tuple[int, int, float]:
    lo_grid, hi_grid = np.meshgrid(lows, highs, indexing="ij")
    lo_flat, hi_flat = lo_grid.ravel(), hi_grid.ravel()
    valid = hi_flat - lo_flat >= max(min_bins, 1)
    lo_flat, hi_flat = lo_flat[valid], hi_flat[valid]
    scores = search.kl(lo_flat, hi_flat)
    k = int(np.argmin(scores))
    return int(lo_flat[k]), int(hi_flat[k]), float(scores[k])


def _coarse(candidates: np.ndarray) -> tuple[np.ndarray, int]:
    stride = max(1, math.ceil(candidates.size / _COARSE_PER_SIDE))
    picked = candidates[::stride]
    # Keep both ends: the full range stays a candidate.
    return np.unique(np.concatenate([picked, candidates[[0, -1]]])), stride


def _search_pairs(search: _KLSearch, lows: np.ndarray, highs: np.ndarray,
                  min_bins: int) -> tuple[int, int]:
    if lows.size * highs.size <= _EXHAUSTIVE_PAIRS:
        lo, hi, _ = _best_pair(search, lows, highs, min_bins)
        return lo, hi
    coarse_lows, lo_stride = _coarse(lows)
    coarse_highs, hi_stride = _coarse(highs)
    lo, hi, _ = _best_pair(search, coarse_lows, coarse_highs, min_bins)
    fine_lows = lows[(lows >= lo - lo_stride) & (lows <= lo + lo_stride)]
    fine_highs = highs[(highs >= hi - hi_stride) & (highs <= hi + hi_stride)]
    lo, hi, _ = _best_pair(search, fine_lows, fine_highs, min_bins)
    return lo, hi


