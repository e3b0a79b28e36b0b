"""Histogram percentile range selection, and quantiles of a histogram."""

from __future__ import annotations

import math

import numpy as np

from runtime.observers.base import range_with_zero
from runtime.observers.histogram import DensityBins, StreamingHistogram


def _order_statistic(density: DensityBins, cumulative: np.ndarray, rank: np.ndarray,
                     min_val: float, max_val: float) -> np.ndarray:
    """Estimate of the rank-th smallest value (0-based): rank r falls in the bin
    holding it, placed uniformly within that bin; the extremes are exact."""
    j = np.searchsorted(cumulative, rank, side="right")
    before = cumulative[j] - density.count[j]
    position = (rank - before + 0.5) / density.count[j]
    value = density.lower[j] + position * (density.upper[j] - density.lower[j])
    last = cumulative[-1] - 1
    return np.where(rank == 0, min_val, np.where(rank == last, max_val, value))


def quantile(density: DensityBins, q: float, min_val: float, max_val: float) -> float:
    """The q-quantile (0 <= q <= 1) with NumPy's default linear interpolation
    between order statistics; within one bin width of the exact value."""
    cumulative = np.cumsum(density.count)
    total = int(cumulative[-1])
    rank = q * (total - 1)
    below = math.floor(rank)
    ranks = np.array([below, min(below + 1, total - 1)], dtype=np.float64)
    low, high = _order_statistic(density, cumulative, ranks, min_val, max_val)
    return float(low + (rank - below) * (high - low))


def _absolute_density(histogram: StreamingHistogram) -> tuple[DensityBins, float]:
    """The density of |x|: the grid is symmetric about 0, so bin g < 0 folds
    exactly onto bin -g - 1 (up to which end is open)."""
    occupied = np.flatnonzero(histogram.counts)
    grid = histogram.start + occupied
    folded, position = np.unique(np.where(grid < 0, -grid - 1, grid), return_inverse=True)
    counts = np.bincount(position, weights=histogram.counts[occupied].astype(np.float64))
    if histogram.zero_count:  # exact zeros get a zero-width bin of their own
        counts[0] -= histogram.zero_count  # they sit in folded bin 0, the first
    magnitude = max(abs(histogram.min_val), abs(histogram.max_val))
    lower = np.concatenate([[0.0], np.ldexp(folded.astype(np.float64), histogram.exponent)])
    upper = np.concatenate([[0.0], np.ldexp((folded + 1).astype(np.float64), histogram.exponent)])
    counts = np.concatenate([[float(histogram.zero_count)], counts])
    keep = counts > 0
    density = DensityBins(lower[keep], upper[keep], counts[keep])
    density.upper[-1] = min(density.upper[-1], magnitude)
    return density, magnitude


def percentile_range(histogram: StreamingHistogram, percentile: float,
                     symmetric: bool) -> tuple[float, float]:
    """Asymmetric: (the (100 - p)-th, the p-th percentile); symmetric: (-a, a)
    with a the p-th percentile of |x|. Extended to contain 0."""
    q = percentile / 100.0
    if symmetric:
        density, magnitude = _absolute_density(histogram)
        smallest = float(density.lower[0])
        bound = quantile(density, q, smallest, magnitude)
        return range_with_zero(-bound, bound, symmetric=True)
    density = histogram.density()
    lo = quantile(density, 1.0 - q, histogram.min_val, histogram.max_val)
    hi = quantile(density, q, histogram.min_val, histogram.max_val)
    return range_with_zero(lo, hi, symmetric=False)
