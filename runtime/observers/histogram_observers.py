"""The three histogram observers: one streaming histogram each, differing in
how they choose a range from it (`mse`, `entropy`, `percentile`)."""

from __future__ import annotations

from typing import Any

from runtime.observers.base import Observer, ObserverError, check_bits
from runtime.observers.entropy import entropy_range
from runtime.observers.histogram import StreamingHistogram
from runtime.observers.mse import mse_range
from runtime.observers.percentile import percentile_range


class _HistogramObserver(Observer):
    """Shared by the histogram observers: the statistics, merging, serialising."""

    def __init__(self, num_bins: int) -> None:
        self.histogram = StreamingHistogram(num_bins)

    @property
    def num_bins(self) -> int:
        return self.histogram.num_bins

    @property
    def min_val(self) -> float | None:
        return self.histogram.min_val

    @property
    def max_val(self) -> float | None:
        return self.histogram.max_val

    @property
    def bin_width(self) -> float:
        return self.histogram.bin_width

    def update(self, array) -> None:
        self.histogram.update(array)

    def merge(self, other: "_HistogramObserver") -> None:
        self._check_same_kind(other)
        self._check_same_parameters(other)
        self.histogram.merge(other.histogram)

    def _check_same_parameters(self, other: "_HistogramObserver") -> None:
        pass

    def _checked(self, bits: int) -> StreamingHistogram:
        check_bits(bits)
        if self.histogram.total == 0:
            raise ObserverError("no data observed: cannot select a range")
        return self.histogram

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.histogram.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "_HistogramObserver":
        observer = cls(int(data["num_bins"]))
        observer.histogram = StreamingHistogram.from_dict(data)
        return observer


class HistogramMSEObserver(_HistogramObserver):
    """Selects the range of least expected squared quantization error."""

    kind = "mse"

    def __init__(self, num_bins: int = 2048) -> None:
        super().__init__(num_bins)

    def select_range(
        self, bits: int = 8, symmetric: bool = False, interval: tuple[float, float] | None = None
    ) -> tuple[float, float]:
        """With `interval`: the range of least error of the values clipped to
        it, for readers constant outside it (`mse.mse_range`)."""
        return mse_range(self._checked(bits), bits, symmetric, interval)


class HistogramEntropyObserver(_HistogramObserver):
    """Selects the range of least KL divergence between the clipped and the
    quantized histogram."""

    kind = "entropy"

    def __init__(self, num_bins: int = 512) -> None:
        super().__init__(num_bins)

    def select_range(self, bits: int = 8, symmetric: bool = False) -> tuple[float, float]:
        return entropy_range(self._checked(bits), bits, symmetric)


class HistogramPercentileObserver(_HistogramObserver):
    """Selects the (100 - p)-th and p-th percentiles (|x|'s p-th when symmetric).
    Ignores the bit width."""

    kind = "percentile"

    def __init__(self, percentile: float = 99.9, num_bins: int = 1024) -> None:
        if not 50.0 <= percentile <= 100.0:
            raise ObserverError(f"percentile must be in [50, 100], got {percentile!r}")
        super().__init__(num_bins)
        self.percentile = float(percentile)

    def _check_same_parameters(self, other: "HistogramPercentileObserver") -> None:
        if other.percentile != self.percentile:
            raise ObserverError(
                f"cannot merge percentile observers for {other.percentile} and {self.percentile}"
            )

    def select_range(self, bits: int = 8, symmetric: bool = False) -> tuple[float, float]:
        return percentile_range(self._checked(bits), self.percentile, symmetric)

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "percentile": self.percentile}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "HistogramPercentileObserver":
        observer = cls(float(data["percentile"]), int(data["num_bins"]))
        observer.histogram = StreamingHistogram.from_dict(data)
        return observer
