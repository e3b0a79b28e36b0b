"""Converters of the ONNX ops that move data: reshapes, transposes, concat, split,
slice, gather, pad, tile, and the shape queries that always fold to constants.

Ops with an axis renumber it into the stored layout; reshapes keep the layout
when the reshape's grouping of axes survives it (`onnx_layout.reshape_layout`),
which lets a flatten after an NHWC convolution stay free of transposes.
"""

from __future__ import annotations

import numpy as np

from lowering import onnx_layout as layout
from lowering.onnx_context import ImportContext, Tensor
from lowering.onnx_converters import converter
from lowering.onnx_folding import shape_query
from lowering.onnx_graph import Node
from lowering.onnx_ops_elementwise import result_layout
from sima_dialect import ops, shapes


def _hint(ctx: ImportContext) -> str | None:
    return ctx.node.outputs[0] if ctx.node is not None and ctx.node.outputs else None


def _axis(ctx: ImportContext, axis: int, rank: int, what: str = "axis") -> int:
    try:
        return shapes.normalize_axis(int(axis), rank, what)
    except shapes.ShapeError as error:
        raise ctx.error(str(error)) from None


def _axes_operand(ctx: ImportContext, node: Node, index: int, since_opset: int) -> list[int] | None:
    """`axes` as an attribute (before `since_opset`) or a constant input (from it on)."""
    if ctx.opset < since_opset or "axes" in node.attrs:
        value = node.attr("axes")
        return None if value is None else [int(a) for a in value]
    value = ctx.constant_input(index, "axes")
    return None if value is None else [int(a) for a in np.asarray(value).reshape(-1)]


# ---------------------------------------------------------------------------
# shape queries (always constants)


@converter("Shape", "Size")
def convert_shape(ctx: ImportContext, node: Node) -> list[Tensor]:
    return [Tensor.constant(shape_query(node, ctx.input(0).shape), node.outputs[0])]


@converter("ConstantOfShape", constant_operands=(0,))
def convert_constant_of_shape(ctx: ImportContext, node: Node) -> list[Tensor]:
    raise ctx.error("input 0 (shape) must be known at import time (a constant or computed from shapes)")


@converter("Range", constant_operands=(0, 1, 2))
def convert_range(ctx: ImportContext, node: Node) -> list[Tensor]:
    raise ctx.error("start, limit and delta must be known at import time (constants or computed from shapes)")


# ---------------------------------------------------------------------------
# reshapes


@converter("Reshape", constant_operands=(1,))
def convert_reshape(ctx: ImportContext, node: Node) -> list[Tensor]:
    x = ctx.input(0)
    target = ctx.constant_input(1, "shape")
    assert target is not None
    allow_zero = int(node.attr("allowzero", 0))
    shape = []
    for i, d in enumerate(int(v) for v in target.reshape(-1)):
        if d == 0 and not allow_zero:
            if i >= x.rank:
                raise ctx.error(f"shape {target.tolist()} copies dimension {i}, which the rank-{x.rank} input lacks")
            d = x.shape[i]
        shape.append(d)
    if shape.count(-1) > 1:
        raise ctx.error(f"shape {target.tolist()} has more than one -1")
    if -1 in shape:
        known = shapes.element_count([d for d in shape if d != -1])
        total = shapes.element_count(x.shape)
        if known == 0 or total % known:
            raise ctx.error(f"cannot reshape {list(x.shape)} to {target.tolist()}")
        shape[shape.index(-1)] = total // known
    if any(d < 0 for d in shape):
        raise ctx.error(f"invalid shape {target.tolist()}")
    return [ctx.reshape(x, shape, _hint(ctx))]


@converter("Flatten")
def convert_flatten(ctx: ImportContext, node: Node) -> list[Tensor]:
    x = ctx.input(0)
    axis = int(node.attr("axis", 1))
    axis = axis + x.rank if axis < 0 else axis
    if not 0 <= axis <= x.rank:
        raise ctx.error(f"axis {node.attr('axis')} is out of range for rank {x.rank}")
    shape = (shapes.element_count(x.shape[:axis]), shapes.element_count(x.shape[axis:]))
    return [ctx.reshape(x, shape, _hint(ctx))]


