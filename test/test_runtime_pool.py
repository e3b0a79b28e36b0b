"""Pooling kernels against slow loop references and onnxruntime (NHWC <-> NCHW in the test)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from runtime_ir import run_onnx_node, run_op, to_nchw, to_nhwc

from sima_dialect import ops, shapes

RTOL, ATOL = 1e-5, 1e-6


def pool_reference(x, kernel, strides, pads, dilations, kind, count_include_pad=False):
    """Plain loops over output pixels; only in-bounds taps are read."""
    n_, h, w, c_ = x.shape
    oh_, ow_ = shapes.pool_output_shape(x.shape, kernel, strides, pads, dilations)[1:3]
    out = np.zeros((n_, oh_, ow_, c_))
    for n in range(n_):
        for oh in range(oh_):
            for ow in range(ow_):
                for c in range(c_):
                    values = []
                    for kh in range(kernel[0]):
                        for kw in range(kernel[1]):
                            ih = oh * strides[0] + kh * dilations[0] - pads[0]
                            iw = ow * strides[1] + kw * dilations[1] - pads[1]
                            if 0 <= ih < h and 0 <= iw < w:
                                values.append(float(x[n, ih, iw, c]))
                    if kind == "max":
                        out[n, oh, ow, c] = max(values)
                    else:
                        divisor = kernel[0] * kernel[1] if count_include_pad else len(values)
                        out[n, oh, ow, c] = sum(values) / divisor
    return out


@st.composite
def pool_cases(draw, with_dilation):
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    strides = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilations = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if with_dilation else (1, 1)
    # ONNX's bound: pads below the kernel size
    pads = tuple(draw(st.integers(0, k - 1)) for k in (kernel[0], kernel[1], kernel[0], kernel[1]))
    extent = (dilations[0] * (kernel[0] - 1) + 1, dilations[1] * (kernel[1] - 1) + 1)
    h = draw(st.integers(max(1, extent[0] - pads[0] - pads[2]), extent[0] + 4))
    w = draw(st.integers(max(1, extent[1] - pads[1] - pads[3]), extent[1] + 4))
    # and every (dilated) window must hold at least one input pixel
    try:
        shapes.pool_output_shape((1, h, w, 1), kernel, strides, pads, dilations)
    except shapes.ShapeError:
        assume(False)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    # all-negative inputs: padding read as 0 would win the max
    x = (rng.standard_normal((draw(st.integers(1, 2)), h, w, draw(st.integers(1, 3)))) - 3).astype(np.float32)
    return x, kernel, strides, pads, dilations


@settings(max_examples=50, deadline=None)
@given(pool_cases(with_dilation=True))
def test_max_pool_matches_loop_reference_and_onnxruntime(case):
    x, kernel, strides, pads, dilations = case
    reference = pool_reference(x, kernel, strides, pads, dilations, "max")
    (got,) = run_op(
        ops.MaxPoolOp, [x], [(reference.shape, np.float32)],
        kernel=kernel, strides=strides, pads=pads, dilations=dilations,
    )
    np.testing.assert_array_equal(got, reference.astype(np.float32))
    (onnx_out,) = run_onnx_node(
        "MaxPool", {"x": to_nchw(x)}, ["y"],
        kernel_shape=list(kernel), strides=list(strides), pads=list(pads), dilations=list(dilations),
    )
    np.testing.assert_array_equal(got, to_nhwc(onnx_out))


@settings(max_examples=50, deadline=None)
@given(pool_cases(with_dilation=False), st.booleans())
def test_avg_pool_matches_loop_reference_and_onnxruntime(case, count_include_pad):
    x, kernel, strides, pads, _ = case
    reference = pool_reference(x, kernel, strides, pads, (1, 1), "avg", count_include_pad)
    (got,) = run_op(
        ops.AvgPoolOp, [x], [(reference.shape, np.float32)],
        kernel=kernel, strides=strides, pads=pads, count_include_pad=count_include_pad,
    )
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, reference, rtol=RTOL, atol=ATOL)
    (onnx_out,) = run_onnx_node(
        "AveragePool", {"x": to_nchw(x)}, ["y"],
        kernel_shape=list(kernel), strides=list(strides), pads=list(pads),
        count_include_pad=int(count_include_pad),
    )
    np.testing.assert_allclose(got, to_nhwc(onnx_out), rtol=RTOL, atol=ATOL)


def test_max_pool_of_integers_pads_with_the_minimum():
    x = np.array([[-128, -100], [-90, -128]], dtype=np.int8).reshape(1, 2, 2, 1)
    (got,) = run_op(ops.MaxPoolOp, [x], [((1, 2, 2, 1), np.int8)], kernel=(2, 2), strides=(1, 1), pads=(1, 1, 0, 0), dilations=(1, 1))
    np.testing.assert_array_equal(got.reshape(2, 2), [[-128, -100], [-90, -90]])


@pytest.mark.parametrize("kind,onnx_op", [("avg", "GlobalAveragePool"), ("max", "GlobalMaxPool")])
def test_global_pools_match_loops_and_onnxruntime(kind, onnx_op):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 5, 4)).astype(np.float32)
    op_class = ops.GlobalAvgPoolOp if kind == "avg" else ops.GlobalMaxPoolOp
    (got,) = run_op(op_class, [x], [((2, 1, 1, 4), np.float32)])
    reference = np.zeros((2, 1, 1, 4))
    for n in range(2):
        for c in range(4):
            values = [float(x[n, h, w, c]) for h in range(3) for w in range(5)]
            reference[n, 0, 0, c] = sum(values) / len(values) if kind == "avg" else max(values)
    np.testing.assert_allclose(got, reference, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(got, to_nhwc(run_onnx_node(onnx_op, {"x": to_nchw(x)}, ["y"])[0]), rtol=RTOL, atol=ATOL)
