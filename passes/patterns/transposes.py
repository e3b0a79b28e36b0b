"""Patterns on `sima.transpose` alone: chains, identities, duplicates, reshape-like transposes."""

from __future__ import annotations

from xdsl.pattern_rewriter import PatternRewriter, RewritePattern, op_type_rewrite_pattern

from sima_dialect.ops import TransposeOp, shape_of
from passes.patterns import builders
from passes.patterns.permutations import compose, is_identity, is_reshape_like


class FoldTransposeChain(RewritePattern):
    """transpose(transpose(x, p1), p2) -> transpose(x, p1 then p2), or x if that is the identity."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: TransposeOp, rewriter: PatternRewriter) -> None:
        inner = op.input.owner
        if not isinstance(inner, TransposeOp):
            return
        perm = compose(inner.perm.get_values(), op.perm.get_values())
        if is_identity(perm):
            rewriter.replace(op, [], [inner.input])
        else:
            rewriter.replace(op, builders.transpose(inner.input, perm))


class RemoveIdentityTranspose(RewritePattern):
    """transpose(x, [0, 1, ..., n-1]) -> x."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: TransposeOp, rewriter: PatternRewriter) -> None:
        if is_identity(op.perm.get_values()):
            rewriter.replace(op, [], [op.input])


class ReshapeLikeTransposeToReshape(RewritePattern):
    """A transpose that only moves size-1 axes keeps the element order: it is a reshape.

    e.g. tensor<1x8x1x1> transposed by [0, 2, 3, 1] is tensor<1x1x1x8>, the same
    8 values in the same order.
    """

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: TransposeOp, rewriter: PatternRewriter) -> None:
        perm = op.perm.get_values()
        if is_identity(perm) or not is_reshape_like(shape_of(op.input), perm):
            return
        rewriter.replace(op, builders.reshape(op.input, shape_of(op.output)))


class MergeDuplicateTransposes(RewritePattern):
    """Two transposes of the same value by the same perm: the later one reads the earlier one's result."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: TransposeOp, rewriter: PatternRewriter) -> None:
        perm = op.perm.get_values()
        for use in op.input.uses:
            other = use.operation
            if (
                other is not op
                and isinstance(other, TransposeOp)
                and other.parent is op.parent
                and other.perm.get_values() == perm
                and other.is_before_in_block(op)
            ):
                rewriter.replace(op, [], [other.output])
                return


TRANSPOSE_PATTERNS: tuple[RewritePattern, ...] = (
    RemoveIdentityTranspose(),
    FoldTransposeChain(),
    MergeDuplicateTransposes(),
    ReshapeLikeTransposeToReshape(),
)
