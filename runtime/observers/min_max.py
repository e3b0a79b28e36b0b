"""Min/max observers: the running extremes, and their exponential moving
average (seed 003: coefficient 0.01, the first batch initialises)."""

from __future__ import annotations

from typing import Any

from runtime.observers.base import (
    Observer,
    ObserverError,
    batch_as_array,
    check_bits,
    finite_min_max,
    range_with_zero,
)


class MinMaxObserver(Observer):
    """Running minimum and maximum (torch.ao's MinMaxObserver statistics)."""

    kind = "min_max"

    def __init__(self) -> None:
        self.min_val: float | None = None
        self.max_val: float | None = None

    def update(self, array) -> None:
        values = batch_as_array(array)
        if values.size == 0:
            return
        lo, hi = finite_min_max(values)
        self.min_val = lo if self.min_val is None else min(self.min_val, lo)
        self.max_val = hi if self.max_val is None else max(self.max_val, hi)

    def merge(self, other: "MinMaxObserver") -> None:
        self._check_same_kind(other)
        if other.min_val is None:
            return
        if self.min_val is None:
            self.min_val, self.max_val = other.min_val, other.max_val
            return
        self.min_val = min(self.min_val, other.min_val)
        self.max_val = max(self.max_val, other.max_val)

    def select_range(self, bits: int = 8, symmetric: bool = False) -> tuple[float, float]:
        check_bits(bits)
        if self.min_val is None:
            raise ObserverError("no data observed: cannot select a range")
        return range_with_zero(self.min_val, self.max_val, symmetric)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "min": self.min_val, "max": self.max_val}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "MinMaxObserver":
        observer = cls()
        observer.min_val, observer.max_val = data["min"], data["max"]
        return observer


class MovingAverageMinMaxObserver(Observer):
    """Exponential moving averages of each batch's min and max.

    After batches x_1..x_n: avg = (1-c)^(n-1) * x_1 + sum_{k>=2} c (1-c)^(n-k) x_k
    (torch.ao's MovingAverageMinMaxObserver). To merge exactly, the observer
    also keeps its first batch's extremes and its batch count: observing
    stream A then stream B gives avg_B + (1-c)^n_B * (avg_A - first_B).
    """

    kind = "moving_average"

    def __init__(self, averaging_constant: float = 0.01) -> None:
        if not 0.0 < averaging_constant <= 1.0:
            raise ObserverError(
                f"averaging constant must be in (0, 1], got {averaging_constant!r}"
            )
        self.averaging_constant = float(averaging_constant)
        self.min_val: float | None = None
        self.max_val: float | None = None
        self.first_min: float | None = None
        self.first_max: float | None = None
        self.num_batches = 0

    def update(self, array) -> None:
        values = batch_as_array(array)
        if values.size == 0:
            return
        lo, hi = finite_min_max(values)
        if self.num_batches == 0:
            self.min_val = self.first_min = lo
            self.max_val = self.first_max = hi
        else:
            c = self.averaging_constant
            self.min_val += c * (lo - self.min_val)
            self.max_val += c * (hi - self.max_val)
        self.num_batches += 1

    def merge(self, other: "MovingAverageMinMaxObserver") -> None:
        self._check_same_kind(other)
        if other.averaging_constant != self.averaging_constant:
            raise ObserverError(
                "cannot merge moving averages with different constants "
                f"({self.averaging_constant} and {other.averaging_constant})"
            )
        if other.num_batches == 0:
            return
        if self.num_batches == 0:
            self._copy_from(other)
            return
        decay = (1.0 - self.averaging_constant) ** other.num_batches
        self.min_val = other.min_val + decay * (self.min_val - other.first_min)
        self.max_val = other.max_val + decay * (self.max_val - other.first_max)
        self.num_batches += other.num_batches

    def _copy_from(self, other: "MovingAverageMinMaxObserver") -> None:
        self.min_val, self.max_val = other.min_val, other.max_val
        self.first_min, self.first_max = other.first_min, other.first_max
        self.num_batches = other.num_batches

    def select_range(self, bits: int = 8, symmetric: bool = False) -> tuple[float, float]:
        check_bits(bits)
        if self.num_batches == 0:
            raise ObserverError("no data observed: cannot select a range")
        return range_with_zero(self.min_val, self.max_val, symmetric)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "averaging_constant": self.averaging_constant,
            "min": self.min_val,
            "max": self.max_val,
            "first_min": self.first_min,
            "first_max": self.first_max,
            "num_batches": self.num_batches,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "MovingAverageMinMaxObserver":
        observer = cls(data["averaging_constant"])
        observer.min_val, observer.max_val = data["min"], data["max"]
        observer.first_min, observer.first_max = data["first_min"], data["first_max"]
        observer.num_batches = int(data["num_batches"])
        return observer
