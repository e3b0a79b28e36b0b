"""Patterns that remove or merge ops whose effect is known from their types and properties."""

from __future__ import annotations

import math

from xdsl.pattern_rewriter import PatternRewriter, RewritePattern, op_type_rewrite_pattern

from sima_dialect.ops import (
    CastOp,
    ClipOp,
    ConcatOp,
    ExpandOp,
    NegOp,
    PadOp,
    ReluOp,
    ReshapeOp,
    SigmoidOp,
    SliceOp,
    SplitOp,
    TanhOp,
    float_attr,
    shape_of,
)
from passes.patterns import builders


class RemoveSameTypeConversion(RewritePattern):
    """reshape / expand / cast to the input's own type -> the input."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: ReshapeOp | ExpandOp | CastOp, rewriter: PatternRewriter) -> None:
        if op.input.type == op.output.type:
            rewriter.replace(op, [], [op.input])


class FoldReshapeChain(RewritePattern):
    """reshape(reshape(x)) -> reshape(x): row-major order makes the middle shape irrelevant."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: ReshapeOp, rewriter: PatternRewriter) -> None:
        inner = op.input.owner
        if not isinstance(inner, ReshapeOp):
            return
        if inner.input.type == op.output.type:
            rewriter.replace(op, [], [inner.input])
        else:
            rewriter.replace(op, builders.reshape(inner.input, shape_of(op.output)))


class RemoveFullSlice(RewritePattern):
    """A slice that takes every index of every axis, in order -> the input."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: SliceOp, rewriter: PatternRewriter) -> None:
        bounds = zip(shape_of(op.input), op.starts.get_values(), op.ends.get_values(), op.steps.get_values())
        if all(range(start, end, step) == range(size) for size, start, end, step in bounds):
            rewriter.replace(op, [], [op.input])


class RemoveZeroPad(RewritePattern):
    """A pad that adds nothing (every pad 0, whatever the mode) -> the input."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: PadOp, rewriter: PatternRewriter) -> None:
        if not any(op.pads.get_values()):
            rewriter.replace(op, [], [op.input])


class RemoveSinglePieceConcatSplit(RewritePattern):
    """concat of one input, split into one piece -> the input."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: ConcatOp | SplitOp, rewriter: PatternRewriter) -> None:
        if isinstance(op, ConcatOp) and len(op.inputs) == 1:
            rewriter.replace(op, [], [op.inputs[0]])
        elif isinstance(op, SplitOp) and len(op.outputs) == 1:
            rewriter.replace(op, [], [op.input])


# Ranges that ops are known to produce (NaN aside, which every clip passes through).
_KNOWN_RANGES: dict[type, tuple[float, float]] = {
    ReluOp: (0.0, math.inf),
    SigmoidOp: (0.0, 1.0),
    TanhOp: (-1.0, 1.0),
}


def _clip_bounds(op: ClipOp) -> tuple[float, float]:
    return op.min.value.data, op.max.value.data


def _output_range(op) -> tuple[float, float] | None:
    if isinstance(op, ClipOp):
        return _clip_bounds(op)
    return _KNOWN_RANGES.get(type(op))


class RemoveClipThatCannotClip(RewritePattern):
    """clip(x, lo, hi) -> x when x is already known to lie in [lo, hi].

    Known: clip [-inf, inf] clips nothing; relu >= 0, sigmoid in [0, 1], tanh in
    [-1, 1], a clip's output lies within its bounds.
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: ClipOp, rewriter: PatternRewriter) -> None:
        lo, hi = _clip_bounds(op)
        known = _output_range(op.input.owner) or (-math.inf, math.inf)
        if lo <= known[0] and known[1] <= hi:
            rewriter.replace(op, [], [op.input])


class MergeClamps(RewritePattern):
    """clip/relu of clip/relu -> one clamp to the intersection of the two ranges.

    Sound when the ranges overlap: clamping to [a1, b1] then to [a2, b2] equals
    clamping to [max(a1, a2), min(b1, b2)] whenever that interval is not empty.
    relu is the clamp [0, inf] (and relu(relu(x)) -> relu(x)).
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: ClipOp | ReluOp, rewriter: PatternRewriter) -> None:
        inner = op.input.owner
        if not isinstance(inner, ClipOp | ReluOp):
            return
        outer_lo, outer_hi = _output_range(op)
        inner_lo, inner_hi = _output_range(inner)
        lo, hi = max(outer_lo, inner_lo), min(outer_hi, inner_hi)
        if lo > hi:
            return
        if (lo, hi) == _KNOWN_RANGES[ReluOp]:
            merged = ReluOp(inner.input)
        else:
            merged = ClipOp(inner.input, properties={"min": float_attr(lo), "max": float_attr(hi)})
        rewriter.replace(op, merged)


class FoldDoubleNegation(RewritePattern):
    """neg(neg(x)) -> x (exact in floating point)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: NegOp, rewriter: PatternRewriter) -> None:
        if isinstance(inner := op.input.owner, NegOp):
            rewriter.replace(op, [], [inner.input])


IDENTITY_PATTERNS: tuple[RewritePattern, ...] = (
    RemoveSameTypeConversion(),
    FoldReshapeChain(),
    RemoveFullSlice(),
    RemoveZeroPad(),
    RemoveSinglePieceConcatSplit(),
    RemoveClipThatCannotClip(),
    MergeClamps(),
    FoldDoubleNegation(),
)
