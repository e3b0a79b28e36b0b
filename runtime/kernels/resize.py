"""Resize of NHWC tensors, following ONNX Resize (and onnxruntime's arithmetic).

Each output coordinate x maps back to an input coordinate by the coordinate
mode, with scale = output size / input size (the IR holds output sizes, not
ONNX scales):

    half_pixel          (x + 0.5) / scale - 0.5
    pytorch_half_pixel  as half_pixel, but 0 when the output size is 1
    align_corners       x * (in - 1) / (out - 1), 0 when the output size is 1
    asymmetric          x / scale

Nearest mode then rounds that coordinate (round_prefer_floor / _ceil, floor,
ceil) and clamps it into the input; linear mode clamps it into [0, in - 1] and
blends the two neighbours. Both are separable, so H and W are done one after
the other with gathers over whole rows. Coordinates are computed in float32,
as onnxruntime does, so rounding ties fall the same way.
"""

from __future__ import annotations

import numpy as np

from runtime.kernels.base import Kernel, static_shape
from sima_dialect import ops


def source_coordinates(in_size: int, out_size: int, coordinate_mode: str) -> np.ndarray:
    """The input coordinate (float32) each output position maps to."""
    f32 = np.float32
    x = np.arange(out_size, dtype=f32)
    scale = f32(out_size) / f32(in_size)
    if coordinate_mode == "half_pixel":
        return (x + f32(0.5)) / scale - f32(0.5)
    if coordinate_mode == "pytorch_half_pixel":
        if out_size == 1:
            return np.zeros(1, dtype=f32)
        return (x + f32(0.5)) / scale - f32(0.5)
    if coordinate_mode == "align_corners":
        if out_size == 1:
            return np.zeros(1, dtype=f32)
        return x * f32(in_size - 1) / f32(out_size - 1)
    if coordinate_mode == "asymmetric":
        return x / scale
    raise ValueError(f"unknown coordinate mode {coordinate_mode!r}")


def nearest_indices(coords: np.ndarray, in_size: int, nearest_mode: str) -> np.ndarray:
    if nearest_mode == "round_prefer_floor":
        # a tie (fraction exactly 0.5) goes down, anything else to the nearest
        index = np.where(coords == np.floor(coords) + np.float32(0.5), np.floor(coords), np.round(coords))
    elif nearest_mode == "round_prefer_ceil":
        index = np.where(coords == np.floor(coords) + np.float32(0.5), np.ceil(coords), np.round(coords))
    elif nearest_mode == "floor":
        index = np.floor(coords)
    elif nearest_mode == "ceil":
        index = np.ceil(coords)
    else:
        raise ValueError(f"unknown nearest mode {nearest_mode!r}")
    return np.clip(index, 0, in_size - 1).astype(np.intp)


def linear_taps(coords: np.ndarray, in_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Neighbour indices (low, high) and the weight of `high`, per output position."""
    coords = np.clip(coords, np.float32(0), np.float32(in_size - 1))
    low = np.minimum(coords.astype(np.intp), in_size - 1)
    high = np.minimum(low + 1, in_size - 1)
    weight_high = coords - low.astype(np.float32)
    return low, high, weight_high


def build_resize(op: ops.ResizeOp) -> Kernel:
    _, in_h, in_w, _ = static_shape(op.input)
    _, out_h, out_w, _ = static_shape(op.output)
    coordinate_mode = op.coordinate_mode.data
    rows = source_coordinates(in_h, out_h, coordinate_mode)
    cols = source_coordinates(in_w, out_w, coordinate_mode)

    if op.mode.data == "nearest":
        nearest_mode = op.nearest_mode.data
        row_index = nearest_indices(rows, in_h, nearest_mode)
        col_index = nearest_indices(cols, in_w, nearest_mode)
        return lambda x: x[:, row_index][:, :, col_index]

    row_low, row_high, row_weight = linear_taps(rows, in_h)
    col_low, col_high, col_weight = linear_taps(cols, in_w)

    def resize_linear(x: np.ndarray) -> np.ndarray:
        dtype = x.dtype
        wr = row_weight.astype(dtype)[None, :, None, None]
        wc = col_weight.astype(dtype)[None, None, :, None]
        top, bottom = x[:, row_low], x[:, row_high]
        blended_rows = top + (bottom - top) * wr
        left, right = blended_rows[:, :, col_low], blended_rows[:, :, col_high]
        return left + (right - left) * wc

    return resize_linear
