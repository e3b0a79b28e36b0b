"""The requantizations of `runtime.integer_arithmetic` as exact ONNX float ops.

Every value below is an integer times a power of two, and every step is
proven exact in the float type it runs in (a float32 holds every multiple of
2**-m of magnitude <= 2**(24 - m), a float64 every multiple below 2**(53 - m)),
so the roundings, clips and casts compute exactly the integers the model defines.

sima (`ArithFoldedRequantization`), y = sat(floor(A * 2**-n + 1/2)), from the
product G = S * 2**-n (weights scaled by 2**-n: exact by the GEMM's bound) and
B' = bias + the input zero-point correction:

- fused (int8 input, 8/16-bit output): the GEMM adds the float32 bias
  `sima_bias` = B' * 2**-n + 2**-(n+1) (n >= 1; B' for n = 0), an optional Relu
  follows, and QuantizeLinear with scale 1 (`round_to_integers`) clamps,
  rounds half to even and casts. v = A * 2**-n + 2**-(n+1) is never a tie (it
  lies 2**-(n+1) off the grid of A * 2**-n, whose ties are on it), and
  round(v) = floor(A * 2**-n + 1/2) since v stays within 1/2 - 2**-(n+1) of
  that integer. Relu before rounding equals the model's clamp of A at 0.
  Exact when every partial sum of (B' + P) * 2**-n + 2**-(n+1), in any order
  (onnxruntime may add the bias first or fuse it), is a multiple of
  2**-(n+1) within 2**24 of them (`float32_offset_exact`);
- otherwise (`sima_requantize`): G cast to float64, + B' * 2**-n + 1/2
  ((A + 2**(n-1)) * 2**-n, |A| < 2**32: exact), Floor, Clip, Cast.

tflite (`TFLiteRequantization`), from the exact accumulator A in float64:

    v = A * (M * 2**(L - n))          exact: |A * 2**L| < 2**31, M < 2**7
    w = v + sign(v) / 2               exact: (|A M 2**L| + 2**(n-1)) * 2**-n, < 2**40
    t = trunc(w)                      = rshift_half_away(A << L * M, n)
    y = sat(t + z),  relu: t >= 0

  computed as Clip(w, [min_T - z, max_T - z]) (relu: low max(min_T - z, 0)),
  Cast to int32 / int64 (trunc), + z, Cast to T: trunc is monotonic and the
  bounds are integers, so clipping before it equals clipping after.

The sessions run with "session.disable_quant_qdq": onnxruntime must not read
these QuantizeLinear / DequantizeLinear (scale 1) as quantized tensors and
fuse them into its own integer kernels, whose rounding differs (measured: it
did, and outputs changed by up to 13 steps).
"""

from __future__ import annotations

import numpy as np

from runtime.onnx_backend.graph import FLOAT32, FLOAT64, INT32, INT64, Fragment, onnx_type

FLOAT32_EXACT_BITS = 24


def _per_channel(values, channel_shape: tuple[int, ...] | None) -> np.ndarray:
    """Per-channel constants shaped to broadcast on the channel axis (scalars stay scalars)."""
    array = np.asarray(values)
    if array.size == 1 or channel_shape is None:
        return array.reshape(()) if array.size == 1 else array
    return array.reshape(channel_shape)


def float32_offset_exact(product_bound: np.ndarray, bias: np.ndarray, shift: np.ndarray) -> bool:
    """True when every partial sum of (bias + P) * 2**-n + 2**-(n+1) (n >= 1; n = 0: no
    half), |P| <= product_bound, is exact in float32, whatever the order (module docstring)."""
    product_bound = np.asarray(product_bound, dtype=np.int64)
    bias = np.abs(np.asarray(bias, dtype=np.int64))
    shift = np.asarray(shift, dtype=np.int64)
    for p, b, n in zip(*np.broadcast_arrays(product_bound, bias, shift)):
        p, b, n = int(p), int(b), int(n)
        # in units of 2**-(n+1) (n >= 1) or 1 (n = 0)
        units = 2 * (p + b) + 1 if n else p + b
        if units > 1 << FLOAT32_EXACT_BITS:
            return False
    return True


