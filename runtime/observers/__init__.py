"""Calibration observers: streaming, mergeable statistics of one tensor each,
one observer per calibration method, each able to select a quantization range.

    observer = HistogramMSEObserver(2048)
    for batch in batches:
        observer.update(batch)
    lo, hi = observer.select_range(bits=8, symmetric=False)

`to_dict()` / `observer_from_dict()` carry the statistics as plain numbers and
lists (for IR attributes); `merge` combines observers of shards of the data.
"""

from __future__ import annotations

from typing import Any

from runtime.observers.base import Observer, ObserverError
from runtime.observers.histogram import StreamingHistogram
from runtime.observers.histogram_observers import (
    HistogramEntropyObserver,
    HistogramMSEObserver,
    HistogramPercentileObserver,
)
from runtime.observers.min_max import MinMaxObserver, MovingAverageMinMaxObserver

OBSERVER_KINDS: dict[str, type[Observer]] = {
    cls.kind: cls
    for cls in (
        MinMaxObserver,
        MovingAverageMinMaxObserver,
        HistogramMSEObserver,
        HistogramEntropyObserver,
        HistogramPercentileObserver,
    )
}


def observer_from_dict(data: dict[str, Any]) -> Observer:
    """The observer whose `to_dict()` is `data` (dispatching on its "kind")."""
    kind = data.get("kind")
    if kind not in OBSERVER_KINDS:
        raise ObserverError(
            f"unknown observer kind {kind!r}; known kinds: {', '.join(sorted(OBSERVER_KINDS))}"
        )
    return OBSERVER_KINDS[kind].from_dict(data)


__all__ = [
    "Observer",
    "ObserverError",
    "StreamingHistogram",
    "MinMaxObserver",
    "MovingAverageMinMaxObserver",
    "HistogramMSEObserver",
    "HistogramEntropyObserver",
    "HistogramPercentileObserver",
    "OBSERVER_KINDS",
    "observer_from_dict",
]
