"""What the `afe` commands print: node counts, timings, progress bars."""

from __future__ import annotations

import collections
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from tqdm import tqdm

from passes.name_nodes import NodeRow

T = TypeVar("T")


def say(text: str = "") -> None:
    print(text, flush=True)


def describe_inputs(input_types) -> str:
    """e.g. "x: [1, 48, 192, 3] float32 (NHWC)": each input as execute takes it."""
    return ", ".join(
        f"{name}: {list(shape)} {dtype}{' (NHWC)' if len(shape) == 4 else ''}" for name, (shape, dtype) in input_types.items()
    )


def nodes_per_target(rows: Iterable[NodeRow]) -> str:
    """e.g. "112 nodes: MLA 111 (int8 110, int32 1), APU 1 (float32 1)"."""
    rows = list(rows)
    by_target: dict[str, collections.Counter] = {}
    for row in rows:
        by_target.setdefault(row.target or "-", collections.Counter())[row.precision] += 1
    parts = []
    for target, precisions in by_target.items():
        detail = ", ".join(f"{precision} {count}" for precision, count in sorted(precisions.items()))
        parts.append(f"{target} {sum(precisions.values())} ({detail})")
    return f"{len(rows)} nodes: " + ", ".join(parts)


@contextmanager
def timed(timings: dict[str, float], step: str) -> Iterator[None]:
    """Adds the wall time of the `with` body to `timings[step]`."""
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[step] = timings.get(step, 0.0) + time.perf_counter() - start


def format_timings(timings: dict[str, float]) -> str:
    return ", ".join(f"{step} {seconds:.1f} s" for step, seconds in timings.items())


def progress(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """`items` with a progress bar on stderr, shown only on a terminal (as calibration's)."""
    yield from tqdm(items, desc=description, total=total, unit=" samples", disable=None, file=sys.stderr)
