"""Pooling kernels over NHWC windows: max, average, global max and global average.

Windowed pooling loops over the KH*KW kernel taps, each a strided view of the
padded input reduced into the output in place: no Python loop over pixels and
no im2col buffer.
"""

from __future__ import annotations

import functools

import numpy as np

from runtime.kernels.base import Kernel, ints, lowest
from runtime.kernels.windows import output_size, pad_spatial, taps


def build_max_pool(op) -> Kernel:
    kernel, strides, pads, dilations = ints(op.kernel), ints(op.strides), ints(op.pads), ints(op.dilations)

    def max_pool(x: np.ndarray) -> np.ndarray:
        _, h, w, _ = x.shape
        out_hw = (
            output_size(h, kernel[0], strides[0], pads[0] + pads[2], dilations[0]),
            output_size(w, kernel[1], strides[1], pads[1] + pads[3], dilations[1]),
        )
        # padding holds the lowest value, so it never wins the max
        padded = pad_spatial(x, pads, lowest(x.dtype))
        out = None
        for _, _, pixels in taps(padded, kernel, out_hw, strides, dilations):
            if out is None:
                out = pixels.copy()
            else:
                np.maximum(out, pixels, out=out)
        return out

    return max_pool


def _valid_counts(size: int, out: int, kernel: int, stride: int, pad_begin: int) -> np.ndarray:
    """How many taps of each output position's window fall inside the unpadded input."""
    starts = np.arange(out) * stride - pad_begin
    positions = starts[:, None] + np.arange(kernel)[None, :]
    return ((positions >= 0) & (positions < size)).sum(axis=1)


def build_avg_pool(op) -> Kernel:
    kernel, strides, pads = ints(op.kernel), ints(op.strides), ints(op.pads)
    include_pad = bool(op.count_include_pad.value.data)
    no_dilation = (1, 1)

    def avg_pool(x: np.ndarray) -> np.ndarray:
        _, h, w, _ = x.shape
        oh = output_size(h, kernel[0], strides[0], pads[0] + pads[2], 1)
        ow = output_size(w, kernel[1], strides[1], pads[1] + pads[3], 1)
        out = None
        for _, _, pixels in taps(pad_spatial(x, pads), kernel, (oh, ow), strides, no_dilation):
            if out is None:
                out = pixels.copy()
            else:
                out += pixels
        if include_pad or not any(pads):
            out /= x.dtype.type(kernel[0] * kernel[1])
        else:
            rows = _valid_counts(h, oh, kernel[0], strides[0], pads[0])
            cols = _valid_counts(w, ow, kernel[1], strides[1], pads[1])
            out /= np.outer(rows, cols).astype(x.dtype)[:, :, None]
        return out

    return avg_pool


@functools.lru_cache(maxsize=32)
def _ones(count: int, dtype: np.dtype) -> np.ndarray:
    ones = np.ones((1, count), dtype)
    ones.flags.writeable = False
    return ones


def global_avg_pool(x: np.ndarray) -> np.ndarray:
    n, h, w, c = x.shape
    if x.dtype == np.float32 or x.dtype == np.float64:
        # ones @ pixels: BLAS sums each channel in long vectorised runs, 4 to 10
        # times faster than a reduction over the pixel axes, whose inner loop
        # covers the channels alone (the sums differ by float rounding only)
        total = np.matmul(_ones(h * w, x.dtype), x.reshape(n, h * w, c)).reshape(n, 1, 1, c)
    else:
        total = np.add.reduce(x, axis=(1, 2), dtype=x.dtype, keepdims=True)
    # divided by the count as an integer, as x.mean does
    return np.true_divide(total, np.intp(h * w), out=total, casting="unsafe")


def global_max_pool(x: np.ndarray) -> np.ndarray:
    return x.max(axis=(1, 2), keepdims=True)
