"""Kernels of the MLA's upscale ops: sima.qconv2d_transpose and sima.qresize_linear.

The transposed convolution is, by definition (the arithmetic model), the
convolution of the input stuffed with stride - 1 zero points between pixels
and padded with zero points, with the flipped weights: each output sums the
same K = KH * KW * C_in taps as a qconv2d, and `integer_arithmetic.mla_product`
(int8, or the int15 byte split), `accumulate` and the requantization apply
unchanged. The kernel computes that same integer sum without the stuffed taps'
multiplies: with f the value at the stuffed and padded positions (the zero
point, or its high / low byte for the int15 partial products),

    sum over all taps of v * w = f * sum(w) + sum over the input pixels that
    reach the output through tap (i, j) of (x - f) * w[i, j]

the second term a scatter-add of one exact GEMM per tap (as the float kernel
scatters), exact in int64, so the result is bit-identical to the stuffed
convolution (checked against a Python-int reference of the definition).
That is the checked path; where the weights' column norms prove the float
product exact and the int32 checks passed (`gemm.float_gemm`), the float
runtime's transposed convolution of x - f computes the second term instead.
"""

from __future__ import annotations

import numpy as np

from runtime.integer_arithmetic import (
    INT15_LOW_BITS,
    Contraction,
    accumulate,
    exact_integer_matmul,
    mla_product,
    resize_linear_integers,
    resize_weights,
)
from runtime.integer_kernels.boundary import quantized_element, scalar_type
from runtime.integer_kernels.gemm import PlanPerConstants, float_gemm
from runtime.kernels.base import Kernel, ints, static_shape
from runtime.kernels.conv import conv2d_transpose_kernel
from sima_dialect import quantized_ops as q


def _landing(size: int, out_size: int, stride: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """(input indices, output indices) of the input pixels that land inside the output at in * stride + offset."""
    target = np.arange(size) * stride + offset
    inside = (target >= 0) & (target < out_size)
    return np.flatnonzero(inside), target[inside]


def _transposed_contraction(strides, pads, dilations, out_hw, filler_of) -> Contraction:
    """The `mla_product` contraction of a transposed convolution: for an input
    part [N, H, W, C_in] and weights [KH, KW, C_in, C_out], the sum over every
    tap of the stuffed, padded convolution, [N, OH, OW, C_out], exact."""
    (sh, sw), (top, left), (dh, dw), (out_h, out_w) = strides, pads[:2], dilations, out_hw

    def contract(part: np.ndarray, w: np.ndarray) -> np.ndarray:
        filler = filler_of(part.dtype)
        n, h, width, c_in = part.shape
        kh, kw, _, c_out = w.shape
        wide_w = w.astype(np.int64)
        out = np.empty((n, out_h, out_w, c_out), dtype=np.int64)
        out[...] = filler * wide_w.sum(axis=(0, 1, 2))
        pixels = (part.astype(np.int64) - filler).reshape(-1, c_in)
        for i in range(kh):
            rows_in, rows_out = _landing(h, out_h, sh, i * dh - top)
            for j in range(kw):
                cols_in, cols_out = _landing(width, out_w, sw, j * dw - left)
                if rows_in.size and cols_in.size:
                    through = exact_integer_matmul(pixels, w[i, j]).reshape(n, h, width, c_out)
                    out[:, rows_out[:, None], cols_out[None, :]] += through[:, rows_in[:, None], cols_in[None, :]]
        return out

    return contract


def build_qconv2d_transpose(op: q.QConv2DTransposeOp) -> Kernel:
    strides, pads, dilations = ints(op.strides), ints(op.pads), ints(op.dilations)
    _, out_h, out_w, c_out = static_shape(op.output)
    zero_point = quantized_element(op.input).zero_point_value
    int16_input = quantized_element(op.input).bits == 16
    requantization, output_type, relu = op.requantization(), scalar_type(op.output), op.has_relu
    intrinsic_shift = np.broadcast_to(op.intrinsic_shift_values(), (c_out,))

    def filler_of(dtype: np.dtype) -> int:
        """The stuffed value as the part `mla_product` contracts sees it (int15: its high or low byte)."""
        if not int16_input:
            return zero_point
        return zero_point >> INT15_LOW_BITS if dtype == np.int8 else zero_point & 0xFF

    contract = _transposed_contraction(strides, pads, dilations, (out_h, out_w), filler_of)

    def checked(x: np.ndarray, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
        products = mla_product(x, w, intrinsic_shift, contract)
        return requantization.requantize(accumulate(products, bias), output_type, relu)

    # The float path (as qconv2d's, `gemm.float_gemm`): the float transposed
    # convolution of x - z_in, whose stuffed and padded taps are then 0, plus
    # z_in * sum(w) per channel; every partial sum is a sum over some of the K taps.
    plans = PlanPerConstants(lambda w, bias: float_gemm(op, w, bias, (0, 1, 2), zero_point, True))
    output_shape = static_shape(op.output)
    transposed = {
        float_type: conv2d_transpose_kernel(output_shape, strides, pads, dilations, 1, np.dtype(float_type))
        for float_type in (np.float32, np.float64)
    }

    def qconv2d_transpose(x: np.ndarray, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
        plan = plans(w, bias)
        if plan is None:
            return checked(x, w, bias)
        values = np.subtract(x, zero_point, dtype=plan.float_type)
        return plan.requantize(transposed[plan.float_type](values, plan.weights))

    return qconv2d_transpose


def build_qresize_linear(op: q.QResizeLinearOp) -> Kernel:
    _, in_h, in_w, _ = static_shape(op.input)
    _, out_h, out_w, _ = static_shape(op.output)
    mode, weight_bits = op.coordinate_mode.data, op.weight_bits.value.data
    rows = resize_weights(in_h, out_h, mode, weight_bits)
    cols = resize_weights(in_w, out_w, mode, weight_bits)
    return lambda x: resize_linear_integers(x, rows, cols, weight_bits)
