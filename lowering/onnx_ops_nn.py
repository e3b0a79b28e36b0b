"""Converters of the layout-carrying ONNX ops: convolutions, pooling, normalisation,
dense layers and resize.

Convolutions and pooling run on NHWC activations with HWIO weights, so their
inputs are asked for in NHWC and their results are NHWC. 1-D forms (`[N, C, L]`)
become 2-D ones with a unit height. Constant weights are transposed at import
time; only weights computed at run time get a `sima.transpose`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lowering import onnx_layout as layout
from lowering.onnx_context import ImportContext, Tensor
from lowering.onnx_converters import converter
from lowering.onnx_graph import Node
from lowering.onnx_ops_elementwise import as_dtype, broadcast, require_float
from sima_dialect import ops, shapes

NHWC = layout.NHWC

# ---------------------------------------------------------------------------
# window geometry


def _hint(ctx: ImportContext) -> str | None:
    return ctx.node.outputs[0] if ctx.node is not None and ctx.node.outputs else None


def as_2d(ctx: ImportContext, x: Tensor, what: str = "input") -> tuple[Tensor, bool]:
    """A rank-4 (N, C, H, W) view of a 1-D or 2-D spatial input; True if it was 1-D."""
    if x.rank == 4:
        return x, False
    if x.rank == 3:
        return ctx.reshape(x, (x.shape[0], x.shape[1], 1, x.shape[2])), True
    raise ctx.error(f"{what} of rank {x.rank} {list(x.shape)}: only 1-D and 2-D spatial inputs ([N, C, L] or [N, C, H, W]) are supported")


def spatial_attr(ctx: ImportContext, node: Node, key: str, default: int, one_d: bool) -> list[int]:
    """A per-spatial-axis attribute (strides, dilations, kernel_shape) as 2 values."""
    values = node.attr(key)
    if values is None:
        return [default, default]
    values = [int(v) for v in values]
    expected = 1 if one_d else 2
    if len(values) != expected:
        raise ctx.error(f"{key} has {len(values)} values, expected {expected}")
    return [default] + values if one_d else values


def explicit_pads(ctx: ImportContext, node: Node, one_d: bool) -> list[int]:
    """ONNX pads [x1_begin, x2_begin, x1_end, x2_end] as sima's [top, left, bottom, right]."""
    pads = node.attr("pads")
    if pads is None:
        return [0, 0, 0, 0]
    pads = [int(p) for p in pads]
    if one_d:
        if len(pads) != 2:
            raise ctx.error(f"pads has {len(pads)} values, expected 2")
        return [0, pads[0], 0, pads[1]]
    if len(pads) != 4:
        raise ctx.error(f"pads has {len(pads)} values, expected 4")
    if any(p < 0 for p in pads):
        raise ctx.error(f"negative pads {pads} are not supported")
    return pads


