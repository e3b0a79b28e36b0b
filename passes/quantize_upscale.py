"""The quantize pass for the MLA's upscale ops (seed 003's UpscaleOperator).

- conv2d_transpose (groups = 1) -> `sima.qconv2d_transpose`, planned exactly
  as a conv2d (`quantize_gemm.plan_gemm`): the transposed convolution is a
  convolution over the zero-point-stuffed input with the same weights
  flipped, and the planner depends only on each output channel's weights, not
  on their order. A fused clamp is handled as for conv2d.
- resize: nearest as the other data-movement ops (`quantize_movement`);
  linear -> `sima.qresize_linear` with Q15 weights (each axis's blend then
  fits int32 for int8 and int16), with the input's quantization.
"""

from __future__ import annotations

from xdsl.ir import SSAValue

from passes import quantize_gemm as gemm
from passes import quantize_movement as movement
from passes.quantize_values import Fallback, OpRewrite
from sima_dialect import ops
from sima_dialect.quantized_ops import QConv2DTransposeOp, QResizeLinearOp

RESIZE_WEIGHT_BITS = 15


def quantize_conv2d_transpose(rewrite: OpRewrite) -> list[SSAValue]:
    op = rewrite.op
    assert isinstance(op, ops.Conv2DTransposeOp)
    if op.groups.value.data != 1:
        raise Fallback(f"a grouped transposed convolution (groups = {op.groups.value.data}) has no integer form yet")
    return gemm.quantize_planned_gemm(
        rewrite,
        lambda x, weight, bias, plan: QConv2DTransposeOp(
            x,
            weight,
            bias,
            plan.requantization,
            plan.intrinsic_shift,
            plan.output,
            strides=op.strides.get_values(),
            pads=op.pads.get_values(),
            dilations=op.dilations.get_values(),
            output_padding=op.output_padding.get_values(),
            relu=plan.relu,
        ),
    )


def quantize_resize(rewrite: OpRewrite) -> list[SSAValue]:
    op = rewrite.op
    assert isinstance(op, ops.ResizeOp)
    if op.mode.data == "nearest":
        return movement.quantize_retyped(rewrite)
    x = rewrite.operand(op.input)
    _, out_h, out_w, _ = ops.shape_of(op.output)
    made = QResizeLinearOp(
        x, (out_h, out_w), coordinate_mode=op.coordinate_mode.data, weight_bits=RESIZE_WEIGHT_BITS
    )
    rewrite.add_main(made)
    return [made.output]
