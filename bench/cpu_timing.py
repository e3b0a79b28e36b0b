"""CPU-time medians and the BLAS thread setting shared by the scripts of `bench/`."""

from __future__ import annotations

import os
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


def limit_blas_threads(count: int | str) -> None:
    """The thread count OpenMP / OpenBLAS / MKL start with: call it before NumPy is imported
    (BLAS reads it when it loads)."""
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(count)
