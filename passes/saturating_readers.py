"""Readers that saturate: the interval of a tensor's values its readers tell apart.

A tensor whose every reader is constant outside an interval of its input (relu
below 0, hard_swish below -3, hard_sigmoid and clip outside their linear part)
has values there that give the readers the same result as the interval's end.
Error analysis (`runtime/error_analysis.py`) compares node outputs only inside
that interval. select-scales' MSE range search minimises the error of the
values clipped to it (`runtime.observers.mse.mse_range`), the error the readers
see. (Merely intersecting the range the plain search selects with the interval
was tried on earlier data and was not reliably better.)
"""

from __future__ import annotations

import math

from xdsl.ir import Operation, SSAValue

from sima_dialect import ops
from sima_dialect.calibration_ops import ObserveOp

_EVERYWHERE = (-math.inf, math.inf)


def reader_interval(reader: Operation) -> tuple[float, float]:
    """The interval of its input outside which `reader` is constant (its output
    at an input beyond an end equals its output at that end); the whole line
    for a reader that tells every value apart."""
    if isinstance(reader, ops.ReluOp):
        return 0.0, math.inf
    if isinstance(reader, ops.HardSwishOp):  # x * relu6(x + 3) / 6: 0 for x <= -3
        return -3.0, math.inf
    if isinstance(reader, ops.ClipOp):
        return reader.min.value.data, reader.max.value.data
    if isinstance(reader, ops.HardSigmoidOp):  # clip(alpha * x + beta, 0, 1)
        alpha, beta = reader.alpha.value.data, reader.beta.value.data
        if alpha != 0.0:
            ends = (-beta / alpha, (1.0 - beta) / alpha)
            return min(ends), max(ends)
    return _EVERYWHERE


def saturation_interval(value: SSAValue) -> tuple[float, float]:
    """The smallest interval holding every value of `value` its readers tell
    apart: the hull of its readers' `reader_interval`s (`sima.observe` markers
    aside); the whole line if any reader (or the function's return) needs all."""
    intervals = [reader_interval(use.operation) for use in value.uses if not isinstance(use.operation, ObserveOp)]
    if not intervals:
        return _EVERYWHERE
    return min(low for low, _ in intervals), max(high for _, high in intervals)
