"""The quantize pass for prelu: one slope -> a lookup table (`quantize_elementwise`);
one slope per channel (the last axis) -> `sima.qprelu`, whose negative side
has a signed 8-bit multiplier and a shift per channel:
M_neg[k] * 2**-n_neg[k] ~ slope[k] * step_in / step_out.
"""

from __future__ import annotations

import numpy as np
from xdsl.ir import SSAValue

from passes import quantize_elementwise as elementwise
from passes.quantize_values import Fallback, OpRewrite, element_of
from sima_dialect import ops
from sima_dialect.quantized_ops import QPreluOp, tflite_constants


def _channel_slopes(slope: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The slope as one value per channel of the last axis; Fallback if it varies along another axis."""
    if slope.ndim and slope.shape[-1] not in (1, shape[-1]) or any(d != 1 for d in slope.shape[:-1]):
        raise Fallback(f"prelu slope of shape {list(slope.shape)} varies along an axis other than the channels")
    return np.broadcast_to(slope.reshape(-1), (shape[-1],)).astype(np.float64)


def _signed_constants(factor: float, what: str) -> tuple[int, int]:
    if factor == 0.0:
        return 0, 0
    left, multiplier, shift = tflite_constants(abs(factor), what)
    if left:
        raise Fallback(f"{what}: the factor {factor!r} needs a left shift, which prelu does not have")
    return (multiplier if factor > 0 else -multiplier), shift


def quantize_prelu(rewrite: OpRewrite) -> list[SSAValue]:
    op = rewrite.op
    assert isinstance(op, ops.PreluOp)
    slope = rewrite.constant_operand(op.slope, "slope")
    if slope.size and np.all(slope == slope.flat[0]):
        return elementwise.quantize_lookup(rewrite)
    slopes = _channel_slopes(np.asarray(slope), ops.shape_of(op.input))
    x = rewrite.operand(op.input)
    output = rewrite.output_quantization()
    ratio = element_of(x).scale_value / output.scale_value
    multiplier, shift = _signed_constants(ratio, "prelu positive side")
    negative = [_signed_constants(float(s) * ratio, "prelu slope") for s in slopes]
    if multiplier <= 0:
        raise Fallback("prelu: the positive side's factor is not positive")
    made = QPreluOp(
        x, output, multiplier=multiplier, shift=shift,
        neg_multiplier=[m for m, _ in negative], neg_shift=[n for _, n in negative],
    )
    rewrite.add_main(made)
    return [made.output]
