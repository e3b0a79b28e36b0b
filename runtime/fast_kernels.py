"""`fast_mode` kernels: the quantized matrix products emulated in float32.

    Interpreter(quantized_module, kernels=FAST_KERNELS)

`Model.execute(inputs, fast_mode=True)` runs the quantized graph with these
kernels in place of the bit-exact ones for `sima.qconv2d`, `sima.qdense` and
`sima.qmatmul` (seed 003: "fast but may not match the MLA implementation").
Every other op keeps its bit-exact kernel: they are cheap next to the products.

The emulation computes the same affine map as the integer arithmetic
(`runtime.integer_arithmetic`), in floating point:

- the integer operands go to float32, which holds int8 / int16 values and
  int8 weights exactly; a convolution pads with the input zero point, as the
  MLA does (its bias holds the zero-point correction);
- the product runs on float32 BLAS, through the float runtime's own kernels
  (`runtime.kernels.conv.conv2d_kernel`, `np.matmul`), without the exactness
  checks and without the int15 byte split of int16 inputs;
- the accumulator `A = P * 2**-h + bias` (h the intrinsic shift) and the
  requantization `A * real_scale` are computed in float64, then rounded as the
  op's requantization rounds (sima: half up; tflite: half away from zero),
  clamped by a fused relu where the integer arithmetic clamps, offset by the
  output zero point (tflite) and saturated to the output type.

Where it differs from bit-exact:

- float32 partial sums are exact only below 2**24: long reductions of int8
  values, and most int16 products, are rounded once per BLAS partial sum;
- the int15 algorithm floors `P / 2**h`; the emulation does not;
- an accumulator a rounding error away from a tie may round the other way.

So int8 GEMMs with reductions K * 128 * 127 < 2**24 come out bit-exact (the
float64 requantization of an exact accumulator rounds as the integer shift
does); int16 ones differ by about (1 + K**2 * 2**22 * 2**-24 / 2**h) times the
requantization scale at most (`test/test_model_api_fast_mode.py`). Measured on
the cls model: bit-exact in int8, 7e-4 at most on its output probabilities in
int16 (`test/test_model_api_quantized.py`); 1.5x to 3x faster than bit-exact
(`bench/bench_quantized_execute.py`).
"""

from __future__ import annotations

import numpy as np

from runtime.integer_arithmetic import ArithFoldedRequantization, BaseRequantization, round_half_away_from_zero, saturate
from runtime.integer_kernels.boundary import quantized_element, scalar_type
from runtime.kernels.base import Kernel, KernelBuilder, PreparedWeight, ints, static_shape
from runtime.kernels.conv import conv2d_kernel
from runtime.kernels.windows import pad_spatial
from sima_dialect import quantized_ops as q


def _requantizer(requantization: BaseRequantization, output, relu: bool, scale: np.ndarray):
    """float64 accumulator -> output integers, rounded as `requantization` rounds.

    `scale` is the real factor from the accumulator to the output (including
    any factor applied before the requantization proper)."""
    output_type = scalar_type(output)
    if isinstance(requantization, ArithFoldedRequantization):
        # sima: y = sat(rshift_half_up(max(A, 0) if relu else A, n)); the zero point is in the bias

        def sima(accumulator: np.ndarray) -> np.ndarray:
            if relu:
                np.maximum(accumulator, 0.0, out=accumulator)
            return saturate(np.floor(accumulator * scale + 0.5), output_type)

        return sima
    zero_point = quantized_element(output).zero_point_value

    # tflite: y = sat(max(rshift_half_away(A * M, n), 0 if relu) + z)
    def tflite(accumulator: np.ndarray) -> np.ndarray:
        scaled = round_half_away_from_zero(accumulator * scale)
        if relu:
            np.maximum(scaled, 0, out=scaled)
        return saturate(scaled + zero_point, output_type)

    return tflite


def _gemm_scale(op: q.QuantizedGemmOp) -> tuple[np.ndarray, np.ndarray]:
    """(2**-h per channel, the requantization's real scale per channel)."""
    return np.ldexp(1.0, -op.intrinsic_shift_values()), np.asarray(op.requantization().real_scale(), dtype=np.float64)


def _accumulator(product: np.ndarray, intrinsic: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """A = P * 2**-h + bias, in float64."""
    accumulator = product.astype(np.float64)
    if np.any(intrinsic != 1.0):
        accumulator *= intrinsic
    accumulator += bias
    return accumulator


def build_fast_qconv2d(op: q.QConv2DOp) -> Kernel:
    strides, pads, dilations = ints(op.strides), ints(op.pads), ints(op.dilations)
    zero_point = np.float32(quantized_element(op.input).zero_point_value)
    conv = conv2d_kernel(
        static_shape(op.weight), static_shape(op.output), strides, (0, 0, 0, 0), dilations, op.groups.value.data, np.dtype(np.float32)
    )
    intrinsic, scale = _gemm_scale(op)
    requantize = _requantizer(op.requantization(), op.output, op.has_relu, scale)
    float_bias = PreparedWeight(lambda b: b.astype(np.float64))

    def fast_qconv2d(x: np.ndarray, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
        padded = pad_spatial(x.astype(np.float32), pads, zero_point)
        return requantize(_accumulator(conv(padded, w), intrinsic, float_bias(bias)))

    return fast_qconv2d


def build_fast_qdense(op: q.QDenseOp) -> Kernel:
    intrinsic, scale = _gemm_scale(op)
    requantize = _requantizer(op.requantization(), op.output, op.has_relu, scale)
    float_weight = PreparedWeight(lambda w: w.astype(np.float32))
    float_bias = PreparedWeight(lambda b: b.astype(np.float64))

    def fast_qdense(x: np.ndarray, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
        product = np.matmul(x.astype(np.float32), float_weight(w))
        return requantize(_accumulator(product, intrinsic, float_bias(bias)))

    return fast_qdense


def build_fast_qmatmul(op: q.QMatMulOp) -> Kernel:
    lhs_zero_point = np.float32(quantized_element(op.lhs).zero_point_value)
    rhs_zero_point = np.float32(quantized_element(op.rhs).zero_point_value)
    requantization = op.requantization()
    # R(A << L): the left shift is one more factor of the scale
    scale = np.ldexp(np.asarray(requantization.real_scale(), dtype=np.float64), op.left_shift.value.data)
    requantize = _requantizer(requantization, op.output, False, scale)

    def fast_qmatmul(lhs: np.ndarray, rhs: np.ndarray) -> np.ndarray:
        product = np.matmul(lhs.astype(np.float32) - lhs_zero_point, rhs.astype(np.float32) - rhs_zero_point)
        return requantize(product.astype(np.float64))

    return fast_qmatmul


FAST_KERNELS: dict[type, KernelBuilder] = {
    q.QConv2DOp: build_fast_qconv2d,
    q.QDenseOp: build_fast_qdense,
    q.QMatMulOp: build_fast_qmatmul,
}
"""Kernel overrides for `Interpreter(module, kernels=FAST_KERNELS)`."""

__all__ = ["FAST_KERNELS"]
