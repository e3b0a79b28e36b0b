"""Kernels of the quantized `sima` ops (`sima_dialect.quantized_ops`), bit-exact.

Each kernel computes its op with the functions of `runtime.integer_arithmetic`
(the one definition of the MLA arithmetic), which check that every integer
intermediate fits its width; NumPy only arranges the data (im2col windows,
broadcasting, window sums). The registry below joins `runtime.kernels.KERNELS`,
so the one interpreter runs float and quantized IR alike.
"""

from __future__ import annotations

from runtime.integer_kernels import boundary, elementwise, gemm, normalization, pool, prelu, softmax, upscale
from runtime.integer_kernels.bfloat16_kernels import BFLOAT16_KERNELS
from runtime.kernels.base import KernelBuilder
from sima_dialect import quantized_ops as q

INTEGER_KERNELS: dict[type, KernelBuilder] = {
    q.QuantizeOp: boundary.build_quantize,
    q.DequantizeOp: boundary.build_dequantize,
    q.RequantizeOp: boundary.build_requantize,
    q.QConv2DOp: gemm.build_qconv2d,
    q.QDenseOp: gemm.build_qdense,
    q.QMatMulOp: gemm.build_qmatmul,
    q.QAddOp: elementwise.build_qadd_qsub,
    q.QSubOp: elementwise.build_qadd_qsub,
    q.QMulOp: elementwise.build_qmul,
    q.LutOp: elementwise.build_lut,
    q.QAvgPoolOp: pool.build_qavg_pool,
    q.QGlobalAvgPoolOp: pool.build_qglobal_avg_pool,
    q.QSoftmaxOp: softmax.build_qsoftmax,
    q.QLayerNormOp: normalization.build_qlayer_norm,
    q.QConv2DTransposeOp: upscale.build_qconv2d_transpose,
    q.QResizeLinearOp: upscale.build_qresize_linear,
    q.QPreluOp: prelu.build_qprelu,
}

# the bfloat16 scheme's ops (runtime.bfloat16 computes them)
INTEGER_KERNELS.update(BFLOAT16_KERNELS)

__all__ = ["INTEGER_KERNELS"]