def sima_bias(bias: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """B' * 2**-n + 2**-(n+1) (n >= 1; B' for n = 0), float64 (exact: < 2**33 units)."""
    bias = np.asarray(bias, dtype=np.int64).astype(np.float64)
    shift = np.asarray(shift, dtype=np.int64)
    return np.ldexp(bias, -shift) + np.where(shift > 0, np.ldexp(1.0, -shift - 1), 0.0)


def floor_offset_bias(bias: np.ndarray, offset, shift: np.ndarray) -> np.ndarray:
    """B' = B + offset 2**n + 2**(n-1) (int64; n = 0: B + offset): with `sima_bias`'s further
    2**-(n+1), the product u = (A - B + B') 2**-n + 2**-(n+1) has floor(u) = floor(A 2**-n + 1/2)
    + offset, and never lands on an integer (n >= 1), so a truncating Cast rounds it as sima
    does; for n = 0, u = A + offset is that integer itself."""
    shift = np.asarray(shift, dtype=np.int64)
    half = np.where(shift > 0, np.left_shift(np.int64(1), np.maximum(shift - 1, 0)), 0)
    return np.asarray(bias, dtype=np.int64) + np.left_shift(np.asarray(offset, dtype=np.int64), shift) + half


def round_to_integers(f: Fragment, value: str, output_dtype: np.dtype) -> str:
    """QuantizeLinear with scale 1: clamp to T's range, round half to even (no ties here), cast."""
    zero = f.constant(np.zeros((), dtype=output_dtype))
    return f.node("QuantizeLinear", [value, f.constant(1.0, np.float32), zero])


def sima_requantize(
    f: Fragment,
    product: str,
    bias: np.ndarray,
    shift: np.ndarray,
    relu: bool,
    output_dtype: np.dtype,
    channel_shape: tuple[int, ...] | None,
    product_type: int = FLOAT32,
) -> str:
    """y from G = S * 2**-n in `product` (float32, or float64 with `product_type`), in float64:
    the path for products whose offset is not provably exact in float32 (else the GEMM
    adds `sima_bias` itself and rounds with `round_to_integers`)."""
    info = np.iinfo(output_dtype)
    low, high = int(info.min), int(info.max)
    low_clip = max(low, 0) if relu else low
    bias = np.asarray(bias, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    offset = np.ldexp(bias.astype(np.float64), -shift) + 0.5  # (B' + 2**(n-1)) * 2**-n: exact in float64
    if product_type != FLOAT64:
        product = f.cast(product, FLOAT64)
    offset = _per_channel(offset, channel_shape)
    if np.any(offset != 0):
        product = f.node("Add", [product, f.constant(offset, np.float64)])
    rounded = f.node("Floor", [product])
    clipped = f.node("Clip", [rounded, f.constant(float(low_clip), np.float64), f.constant(float(high), np.float64)])
    return f.cast(f.cast(clipped, INT64), onnx_type(output_dtype))


def tflite_requantize(
    f: Fragment,
    accumulator: str,
    multiplier,
    shift,
    zero_point: int,
    relu: bool,
    output_dtype: np.dtype,
    channel_shape: tuple[int, ...] | None = None,
    left_shift: int = 0,
) -> str:
    """y = sat(rshift_half_away((A << L) * M, n) + z) from the exact accumulator A (float64)."""
    multiplier = np.asarray(multiplier, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    scale = _per_channel(np.ldexp(multiplier.astype(np.float64), left_shift - shift), channel_shape)
    v = f.node("Mul", [accumulator, f.constant(scale, np.float64)])
    return tflite_round(f, v, zero_point, relu, output_dtype)


def tflite_round(f: Fragment, v: str, zero_point: int, relu: bool, output_dtype: np.dtype) -> str:
    """y = sat(trunc(v + sign(v) / 2) + z) (relu: the rounded value clamped at 0 first) from the
    exact float64 v = (A << L) * M * 2**-n: `tflite_requantize` after its product (module docstring)."""
    info = np.iinfo(output_dtype)
    low, high = int(info.min), int(info.max)
    half_sign = f.node("Mul", [f.node("Sign", [v]), f.constant(0.5, np.float64)])
    w = f.node("Add", [v, half_sign])
    low_t = max(low - zero_point, 0) if relu else low - zero_point
    clipped = f.node("Clip", [w, f.constant(float(low_t), np.float64), f.constant(float(high - zero_point), np.float64)])
    integer_type, integer_dtype = (INT32, np.int32) if output_dtype.itemsize <= 2 else (INT64, np.int64)
    t = f.cast(clipped, integer_type)
    if zero_point:
        t = f.node("Add", [t, f.constant(zero_point, integer_dtype)])
    return f.cast(t, onnx_type(output_dtype))
