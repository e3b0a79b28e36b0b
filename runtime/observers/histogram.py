"""A streaming histogram on a power-of-two grid, exact under growth and merge.

Bins are the intervals [g * 2**e, (g + 1) * 2**e) for integers g: the grid is
fixed by the exponent e alone. The histogram keeps `num_bins` counts starting
at grid index `start`. When new data does not fit, e grows by one at a time;
doubling the width maps old bin g to new bin floor(g / 2) exactly, so no count
is lost or smeared (unlike interpolating re-binning).

The exponent is always the smallest one at which [min, max] fits in
`num_bins` bins, and `start` is the bin of the minimum. Both depend only on the
observed min and max, and every value's bin depends only on the value and e,
so the state after observing any streams, in any split, is the histogram of
all values on that final grid: `merge` equals sequential observation exactly.

The data spans at least half of the bins once it has grown (otherwise e - 1
would fit), so the resolution is num_bins / 2 to num_bins bins over [min, max].
The grid is never finer than 2**-40 of the largest magnitude, which bounds
grid indices and gives a constant tensor a finite bin width, nor finer than
2**-1074 (the spacing of float64's subnormals), so every bin edge is exactly
representable. Both bounds only grow with the data, which keeps the exponent
a function of [min, max] that never decreases.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from runtime.observers.base import ObserverError, batch_as_array, finite_min_max

# Grid indices stay below 2**(_INDEX_BITS + 1) in magnitude: exact in float64
# and int64.
_INDEX_BITS = 40
# 2**-1074 is the smallest positive float64: finer bin edges would round.
_FINEST_EXPONENT = -1074


def grid_index(values: np.ndarray, exponent: int) -> np.ndarray:
    """floor(values / 2**exponent) as int64, exactly.

    Scaling by a power of two is exact in float32 and float64 unless it
    underflows (results stay below 2**42, far from overflow); an underflowed
    negative value can become -0.0, whose floor (0) would be wrong, so negative
    values are forced to index <= -1.
    """
    values = np.asarray(values)
    if values.dtype not in (np.float32, np.float64):
        values = values.astype(np.float64)
    index = np.floor(np.ldexp(values, -exponent)).astype(np.int64)
    np.minimum(index, -1, out=index, where=values < 0)
    return index


def scalar_grid_index(value: float, exponent: int) -> int:
    """`grid_index` of one float64, in Python arithmetic (ldexp and floor are
    exact as in NumPy; no array round trip: range growth calls this often)."""
    index = math.floor(math.ldexp(value, -exponent))
    return min(index, -1) if value < 0 else index


def _fits(lo: float, hi: float, exponent: int, num_bins: int) -> bool:
    return scalar_grid_index(hi, exponent) - scalar_grid_index(lo, exponent) + 1 <= num_bins


def fit_exponent(lo: float, hi: float, num_bins: int) -> int:
    """The smallest exponent at which [lo, hi] fits in `num_bins` bins."""
    magnitude = max(abs(lo), abs(hi))
    if magnitude == 0.0:
        return _FINEST_EXPONENT
    magnitude_exponent = math.frexp(magnitude)[1]
    low = max(magnitude_exponent - _INDEX_BITS, _FINEST_EXPONENT)
    # At this exponent every value has |x| / 2**e < 1/2: indices -1 and 0 only.
    high = max(magnitude_exponent + 1, low)
    while low < high:  # fitting is monotone in the exponent
        middle = (low + high) // 2
        if _fits(lo, hi, middle, num_bins):
            high = middle
        else:
            low = middle + 1
    return low


@dataclass
class DensityBins:
    """The histogram as a piecewise-uniform density: sorted, disjoint bins
    [lower, upper] holding `count` values each, spread uniformly. The end bins
    are clipped to the exact observed min and max, and exact zeros are a
    zero-width bin [0, 0] of their own (they quantize without error)."""

    lower: np.ndarray
    upper: np.ndarray
    count: np.ndarray  # float64, integral values


class StreamingHistogram:
    """Exact, mergeable histogram with a fixed number of bins (module doc)."""

    def __init__(self, num_bins: int) -> None:
        if isinstance(num_bins, bool) or not isinstance(num_bins, int) or num_bins < 2:
            raise ObserverError(f"a histogram needs an integer num_bins >= 2, got {num_bins!r}")
        self.num_bins = num_bins
        self.exponent = 0
        self.start = 0
        self.counts = np.zeros(num_bins, dtype=np.int64)
        self.min_val: float | None = None
        self.max_val: float | None = None
        self.zero_count = 0
        self.total = 0

    @property
    def bin_width(self) -> float:
        return math.ldexp(1.0, self.exponent)

    def update(self, array) -> None:
        values = batch_as_array(array)
        if values.size == 0:
            return
        lo, hi = finite_min_max(values)
        values = values.ravel()
        if self.total:
            lo, hi = min(lo, self.min_val), max(hi, self.max_val)
        self._regrid(lo, hi)
        self.counts += np.bincount(self._bin_indices(values), minlength=self.num_bins)
        self.zero_count += int(np.count_nonzero(values == 0))
        self.total += int(values.size)

    def _bin_indices(self, values: np.ndarray) -> np.ndarray:
        """Each value's bin, counted from `start` (the hot path of calibration).

        When the scale 2**-exponent is at least 1 and representable in the
        values' own float type, multiplying by it is exact and cannot underflow,
        so floor(v * scale) is the grid index without `grid_index`'s float64
        round trip and sign fix-up (about ten times faster on float32).
        """
        finfo = np.finfo(values.dtype) if values.dtype in (np.float32, np.float64) else None
        if finfo is None or not finfo.minexp < self.exponent <= 0:
            return grid_index(values, self.exponent) - self.start
        scaled = values * values.dtype.type(math.ldexp(1.0, -self.exponent))
        np.floor(scaled, out=scaled)
        index = scaled.astype(np.int64)
        index -= self.start
        return index

    def merge(self, other: "StreamingHistogram") -> None:
        if other.num_bins != self.num_bins:
            raise ObserverError(
                f"cannot merge histograms of {other.num_bins} and {self.num_bins} bins"
            )
        if other.total == 0:
            return
        if self.total == 0:
            self._copy_from(other)
            return
        lo, hi = min(self.min_val, other.min_val), max(self.max_val, other.max_val)
        self._regrid(lo, hi)
        self.counts += other._counts_on(self.exponent, self.start)
        self.zero_count += other.zero_count
        self.total += other.total

    def _copy_from(self, other: "StreamingHistogram") -> None:
        self.exponent, self.start = other.exponent, other.start
        self.counts = other.counts.copy()
        self.min_val, self.max_val = other.min_val, other.max_val
        self.zero_count, self.total = other.zero_count, other.total

    def _regrid(self, lo: float, hi: float) -> None:
        """Move to the grid of the data range [lo, hi] (which contains the old one)."""
        if self.total and (lo, hi) == (self.min_val, self.max_val):
            return  # the grid is a function of [min, max]: most batches keep it
        exponent = fit_exponent(lo, hi, self.num_bins)
        start = scalar_grid_index(lo, exponent)
        if self.total and (exponent, start) != (self.exponent, self.start):
            self.counts = self._counts_on(exponent, start)
        self.exponent, self.start = exponent, start
        self.min_val, self.max_val = lo, hi

    def _counts_on(self, exponent: int, start: int) -> np.ndarray:
        """This histogram's counts on the coarser-or-equal grid (exponent, start)."""
        if exponent < self.exponent:
            raise AssertionError("a histogram grid never becomes finer")
        occupied = np.flatnonzero(self.counts)
        # Arithmetic right shift is floor division by 2**shift; indices are far
        # below 2**63, so any shift >= 63 leaves only their sign.
        shift = min(exponent - self.exponent, 63)
        index = np.right_shift(self.start + occupied, shift) - start
        counts = np.zeros(self.num_bins, dtype=np.int64)
        np.add.at(counts, index, self.counts[occupied])
        return counts

    def covering(self, lo: float, hi: float) -> "StreamingHistogram":
        """A copy on the coarser grid that fits [lo, hi] (which contains
        [min, max]) in num_bins bins; counts are exact, as in growth."""
        exponent = max(fit_exponent(lo, hi, self.num_bins), self.exponent)
        start = scalar_grid_index(lo, exponent)
        copy = StreamingHistogram(self.num_bins)
        copy._copy_from(self)
        copy.counts = self._counts_on(exponent, start)
        copy.exponent, copy.start = exponent, start
        return copy

    def density(self) -> DensityBins:
        """The piecewise-uniform density the range searches work on."""
        if self.total == 0:
            raise ObserverError("no data observed: cannot select a range")
        occupied = np.flatnonzero(self.counts)
        grid = self.start + occupied
        lower = np.ldexp(grid.astype(np.float64), self.exponent)
        upper = np.ldexp((grid + 1).astype(np.float64), self.exponent)
        count = self.counts[occupied].astype(np.float64)
        if self.zero_count:
            k = int(np.searchsorted(grid, 0))  # the bin [0, w) holds the zeros
            count[k] -= self.zero_count
            lower = np.insert(lower, k, 0.0)
            upper = np.insert(upper, k, 0.0)
            count = np.insert(count, k, float(self.zero_count))
        keep = count > 0
        lower, upper, count = lower[keep], upper[keep], count[keep]
        lower[0] = max(lower[0], self.min_val)
        upper[-1] = min(upper[-1], self.max_val)
        return DensityBins(lower, upper, count)

    def to_dict(self) -> dict[str, Any]:
        return {
            "num_bins": self.num_bins,
            "exponent": self.exponent,
            "start": self.start,
            "counts": self.counts.tolist(),
            "min": self.min_val,
            "max": self.max_val,
            "zero_count": self.zero_count,
            "total": self.total,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "StreamingHistogram":
        histogram = cls(int(data["num_bins"]))
        counts = np.asarray(data["counts"], dtype=np.int64)
        if counts.shape != (histogram.num_bins,):
            raise ObserverError(
                f"histogram statistics hold {counts.size} counts for {histogram.num_bins} bins"
            )
        histogram.counts = counts
        histogram.exponent, histogram.start = int(data["exponent"]), int(data["start"])
        histogram.min_val, histogram.max_val = data["min"], data["max"]
        histogram.zero_count, histogram.total = int(data["zero_count"]), int(data["total"])
        return histogram

