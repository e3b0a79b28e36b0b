"""Calibration methods (seed 000, `afe.apis.defines`): which observer collects
statistics of each activation tensor and how a quantization range is chosen
from them.

The method objects are small frozen dataclasses (hashable, so they can sit in a
frozen `QuantizationParams`); the statistics themselves live in the observers
of `runtime.observers`, which each method creates with `create_observer()`.
`afe.apis.defines` re-exports every public name of this module.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from afe.apis.errors import UserFacingException

_MSE_DEFAULT_BINS = 2048
_ENTROPY_DEFAULT_BINS = 512
_PERCENTILE_DEFAULT_BINS = 1024
_PERCENTILE_DEFAULT_VALUE = 99.9
# Seed 003: "An exponential filter with coefficient 0.01".
_MOVING_AVERAGE_COEFFICIENT = 0.01


class CalibrationMethod:
    """Represents a calibration method for model quantization.

    Each method is identified by a unique `name` and can be built from a string
    with `CalibrationMethod.from_str`.
    """

    _name: ClassVar[str]

    @property
    def name(self) -> str:
        return self._name

    @staticmethod
    def from_str(method: str) -> "CalibrationMethod":
        """The calibration method called `method`, with its default parameters.

        Accepted names (either spelling): MIN_MAX / min_max, MOVING_AVERAGE /
        moving_average, MSE / mse (2048 bins), HISTOGRAM_ENTROPY / entropy
        (512 bins), HISTOGRAM_PERCENTILE / percentile (99.9th percentile,
        1024 bins). Anything else raises UserFacingException.
        """
        factory = _FROM_STR.get(method) if isinstance(method, str) else None
        if factory is None:
            names = ", ".join(sorted(_FROM_STR))
            raise UserFacingException(
                f"Unsupported calibration method {method!r}; choose one of: {names}."
            )
        return factory()

    def create_observer(self):
        """A fresh observer (see `runtime.observers`) that implements this method."""
        raise NotImplementedError


def _check_num_bins(method: str, num_bins: int) -> None:
    # A histogram needs two bins to hold data on both sides of zero.
    if isinstance(num_bins, bool) or not isinstance(num_bins, int) or num_bins < 2:
        raise UserFacingException(
            f"{method}: num_bins must be an integer >= 2, got {num_bins!r}."
        )


@dataclasses.dataclass(frozen=True)
class MinMaxMethod(CalibrationMethod):
    """Range = the minimum and maximum over all calibration data."""

    _name: ClassVar[str] = "min_max"

    def create_observer(self):
        from runtime.observers import MinMaxObserver

        return MinMaxObserver()


@dataclasses.dataclass(frozen=True)
class MovingAverageMinMaxMethod(CalibrationMethod):
    """Range = exponential moving averages (coefficient 0.01) of each sample's
    minimum and maximum; the first sample initialises the averages."""

    _name: ClassVar[str] = "moving_average"

    def create_observer(self):
        from runtime.observers import MovingAverageMinMaxObserver

        return MovingAverageMinMaxObserver(averaging_constant=_MOVING_AVERAGE_COEFFICIENT)


@dataclasses.dataclass(frozen=True)
class HistogramMSEMethod(CalibrationMethod):
    """Range minimising the expected quantization mean squared error of the
    running histogram (`num_bins` bins; 2048 by default)."""

    num_bins: int = _MSE_DEFAULT_BINS
    _name: ClassVar[str] = "mse"

    def __post_init__(self):
        _check_num_bins("HistogramMSEMethod", self.num_bins)

    def create_observer(self):
        from runtime.observers import HistogramMSEObserver

        return HistogramMSEObserver(self.num_bins)


@dataclasses.dataclass(frozen=True)
class HistogramEntropyMethod(CalibrationMethod):
    """Range minimising the KL divergence between the clipped and the
    quantized running histogram (`num_bins` bins; 512 by default)."""

    num_bins: int = _ENTROPY_DEFAULT_BINS
    _name: ClassVar[str] = "entropy"

    def __post_init__(self):
        _check_num_bins("HistogramEntropyMethod", self.num_bins)

    def create_observer(self):
        from runtime.observers import HistogramEntropyObserver

        return HistogramEntropyObserver(self.num_bins)


@dataclasses.dataclass(frozen=True)
class HistogramPercentileMethod(CalibrationMethod):
    """Range = the `percentile_value`-th percentile of the running histogram
    (and its mirror, 100 - percentile_value, for the minimum)."""

    percentile_value: float = _PERCENTILE_DEFAULT_VALUE
    num_bins: int = _PERCENTILE_DEFAULT_BINS
    _name: ClassVar[str] = "percentile"

    def __post_init__(self):
        value = self.percentile_value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 50.0 <= value <= 100.0:
            raise UserFacingException(
                "HistogramPercentileMethod: percentile_value must be a number in [50, 100], "
                f"got {value!r}."
            )
        _check_num_bins("HistogramPercentileMethod", self.num_bins)

    def create_observer(self):
        from runtime.observers import HistogramPercentileObserver

        return HistogramPercentileObserver(float(self.percentile_value), self.num_bins)


def default_calibration() -> CalibrationMethod:
    """The default calibration method: histogram MSE with 2048 bins (seed 003)."""
    return HistogramMSEMethod(_MSE_DEFAULT_BINS)


_FROM_STR = {
    "MIN_MAX": MinMaxMethod,
    "min_max": MinMaxMethod,
    "MOVING_AVERAGE": MovingAverageMinMaxMethod,
    "moving_average": MovingAverageMinMaxMethod,
    "MSE": HistogramMSEMethod,
    "mse": HistogramMSEMethod,
    "HISTOGRAM_ENTROPY": HistogramEntropyMethod,
    "entropy": HistogramEntropyMethod,
    "HISTOGRAM_PERCENTILE": HistogramPercentileMethod,
    "percentile": HistogramPercentileMethod,
}

__all__ = [
    "CalibrationMethod",
    "MinMaxMethod",
    "MovingAverageMinMaxMethod",
    "HistogramMSEMethod",
    "HistogramEntropyMethod",
    "HistogramPercentileMethod",
    "default_calibration",
]
