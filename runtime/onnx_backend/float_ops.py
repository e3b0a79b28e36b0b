"""The float (APU) ops of a quantized program as ONNX ops, for fast mode (`emulate.py`).

Nodes left in float (`with_unquantized_nodes`, `arm_only=True`, ops the MLA
does not run) keep float32 in the emulation's graph, so onnxruntime computes
them with its own float kernels instead of cutting the graph for a NumPy
kernel: the seed's fast mode runs the whole network in TensorFlow. Results
agree with the NumPy float kernels (`runtime.kernels`) to float32 rounding
(`test/test_fast_mode_onnx.py`). Only f32 values: anything else
(bfloat16, integer indices) raises NotLowerable and runs in NumPy.

Tensors are NHWC as in the IR; convolutions and pools are wrapped in
Transposes, which onnxruntime's transpose optimizer cancels between them.
"""

from __future__ import annotations

import numpy as np

from runtime.kernels.base import ints
from runtime.onnx_backend.graph import NCHW_TO_NHWC, NHWC_TO_NCHW, Fragment
from runtime.onnx_backend.lower import NotLowerable, Operands, conv_attributes
from sima_dialect import ops
from sima_dialect.element_types import element_type_to_numpy


def _float32_only(op) -> None:
    for value in (*op.operands, *op.results):
        element = getattr(value.type, "element_type", None)
        if element is None or np.dtype(element_type_to_numpy(element)) != np.float32:
            raise NotLowerable(f"a {getattr(value.type, 'element_type', value.type)} value (fast mode lowers f32 float ops)")


def _activation(op: ops.FusedActivationOp, f: Fragment, value: str) -> str:
    low, high = op.activation_bounds()
    if low == -np.inf and high == np.inf:
        return value
    if high == np.inf and low == 0:
        return f.node("Relu", [value])
    bounds = [f.constant(np.float32(low)) if low != -np.inf else "", f.constant(np.float32(high)) if high != np.inf else ""]
    return f.node("Clip", [value, *bounds])


def lower_conv2d(op: ops.Conv2DOp, f: Fragment, operands: Operands) -> list[str]:
    _float32_only(op)
    w = operands.required_constant(1, "weight")
    inputs = [f.transpose(operands.name(0), NHWC_TO_NCHW), f.constant(np.ascontiguousarray(w.transpose(3, 2, 0, 1)).astype(np.float32))]
    if op.bias is not None:
        inputs.append(f.constant(operands.required_constant(2, "bias").astype(np.float32)))
    y = f.node("Conv", inputs, **conv_attributes(op, w.shape))
    return [f.transpose(_activation(op, f, y), NCHW_TO_NHWC)]


def lower_conv2d_transpose(op: ops.Conv2DTransposeOp, f: Fragment, operands: Operands) -> list[str]:
    _float32_only(op)
    w = operands.required_constant(1, "weight")  # [KH, KW, C_in, C_out / groups] -> [C_in, C_out / groups, KH, KW]
    inputs = [f.transpose(operands.name(0), NHWC_TO_NCHW), f.constant(np.ascontiguousarray(w.transpose(2, 3, 0, 1)).astype(np.float32))]
    if op.bias is not None:
        inputs.append(f.constant(operands.required_constant(2, "bias").astype(np.float32)))
    kh, kw = w.shape[:2]
    y = f.node("ConvTranspose", inputs, kernel_shape=[kh, kw], pads=list(ints(op.pads)), strides=list(ints(op.strides)),
               dilations=list(ints(op.dilations)), output_padding=list(ints(op.output_padding)), group=op.groups.value.data)
    return [f.transpose(_activation(op, f, y), NCHW_TO_NHWC)]


def lower_dense(op: ops.DenseOp, f: Fragment, operands: Operands) -> list[str]:
    _float32_only(op)
    y = f.node("MatMul", [operands.name(0), operands.name(1)])
    if op.bias is not None:
        y = f.node("Add", [y, operands.name(2)])
    return [_activation(op, f, y)]


def lower_matmul(op: ops.MatMulOp, f: Fragment, operands: Operands) -> list[str]:
    _float32_only(op)
    return [f.node("MatMul", [operands.name(0), operands.name(1)])]


BINARY = {ops.AddOp: "Add", ops.SubOp: "Sub", ops.MulOp: "Mul", ops.DivOp: "Div", ops.PowOp: "Pow",
          ops.MaximumOp: "Max", ops.MinimumOp: "Min"}


