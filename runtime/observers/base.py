"""What every observer shares: the protocol, input checks, and the rule that
turns a raw (min, max) into a range the integer quantizer can use."""

from __future__ import annotations

import abc
from typing import Any

import numpy as np


class ObserverError(ValueError):
    """An observer was fed data it cannot use, or asked for a range too early.

    The caller (calibration) knows which node is observed and names it when it
    turns this into a user-facing error.
    """


class Observer(abc.ABC):
    """Streaming statistics of one tensor: memory does not grow with the number
    of observed arrays, and `merge` combines two observers exactly as if one
    had observed both streams (the other's stream after this one's)."""

    kind: str

    @abc.abstractmethod
    def update(self, array: np.ndarray) -> None:
        """Add one batch (any shape) to the statistics."""

    @abc.abstractmethod
    def merge(self, other: "Observer") -> None:
        """Fold `other`'s statistics into this observer, as if this observer
        had then observed `other`'s stream."""

    @abc.abstractmethod
    def select_range(self, bits: int = 8, symmetric: bool = False) -> tuple[float, float]:
        """The quantization range `(lo, hi)` this method selects.

        Always `lo <= 0 <= hi`: both the asymmetric (zero point) and the
        symmetric integer quantization represent 0 exactly, so the range is
        extended to contain it. With `symmetric=True` the range is `(-a, a)`.
        A constant-zero tensor yields `(0.0, 0.0)`; choosing a scale for an
        empty range is left to the scale selection.
        """

    @abc.abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """The statistics as plain numbers and lists (IR attributes, JSON)."""

    @classmethod
    @abc.abstractmethod
    def from_dict(cls, data: dict[str, Any]) -> "Observer":
        """The observer whose `to_dict()` is `data`."""

    def _check_same_kind(self, other: "Observer") -> None:
        if type(other) is not type(self):
            raise ObserverError(
                f"cannot merge a {type(other).__name__} into a {type(self).__name__}"
            )


def batch_as_array(array) -> np.ndarray:
    """`array` as a real NumPy array, rejecting what no observer can measure."""
    values = np.asarray(array)
    if values.dtype.kind not in "biuf":
        raise ObserverError(f"cannot observe an array of dtype {values.dtype}")
    return values


def finite_min_max(values: np.ndarray) -> tuple[float, float]:
    """The exact min and max of a non-empty array, as Python floats.

    NaN propagates through min/max and Inf is its own extreme, so checking the
    two results finds every non-finite value without another pass.
    """
    lo = float(values.min())
    hi = float(values.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ObserverError("observed tensor contains NaN or Inf values")
    return lo, hi


def range_with_zero(lo: float, hi: float, symmetric: bool) -> tuple[float, float]:
    """Extend `[lo, hi]` to contain 0; make it `(-a, a)` when symmetric."""
    # `+ 0.0` turns -0.0 into 0.0, so an all-zero tensor gives (0.0, 0.0).
    lo, hi = min(float(lo), 0.0) + 0.0, max(float(hi), 0.0) + 0.0
    if symmetric:
        bound = max(-lo, hi)
        return -bound + 0.0, bound
    return lo, hi


def check_bits(bits: int) -> None:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 2 <= bits <= 32:
        raise ObserverError(f"bit width must be an integer in [2, 32], got {bits!r}")


# The integer grids ranges are chosen for, as the scale selection builds them
# (`afe.ir.defines.quantization_from_range`): the real values representable
# are integer multiples of the step, so 0 is exact.
def asymmetric_steps(bits: int) -> int:
    """Asymmetric: the whole signed range, 2**bits - 1 steps over [lo, hi]."""
    return 2**bits - 1


def symmetric_half_steps(bits: int) -> int:
    """Symmetric: zero point 0 and 2**(bits-1) - 1 steps on each side of 0."""
    return 2 ** (bits - 1) - 1
