"""Attribute records the quantizer reads: observed value ranges and conv parameters."""

from __future__ import annotations

import dataclasses
import math

import numpy as np


@dataclasses.dataclass(frozen=True)
class ObservedDistribution:
    """The observed (min, max) of a tensor over the calibration data."""

    min: float
    max: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.min) and math.isfinite(self.max)):
            raise ValueError(f"observed range [{self.min}, {self.max}] must be finite")
        if self.min > self.max:
            raise ValueError(f"observed range has min {self.min} > max {self.max}")

    @classmethod
    def from_array(cls, values: np.ndarray) -> ObservedDistribution:
        values = np.asarray(values)
        return cls(float(values.min()), float(values.max()))


@dataclasses.dataclass(frozen=True)
class ConvAddActivationAttrs:
    """Float parameters of a fused convolution (or dense) + bias + activation.

    :param weights: Weight tensor whose last axis is the output channel
        (HWIO for convolution, [K, N] for dense; the `sima` dialect's layouts).
    :param bias: Bias with one value per output channel, or None.
    :param activation: Fused activation name ("relu", "clip", ...) or None.
    """

    weights: np.ndarray
    bias: np.ndarray | None = None
    activation: str | None = None

    def __post_init__(self) -> None:
        if self.bias is not None and np.shape(self.bias) != (np.shape(self.weights)[-1],):
            raise ValueError(
                f"bias shape {np.shape(self.bias)} must be ({np.shape(self.weights)[-1]},), "
                "one value per output channel"
            )
