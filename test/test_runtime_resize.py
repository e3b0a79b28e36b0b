"""Resize against a per-pixel reference written from the ONNX Resize definition, and onnxruntime."""

from __future__ import annotations

import math

import numpy as np
import pytest
from runtime_ir import run_onnx_node, run_op, to_nchw, to_nhwc

from sima_dialect import ops

COORDINATE_MODES = ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"]
NEAREST_MODES = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]
SIZES = [(6, 8), (7, 5), (2, 3), (1, 1), (9, 12), (3, 4)]


def original_coordinate(x: int, in_size: int, out_size: int, mode: str) -> float:
    scale = out_size / in_size
    if mode == "half_pixel":
        return (x + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (x + 0.5) / scale - 0.5 if out_size > 1 else 0.0
    if mode == "align_corners":
        return x * (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    return x / scale  # asymmetric


def nearest_index(coordinate: float, in_size: int, mode: str) -> int:
    fraction = coordinate - math.floor(coordinate)
    if mode == "round_prefer_floor":
        index = math.floor(coordinate) if fraction <= 0.5 else math.ceil(coordinate)
    elif mode == "round_prefer_ceil":
        index = math.floor(coordinate) if fraction < 0.5 else math.ceil(coordinate)
    elif mode == "floor":
        index = math.floor(coordinate)
    else:
        index = math.ceil(coordinate)
    return min(max(index, 0), in_size - 1)


def resize_reference(x, out_h, out_w, mode, coordinate_mode, nearest_mode):
    n_, in_h, in_w, c_ = x.shape
    out = np.zeros((n_, out_h, out_w, c_))
    for oh in range(out_h):
        for ow in range(out_w):
            y = original_coordinate(oh, in_h, out_h, coordinate_mode)
            xx = original_coordinate(ow, in_w, out_w, coordinate_mode)
            if mode == "nearest":
                out[:, oh, ow] = x[:, nearest_index(y, in_h, nearest_mode), nearest_index(xx, in_w, nearest_mode)]
                continue
            y, xx = min(max(y, 0.0), in_h - 1), min(max(xx, 0.0), in_w - 1)
            y0, x0 = int(math.floor(y)), int(math.floor(xx))
            y1, x1 = min(y0 + 1, in_h - 1), min(x0 + 1, in_w - 1)
            dy, dx = y - y0, xx - x0
            out[:, oh, ow] = (
                x[:, y0, x0] * (1 - dy) * (1 - dx)
                + x[:, y0, x1] * (1 - dy) * dx
                + x[:, y1, x0] * dy * (1 - dx)
                + x[:, y1, x1] * dy * dx
            )
    return out


def onnx_resize(x, out_h, out_w, mode, coordinate_mode, nearest_mode):
    sizes = np.array([x.shape[0], x.shape[3], out_h, out_w], np.int64)
    (y,) = run_onnx_node(
        "Resize", {"x": to_nchw(x)}, ["y"], {"sizes": sizes}, opset=19, node_inputs=["x", "", "", "sizes"],
        mode=mode, coordinate_transformation_mode=coordinate_mode, nearest_mode=nearest_mode,
    )
    return to_nhwc(y)


def run_resize(x, out_h, out_w, mode, coordinate_mode, nearest_mode):
    n, _, _, c = x.shape
    (got,) = run_op(
        ops.ResizeOp, [x], [((n, out_h, out_w, c), x.dtype)],
        mode=mode, coordinate_mode=coordinate_mode, nearest_mode=nearest_mode,
    )
    return got


INPUT = np.random.default_rng(0).standard_normal((2, 3, 4, 2)).astype(np.float32)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("coordinate_mode", COORDINATE_MODES)
@pytest.mark.parametrize("nearest_mode", NEAREST_MODES)
def test_nearest_resize_matches_reference_and_onnxruntime(size, coordinate_mode, nearest_mode):
    args = (INPUT, *size, "nearest", coordinate_mode, nearest_mode)
    got = run_resize(*args)
    np.testing.assert_array_equal(got, resize_reference(*args).astype(np.float32))
    np.testing.assert_array_equal(got, onnx_resize(*args))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("coordinate_mode", COORDINATE_MODES)
def test_linear_resize_matches_reference_and_onnxruntime(size, coordinate_mode):
    args = (INPUT, *size, "linear", coordinate_mode, "round_prefer_floor")
    got = run_resize(*args)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, resize_reference(*args), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got, onnx_resize(*args), rtol=1e-5, atol=1e-6)
