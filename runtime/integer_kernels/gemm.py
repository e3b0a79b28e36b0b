"""Kernels of the quantized matrix products: qconv2d, qdense and qmatmul.

Two paths compute the same integers. The checked path: the convolution arranges its windows as the float kernels do
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

That checked path is the fallback. Each kernel first tries its float path
(`exact_float`): when the weights' column norms prove that no checked
intermediate can leave int32 and that the product is exact in float32 or
float64, the convolution runs as the float runtime's own convolution
(`runtime.kernels.conv.conv2d_kernel`: im2col GEMM, depthwise einsum) on the
input as floats, with the power of two of the requantization folded into the
weights, and `FloatRequantizer` turns the product into the output integers.
A padded convolution with a non-zero input zero point runs on x - z_in (zero
padding) and adds z_in * sum(w) back as a per-channel constant. The plan is
made once per weight and bias array (constants: the same arrays every run).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from runtime.integer_arithmetic import (
    ACCUMULATOR_MAX,
    ArithFoldedRequantization,
    TFLiteRequantization,
    accumulate,
    matmul_integers,
    mla_product,
)
from runtime.integer_kernels.boundary import quantized_element, scalar_type
from runtime.integer_kernels.exact_float import FLOAT32_EXACT, FLOAT64_EXACT, FloatRequantizer, GemmBounds
from runtime.kernels.base import Kernel, PreparedWeight, ints, static_shape
from runtime.kernels.conv import BAND_BYTES, conv2d_kernel
from runtime.kernels.windows import pad_spatial, patches, taps
from sima_dialect import quantized_ops as q

# exact_integer_matmul copies each band to float32 or float64
_GEMM_ITEM_BYTES = 8


def _checked_qconv2d(op: q.QConv2DOp) -> Kernel:
    """The convolution through the checked arithmetic (every intermediate tested)."""
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


def _checked_qdense(op: q.QDenseOp) -> Kernel:
    requantization, output_type, relu = op.requantization(), scalar_type(op.output), op.has_relu
    intrinsic_shift = op.intrinsic_shift_values()

    def qdense(x: np.ndarray, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
        k, n = w.shape
        products = mla_product(x.reshape(-1, k), w, intrinsic_shift)
        result = requantization.requantize(accumulate(products, bias), output_type, relu)
        return result.reshape(*x.shape[:-1], n)

    return qdense


def _checked_qmatmul(op: q.QMatMulOp) -> Kernel:
    lhs_zero_point = quantized_element(op.lhs).zero_point_value
    rhs_zero_point = quantized_element(op.rhs).zero_point_value
    left_shift, requantization, output_type = op.left_shift.value.data, op.requantization(), scalar_type(op.output)

    def qmatmul(lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
        return matmul_integers(lhs, lhs_zero_point, rhs, rhs_zero_point, left_shift, requantization, output_type)

    return qmatmul


# ---------------------------------------------------------------------------
# the float paths (see the module docstring)


@dataclass(frozen=True)
class _FloatGemm:
    """A GEMM's float path for one weight and bias: weights as floats, scaled, and the requantizer."""

    weights: np.ndarray
    float_type: type
    center: bool
    requantize: FloatRequantizer


class PlanPerConstants:
    """`make(w, bias)` for the last weight and bias seen (constants: the same arrays every run)."""

    __slots__ = ("_make", "_entry")

    def __init__(self, make):
        self._make = make
        self._entry = (None, None, None)

    def __call__(self, w: np.ndarray, bias: np.ndarray):
        seen_w, seen_bias, plan = self._entry
        if w is not seen_w or bias is not seen_bias:
            plan = self._make(w, bias)
            self._entry = (w, bias, plan)
        return plan


