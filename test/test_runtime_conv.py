"""Convolution and matrix-product kernels against slow loop references and onnxruntime.

Hypothesis draws shapes, strides, pads, dilations and groups (dense, grouped and
depthwise with a channel multiplier), so every code path of the conv kernel
(pointwise, im2col in bands, grouped, depthwise) meets odd sizes.
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from runtime_ir import Weight, run_onnx_node, run_op, to_nchw, to_nhwc

from runtime.kernels import conv as conv_kernels
from sima_dialect import ops, shapes

RTOL, ATOL = 1e-5, 1e-5


def conv2d_reference(x, w, b, strides, pads, dilations, groups):
    """Direct definition: plain loops over every output element and tap."""
    n_, h, wd, _ = x.shape
    kh_, kw_, c_group, c_out = w.shape
    per_group = c_out // groups
    oh_ = (h + pads[0] + pads[2] - dilations[0] * (kh_ - 1) - 1) // strides[0] + 1
    ow_ = (wd + pads[1] + pads[3] - dilations[1] * (kw_ - 1) - 1) // strides[1] + 1
    out = np.zeros((n_, oh_, ow_, c_out))
    for n in range(n_):
        for oh in range(oh_):
            for ow in range(ow_):
                for o in range(c_out):
                    g = o // per_group
                    acc = 0.0 if b is None else float(b[o])
                    for kh in range(kh_):
                        for kw in range(kw_):
                            ih = oh * strides[0] + kh * dilations[0] - pads[0]
                            iw = ow * strides[1] + kw * dilations[1] - pads[1]
                            if 0 <= ih < h and 0 <= iw < wd:
                                for ci in range(c_group):
                                    acc += float(x[n, ih, iw, g * c_group + ci]) * float(w[kh, kw, ci, o])
                    out[n, oh, ow, o] = acc
    return out


def conv2d_transpose_reference(x, w, b, strides, pads, dilations, output_padding, groups):
    """Direct definition: every input pixel scatters into the output through every tap."""
    n_, h, wd, c_in = x.shape
    kh_, kw_, _, per_group = w.shape
    in_group = c_in // groups
    oh_ = (h - 1) * strides[0] - pads[0] - pads[2] + dilations[0] * (kh_ - 1) + output_padding[0] + 1
    ow_ = (wd - 1) * strides[1] - pads[1] - pads[3] + dilations[1] * (kw_ - 1) + output_padding[1] + 1
    out = np.zeros((n_, oh_, ow_, per_group * groups))
    for n in range(n_):
        for ih in range(h):
            for iw in range(wd):
                for ci in range(c_in):
                    g = ci // in_group
                    for kh in range(kh_):
                        for kw in range(kw_):
                            oh = ih * strides[0] + kh * dilations[0] - pads[0]
                            ow = iw * strides[1] + kw * dilations[1] - pads[1]
                            if 0 <= oh < oh_ and 0 <= ow < ow_:
                                for o in range(per_group):
                                    out[n, oh, ow, g * per_group + o] += float(x[n, ih, iw, ci]) * float(w[kh, kw, ci, o])
    if b is not None:
        out += b
    return out


def run_conv2d(x, w, b, strides, pads, dilations, groups):
    expected_shape = shapes.conv2d_output_shape(x.shape, w.shape, strides, pads, dilations, groups)
    return run_op(
        ops.Conv2DOp,
        [x, Weight(w), None if b is None else Weight(b)],
        [(expected_shape, np.float32)],
        strides=strides,
        pads=pads,
        dilations=dilations,
        groups=groups,
    )[0]


def ort_conv2d(x, w, b, strides, pads, dilations, groups):
    initializers = {"w": np.ascontiguousarray(w.transpose(3, 2, 0, 1))}
    if b is not None:
        initializers["b"] = b
    (y,) = run_onnx_node(
        "Conv", {"x": to_nchw(x)}, ["y"], initializers,
        strides=list(strides), pads=list(pads), dilations=list(dilations), group=groups,
    )
    return to_nhwc(y)


@st.composite
def conv_cases(draw):
    kind = draw(st.sampled_from(["dense", "grouped", "depthwise"]))
    if kind == "dense":
        groups, c_group, per_group = 1, draw(st.integers(1, 4)), draw(st.integers(1, 4))
    elif kind == "grouped":
        groups, c_group, per_group = draw(st.integers(2, 3)), draw(st.integers(2, 3)), draw(st.integers(1, 3))
    else:
        groups, c_group, per_group = draw(st.integers(2, 5)), 1, draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    strides = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilations = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    pads = tuple(draw(st.integers(0, 2)) for _ in range(4))
    extent_h, extent_w = dilations[0] * (kh - 1) + 1, dilations[1] * (kw - 1) + 1
    h = draw(st.integers(max(1, extent_h - pads[0] - pads[2]), extent_h + 4))
    w = draw(st.integers(max(1, extent_w - pads[1] - pads[3]), extent_w + 4))
    n = draw(st.integers(1, 2))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, h, w, c_group * groups)).astype(np.float32)
    weight = rng.standard_normal((kh, kw, c_group, per_group * groups)).astype(np.float32)
    bias = rng.standard_normal(per_group * groups).astype(np.float32) if draw(st.booleans()) else None
    return x, weight, bias, strides, pads, dilations, groups


@settings(max_examples=80, deadline=None)
@given(conv_cases(), st.booleans(), st.booleans())
def test_conv2d_matches_loop_reference_and_onnxruntime(case, one_column_blocks, skip_padding_rows):
    x, w, b, strides, pads, dilations, groups = case
    # depthwise: blocks of one output column, or of the whole row, whatever the channel count;
    # kernel rows that meet only padding skipped wherever there are any, or never
    block_values = 1 if one_column_blocks else 10**9
    call_cost = -1 if skip_padding_rows else 10**12
    with (
        mock.patch.object(conv_kernels, "DEPTHWISE_BLOCK_VALUES", block_values),
        mock.patch.object(conv_kernels, "EINSUM_CALL_MULTIPLY_ADDS", call_cost),
    ):
        got = run_conv2d(x, w, b, strides, pads, dilations, groups)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, conv2d_reference(x, w, b, strides, pads, dilations, groups), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(got, ort_conv2d(x, w, b, strides, pads, dilations, groups), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("groups,c_group,per_group", [(1, 3, 4), (2, 2, 3), (4, 1, 1), (3, 1, 2)])
def test_conv2d_in_one_row_bands(monkeypatch, groups, c_group, per_group):
    """A tiny band budget forces one output row per im2col band; results must not change."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 7, 6, c_group * groups)).astype(np.float32)
    w = rng.standard_normal((3, 2, c_group, per_group * groups)).astype(np.float32)
    b = rng.standard_normal(per_group * groups).astype(np.float32)
    args = (x, w, b, (2, 1), (1, 0, 1, 1), (1, 2), groups)
    whole = run_conv2d(*args)
    monkeypatch.setattr(conv_kernels, "BAND_BYTES", 1)
    banded = run_conv2d(*args)
    np.testing.assert_array_equal(whole, banded)
    np.testing.assert_allclose(banded, conv2d_reference(*args), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize(
    "channels,multiplier,width,strides,dilations",
    [(64, 1, 4, (2, 1), (1, 2)), (64, 2, 4, (2, 1), (1, 2)), (8, 3, 4, (2, 1), (1, 2)),
     (3, 1, 12, (1, 2), (1, 1)), (5, 1, 13, (1, 3), (1, 2)), (7, 1, 11, (2, 2), (2, 3))],
)
def test_depthwise_with_and_without_multiplier_and_column_phases(channels, multiplier, width, strides, dilations):
    """Multiplier 1 takes one einsum per column phase (column stride > 1 splits
    the taps by phase; a dilation changes which taps share one); a multiplier
    > 1 takes the general einsum."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 5, width, channels)).astype(np.float32)
    w = rng.standard_normal((3, 3, 1, channels * multiplier)).astype(np.float32)
    b = rng.standard_normal(channels * multiplier).astype(np.float32)
    args = (x, w, b, strides, (1, 1, 0, 1), dilations, channels)
    np.testing.assert_allclose(run_conv2d(*args), conv2d_reference(*args), rtol=RTOL, atol=ATOL)


def test_depthwise_rows_group_by_the_kernel_rows_that_meet_the_image():
    # 5x5, pads 2, on 2 rows: output row 0 meets input rows through kernel rows 2-3, row 1 through 1-2
    assert conv_kernels._row_groups(2, 2, 5, 1, 1, 2, 10**6) == ((0, 1, 2, 4), (1, 2, 1, 3))
    # 14 rows: the two rows at each edge are groups of their own; the interior is one group
    assert conv_kernels._row_groups(14, 14, 5, 1, 1, 2, 10**6) == (
        (0, 1, 2, 5), (1, 2, 1, 5), (2, 12, 0, 5), (12, 13, 0, 4), (13, 14, 0, 3)
    )
    # rows whose windows lie wholly in the padding get an empty range of kernel rows
    assert conv_kernels._row_groups(1, 5, 3, 1, 1, 4, 10**6)[0] == (0, 2, 3, 3)
    # too little work skipped to pay for the extra calls: one group
    assert conv_kernels._row_groups(14, 14, 5, 1, 1, 2, 10) == ((0, 14, 0, 5),)


def test_depthwise_output_rows_wholly_in_the_padding_are_zero():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((1, 1, 6, 4)).astype(np.float32)
    w = rng.standard_normal((3, 3, 1, 4)).astype(np.float32)
    args = (x, w, None, (1, 1), (4, 1, 4, 1), (1, 1), 4)
    with mock.patch.object(conv_kernels, "EINSUM_CALL_MULTIPLY_ADDS", -1):
        got = run_conv2d(*args)
    np.testing.assert_array_equal(got[0, :2], 0)
    np.testing.assert_allclose(got, conv2d_reference(*args), rtol=RTOL, atol=ATOL)


def test_depthwise_column_block_divides_the_output_width():
    assert conv_kernels._column_block(96, 200, 4096) == 24  # 21 columns hold 4096 values; 24 divides 96
    assert conv_kernels._column_block(97, 16, 4096) == 97  # a prime width: one block
    assert conv_kernels._column_block(7, 4096, 4096) == 1
    assert conv_kernels._column_block(10, 1, 4096) == 10


def test_pointwise_conv_with_stride():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 5, 6, 3)).astype(np.float32)
    w = rng.standard_normal((1, 1, 3, 4)).astype(np.float32)
    args = (x, w, None, (2, 3), (0, 0, 0, 0), (1, 1), 1)
    np.testing.assert_allclose(run_conv2d(*args), conv2d_reference(*args), rtol=RTOL, atol=ATOL)


@st.composite
def conv_transpose_cases(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    in_group, per_group = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    strides = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilations = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    # ONNX requires output_padding < stride (or < dilation)
    output_padding = (draw(st.integers(0, strides[0] - 1)), draw(st.integers(0, strides[1] - 1)))
    pads = tuple(draw(st.integers(0, k - 1)) for k in (kh, kw, kh, kw))
    h, w = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    full_h = (h - 1) * strides[0] + dilations[0] * (kh - 1) + output_padding[0] + 1
    full_w = (w - 1) * strides[1] + dilations[1] * (kw - 1) + output_padding[1] + 1
    if full_h - pads[0] - pads[2] < 1 or full_w - pads[1] - pads[3] < 1:
        pads = (0, 0, 0, 0)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = rng.standard_normal((draw(st.integers(1, 2)), h, w, in_group * groups)).astype(np.float32)
    weight = rng.standard_normal((kh, kw, in_group * groups, per_group)).astype(np.float32)
    bias = rng.standard_normal(per_group * groups).astype(np.float32) if draw(st.booleans()) else None
    return x, weight, bias, strides, pads, dilations, output_padding, groups


@settings(max_examples=50, deadline=None)
@given(conv_transpose_cases())
def test_conv2d_transpose_matches_loop_reference_and_onnxruntime(case):
    x, w, b, strides, pads, dilations, output_padding, groups = case
    reference = conv2d_transpose_reference(x, w, b, strides, pads, dilations, output_padding, groups)
    (got,) = run_op(
        ops.Conv2DTransposeOp,
        [x, Weight(w), None if b is None else Weight(b)],
        [(reference.shape, np.float32)],
        strides=strides,
        pads=pads,
        dilations=dilations,
        output_padding=output_padding,
        groups=groups,
    )
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, reference, rtol=RTOL, atol=ATOL)
    initializers = {"w": np.ascontiguousarray(w.transpose(2, 3, 0, 1))}
    if b is not None:
        initializers["b"] = b
    (onnx_out,) = run_onnx_node(
        "ConvTranspose", {"x": to_nchw(x)}, ["y"], initializers,
        strides=list(strides), pads=list(pads), dilations=list(dilations),
        output_padding=list(output_padding), group=groups,
    )
    np.testing.assert_allclose(got, to_nhwc(onnx_out), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("lhs_shape,rhs_shape", [((3, 4), (4, 5)), ((2, 3, 4), (4, 2)), ((2, 1, 3, 4), (3, 4, 2)), ((5, 1), (1, 3))])
def test_matmul_matches_loops_and_onnxruntime(lhs_shape, rhs_shape):
    rng = np.random.default_rng(3)
    lhs = rng.standard_normal(lhs_shape).astype(np.float32)
    rhs = rng.standard_normal(rhs_shape).astype(np.float32)
    batch = np.broadcast_shapes(lhs_shape[:-2], rhs_shape[:-2])
    out_shape = (*batch, lhs_shape[-2], rhs_shape[-1])
    (got,) = run_op(ops.MatMulOp, [lhs, rhs], [(out_shape, np.float32)])
    lhs_b = np.broadcast_to(lhs, (*batch, *lhs_shape[-2:]))
    rhs_b = np.broadcast_to(rhs, (*batch, *rhs_shape[-2:]))
    reference = np.zeros(out_shape)
    for index in np.ndindex(*out_shape):
        *b, i, j = index
        reference[index] = sum(float(lhs_b[(*b, i, k)]) * float(rhs_b[(*b, k, j)]) for k in range(lhs_shape[-1]))
    np.testing.assert_allclose(got, reference, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(got, run_onnx_node("MatMul", {"a": lhs, "b": rhs}, ["y"])[0], rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("input_shape,with_bias", [((2, 3), True), ((2, 3, 3), False), ((1, 1, 1, 3), True)])
def test_dense_matches_loops_and_onnxruntime_gemm(input_shape, with_bias):
    rng = np.random.default_rng(4)
    x = rng.standard_normal(input_shape).astype(np.float32)
    w = rng.standard_normal((3, 5)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32) if with_bias else None
    (got,) = run_op(ops.DenseOp, [x, Weight(w), None if b is None else Weight(b)], [((*input_shape[:-1], 5), np.float32)])
    reference = np.zeros((*input_shape[:-1], 5))
    for index in np.ndindex(*input_shape[:-1]):
        for o in range(5):
            reference[(*index, o)] = sum(float(x[(*index, k)]) * float(w[k, o]) for k in range(3)) + (0 if b is None else b[o])
    np.testing.assert_allclose(got, reference, rtol=RTOL, atol=ATOL)
    flat = x.reshape(-1, 3)
    gemm = run_onnx_node("Gemm", {"x": flat}, ["y"], {"w": w, **({"b": b} if b is not None else {})})[0]
    np.testing.assert_allclose(got.reshape(-1, 5), gemm, rtol=RTOL, atol=ATOL)


def _poisoned(pad):
    """`pad` with the padding rows it may leave unwritten (fill_rows=False) set to NaN."""

    def padded(x, pads, *args, **kwargs):
        fill_rows = kwargs.get("fill_rows", args[-1] if args and isinstance(args[-1], bool) else True)
        out = pad(x, pads, *args, **kwargs)
        if not fill_rows:
            top, bottom = pads[0], pads[2]
            out[:, :top] = np.nan
            out[:, out.shape[1] - bottom :] = np.nan
        return out

    return padded


@settings(max_examples=60, deadline=None)
@given(conv_cases(), st.booleans())
def test_depthwise_never_reads_the_padding_rows_it_leaves_unwritten(case, skip_padding_rows):
    """Where the kernel rows that meet only padding are skipped, the top and bottom
    padding rows are not written (`pad_spatial(fill_rows=False)`): NaN there must not reach the output."""
    x, w, b, strides, pads, dilations, groups = case
    with (
        mock.patch.object(conv_kernels, "EINSUM_CALL_MULTIPLY_ADDS", -1 if skip_padding_rows else 10**12),
        mock.patch.object(conv_kernels, "pad_spatial", _poisoned(conv_kernels.pad_spatial)),
        mock.patch.object(conv_kernels, "_padded_column_phase", _poisoned(conv_kernels._padded_column_phase)),
    ):
        got = run_conv2d(x, w, b, strides, pads, dilations, groups)
    np.testing.assert_allclose(got, conv2d_reference(x, w, b, strides, pads, dilations, groups), rtol=RTOL, atol=ATOL)