@converter("Squeeze", constant_operands=(1,))
def convert_squeeze(ctx: ImportContext, node: Node) -> list[Tensor]:
    x = ctx.input(0)
    axes = _axes_operand(ctx, node, 1, 13)
    if axes is None:
        axes = [a for a, d in enumerate(x.shape) if d == 1]
    axes = [_axis(ctx, a, x.rank) for a in axes]
    for a in axes:
        if x.shape[a] != 1:
            raise ctx.error(f"cannot squeeze axis {a} of size {x.shape[a]}")
    shape = tuple(d for a, d in enumerate(x.shape) if a not in axes)
    return [ctx.reshape(x, shape, _hint(ctx))]


@converter("Unsqueeze", constant_operands=(1,))
def convert_unsqueeze(ctx: ImportContext, node: Node) -> list[Tensor]:
    x = ctx.input(0)
    axes = _axes_operand(ctx, node, 1, 13)
    if not axes:
        raise ctx.error("axes is required")
    rank = x.rank + len(axes)
    axes = sorted(_axis(ctx, a, rank) for a in axes)
    if len(set(axes)) != len(axes):
        raise ctx.error(f"axes {axes} repeat an axis")
    dims = iter(x.shape)
    shape = tuple(1 if a in axes else next(dims) for a in range(rank))
    return [ctx.reshape(x, shape, _hint(ctx))]


@converter("Transpose")
def convert_transpose(ctx: ImportContext, node: Node) -> list[Tensor]:
    x = ctx.input(0)
    perm = node.attr("perm")
    perm = tuple(reversed(range(x.rank))) if perm is None else tuple(int(p) for p in perm)
    if sorted(perm) != list(range(x.rank)):
        raise ctx.error(f"perm {list(perm)} is not a permutation of {x.rank} axes")
    return [ctx.transpose(x, perm)]


