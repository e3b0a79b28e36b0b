"""Kernels of the quantized matrix products: qconv2d, qdense and qmatmul.

The convolution arranges its windows as the float kernels do
(`runtime.kernels.windows`: the input padded with its zero point, im2col in
bands of output rows) and leaves the arithmetic to
`integer_arithmetic.mla_product` (exact int8 / int15 products on BLAS in
float32 or float64), `accumulate` and the op's requantization:

- groups = 1: one [pixels, KH*KW*C] x [KH*KW*C, C_out] product per band;
- grouped: the same per group, as one batched product;
- depthwise (one input channel per group): no im2col; the product is a sum
  over the KH*KW taps of whole-tensor multiply-adds in float32 or float64
  (exact: every partial sum is an integer the type holds), passed to
  `mla_product` as its contraction, so the int15 byte split still applies.
"""

from __future__ import annotations

import numpy as np

from runtime.integer_arithmetic import accumulate, matmul_integers, mla_product
from runtime.integer_kernels.boundary import quantized_element, scalar_type
from runtime.kernels.base import Kernel, PreparedWeight, ints, static_shape
from runtime.kernels.conv import BAND_BYTES
from runtime.kernels.windows import pad_spatial, patches, taps
from sima_dialect import quantized_ops as q

# exact_integer_matmul copies each band to float32 or float64
_GEMM_ITEM_BYTES = 8