def float_gemm(op: q.QuantizedGemmOp, w: np.ndarray, bias: np.ndarray, column_axes, zero_point: int, padded: bool):
    """The float path of a qconv2d / qdense / qconv2d_transpose for these constants, or None where
    the bounds prove nothing (then the checked path runs)."""
    requantization = op.requantization()
    if not isinstance(requantization, ArithFoldedRequantization | TFLiteRequantization):
        return None
    input_bits = quantized_element(op.input).bits
    output_dtype = np.dtype(scalar_type(op.output).numpy_type())
    if input_bits not in (8, 16) or output_dtype.kind != "i":
        return None
    c_out = w.shape[-1]
    intrinsic_shift = np.broadcast_to(op.intrinsic_shift_values(), (c_out,))
    wide = w.astype(np.int64)
    bounds = GemmBounds(np.abs(wide).sum(axis=column_axes), input_bits, bias, intrinsic_shift)
    if not bounds.proves_checks:
        return None
    center = padded and zero_point != 0  # zero padding of x - z_in is padding with z_in
    magnitude = (1 << input_bits) - 1 if center else 1 << (input_bits - 1)
    float_type = bounds.exact_float_type(magnitude)
    if float_type is None:
        return None
    correction = zero_point * wide.sum(axis=column_axes) if center else None
    requantize = FloatRequantizer(
        requantization, bias, output_dtype, op.has_relu,
        intrinsic_shift=intrinsic_shift if input_bits == 16 else None, correction=correction, merge_floor=True,
    )
    weights = (w.astype(np.float64) * requantize.weight_scale).astype(float_type)
    weights.flags.writeable = False
    return _FloatGemm(weights, float_type, center, requantize)


def build_qconv2d(op: q.QConv2DOp) -> Kernel:
    checked = _checked_qconv2d(op)
    strides, pads, dilations = ints(op.strides), ints(op.pads), ints(op.dilations)
    groups = op.groups.value.data
    weight_shape, output_shape = static_shape(op.weight), static_shape(op.output)
    zero_point = quantized_element(op.input).zero_point_value
    plans = PlanPerConstants(lambda w, bias: float_gemm(op, w, bias, (0, 1, 2), zero_point, any(pads)))
    convolutions = {
        float_type: conv2d_kernel(weight_shape, output_shape, strides, pads, dilations, groups, np.dtype(float_type))
        for float_type in (np.float32, np.float64)
    }

    def qconv2d(x: np.ndarray, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
        plan = plans(w, bias)
        if plan is None:
            return checked(x, w, bias)
        float_type = plan.float_type
        values = np.subtract(x, zero_point, dtype=float_type) if plan.center else x.astype(float_type)
        return plan.requantize(convolutions[float_type](values, plan.weights))

    return qconv2d


def build_qdense(op: q.QDenseOp) -> Kernel:
    checked = _checked_qdense(op)
    plans = PlanPerConstants(lambda w, bias: float_gemm(op, w, bias, 0, 0, False))

    def qdense(x: np.ndarray, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
        plan = plans(w, bias)
        if plan is None:
            return checked(x, w, bias)
        k, n = w.shape
        products = np.matmul(x.reshape(-1, k).astype(plan.float_type), plan.weights)
        return plan.requantize(products).reshape(*x.shape[:-1], n)

    return qdense


def build_qmatmul(op: q.QMatMulOp) -> Kernel:
    """Both operands are activations: the bound comes from their types alone."""
    checked = _checked_qmatmul(op)
    lhs, rhs = quantized_element(op.lhs), quantized_element(op.rhs)
    left_shift = op.left_shift.value.data
    requantization = op.requantization()
    k = op.lhs.type.get_shape()[-1]
    if k < 0:
        return checked  # a dynamic reduction length bounds nothing

    def magnitude(element) -> int:
        low, high = -(1 << (element.bits - 1)), (1 << (element.bits - 1)) - 1
        return max(abs(low - element.zero_point_value), abs(high - element.zero_point_value))

    bound = k * magnitude(lhs) * magnitude(rhs)
    if (bound << left_shift) > ACCUMULATOR_MAX or not isinstance(requantization, TFLiteRequantization):
        return checked  # the checked path tests the sum << L, as the model says
    float_type = np.float32 if bound < FLOAT32_EXACT else np.float64 if bound < FLOAT64_EXACT else None
    if float_type is None:
        return checked
    output_dtype = np.dtype(scalar_type(op.output).numpy_type())
    requantize = FloatRequantizer(requantization, np.zeros(1, np.int64), output_dtype, False, left_shift=left_shift)
    lhs_zero_point, rhs_zero_point = lhs.zero_point_value, rhs.zero_point_value

    def qmatmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        centered_a = np.subtract(a, lhs_zero_point, dtype=float_type)
        centered_b = np.subtract(b, rhs_zero_point, dtype=float_type)
        return requantize(np.matmul(centered_a, centered_b))

    return qmatmul
