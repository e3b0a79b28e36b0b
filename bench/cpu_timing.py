"""CPU-time medians shared by the profiling scripts of `bench/`."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def cpu_median(run: Callable[[], object], count: int, warmup: int = 0) -> float:
    """The median CPU seconds of `count` calls of `run`, after `warmup` untimed calls. With one
    thread this is its latency on an idle core, and it holds when other jobs share the machine."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(count):
        start = time.process_time()
        run()
        times.append(time.process_time() - start)
    return statistics.median(times)
