"""The quantize pass for layer_norm: `sima.qlayer_norm` (int8, seed 003's table).

gamma and beta are folded into the per-element requantization of the Q11
normalized value z: y = sat(rshift_half_away(z * G + B, n) + z_out) with
G = round(gamma * 2**(n - 11) / step_out), B = round(beta * 2**n / step_out),
n the largest shift in [0, 38] keeping |G| <= 32767 and |B| < 2**38 (the most
bits of gamma the 16-bit G holds). epsilon becomes an integer in the unit of
N**2 * variance(q).
"""

from __future__ import annotations

import math

import numpy as np
from xdsl.ir import SSAValue

from passes.quantize_values import Fallback, OpRewrite, element_of
from runtime.integer_arithmetic import (
    LAYER_NORM_BIAS_LIMIT,
    LAYER_NORM_GAMMA_MAX,
    LAYER_NORM_MAX_EPSILON,
    LAYER_NORM_Z_BITS,
    TFLITE_MAX_SHIFT,
    round_half_away_from_zero,
)
from sima_dialect import ops
from sima_dialect.quantized_ops import QLayerNormOp


def _largest_shift(values: np.ndarray, limit: float, offset: int) -> int:
    """The largest n with max|values| * 2**(n + offset) <= limit (38 if values are all 0)."""
    largest = float(np.max(np.abs(values), initial=0.0))
    if largest == 0.0:
        return TFLITE_MAX_SHIFT
    return math.floor(math.log2(limit / largest)) - offset


def layer_norm_constants(gamma, beta, count: int, epsilon: float, step_in: float, step_out: float):
    """(G int16, B int32, Eps, n) of sima.qlayer_norm for real gamma / beta broadcast to the normalized shape."""
    gamma = np.asarray(gamma, dtype=np.float64) / step_out
    beta = np.asarray(beta, dtype=np.float64) / step_out
    shift = min(
        TFLITE_MAX_SHIFT,
        _largest_shift(gamma, LAYER_NORM_GAMMA_MAX, -LAYER_NORM_Z_BITS),
        _largest_shift(beta, LAYER_NORM_BIAS_LIMIT - 1, 0),
    )
    if shift < 0:
        raise Fallback(f"its gamma / beta are too large for the output step {step_out!r} (no shift >= 0 fits them)")
    g = round_half_away_from_zero(np.ldexp(gamma, shift - LAYER_NORM_Z_BITS))
    b = round_half_away_from_zero(np.ldexp(beta, shift))
    # |G| may round up past the limit by one unit
    g = np.clip(g, -LAYER_NORM_GAMMA_MAX, LAYER_NORM_GAMMA_MAX)
    eps = max(1, int(round_half_away_from_zero(count * count * epsilon / (step_in * step_in))))
    if eps > LAYER_NORM_MAX_EPSILON:
        raise Fallback(f"its epsilon {epsilon!r} is {eps} in units of N**2 * variance(q), more than {LAYER_NORM_MAX_EPSILON}")
    return g.astype(np.int16), b.astype(np.int32), eps, shift


def quantize_layer_norm(rewrite: OpRewrite) -> list[SSAValue]:
    op = rewrite.op
    assert isinstance(op, ops.LayerNormOp)
    x = rewrite.operand(op.input)
    source, output = element_of(x), rewrite.output_quantization()
    shape = ops.shape_of(op.input)
    normalized = tuple(shape[op.axis.value.data % len(shape):])
    gamma = np.broadcast_to(rewrite.constant_operand(op.scale, "scale"), normalized)
    beta = np.zeros(normalized) if op.bias is None else np.broadcast_to(rewrite.constant_operand(op.bias, "bias"), normalized)
    g, b, eps, shift = layer_norm_constants(
        gamma, beta, int(np.prod(normalized)), op.epsilon.value.data, source.scale_value, output.scale_value
    )
    base = rewrite.node or op.name
    made = QLayerNormOp(
        x,
        rewrite.constant(f"{base}.gamma.q", g),
        rewrite.constant(f"{base}.beta.q", b),
        output,
        axis=op.axis.value.data,
        epsilon=eps,
        shift=shift,
    )
    rewrite.add_main(made)
    return [made.output]
