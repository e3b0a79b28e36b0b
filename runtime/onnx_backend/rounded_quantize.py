"""fast mode's float32 -> int8 quantize rounded as bit-exact's kernel rounds: half away from zero on the exact quotient.

sima.quantize is sat(round_half_away(x / step) + z) with the exact quotient
(`integer_arithmetic.quantize`). onnxruntime's QuantizeLinear divides in float32 and rounds half
to even: off by one step on ~130 float32 values around the ties of a typical step (there the
float32 quotient lands exactly on the tie), which no float32 scale fixes (scales nudged a few ulps:
more values off, measured), and on 0-1 of the 307k values of each of det's real inputs, enough to
move its outputs (fast mode vs bit-exact on 16 inputs, det's transposed convs still emulated:
29.8 -> 34.6 dB; orientation 52.9 -> 58.9 dB).

`quantized_bytes` writes the bytes b = q + 128 (the int8 form's, `integer_emulation.py`; the
float forms dequantize them to the centred integers, `emulate.emulate_quantize`): x clipped to
the float32 values that saturate, then x * (1 / step) (pushed: `pushed_reciprocal`) + 128 + z +
1/2 in float64, truncated to uint8 (`byte_quotients`, the same operations in NumPy). It can differ
from the kernel only where the float64 quotient lies within the push of a tie, which
`exact_float_form.quantize_mismatches` checks for the step when the program is built (none for
300 of 300 random float32 steps, the quantizer's scales, powers of two included, and the four real
models'; float64 steps such as 0.1 have float32 x that close: 51); up to `MAX_QUANTIZE_PATCHES`
are patched with Equal + Where, beyond that None (QuantizeLinear then, as before). NaN:
`OnnxProgram` runs the kernel instead, which refuses it (program.py). Cost: 5 passes where
QuantizeLinear is one, two in float64 (one thread: det's 307k values ~0.36 ms against ~0.10 ms;
orientation 1.36x -> 1.43x onnxruntime fp32, cls ~+0.04x: `bench/bench_fast_forms.py`).
"""

from __future__ import annotations

import numpy as np
import onnx

from runtime.integer_arithmetic import integer_range
from runtime.integer_kernels.boundary import quantized_element
from runtime.onnx_backend.graph import FLOAT64, Fragment
from sima_dialect.element_types import element_type_to_numpy

QUOTIENT_PUSH = 2.0**-40
"""1 / step is scaled by 1 + this (`pushed_reciprocal`): an exact tie then rounds away from zero."""


def pushed_reciprocal(step: float) -> float:
    """1 / step times 1 + 2**-40, in float64: |x / step| a little larger, so that x on a tie (k + 1/2) step
    (the float32 x = step / 2 always is one) rounds away from zero, as the kernel rounds, on both sides;
    for a float32 step, a float32 x off a tie is at least ~|q| 2**-24 away from it in the quotient q,
    far beyond this push."""
    return float(np.float64(1.0 / step) * (1.0 + QUOTIENT_PUSH))


def saturating_inputs(step: float, low: float, high: float) -> tuple[np.float32, np.float32]:
    """float32 x bounds that change no quantized value: fl(low step) and fl(high step) have quotients
    within |low| 2**-24 < 1/2 of the centred bounds low, high, so they quantize to them, and so does
    every x beyond them (saturated)."""
    return np.float32(low * step), np.float32(high * step)


def byte_quotients(x: np.ndarray, step: float, low: float, high: float) -> np.ndarray:
    """What `quantized_bytes`' nodes compute (centred, as `exact_float_form.quantize_mismatches`
    takes a formula), in NumPy's IEEE arithmetic (the same operations, each correctly rounded): x
    clipped in float32 (`saturating_inputs`), then the byte trunc(fl(fl(x * fl(1 / step)) + 128 + z
    + 1/2)) in float64, minus 128 + z (= -low)."""
    bottom, top = saturating_inputs(step, low, high)
    clipped = np.clip(np.asarray(x, dtype=np.float32), bottom, top)
    return np.trunc(clipped.astype(np.float64) * pushed_reciprocal(step) + (0.5 - low)) + low


def quantized_bytes(f: Fragment, x: str, step: float, zero_point: int) -> str | None:
    """The bytes q + 128 (uint8) of sima.quantize of the float32 tensor `x` to int8 (step, zero
    point), or None where the float64 form is not proven for this step (more than
    `MAX_QUANTIZE_PATCHES` float32 values within the push of a tie, or a step the kernel refuses)."""
    from runtime.onnx_backend.exact_float_form import MAX_QUANTIZE_PATCHES, quantize_mismatches

    if not (np.isfinite(step) and step > 0):
        return None
    wrong, right = quantize_mismatches(step, zero_point, byte_quotients)
    if len(wrong) > MAX_QUANTIZE_PATCHES:
        return None
    low, high = (float(bound - zero_point) for bound in integer_range(8))
    clipped = f.node("Clip", [x, *(f.constant(bound) for bound in saturating_inputs(step, low, high))])
    reciprocal = pushed_reciprocal(step)
    if np.float32(reciprocal) == 1.0:  # onnxruntime drops a Mul by a double that is 1 in float32: by 2 r, then 1/2 (exact)
        quotient = f.node("Mul", [f.node("Mul", [f.cast(clipped, FLOAT64), f.constant(2.0 * reciprocal, np.float64)]),
                                  f.constant(0.5, np.float64)])
    else:
        quotient = f.node("Mul", [f.cast(clipped, FLOAT64), f.constant(reciprocal, np.float64)])
    result = f.cast(f.node("Add", [quotient, f.constant(0.5 - low, np.float64)]), onnx.TensorProto.UINT8)  # truncation: floor, >= 0
    for value, centred in zip(wrong, right):
        matches = f.node("Equal", [x, f.constant(np.float32(value))])
        result = f.node("Where", [matches, f.constant(np.uint8(centred - low)), result])
    return result


def quantize_op_bytes(op, f: Fragment, x: str) -> str | None:
    """`quantized_bytes` of the sima.quantize `op` (its input `x`) where it quantizes float32 to
    8 bits with a proven step; None otherwise (16 bits, another input type, a step not proven)."""
    element = quantized_element(op.results[0])
    if element.bits != 8 or np.dtype(element_type_to_numpy(op.input.type.element_type)) != np.float32:
        return None
    return quantized_bytes(f, x, float(element.scale_value), element.zero_point_value)


__all__ = ["QUOTIENT_PUSH", "byte_quotients", "pushed_reciprocal", "quantize_op_bytes", "quantized_bytes", "saturating_inputs"]