def window_pads(
    ctx: ImportContext,
    node: Node,
    in_hw: Sequence[int],
    kernel: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    one_d: bool,
) -> list[int]:
    """Padding of a convolution / pooling window, resolving `auto_pad`."""
    auto_pad = node.attr("auto_pad", "NOTSET")
    if auto_pad == "NOTSET":
        return explicit_pads(ctx, node, one_d)
    if auto_pad == "VALID":
        return [0, 0, 0, 0]
    if auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        raise ctx.error(f"auto_pad {auto_pad!r} is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER")
    begins, ends = [], []
    for size, k, s, d in zip(in_hw, kernel, strides, dilations):
        out = -(-size // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
        small, large = total // 2, total - total // 2
        begins.append(small if auto_pad == "SAME_UPPER" else large)
        ends.append(large if auto_pad == "SAME_UPPER" else small)
    return [begins[0], begins[1], ends[0], ends[1]]


def nhwc_result(ctx: ImportContext, value, out_nhwc: Sequence[int], one_d: bool) -> Tensor:
    n, h, w, c = out_nhwc
    result = ctx.result(value, (n, c, h, w), NHWC)
    return ctx.reshape(result, (n, c, w)) if one_d else result


def output_shape_of(value) -> tuple[int, ...]:
    return tuple(value.type.get_shape())


# ---------------------------------------------------------------------------
# convolution


def conv_weight(ctx: ImportContext, w: Tensor, one_d: bool) -> Tensor:
    """The weight as rank 4 (a 1-D kernel gets a unit height)."""
    if w.rank != (3 if one_d else 4):
        raise ctx.error(f"weight shape {list(w.shape)} does not fit a {'1-D' if one_d else '2-D'} convolution")
    return ctx.reshape(w, (w.shape[0], w.shape[1], 1, w.shape[2])) if one_d else w


@converter("Conv")
def convert_conv(ctx: ImportContext, node: Node) -> list[Tensor]:
    x, one_d = as_2d(ctx, ctx.input(0))
    w = conv_weight(ctx, ctx.input(1), one_d)
    require_float(ctx, x)
    groups = int(node.attr("group", 1))
    kernel = list(w.shape[2:])
    declared = node.attr("kernel_shape")
    if declared is not None and [int(k) for k in declared] != (kernel[1:] if one_d else kernel):
        raise ctx.error(f"kernel_shape {list(declared)} does not match the weight shape {list(ctx.input(1).shape)}")
    strides = spatial_attr(ctx, node, "strides", 1, one_d)
    dilations = spatial_attr(ctx, node, "dilations", 1, one_d)
    pads = window_pads(ctx, node, x.shape[2:], kernel, strides, dilations, one_d)
    bias = ctx.optional_input(2)
    operands = [ctx.operand(x, NHWC), ctx.operand(as_dtype(ctx, w, x.dtype), (2, 3, 1, 0))]  # OIHW -> HWIO
    operands.append(ctx.operand(bias) if bias is not None else None)
    in_nhwc = layout.permute(x.shape, NHWC)
    weight_hwio = layout.permute(w.shape, (2, 3, 1, 0))
    try:
        out = shapes.conv2d_output_shape(in_nhwc, weight_hwio, strides, pads, dilations, groups)
    except shapes.ShapeError as error:
        raise ctx.error(str(error)) from None
    value = ctx.op(ops.Conv2DOp, operands, out, x.dtype, _hint(ctx), strides=strides, pads=pads, dilations=dilations, groups=groups)
    return [nhwc_result(ctx, value, out, one_d)]


@converter("ConvTranspose")
def convert_conv_transpose(ctx: ImportContext, node: Node) -> list[Tensor]:
    x, one_d = as_2d(ctx, ctx.input(0))
    w = conv_weight(ctx, ctx.input(1), one_d)
    require_float(ctx, x)
    groups = int(node.attr("group", 1))
    kernel = list(w.shape[2:])
    strides = spatial_attr(ctx, node, "strides", 1, one_d)
    dilations = spatial_attr(ctx, node, "dilations", 1, one_d)
    output_padding = spatial_attr(ctx, node, "output_padding", 0, one_d)
    in_hw = x.shape[2:]
    auto_pad = node.attr("auto_pad", "NOTSET")
    output_shape = node.attr("output_shape")
    if output_shape is not None or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        if output_shape is not None:
            output_shape = [int(v) for v in output_shape][-(1 if one_d else 2) :]
            output_shape = [1] + output_shape if one_d else output_shape
        else:
            output_shape = [size * s for size, s in zip(in_hw, strides)]
        totals = [
            s * (size - 1) + op + (k - 1) * d + 1 - out
            for size, s, op, k, d, out in zip(in_hw, strides, output_padding, kernel, dilations, output_shape)
        ]
        # an output_shape beyond the full result extends it at the end, as onnxruntime does
        output_padding = [op - min(t, 0) for op, t in zip(output_padding, totals)]
        totals = [max(t, 0) for t in totals]
        # as ONNX's reference: SAME_UPPER puts the smaller half first, anything else the larger
        begins = [t // 2 if auto_pad == "SAME_UPPER" else t - t // 2 for t in totals]
        ends = [t - b for t, b in zip(totals, begins)]
        pads = [begins[0], begins[1], ends[0], ends[1]]
    elif auto_pad == "VALID":
        pads = [0, 0, 0, 0]
    else:
        pads = explicit_pads(ctx, node, one_d)
    bias = ctx.optional_input(2)
    operands = [
        ctx.operand(x, NHWC),
        ctx.operand(as_dtype(ctx, w, x.dtype), (2, 3, 0, 1)),  # [C_in, C_out/g, KH, KW] -> [KH, KW, C_in, C_out/g]
        ctx.operand(bias) if bias is not None else None,
    ]
    try:
        out = shapes.conv2d_transpose_output_shape(
            layout.permute(x.shape, NHWC), layout.permute(w.shape, (2, 3, 0, 1)), strides, pads, dilations, output_padding, groups
        )
    except shapes.ShapeError as error:
        raise ctx.error(str(error)) from None
    value = ctx.op(
        ops.Conv2DTransposeOp,
        operands,
        out,
        x.dtype,
        _hint(ctx),
        strides=strides,
        pads=pads,
        dilations=dilations,
        output_padding=output_padding,
        groups=groups,
    )
    return [nhwc_result(ctx, value, out, one_d)]


# ---------------------------------------------------------------------------
# pooling


def _ceil_extra(size: int, kernel: int, stride: int, dilation: int, begin: int, end: int) -> int:
    """Extra end padding that makes floor-mode output sizes equal ONNX's ceil mode."""
    extent = (kernel - 1) * dilation + 1
    out = -(-(size + begin + end - extent) // stride) + 1
    if (out - 1) * stride >= size + begin:  # the last window must start inside the input
        out -= 1
    return max((out - 1) * stride + extent - (size + begin + end), 0)


@converter("MaxPool", "AveragePool")
def convert_pool(ctx: ImportContext, node: Node) -> list[Tensor]:
    x, one_d = as_2d(ctx, ctx.input(0))
    if len(node.outputs) > 1 and node.outputs[1]:
        raise ctx.error("the Indices output of MaxPool is not supported")
    kernel_attr = node.attr("kernel_shape")
    if kernel_attr is None:
        raise ctx.error("kernel_shape is required")
    kernel = spatial_attr(ctx, node, "kernel_shape", 1, one_d)
    strides = spatial_attr(ctx, node, "strides", 1, one_d)
    dilations = spatial_attr(ctx, node, "dilations", 1, one_d)
    pads = window_pads(ctx, node, x.shape[2:], kernel, strides, dilations, one_d)
    if int(node.attr("ceil_mode", 0)):
        extra = [_ceil_extra(x.shape[2 + i], kernel[i], strides[i], dilations[i], pads[i], pads[i + 2]) for i in range(2)]
        if any(extra) and node.op_type == "AveragePool" and int(node.attr("count_include_pad", 0)):
            raise ctx.error("ceil_mode = 1 with count_include_pad = 1 is not supported when the last window overhangs the padding")
        pads = [pads[0], pads[1], pads[2] + extra[0], pads[3] + extra[1]]
    in_nhwc = layout.permute(x.shape, NHWC)
    try:
        out = shapes.pool_output_shape(in_nhwc, kernel, strides, pads, dilations)
    except shapes.ShapeError as error:
        raise ctx.error(str(error)) from None
    source = ctx.operand(x, NHWC)
    if node.op_type == "MaxPool":
        if x.dtype.kind not in "fi":
            raise ctx.error(f"unsupported input type {x.dtype}")
        value = ctx.op(ops.MaxPoolOp, [source], out, x.dtype, _hint(ctx), kernel=kernel, strides=strides, pads=pads, dilations=dilations)
    else:
        require_float(ctx, x)
        if any(d != 1 for d in dilations):
            raise ctx.error(f"dilations {dilations} are not supported for AveragePool")
        value = ctx.op(
            ops.AvgPoolOp,
            [source],
            out,
            x.dtype,
            _hint(ctx),
            kernel=kernel,
            strides=strides,
            pads=pads,
            count_include_pad=bool(int(node.attr("count_include_pad", 0))),
        )
    return [nhwc_result(ctx, value, out, one_d)]


@converter("GlobalAveragePool", "GlobalMaxPool")
def convert_global_pool(ctx: ImportContext, node: Node) -> list[Tensor]:
    x = ctx.input(0)
    require_float(ctx, x)
    if x.rank < 3:
        raise ctx.error(f"input must have rank >= 3 ([N, C, spatial...]), got {list(x.shape)}")
    if x.rank == 4:
        op_class = ops.GlobalAvgPoolOp if node.op_type == "GlobalAveragePool" else ops.GlobalMaxPoolOp
        n, h, w, c = layout.permute(x.shape, NHWC)
        value = ctx.op(op_class, [ctx.operand(x, NHWC)], (n, 1, 1, c), x.dtype, _hint(ctx))
        return [ctx.result(value, (n, c, 1, 1), NHWC)]
    axes = list(range(2, x.rank))
    kind = "mean" if node.op_type == "GlobalAveragePool" else "max"
    out_shape = tuple(1 if a in axes else d for a, d in enumerate(x.shape))
    value = ctx.op(
        ops.ReduceOp,
        [ctx.operand(x, x.perm)],
        layout.permute(out_shape, x.perm),
        x.dtype,
        _hint(ctx),
        kind=kind,
        axes=[layout.stored_axis(a, x.perm) for a in axes],
        keepdims=True,
    )
    return [ctx.result(value, out_shape, x.perm)]


# ---------------------------------------------------------------------------
# normalisation


def channel_tensor(ctx: ImportContext, tensor: Tensor, rank: int) -> Tensor:
    """A per-channel [C] tensor shaped [1, C, 1, ...] to broadcast against an NC... input."""
    return ctx.reshape(tensor, (1, tensor.shape[0]) + (1,) * (rank - 2))


@converter("BatchNormalization")
def convert_batch_norm(ctx: ImportContext, node: Node) -> list[Tensor]:
    """Inference batch norm as y = x * a + b (BatchNorm after a conv is folded into it earlier)."""
    x = ctx.input(0)
    require_float(ctx, x)
    if int(node.attr("training_mode", 0)) or any(node.outputs[1:]):
        raise ctx.error("training mode (running mean / variance outputs) is not supported")
    if x.rank < 2:
        raise ctx.error(f"input must have rank >= 2, got {list(x.shape)}")
    epsilon = float(node.attr("epsilon", 1e-5))
    params = [ctx.input(i) for i in range(1, 5)]
    channels = x.shape[1]
    for what, p in zip(("scale", "bias", "mean", "var"), params):
        if p.shape != (channels,):
            raise ctx.error(f"{what} shape {list(p.shape)} must be [{channels}] (one per channel)")
    scale, bias, mean, var = params
    if all(p.const is not None for p in params):
        a, b = fold_batch_norm(scale.const, bias.const, mean.const, var.const, epsilon)  # type: ignore[arg-type]
        multiplier = Tensor.constant(a.astype(x.dtype).reshape((1, channels) + (1,) * (x.rank - 2)), f"{node.name}.scale")
        offset = Tensor.constant(b.astype(x.dtype).reshape((1, channels) + (1,) * (x.rank - 2)), f"{node.name}.offset")
        return [broadcast(ctx, ops.AddOp, [broadcast(ctx, ops.MulOp, [x, multiplier]), offset])]
    # parameters computed at run time: (x - mean) * (scale / sqrt(var + epsilon)) + bias
    scale, bias, mean, var = (channel_tensor(ctx, as_dtype(ctx, p, x.dtype), x.rank) for p in params)
    std = broadcast(ctx, ops.AddOp, [var, Tensor.constant(np.asarray(epsilon, dtype=x.dtype))])
    std = _unary(ctx, ops.SqrtOp, std)
    a = broadcast(ctx, ops.DivOp, [scale, std])
    centered = broadcast(ctx, ops.SubOp, [x, mean])
    return [broadcast(ctx, ops.AddOp, [broadcast(ctx, ops.MulOp, [centered, a]), bias])]


def fold_batch_norm(scale, bias, mean, var, epsilon: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (a, b) with batchnorm(x) = a * x + b, computed in float64."""
    a = scale.astype(np.float64) / np.sqrt(var.astype(np.float64) + epsilon)
    b = bias.astype(np.float64) - mean.astype(np.float64) * a
    return a, b


def _unary(ctx: ImportContext, op_class, x: Tensor) -> Tensor:
    value = ctx.op(op_class, [ctx.operand(x, x.perm)], x.stored_shape, x.dtype)
    return ctx.result(value, x.shape, x.perm)


@converter("LayerNormalization")
def convert_layer_norm(ctx: ImportContext, node: Node) -> list[Tensor]:
    x, scale, bias = ctx.input(0), ctx.input(1), ctx.optional_input(2)
    require_float(ctx, x)
    if x.rank == 0:
        raise ctx.error("input must have rank >= 1")
    axis = shapes.normalize_axis(int(node.attr("axis", -1)), x.rank)
    epsilon = float(node.attr("epsilon", 1e-5))
    # normalise the stored value directly when the normalised axes trail it in ONNX order
    perm = x.perm if tuple(x.perm[axis:]) == tuple(range(axis, x.rank)) else layout.identity(x.rank)
    source = ctx.operand(x, perm)
    operands = [source, ctx.operand(as_dtype(ctx, scale, x.dtype)), ctx.operand(as_dtype(ctx, bias, x.dtype)) if bias is not None else None]
    value = ctx.op(ops.LayerNormOp, operands, layout.permute(x.shape, perm), x.dtype, _hint(ctx), axis=axis, epsilon=epsilon)
    results = [ctx.result(value, x.shape, perm)]
    if any(node.outputs[1:]):
        # Mean and InvStdDev, kept over the normalised axes
        kept = x.shape[:axis] + (1,) * (x.rank - axis)
        stored_kept = layout.permute(kept, perm)
        axes = list(range(axis, x.rank))
        mean = ctx.op(ops.ReduceOp, [source], stored_kept, x.dtype, kind="mean", axes=axes, keepdims=True)
        centered = ctx.op(ops.SubOp, [source, mean], layout.permute(x.shape, perm), x.dtype)
        squared = ctx.op(ops.MulOp, [centered, centered], layout.permute(x.shape, perm), x.dtype)
        var = ctx.op(ops.ReduceOp, [squared], stored_kept, x.dtype, kind="mean", axes=axes, keepdims=True)
        eps = ctx.constant_value(np.asarray(epsilon, dtype=x.dtype))
        std = ctx.op(ops.SqrtOp, [ctx.op(ops.AddOp, [var, eps], stored_kept, x.dtype)], stored_kept, x.dtype)
        inv_std = ctx.op(ops.ReciprocalOp, [std], stored_kept, x.dtype)
        results += [ctx.result(mean, kept, perm), ctx.result(inv_std, kept, perm)]
    return results


@converter("InstanceNormalization")
def convert_instance_norm(ctx: ImportContext, node: Node) -> list[Tensor]:
    """(x - mean) / sqrt(var + epsilon) * scale + bias, statistics over the spatial axes."""
    x, scale, bias = ctx.input(0), ctx.input(1), ctx.input(2)
    require_float(ctx, x)
    if x.rank < 3:
        raise ctx.error(f"input must have rank >= 3, got {list(x.shape)}")
    epsilon = float(node.attr("epsilon", 1e-5))
    axes = [layout.stored_axis(a, x.perm) for a in range(2, x.rank)]
    kept = x.shape[:2] + (1,) * (x.rank - 2)
    stored_kept = layout.permute(kept, x.perm)
    source = ctx.operand(x, x.perm)
    mean = ctx.op(ops.ReduceOp, [source], stored_kept, x.dtype, kind="mean", axes=axes, keepdims=True)
    centered = ctx.op(ops.SubOp, [source, mean], x.stored_shape, x.dtype)
    squared = ctx.op(ops.MulOp, [centered, centered], x.stored_shape, x.dtype)
    var = ctx.op(ops.ReduceOp, [squared], stored_kept, x.dtype, kind="mean", axes=axes, keepdims=True)
    eps = ctx.constant_value(np.asarray(epsilon, dtype=x.dtype))
    std = ctx.op(ops.SqrtOp, [ctx.op(ops.AddOp, [var, eps], stored_kept, x.dtype)], stored_kept, x.dtype)
    normalized = ctx.result(ctx.op(ops.DivOp, [centered, std], x.stored_shape, x.dtype), x.shape, x.perm)
    scaled = broadcast(ctx, ops.MulOp, [normalized, channel_tensor(ctx, as_dtype(ctx, scale, x.dtype), x.rank)])
    return [broadcast(ctx, ops.AddOp, [scaled, channel_tensor(ctx, as_dtype(ctx, bias, x.dtype), x.rank)])]


# ---------------------------------------------------------------------------
# matrix products


@converter("MatMul")
def convert_matmul(ctx: ImportContext, node: Node) -> list[Tensor]:
    lhs, rhs = ctx.input(0), ctx.input(1)
    if lhs.dtype != rhs.dtype:
        raise ctx.error(f"operand types differ: {lhs.dtype} and {rhs.dtype}")
    if lhs.rank == 0 or rhs.rank == 0:
        raise ctx.error("MatMul operands must have rank >= 1")
    squeeze_rows, squeeze_cols = lhs.rank == 1, rhs.rank == 1
    if squeeze_rows:
        lhs = ctx.reshape(lhs, (1, lhs.shape[0]))
    if squeeze_cols:
        rhs = ctx.reshape(rhs, (rhs.shape[0], 1))
    result = matmul(ctx, lhs, rhs)
    shape = result.shape
    if squeeze_rows or squeeze_cols:
        shape = shape[:-2] + (() if squeeze_rows else shape[-2:-1]) + (() if squeeze_cols else shape[-1:])
        result = ctx.reshape(result, shape)
    return [result]


def matmul(ctx: ImportContext, lhs: Tensor, rhs: Tensor, bias: np.ndarray | None = None) -> Tensor:
    """lhs @ rhs (+ bias [N]): a `sima.dense` when rhs is a constant matrix, else `sima.matmul`."""
    try:
        shape = shapes.matmul_output_shape(lhs.shape, rhs.shape)
    except shapes.ShapeError as error:
        raise ctx.error(str(error)) from None
    if rhs.const is not None and rhs.rank == 2:
        # a dense layer contracts the last stored axis, so any layout keeping K last will do
        perm = lhs.perm if lhs.perm and lhs.perm[-1] == lhs.rank - 1 else layout.identity(lhs.rank)
        bias_operand = ctx.constant_value(bias.astype(lhs.dtype), f"{rhs.name}.bias") if bias is not None else None
        value = ctx.op(
            ops.DenseOp,
            [ctx.operand(lhs, perm), ctx.operand(rhs), bias_operand],
            layout.permute(shape, perm),
            lhs.dtype,
            _hint(ctx),
        )
        return ctx.result(value, shape, perm)
    value = ctx.op(ops.MatMulOp, [ctx.operand(lhs), ctx.operand(rhs)], shape, lhs.dtype, _hint(ctx))
    result = ctx.result(value, shape)
    if bias is not None:
        result = broadcast(ctx, ops.AddOp, [result, Tensor.constant(bias.astype(lhs.dtype))])
    return result


@converter("sima.MatMulBias")
def convert_matmul_bias(ctx: ImportContext, node: Node) -> list[Tensor]:
    """MatMul with a constant matrix and a constant row added (made by `onnx_patterns`)."""
    lhs, rhs, bias = ctx.input(0), ctx.input(1), ctx.input(2)
    assert bias.const is not None
    return [matmul(ctx, lhs, rhs, bias.const)]


@converter("Gemm")
def convert_gemm(ctx: ImportContext, node: Node) -> list[Tensor]:
    a, b, c = ctx.input(0), ctx.input(1), ctx.optional_input(2)
    require_float(ctx, a)
    if a.rank != 2 or b.rank != 2:
        raise ctx.error(f"A and B must be matrices, got {list(a.shape)} and {list(b.shape)}")
    alpha, beta = float(node.attr("alpha", 1.0)), float(node.attr("beta", 1.0))
    if int(node.attr("transA", 0)):
        a = ctx.transpose(a, (1, 0))
    if int(node.attr("transB", 0)):
        b = ctx.transpose(b, (1, 0))
    n = b.shape[1]
    bias = None
    if b.const is not None:
        # a dense layer: alpha goes into the weight, a per-column C into the bias
        if alpha != 1.0:
            b = Tensor.constant((b.const * np.asarray(alpha, dtype=b.dtype)).astype(b.dtype), b.name)
            alpha = 1.0
        if c is not None and c.const is not None and (c.const.size == 1 or c.shape in ((n,), (1, n))):
            bias = np.broadcast_to(c.const.reshape(-1) * np.asarray(beta, dtype=c.dtype), (n,)).astype(a.dtype)
            c = None
    result = matmul(ctx, a, b, bias)
    if alpha != 1.0:
        result = broadcast(ctx, ops.MulOp, [result, Tensor.constant(np.asarray(alpha, dtype=a.dtype))])
    if c is not None:
        if beta != 1.0:
            c = broadcast(ctx, ops.MulOp, [c, Tensor.constant(np.asarray(beta, dtype=c.dtype))])
        result = broadcast(ctx, ops.AddOp, [result, c])
    return [result]


# ---------------------------------------------------------------------------
# resize

_COORDINATE_MODES = set(ops.COORDINATE_MODES)


@converter("Resize", constant_operands=(1, 2, 3))
def convert_resize(ctx: ImportContext, node: Node) -> list[Tensor]:
    x = ctx.input(0)
    require_float(ctx, x)
    mode = node.attr("mode", "nearest")
    coordinate_mode = node.attr("coordinate_transformation_mode", "half_pixel")
    nearest_mode = node.attr("nearest_mode", "round_prefer_floor")
    if mode not in ops.RESIZE_MODES:
        raise ctx.error(f"mode {mode!r} is not supported (supported: {', '.join(ops.RESIZE_MODES)})")
    if coordinate_mode not in _COORDINATE_MODES:
        raise ctx.error(f"coordinate_transformation_mode {coordinate_mode!r} is not supported (supported: {', '.join(ops.COORDINATE_MODES)})")
    if int(node.attr("antialias", 0)):
        raise ctx.error("antialias = 1 is not supported")
    if node.attr("keep_aspect_ratio_policy", "stretch") != "stretch":
        raise ctx.error(f"keep_aspect_ratio_policy {node.attr('keep_aspect_ratio_policy')!r} is not supported (only 'stretch')")
    if x.rank != 4:
        raise ctx.error(f"only 4-D inputs [N, C, H, W] are supported, got {list(x.shape)}")
    axes = [shapes.normalize_axis(int(a), x.rank) for a in node.attr("axes", range(x.rank))]
    scales = ctx.constant_input(2, "scales")
    sizes = ctx.constant_input(3, "sizes")
    out_shape = list(x.shape)
    if sizes is not None and sizes.size:
        if len(sizes) != len(axes):
            raise ctx.error(f"sizes has {len(sizes)} values for {len(axes)} axes")
        for a, s in zip(axes, sizes):
            out_shape[a] = int(s)
    elif scales is not None and scales.size:
        if len(scales) != len(axes):
            raise ctx.error(f"scales has {len(scales)} values for {len(axes)} axes")
        for a, s in zip(axes, scales):
            exact = x.shape[a] * float(s)
            out_shape[a] = int(math.floor(exact))
            # sima.resize maps coordinates with output / input size, which is the
            # ONNX scale only when the scaled size is whole
            if abs(exact - round(exact)) > 1e-6 * max(1.0, exact):
                raise ctx.error(
                    f"scale {float(s)} on axis {a} of size {x.shape[a]} gives a fractional size {exact}; "
                    f"only scales giving whole sizes are supported (or give sizes)"
                )
    else:
        raise ctx.error("one of scales and sizes must be given")
    if out_shape[0] != x.shape[0] or out_shape[1] != x.shape[1]:
        raise ctx.error(f"only H and W may be resized, got {list(x.shape)} -> {out_shape}")
    if any(d <= 0 for d in out_shape):
        raise ctx.error(f"output shape {out_shape} has an empty dimension")
    stored = layout.permute(out_shape, NHWC)
    value = ctx.op(
        ops.ResizeOp,
        [ctx.operand(x, NHWC)],
        stored,
        x.dtype,
        _hint(ctx),
        mode=mode,
        coordinate_mode=coordinate_mode,
        nearest_mode=nearest_mode,
    )
    return [ctx.result(value, tuple(out_shape), NHWC)]