def build_qconv2d(op: q.QConv2DOp) -> Kernel:
    strides, pads, dilations = ints(op.strides), ints(op.pads), ints(op.dilations)
    groups = op.groups.value.data
    kh, kw, c_group, c_out = static_shape(op.weight)
    _, out_h, out_w, _ = static_shape(op.output)
    zero_point = quantized_element(op.input).zero_point_value
    requantization, output_type, relu = op.requantization(), scalar_type(op.output), op.has_relu
    intrinsic_shift = np.broadcast_to(op.intrinsic_shift_values(), (c_out,))
    window = ((kh, kw), strides, dilations, (out_h, out_w))
    if groups == 1:
        product = _dense_product(window, intrinsic_shift)
    elif c_group == 1:
        product = _depthwise_product(window, groups, intrinsic_shift)
    else:
        product = _grouped_product(window, groups, intrinsic_shift)

    def qconv2d(x: np.ndarray, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
        padded = pad_spatial(x, pads, x.dtype.type(zero_point))
        return requantization.requantize(accumulate(product(padded, w), bias), output_type, relu)

    return qconv2d


def _band_rows(out_h: int, out_w: int, depth: int) -> int:
    return max(1, min(out_h, BAND_BYTES // max(1, out_w * depth * _GEMM_ITEM_BYTES)))


def _dense_product(window, intrinsic_shift: np.ndarray) -> Kernel:
    """P [N, OH, OW, C_out] of the padded input: im2col bands times the weight matrix."""
    kernel, strides, dilations, (out_h, out_w) = window
    matrix = PreparedWeight(lambda w: w.reshape(-1, w.shape[3]))

    def product(padded: np.ndarray, w: np.ndarray) -> np.ndarray:
        n, c_out = padded.shape[0], w.shape[3]
        weights = matrix(w)
        depth = weights.shape[0]
        out = np.empty((n, out_h * out_w, c_out), dtype=np.int64)
        rows = _band_rows(out_h, out_w, depth)
        for image in range(n):
            for r0 in range(0, out_h, rows):
                r1 = min(out_h, r0 + rows)
                cols = patches(padded[image], (r0, r1), out_w, kernel, strides, dilations).reshape(-1, depth)
                out[image, r0 * out_w : r1 * out_w] = mla_product(cols, weights, intrinsic_shift)
        return out.reshape(n, out_h, out_w, c_out)

    return product


def _grouped_product(window, groups: int, intrinsic_shift: np.ndarray) -> Kernel:
    """1 < groups, several input channels per group: one batched product per band."""
    kernel, strides, dilations, (out_h, out_w) = window
    per_group = intrinsic_shift.shape[0] // groups
    group_shift = intrinsic_shift.reshape(groups, 1, per_group)

    def group_matrices(w: np.ndarray) -> np.ndarray:
        kh, kw, c_group, c_out = w.shape
        stacked = w.reshape(kh, kw, c_group, groups, per_group).transpose(3, 0, 1, 2, 4)
        return np.ascontiguousarray(stacked.reshape(groups, kh * kw * c_group, per_group))

    matrices = PreparedWeight(group_matrices)

    def product(padded: np.ndarray, w: np.ndarray) -> np.ndarray:
        n, hp, wp, c = padded.shape
        c_group = c // groups
        by_group = np.ascontiguousarray(padded.reshape(n, hp, wp, groups, c_group).transpose(0, 3, 1, 2, 4))
        weights = matrices(w)
        depth = weights.shape[1]
        out = np.empty((n, out_h * out_w, groups, per_group), dtype=np.int64)
        rows = _band_rows(out_h, out_w, depth * groups)
        for image in range(n):
            for r0 in range(0, out_h, rows):
                r1 = min(out_h, r0 + rows)
                cols = patches(by_group[image], (r0, r1), out_w, kernel, strides, dilations)
                products = mla_product(cols.reshape(groups, (r1 - r0) * out_w, depth), weights, group_shift)
                out[image, r0 * out_w : r1 * out_w] = products.transpose(1, 0, 2)
        return out.reshape(n, out_h, out_w, groups * per_group)

    return product


def _depthwise_product(window, groups: int, intrinsic_shift: np.ndarray) -> Kernel:
    """One input channel per group (C_out = C * multiplier): tap-by-tap sums, no im2col."""
    kernel, strides, dilations, out_hw = window
    multiplier = intrinsic_shift.shape[0] // groups
    taps_count = kernel[0] * kernel[1]

    def contract(part: np.ndarray, w: np.ndarray) -> np.ndarray:
        """sum over taps of part[window] * w, exact: [N, OH, OW, C(, multiplier)].

        Summed in float32 where every partial sum stays below 2**24 (int8
        parts), else in float64 (below 2**53 for any real kernel): exact both ways.
        """
        bound = taps_count * max(-int(np.iinfo(part.dtype).min), 1) * 128
        dtype = np.float32 if bound < 2**24 else np.float64
        weights = w.reshape(kernel[0], kernel[1], groups, multiplier).astype(dtype)
        values = part.astype(dtype)
        if multiplier == 1:
            # weights repeated along OW: each tap's multiply is one contiguous (OW, C) loop
            weights = np.ascontiguousarray(np.broadcast_to(weights[:, :, None, :, 0], (*kernel, out_hw[1], groups)))
            out = np.zeros((part.shape[0], *out_hw, groups), dtype=dtype)
        else:
            values = values[..., None]
            out = np.zeros((part.shape[0], *out_hw, groups, multiplier), dtype=dtype)
        product = np.empty_like(out)
        for i, j, pixels in taps(values, kernel, out_hw, strides, dilations):
            np.multiply(pixels, weights[i, j], out=product)
            out += product
        return out.astype(np.int64)

    def product(padded: np.ndarray, w: np.ndarray) -> np.ndarray:
        shift = intrinsic_shift if multiplier == 1 else intrinsic_shift.reshape(groups, multiplier)
        products = mla_product(padded, w, shift, contract)
        return products.reshape(*products.shape[:3], groups * multiplier)

    return product


def build_qdense(op: q.QDenseOp) -> Kernel:
    requantization, output_type, relu = op.requantization(), scalar_type(op.output), op.has_relu
    intrinsic_shift = op.intrinsic_shift_values()

    def qdense(x: np.ndarray, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
        k, n = w.shape
        products = mla_product(x.reshape(-1, k), w, intrinsic_shift)
        result = requantization.requantize(accumulate(products, bias), output_type, relu)
        return result.reshape(*x.shape[:-1], n)

    return qdense


def build_qmatmul(op: q.QMatMulOp) -> Kernel:
    lhs_zero_point = quantized_element(op.lhs).zero_point_value
    rhs_zero_point = quantized_element(op.rhs).zero_point_value
    left_shift, requantization, output_type = op.left_shift.value.data, op.requantization(), scalar_type(op.output)

    def qmatmul(lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
        return matmul_integers(lhs, lhs_zero_point, rhs, rhs_zero_point, left_shift, requantization, output_type)

    return qmatmul
