"""Converters of ONNX reductions: ReduceMean / Sum / Max / Min / SumSquare and ArgMax.

Reductions renumber their axes into the stored layout; without `keepdims`
the reduced axes leave the layout (`onnx_layout.after_removing_axes`).
"""

from __future__ import annotations

import numpy as np

from lowering import onnx_layout as layout
from lowering.onnx_context import ImportContext, Tensor
from lowering.onnx_converters import converter
from lowering.onnx_graph import Node
from sima_dialect import ops, shapes

_KINDS = {"ReduceMean": "mean", "ReduceSum": "sum", "ReduceMax": "max", "ReduceMin": "min", "ReduceSumSquare": "sum"}

# the opset from which `axes` is an input rather than an attribute
_AXES_INPUT_SINCE = {"ReduceSum": 13}


@converter(*_KINDS, constant_operands=(1,))
def convert_reduce(ctx: ImportContext, node: Node) -> list[Tensor]:
    x = ctx.input(0)
    if ctx.opset < _AXES_INPUT_SINCE.get(node.op_type, 18) or "axes" in node.attrs:
        axes = node.attr("axes")
    else:
        value = ctx.constant_input(1, "axes")
        axes = None if value is None else value.reshape(-1).tolist()
    keepdims = bool(int(node.attr("keepdims", 1)))
    if not axes:
        if int(node.attr("noop_with_empty_axes", 0)):
            return [x]
        axes = list(range(x.rank))
    try:
        axes = sorted({shapes.normalize_axis(int(a), x.rank) for a in axes})
    except shapes.ShapeError as error:
        raise ctx.error(str(error)) from None
    if any(x.shape[a] == 0 for a in axes):
        return [_empty_reduction(ctx, node, x, axes, keepdims)]
    source = x
    if node.op_type == "ReduceSumSquare":
        value = ctx.op(ops.MulOp, [ctx.operand(x, x.perm)] * 2, x.stored_shape, x.dtype)
        source = ctx.result(value, x.shape, x.perm)
    return [reduce(ctx, source, _KINDS[node.op_type], axes, keepdims)]


def _empty_reduction(ctx: ImportContext, node: Node, x: Tensor, axes: list[int], keepdims: bool) -> Tensor:
    """A reduction over an empty axis is a constant: the identity of the reduction."""
    shape = tuple(1 if a in axes else d for a, d in enumerate(x.shape)) if keepdims else tuple(d for a, d in enumerate(x.shape) if a not in axes)
    if node.op_type in ("ReduceSum", "ReduceSumSquare"):
        fill = 0
    elif node.op_type in ("ReduceMax", "ReduceMin"):
        sign = -1 if node.op_type == "ReduceMax" else 1
        fill = sign * np.inf if x.dtype.kind == "f" else (np.iinfo(x.dtype).min if sign < 0 else np.iinfo(x.dtype).max)
    else:
        raise ctx.error("the mean over an empty axis is undefined")
    return Tensor.constant(np.full(shape, fill, dtype=x.dtype), node.outputs[0])


def reduce(ctx: ImportContext, x: Tensor, kind: str, axes: list[int], keepdims: bool) -> Tensor:
    if keepdims:
        shape = tuple(1 if a in axes else d for a, d in enumerate(x.shape))
        perm = x.perm
    else:
        shape = tuple(d for a, d in enumerate(x.shape) if a not in axes)
        perm = layout.after_removing_axes(x.perm, axes)
    hint = ctx.node.outputs[0] if ctx.node is not None else None
    value = ctx.op(
        ops.ReduceOp,
        [ctx.operand(x, x.perm)],
        layout.permute(shape, perm),
        x.dtype,
        hint,
        kind=kind,
        axes=sorted(layout.stored_axis(a, x.perm) for a in axes),
        keepdims=keepdims,
    )
    return ctx.result(value, shape, perm)


@converter("ArgMax")
def convert_argmax(ctx: ImportContext, node: Node) -> list[Tensor]:
    x = ctx.input(0)
    try:
        axis = shapes.normalize_axis(int(node.attr("axis", 0)), x.rank)
    except shapes.ShapeError as error:
        raise ctx.error(str(error)) from None
    last = bool(int(node.attr("select_last_index", 0)))
    if last:
        # the last maximum is the first one of the reversed axis
        x = _reverse(ctx, x, axis)
    keepdims = bool(int(node.attr("keepdims", 1)))
    if keepdims:
        shape = tuple(1 if a == axis else d for a, d in enumerate(x.shape))
        perm = x.perm
    else:
        shape = tuple(d for a, d in enumerate(x.shape) if a != axis)
        perm = layout.after_removing_axes(x.perm, [axis])
    value = ctx.op(
        ops.ArgMaxOp,
        [ctx.operand(x, x.perm)],
        layout.permute(shape, perm),
        np.dtype(np.int64),
        node.outputs[0],
        axis=layout.stored_axis(axis, x.perm),
        keepdims=keepdims,
    )
    result = ctx.result(value, shape, perm)
    if last:
        top = Tensor.constant(np.asarray(x.shape[axis] - 1, dtype=np.int64))
        value = ctx.op(ops.SubOp, [ctx.broadcast_operand(top, len(shape), perm), value], layout.permute(shape, perm), np.dtype(np.int64))
        result = ctx.result(value, shape, perm)
    return [result]


def _reverse(ctx: ImportContext, x: Tensor, axis: int) -> Tensor:
    bounds = [(0, d, 1) if a != axis else (d - 1, -1, -1) for a, d in enumerate(x.shape)]
    stored = layout.permute(bounds, x.perm)
    value = ctx.op(
        ops.SliceOp,
        [ctx.operand(x, x.perm)],
        x.stored_shape,
        x.dtype,
        starts=[b[0] for b in stored],
        ends=[b[1] for b in stored],
        steps=[b[2] for b in stored],
    )
    return ctx.result(value, x.shape, x.perm)