@converter("DepthToSpace", "SpaceToDepth")
def convert_depth_space(ctx: ImportContext, node: Node) -> list[Tensor]:
    """The reshape / transpose / reshape that ONNX's definition spells out."""
    x = ctx.input(0)
    if x.rank != 4:
        raise ctx.error(f"input must be 4-D [N, C, H, W], got {list(x.shape)}")
    b = int(node.attr("blocksize"))
    n, c, h, w = x.shape
    if node.op_type == "DepthToSpace":
        if c % (b * b):
            raise ctx.error(f"channels {c} are not divisible by blocksize^2 = {b * b}")
        if node.attr("mode", "DCR") == "DCR":
            inner, perm = (n, b, b, c // (b * b), h, w), (0, 3, 4, 1, 5, 2)
        else:
            inner, perm = (n, c // (b * b), b, b, h, w), (0, 1, 4, 2, 5, 3)
        final = (n, c // (b * b), h * b, w * b)
    else:
        if h % b or w % b:
            raise ctx.error(f"spatial size {h}x{w} is not divisible by blocksize {b}")
        inner, perm = (n, c, h // b, b, w // b, b), (0, 3, 5, 1, 2, 4)
        final = (n, c * b * b, h // b, w // b)
    moved = ctx.transpose(ctx.reshape(x, inner), perm)
    return [ctx.reshape(moved, final, _hint(ctx))]


# ---------------------------------------------------------------------------
# concat, split, slice


@converter("Concat")
def convert_concat(ctx: ImportContext, node: Node) -> list[Tensor]:
    tensors = [ctx.tensor(name) for name in node.inputs if name]
    if not tensors:
        raise ctx.error("needs at least one input")
    rank = tensors[0].rank
    if any(t.rank != rank for t in tensors):
        raise ctx.error(f"inputs have different ranks: {[list(t.shape) for t in tensors]}")
    if any(t.dtype != tensors[0].dtype for t in tensors):
        raise ctx.error(f"inputs have different types: {', '.join(str(t.dtype) for t in tensors)}")
    axis = _axis(ctx, node.attr("axis"), rank)
    try:
        shape = shapes.concat_output_shape([t.shape for t in tensors], axis)
    except shapes.ShapeError as error:
        raise ctx.error(str(error)) from None
    tensors = [t for t in tensors if t.shape[axis] > 0]
    if len(tensors) == 1:
        return [tensors[0]]
    perm = result_layout(tensors, rank)
    operands = [ctx.operand(t, perm) for t in tensors]
    value = ctx.op(ops.ConcatOp, operands, layout.permute(shape, perm), tensors[0].dtype, _hint(ctx), axis=layout.stored_axis(axis, perm))
    return [ctx.result(value, shape, perm)]


@converter("Split", constant_operands=(1,))
def convert_split(ctx: ImportContext, node: Node) -> list[Tensor]:
    x = ctx.input(0)
    axis = _axis(ctx, node.attr("axis", 0), x.rank)
    count = len(node.outputs)
    if ctx.opset < 13 or "split" in node.attrs:
        sizes = node.attr("split")
    else:
        sizes = ctx.constant_input(1, "split")
    dim = x.shape[axis]
    if sizes is None or len(sizes) == 0:
        pieces = int(node.attr("num_outputs", count))
        chunk = -(-dim // pieces)
        sizes = [chunk] * (pieces - 1) + [dim - chunk * (pieces - 1)]
        if sizes[-1] < 0:
            raise ctx.error(f"cannot split size {dim} into {pieces} pieces")
    sizes = [int(s) for s in np.asarray(sizes).reshape(-1)]
    if sum(sizes) != dim or len(sizes) != count:
        raise ctx.error(f"split sizes {sizes} do not divide axis {axis} of size {dim} into {count} outputs")
    stored = layout.stored_axis(axis, x.perm)
    result_shapes = [tuple(s if a == axis else d for a, d in enumerate(x.shape)) for s in sizes]
    from lowering.onnx_context import tensor_type

    op = ops.SplitOp.create(
        operands=[ctx.operand(x, x.perm)],
        result_types=[tensor_type(layout.permute(s, x.perm), x.dtype) for s in result_shapes],
        properties={"axis": ops.int_attr(stored)},
    )
    ctx.emit(op, _hint(ctx))
    return [ctx.result(value, shape, x.perm) for value, shape in zip(op.results, result_shapes)]


def slice_bounds(dim: int, start: int, end: int, step: int) -> tuple[int, int, int]:
    """ONNX Slice clamping for one axis, as `range` bounds (end -1 = through index 0)."""
    begin, stop, step = slice(start, end, step).indices(dim)
    if step > 0 and stop < begin:
        stop = begin
    if step < 0 and stop > begin:
        stop = begin
    return begin, stop, step


@converter("Slice", constant_operands=(1, 2, 3, 4))
def convert_slice(ctx: ImportContext, node: Node) -> list[Tensor]:
    x = ctx.input(0)
    starts = ctx.constant_input(1, "starts")
    ends = ctx.constant_input(2, "ends")
    assert starts is not None and ends is not None
    axes = ctx.constant_input(3, "axes")
    steps = ctx.constant_input(4, "steps")
    starts, ends = [int(v) for v in starts.reshape(-1)], [int(v) for v in ends.reshape(-1)]
    axes = list(range(len(starts))) if axes is None else [_axis(ctx, a, x.rank) for a in axes.reshape(-1)]
    steps = [1] * len(starts) if steps is None else [int(v) for v in steps.reshape(-1)]
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise ctx.error("starts, ends, axes and steps must have the same length")
    bounds = [(0, d, 1) for d in x.shape]
    for a, b, e, s in zip(axes, starts, ends, steps):
        if s == 0:
            raise ctx.error(f"step of axis {a} is 0")
        bounds[a] = slice_bounds(x.shape[a], b, e, s)
    shape = tuple(len(range(*b)) for b in bounds)
    if shape == x.shape and all(b[2] == 1 for b in bounds):
        return [x]
    stored = layout.permute(bounds, x.perm)
    value = ctx.op(
        ops.SliceOp,
        [ctx.operand(x, x.perm)],
        layout.permute(shape, x.perm),
        x.dtype,
        _hint(ctx),
        starts=[b[0] for b in stored],
        ends=[b[1] for b in stored],
        steps=[b[2] for b in stored],
    )
    return [ctx.result(value, shape, x.perm)]


# ---------------------------------------------------------------------------
# gather, pad, tile


@converter("Gather")
def convert_gather(ctx: ImportContext, node: Node) -> list[Tensor]:
    data, indices = ctx.input(0), ctx.input(1)
    axis = _axis(ctx, node.attr("axis", 0), data.rank)
    if indices.dtype.kind != "i":
        raise ctx.error(f"indices must be integers, got {indices.dtype}")
    if indices.const is not None:
        bad = (indices.const < -data.shape[axis]) | (indices.const >= data.shape[axis])
        if bad.any():
            raise ctx.error(f"index {int(indices.const[bad].reshape(-1)[0])} is out of range for axis {axis} of size {data.shape[axis]}")
        indices = Tensor.constant(np.where(indices.const < 0, indices.const + data.shape[axis], indices.const).astype(np.int64), indices.name)
    shape = data.shape[:axis] + indices.shape + data.shape[axis + 1 :]
    if indices.rank == 0:
        perm = data.perm  # the gathered axis disappears; the others keep their order
        out_perm = layout.after_removing_axes(perm, [axis])
    else:
        perm = layout.identity(data.rank)
        out_perm = layout.identity(len(shape))
    value = ctx.op(
        ops.GatherOp,
        [ctx.operand(data, perm), ctx.operand(indices)],
        layout.permute(shape, out_perm),
        data.dtype,
        _hint(ctx),
        axis=layout.stored_axis(axis, perm),
    )
    return [ctx.result(value, shape, out_perm)]


@converter("Pad", constant_operands=(1, 2, 3))
def convert_pad(ctx: ImportContext, node: Node) -> list[Tensor]:
    x = ctx.input(0)
    mode = node.attr("mode", "constant")
    if mode not in ops.PAD_MODES:
        raise ctx.error(f"mode {mode!r} is not supported (supported: {', '.join(ops.PAD_MODES)})")
    pads = ctx.constant_input(1, "pads")
    assert pads is not None
    pads = [int(p) for p in pads.reshape(-1)]
    fill = ctx.constant_input(2, "constant_value")
    fill_value = 0.0 if fill is None or fill.size == 0 else float(fill.reshape(-1)[0])
    axes = ctx.constant_input(3, "axes")
    axes = list(range(x.rank)) if axes is None else [_axis(ctx, a, x.rank) for a in axes.reshape(-1)]
    if len(pads) != 2 * len(axes):
        raise ctx.error(f"pads has {len(pads)} values for {len(axes)} axes")
    begins, ends = [0] * x.rank, [0] * x.rank
    for i, a in enumerate(axes):
        begins[a], ends[a] = pads[i], pads[i + len(axes)]
    if any(p < 0 for p in begins + ends):
        # negative pads crop: slice first, then pad what is left
        bounds = [(max(-b, 0), d - max(-e, 0), 1) for b, e, d in zip(begins, ends, x.shape)]
        shape = tuple(len(range(*b)) for b in bounds)
        stored = layout.permute(bounds, x.perm)
        value = ctx.op(
            ops.SliceOp,
            [ctx.operand(x, x.perm)],
            layout.permute(shape, x.perm),
            x.dtype,
            starts=[b[0] for b in stored],
            ends=[b[1] for b in stored],
            steps=[1] * x.rank,
        )
        x = ctx.result(value, shape, x.perm)
        begins, ends = [max(b, 0) for b in begins], [max(e, 0) for e in ends]
    if not any(begins + ends):
        return [x]
    shape = tuple(d + b + e for d, b, e in zip(x.shape, begins, ends))
    stored_pads = list(layout.permute(begins, x.perm)) + list(layout.permute(ends, x.perm))
    value = ctx.op(
        ops.PadOp,
        [ctx.operand(x, x.perm)],
        layout.permute(shape, x.perm),
        x.dtype,
        _hint(ctx),
        pads=stored_pads,
        mode=mode,
        value=fill_value,
    )
    return [ctx.result(value, shape, x.perm)]


@converter("Tile", constant_operands=(1,))
def convert_tile(ctx: ImportContext, node: Node) -> list[Tensor]:
    """Tiling as one concat of copies per repeated axis."""
    x = ctx.input(0)
    repeats = ctx.constant_input(1, "repeats")
    assert repeats is not None
    repeats = [int(r) for r in repeats.reshape(-1)]
    if len(repeats) != x.rank or any(r < 1 for r in repeats):
        raise ctx.error(f"repeats {repeats} must give a positive count for each of the {x.rank} axes")
    result = x
    for axis, count in enumerate(repeats):
        if count == 1:
            continue
        shape = tuple(d * count if a == axis else d for a, d in enumerate(result.shape))
        source = ctx.operand(result, result.perm)
        value = ctx.op(
            ops.ConcatOp,
            [source] * count,
            layout.permute(shape, result.perm),
            x.dtype,
            axis=layout.stored_axis(axis, result.perm),
        )
        result = ctx.result(value, shape, result.perm)
    return [result]