def lower_binary(op, f: Fragment, operands: Operands) -> list[str]:
    _float32_only(op)
    return [f.node(BINARY[type(op)], [operands.name(0), operands.name(1)])]


UNARY = {ops.ReluOp: "Relu", ops.SigmoidOp: "Sigmoid", ops.TanhOp: "Tanh", ops.HardSwishOp: "HardSwish", ops.ExpOp: "Exp",
         ops.LogOp: "Log", ops.SqrtOp: "Sqrt", ops.ErfOp: "Erf", ops.ReciprocalOp: "Reciprocal", ops.AbsOp: "Abs", ops.NegOp: "Neg"}


def lower_unary(op, f: Fragment, operands: Operands) -> list[str]:
    _float32_only(op)
    return [f.node(UNARY[type(op)], [operands.name(0)])]


def lower_silu(op: ops.SiluOp, f: Fragment, operands: Operands) -> list[str]:
    _float32_only(op)
    x = operands.name(0)
    return [f.node("Mul", [x, f.node("Sigmoid", [x])])]


def lower_clip(op: ops.ClipOp, f: Fragment, operands: Operands) -> list[str]:
    _float32_only(op)
    bounds = [f.constant(np.float32(op.min.value.data)), f.constant(np.float32(op.max.value.data))]
    return [f.node("Clip", [operands.name(0), *bounds])]


def lower_hard_sigmoid(op: ops.HardSigmoidOp, f: Fragment, operands: Operands) -> list[str]:
    _float32_only(op)
    return [f.node("HardSigmoid", [operands.name(0)], alpha=float(op.alpha.value.data), beta=float(op.beta.value.data))]


def lower_leaky_relu(op: ops.LeakyReluOp, f: Fragment, operands: Operands) -> list[str]:
    _float32_only(op)
    return [f.node("LeakyRelu", [operands.name(0)], alpha=float(op.alpha.value.data))]


def lower_gelu(op: ops.GeluOp, f: Fragment, operands: Operands) -> list[str]:
    _float32_only(op)
    return [f.node("Gelu", [operands.name(0)], approximate=op.approximate.data)]


def lower_softmax(op: ops.SoftmaxOp, f: Fragment, operands: Operands) -> list[str]:
    _float32_only(op)
    return [f.node("Softmax", [operands.name(0)], axis=op.axis.value.data)]


def lower_global_avg_pool(op: ops.GlobalAvgPoolOp, f: Fragment, operands: Operands) -> list[str]:
    _float32_only(op)
    return [f.node("ReduceMean", [operands.name(0), f.constant([1, 2], np.int64)], keepdims=1)]


def lower_avg_pool(op: ops.AvgPoolOp, f: Fragment, operands: Operands) -> list[str]:
    _float32_only(op)
    y = f.node("AveragePool", [f.transpose(operands.name(0), NHWC_TO_NCHW)], kernel_shape=list(ints(op.kernel)),
               strides=list(ints(op.strides)), pads=list(ints(op.pads)), count_include_pad=int(bool(op.count_include_pad.value.data)))
    return [f.transpose(y, NCHW_TO_NHWC)]


def lower_layer_norm(op: ops.LayerNormOp, f: Fragment, operands: Operands) -> list[str]:
    _float32_only(op)
    inputs = [operands.name(0), operands.name(1)] + ([operands.name(2)] if op.bias is not None else [])
    return [f.node("LayerNormalization", inputs, axis=op.axis.value.data, epsilon=float(op.epsilon.value.data))]


FLOAT_LOWERINGS = {
    ops.Conv2DOp: lower_conv2d,
    ops.Conv2DTransposeOp: lower_conv2d_transpose,
    ops.DenseOp: lower_dense,
    ops.MatMulOp: lower_matmul,
    **{op_class: lower_binary for op_class in BINARY},
    **{op_class: lower_unary for op_class in UNARY},
    ops.SiluOp: lower_silu,
    ops.ClipOp: lower_clip,
    ops.HardSigmoidOp: lower_hard_sigmoid,
    ops.LeakyReluOp: lower_leaky_relu,
    ops.GeluOp: lower_gelu,
    ops.SoftmaxOp: lower_softmax,
    ops.GlobalAvgPoolOp: lower_global_avg_pool,
    ops.AvgPoolOp: lower_avg_pool,
    ops.LayerNormOp: lower_layer_norm,
}
"""sima float op class -> its ONNX lowering (f32 values only)."""

__all__ = ["FLOAT_LOWERINGS"]
