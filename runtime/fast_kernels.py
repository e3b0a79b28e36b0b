"""`fast_mode`'s NumPy kernels: the quantized matrix products emulated in float32.

    Interpreter(quantized_module, kernels=FAST_KERNELS)

`Model.execute(inputs, fast_mode=True)` runs the program emulated in float on
onnxruntime (`runtime.onnx_backend.emulate`); these kernels are what it runs
with SIMA_RUNTIME=numpy, and for ops the emulation does not lower. They replace
the bit-exact ones for `sima.qconv2d`, `sima.qdense` and `sima.qmatmul` (seed
003: "fast but may not match the MLA implementation").
Every other op keeps its bit-exact kernel: they are tables or a few float64
passes (`runtime.integer_kernels.exact_float`), as fast as an emulation.

int8 inputs: the bit-exact kernels already run on float32 BLAS whenever the
weights' column norms prove the sums exact (`runtime.integer_kernels.gemm`),
so fast mode uses them as they are: for int8, fast mode is bit-exact.

int16 inputs: the emulation computes the same affine map as the integer
arithmetic (`runtime.integer_arithmetic`) in floating point, where the
bit-exact kernel needs a float64 product and the int15 floor:

- the input goes to float32 (exact for int16), padded with its zero point as
  the MLA pads (its bias holds the zero-point correction);
- the product runs on float32 BLAS through the float runtime's own kernels
  (`runtime.kernels.conv.conv2d_kernel`, `np.matmul`) with the weights scaled
  by 2**-h (h the intrinsic shift) and by the sima shift's 2**-n, without the
  exactness bound and without the int15 byte split;
- `exact_float.FloatRequantizer` adds the bias and rounds in float64 as the
  op's requantization rounds (sima: half up; tflite: half away from zero),
  clamped by a fused relu where the integer arithmetic clamps, offset by the
  output zero point (tflite) and saturated to the output type.

Where it differs from bit-exact (int16 only):

- float32 partial sums are exact only below 2**24: most int16 products are
  rounded once per BLAS partial sum;
- the int15 algorithm floors `P / 2**h`; the emulation does not;
- an accumulator a rounding error away from a tie may round the other way.

So the outputs differ by about (1 + K**2 * 2**22 * 2**-24 / 2**h) times the
requantization scale at most (`test/test_model_api_fast_mode.py`). Speed:
`bench/bench_quantized_execute.py`.
"""

from __future__ import annotations

import numpy as np

from runtime.integer_arithmetic import ArithFoldedRequantization, TFLiteRequantization
from runtime.integer_kernels import gemm
from runtime.integer_kernels.boundary import quantized_element, storage_dtype
from runtime.integer_kernels.exact_float import FloatRequantizer
from runtime.kernels.base import Kernel, KernelBuilder, ints, static_shape
from runtime.kernels.conv import conv2d_kernel
from runtime.kernels.windows import pad_spatial
from sima_dialect import quantized_ops as q


def _emulation(op: q.QuantizedGemmOp, w: np.ndarray, bias: np.ndarray):
    """(float32 weights times 2**-h and the requantizer's weight scale, requantizer), or
    None for a requantization without an integer form (then the bit-exact kernel runs)."""
    requantization = op.requantization()
    output_dtype = storage_dtype(op.output)
    if not isinstance(requantization, ArithFoldedRequantization | TFLiteRequantization) or output_dtype.kind != "i":
        return None
    requantize = FloatRequantizer(requantization, bias, output_dtype, op.has_relu)  # P * 2**-h stays unfloored
    intrinsic = np.ldexp(1.0, -np.broadcast_to(op.intrinsic_shift_values(), (w.shape[-1],)))
    weights = (w.astype(np.float64) * (intrinsic * requantize.weight_scale)).astype(np.float32)
    return weights, requantize


def build_fast_qconv2d(op: q.QConv2DOp) -> Kernel:
    exact = gemm.build_qconv2d(op)
    if quantized_element(op.input).bits == 8:
        return exact  # already on float32 BLAS, and exact
    strides, pads, dilations = ints(op.strides), ints(op.pads), ints(op.dilations)
    zero_point = np.float32(quantized_element(op.input).zero_point_value)
    conv = conv2d_kernel(
        static_shape(op.weight), static_shape(op.output), strides, (0, 0, 0, 0), dilations, op.groups.value.data, np.dtype(np.float32)
    )
    plans = gemm.PlanPerConstants(lambda w, bias: _emulation(op, w, bias))

    def fast_qconv2d(x: np.ndarray, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
        plan = plans(w, bias)
        if plan is None:
            return exact(x, w, bias)
        weights, requantize = plan
        padded = pad_spatial(x.astype(np.float32), pads, zero_point)
        return requantize(conv(padded, weights))

    return fast_qconv2d


def build_fast_qdense(op: q.QDenseOp) -> Kernel:
    exact = gemm.build_qdense(op)
    if quantized_element(op.input).bits == 8:
        return exact
    plans = gemm.PlanPerConstants(lambda w, bias: _emulation(op, w, bias))

    def fast_qdense(x: np.ndarray, w: np.ndarray, bias: np.ndarray) -> np.ndarray:
        plan = plans(w, bias)
        if plan is None:
            return exact(x, w, bias)
        weights, requantize = plan
        return requantize(np.matmul(x.astype(np.float32), weights))

    return fast_qdense


FAST_KERNELS: dict[type, KernelBuilder] = {
    q.QConv2DOp: build_fast_qconv2d,
    q.QDenseOp: build_fast_qdense,
    q.QMatMulOp: gemm.build_qmatmul,  # int8 x int8 operands: exact on float32 BLAS for K < 258, float64 beyond
}
"""Kernel overrides for `Interpreter(module, kernels=FAST_KERNELS)`."""

__all__ = ["FAST_KERNELS"]
