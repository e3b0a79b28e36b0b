"""Converters of elementwise ONNX ops: activations, arithmetic, comparisons, casts.

Elementwise ops do not care about layout: the result keeps the layout of its
main (run-time, full-rank) operand and the other operands are laid out to
match, constants at import time and lower-rank values by adding unit axes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lowering import onnx_layout as layout
from lowering.onnx_context import ImportContext, Tensor
from lowering.onnx_converters import converter
from lowering.onnx_graph import Node
from lowering.onnx_loading import onnx_dtype_to_numpy
from sima_dialect import ops, shapes

# ---------------------------------------------------------------------------
# helpers


def result_layout(tensors: Sequence[Tensor], rank: int) -> layout.Perm:
    """The layout a broadcasting op's result takes: NHWC if a full-rank run-time operand
    has it (the accelerator's layout), else that of the first full-rank run-time operand."""
    candidates = [t.perm for t in tensors if t.const is None and t.rank == rank]
    if layout.NHWC in candidates:
        return layout.NHWC
    for tensor in tensors:
        if tensor.const is None and tensor.rank == rank:
            return tensor.perm
    return layout.identity(rank)


def broadcast(ctx: ImportContext, op_class, tensors: Sequence[Tensor], dtype: np.dtype | None = None, **properties) -> Tensor:
    """Emit a broadcasting elementwise op over `tensors` (ONNX multidirectional broadcasting)."""
    try:
        shape = shapes.broadcast_shapes(*(t.shape for t in tensors))
    except shapes.ShapeError as error:
        raise ctx.error(str(error)) from None
    perm = result_layout(tensors, len(shape))
    operands = [ctx.broadcast_operand(t, len(shape), perm) for t in tensors]
    value = ctx.op(op_class, operands, layout.permute(shape, perm), dtype or tensors[0].dtype, _hint(ctx), **properties)
    return ctx.result(value, shape, perm)


def unary(ctx: ImportContext, op_class, tensor: Tensor, **properties) -> Tensor:
    value = ctx.op(op_class, [ctx.operand(tensor, tensor.perm)], tensor.stored_shape, tensor.dtype, _hint(ctx), **properties)
    return ctx.result(value, tensor.shape, tensor.perm)


def _hint(ctx: ImportContext) -> str | None:
    return ctx.node.outputs[0] if ctx.node is not None and ctx.node.outputs else None


def as_dtype(ctx: ImportContext, tensor: Tensor, dtype: np.dtype) -> Tensor:
    """`tensor` converted to `dtype` (at import time for constants)."""
    if tensor.dtype == dtype:
        return tensor
    if tensor.const is not None:
        return Tensor.constant(tensor.const.astype(dtype), tensor.name)
    value = ctx.op(ops.CastOp, [ctx.operand(tensor, tensor.perm)], tensor.stored_shape, dtype)
    return ctx.result(value, tensor.shape, tensor.perm)


def scalar(value: float, dtype: np.dtype) -> Tensor:
    return Tensor.constant(np.asarray(value, dtype=dtype))


def require_float(ctx: ImportContext, tensor: Tensor) -> None:
    if tensor.dtype.kind != "f":
        raise ctx.error(f"expects a float tensor, got {tensor.dtype}")


# ---------------------------------------------------------------------------
# activations and unary math

_UNARY = {
    "Relu": ops.ReluOp,
    "Sigmoid": ops.SigmoidOp,
    "Tanh": ops.TanhOp,
    "Exp": ops.ExpOp,
    "Log": ops.LogOp,
    "Sqrt": ops.SqrtOp,
    "Erf": ops.ErfOp,
    "Reciprocal": ops.ReciprocalOp,
    "Abs": ops.AbsOp,
    "Neg": ops.NegOp,
    "HardSwish": ops.HardSwishOp,
}


@converter(*_UNARY)
def convert_unary(ctx: ImportContext, node: Node) -> list[Tensor]:
    x = ctx.input(0)
    if node.op_type not in ("Abs", "Neg", "Relu"):
        require_float(ctx, x)
    return [unary(ctx, _UNARY[node.op_type], x)]


@converter("sima.Silu")
def convert_silu(ctx: ImportContext, node: Node) -> list[Tensor]:
    """x * sigmoid(x) (made by `onnx_patterns`)."""
    x = ctx.input(0)
    require_float(ctx, x)
    return [unary(ctx, ops.SiluOp, x)]


@converter("LeakyRelu")
def convert_leaky_relu(ctx: ImportContext, node: Node) -> list[Tensor]:
    x = ctx.input(0)
    require_float(ctx, x)
    return [unary(ctx, ops.LeakyReluOp, x, alpha=float(node.attr("alpha", 0.01)))]


@converter("HardSigmoid")
def convert_hard_sigmoid(ctx: ImportContext, node: Node) -> list[Tensor]:
    x = ctx.input(0)
    require_float(ctx, x)
    return [unary(ctx, ops.HardSigmoidOp, x, alpha=float(node.attr("alpha", 0.2)), beta=float(node.attr("beta", 0.5)))]


@converter("Gelu")
def convert_gelu(ctx: ImportContext, node: Node) -> list[Tensor]:
    x = ctx.input(0)
    require_float(ctx, x)
    approximate = node.attr("approximate", "none")
    if approximate not in ops.GELU_APPROXIMATIONS:
        raise ctx.error(f"approximate must be one of {ops.GELU_APPROXIMATIONS}, got {approximate!r}")
    return [unary(ctx, ops.GeluOp, x, approximate=approximate)]


@converter("PRelu")
def convert_prelu(ctx: ImportContext, node: Node) -> list[Tensor]:
    x, slope = ctx.input(0), ctx.input(1)
    require_float(ctx, x)
    if slope.rank > x.rank:
        raise ctx.error(f"slope rank {slope.rank} exceeds input rank {x.rank}")
    slope = as_dtype(ctx, slope, x.dtype)
    operand = ctx.broadcast_operand(slope, x.rank, x.perm)
    value = ctx.op(ops.PreluOp, [ctx.operand(x, x.perm), operand], x.stored_shape, x.dtype, _hint(ctx))
    return [ctx.result(value, x.shape, x.perm)]


@converter("Clip")
def convert_clip(ctx: ImportContext, node: Node) -> list[Tensor]:
    x = ctx.input(0)
    low, high = ctx.optional_input(1), ctx.optional_input(2)
    if "min" in node.attrs or "max" in node.attrs:  # opset < 11 form, kept by some exporters
        low = scalar(node.attr("min", -np.inf), x.dtype) if "min" in node.attrs else low
        high = scalar(node.attr("max", np.inf), x.dtype) if "max" in node.attrs else high
    constant_bounds = all(b is None or (b.const is not None and b.const.size == 1) for b in (low, high))
    if x.dtype == np.float32 and constant_bounds and low is not None and high is not None:
        lo, hi = float(low.const.reshape(())), float(high.const.reshape(()))  # type: ignore[union-attr]
        if lo <= hi:
            return [unary(ctx, ops.ClipOp, x, min=lo, max=hi)]
    # bounds computed at run time, integer tensors, one-sided or empty ranges
    result = x
    if low is not None:
        result = broadcast(ctx, ops.MaximumOp, [result, as_dtype(ctx, low, x.dtype)])
    if high is not None:
        result = broadcast(ctx, ops.MinimumOp, [result, as_dtype(ctx, high, x.dtype)])
    return [result]


@converter("Softmax", "LogSoftmax")
def convert_softmax(ctx: ImportContext, node: Node) -> list[Tensor]:
    x = ctx.input(0)
    require_float(ctx, x)
    default_axis = -1 if ctx.opset >= 13 else 1
    axis = shapes.normalize_axis(int(node.attr("axis", default_axis)), max(x.rank, 1)) if x.rank else 0
    if x.rank == 0:
        raise ctx.error("input must have rank >= 1")
    if ctx.opset < 13 and axis != x.rank - 1:
        # opset < 13: softmax over all axes from `axis` on, as one flattened axis
        rows = shapes.element_count(x.shape[:axis])
        flat = ctx.reshape(x, (rows, shapes.element_count(x.shape[axis:])))
        result = _softmax_on_axis(ctx, node, flat, 1)
        return [ctx.reshape(result, x.shape)]
    return [_softmax_on_axis(ctx, node, x, axis)]


def _softmax_on_axis(ctx: ImportContext, node: Node, x: Tensor, axis: int) -> Tensor:
    stored = layout.stored_axis(axis, x.perm)
    if node.op_type == "Softmax":
        return unary(ctx, ops.SoftmaxOp, x, axis=stored)
    # log softmax = (x - max) - log(sum(exp(x - max))), the numerically stable form
    keep = list(x.shape)
    keep[axis] = 1
    source = ctx.operand(x, x.perm)
    reduced_shape = layout.permute(keep, x.perm)
    peak = ctx.op(ops.ReduceOp, [source], reduced_shape, x.dtype, kind="max", axes=[stored], keepdims=True)
    shifted = ctx.op(ops.SubOp, [source, peak], x.stored_shape, x.dtype)
    exps = ctx.op(ops.ExpOp, [shifted], x.stored_shape, x.dtype)
    total = ctx.op(ops.ReduceOp, [exps], reduced_shape, x.dtype, kind="sum", axes=[stored], keepdims=True)
    log_total = ctx.op(ops.LogOp, [total], reduced_shape, x.dtype)
    value = ctx.op(ops.SubOp, [shifted, log_total], x.stored_shape, x.dtype, _hint(ctx))
    return ctx.result(value, x.shape, x.perm)


# ---------------------------------------------------------------------------
# binary and variadic arithmetic

_BINARY = {"Add": ops.AddOp, "Sub": ops.SubOp, "Mul": ops.MulOp, "Div": ops.DivOp}


@converter(*_BINARY)
def convert_binary(ctx: ImportContext, node: Node) -> list[Tensor]:
    lhs, rhs = ctx.input(0), ctx.input(1)
    if lhs.dtype != rhs.dtype:
        raise ctx.error(f"operand types differ: {lhs.dtype} and {rhs.dtype}")
    return [broadcast(ctx, _BINARY[node.op_type], [lhs, rhs])]


@converter("Pow")
def convert_pow(ctx: ImportContext, node: Node) -> list[Tensor]:
    base, exponent = ctx.input(0), ctx.input(1)
    if base.dtype.kind != "f" and exponent.dtype.kind == "f":
        # an integer base with a float exponent: computed in float, truncated back (as onnxruntime)
        power = broadcast(ctx, ops.PowOp, [as_dtype(ctx, base, exponent.dtype), exponent])
        return [as_dtype(ctx, power, base.dtype)]
    return [broadcast(ctx, ops.PowOp, [base, as_dtype(ctx, exponent, base.dtype)])]


_VARIADIC = {"Max": ops.MaximumOp, "Min": ops.MinimumOp, "Sum": ops.AddOp, "Mean": ops.AddOp}


@converter(*_VARIADIC)
def convert_variadic(ctx: ImportContext, node: Node) -> list[Tensor]:
    tensors = [ctx.tensor(name) for name in node.inputs if name]
    if not tensors:
        raise ctx.error("needs at least one input")
    if any(t.dtype != tensors[0].dtype for t in tensors):
        raise ctx.error(f"operand types differ: {', '.join(str(t.dtype) for t in tensors)}")
    result = tensors[0]
    for other in tensors[1:]:
        result = broadcast(ctx, _VARIADIC[node.op_type], [result, other])
    if node.op_type == "Mean" and len(tensors) > 1:
        require_float(ctx, result)
        result = broadcast(ctx, ops.DivOp, [result, scalar(len(tensors), result.dtype)])
    return [result]


_COMPARISONS = {"Equal": "eq", "Less": "lt", "LessOrEqual": "le", "Greater": "gt", "GreaterOrEqual": "ge"}


@converter(*_COMPARISONS)
def convert_compare(ctx: ImportContext, node: Node) -> list[Tensor]:
    lhs, rhs = ctx.input(0), ctx.input(1)
    if lhs.dtype != rhs.dtype:
        raise ctx.error(f"operand types differ: {lhs.dtype} and {rhs.dtype}")
    return [broadcast(ctx, ops.CompareOp, [lhs, rhs], dtype=np.dtype(bool), kind=_COMPARISONS[node.op_type])]


@converter("Where")
def convert_where(ctx: ImportContext, node: Node) -> list[Tensor]:
    condition, true_value, false_value = ctx.input(0), ctx.input(1), ctx.input(2)
    if condition.dtype != np.bool_:
        raise ctx.error(f"condition must be a bool tensor, got {condition.dtype}")
    if true_value.dtype != false_value.dtype:
        raise ctx.error(f"value types differ: {true_value.dtype} and {false_value.dtype}")
    return [broadcast(ctx, ops.WhereOp, [condition, true_value, false_value], dtype=true_value.dtype)]


# ---------------------------------------------------------------------------
# types and pass-through


@converter("Cast")
def convert_cast(ctx: ImportContext, node: Node) -> list[Tensor]:
    x = ctx.input(0)
    dtype = onnx_dtype_to_numpy(int(node.attr("to")), "the target type")
    return [_cast(ctx, x, dtype)]


@converter("CastLike")
def convert_cast_like(ctx: ImportContext, node: Node) -> list[Tensor]:
    return [_cast(ctx, ctx.input(0), ctx.input(1).dtype)]


def _cast(ctx: ImportContext, x: Tensor, dtype: np.dtype) -> Tensor:
    ctx.check_dtype(dtype, "the target type")
    if x.dtype == dtype:
        return x
    value = ctx.op(ops.CastOp, [ctx.operand(x, x.perm)], x.stored_shape, dtype, _hint(ctx))
    return ctx.result(value, x.shape, x.perm)


@converter("Identity")
def convert_identity(ctx: ImportContext, node: Node) -> list[Tensor]:
    return [ctx.input(0)]


@converter("Dropout", constant_operands=(1, 2))
def convert_dropout(ctx: ImportContext, node: Node) -> list[Tensor]:
    """Inference: the identity (training mode is refused); the mask is all true."""
    x = ctx.input(0)
    training = ctx.constant_input(2, "training_mode")
    if training is not None and bool(training):
        raise ctx.error("training_mode = true is not supported (inference only)")
    results = [x]
    if len(node.outputs) > 1 and node.outputs[1]:
        results.append(Tensor.constant(np.ones(x.shape, dtype=bool)))
    return results


@converter("Expand", constant_operands=(1,))
def convert_expand(ctx: ImportContext, node: Node) -> list[Tensor]:
    x = ctx.input(0)
    target = ctx.constant_input(1, "shape")
    assert target is not None
    try:
        shape = shapes.broadcast_shapes(x.shape, tuple(int(d) for d in target))
    except shapes.ShapeError as error:
        raise ctx.error(str(error)) from None
    if shape == x.shape:
        return [x]
    perm = x.perm if x.rank == len(shape) else layout.identity(len(shape))
    operand = ctx.broadcast_operand(x, len(shape), perm)
    value = ctx.op(ops.ExpandOp, [operand], layout.permute(shape, perm), x.dtype, _hint(ctx))
    return [ctx.result(value, shape, perm)]
