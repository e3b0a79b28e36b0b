"""`sima-canonicalize`: simplify sima IR without changing what it computes.

The patterns (in `passes/patterns/`) run under xDSL's greedy driver until none
applies:
- chains: reshape(reshape(x)) -> one reshape; transpose(transpose(x)) -> one
  transpose or nothing; clip/relu of clip/relu -> one clamp; neg(neg(x)) -> x;
- identities: reshape / expand / cast to the input's own type, the identity
  transpose, a slice taking every index, a pad of zeros, a concat of one input
  or a split into one piece, a clip whose input already lies within its bounds;
- a transpose that only moves size-1 axes becomes a reshape;
- constant folding (option `fold-constants`): reshape / transpose / cast of a
  `sima.constant` becomes a new constant (weight `<name>.<op>`);
- dead pure ops are erased (every sima op is Pure).
xDSL's own canonicalization patterns (func, arith, ...) run as well, so this
pass is a superset of `canonicalize`.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import GreedyRewritePatternApplier, PatternRewriteWalker, RewritePattern
from xdsl.transforms.canonicalize import CanonicalizationRewritePattern
from xdsl.transforms.dead_code_elimination import region_dce

from passes.patterns.constant_folding import CONSTANT_FOLDING_PATTERNS
from passes.patterns.identities import IDENTITY_PATTERNS
from passes.patterns.transposes import TRANSPOSE_PATTERNS


def canonicalization_patterns(fold_constants: bool = True) -> list[RewritePattern]:
    patterns: list[RewritePattern] = [*IDENTITY_PATTERNS, *TRANSPOSE_PATTERNS]
    if fold_constants:
        patterns += CONSTANT_FOLDING_PATTERNS
    return patterns


@dataclass(frozen=True)
class SimaCanonicalizePass(ModulePass):
    """Fold chains and identities of sima ops, fold data movement of constants, erase dead ops."""

    name = "sima-canonicalize"

    fold_constants: bool = True
    """Replace reshape / transpose / cast of a constant by a new constant."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        applier = GreedyRewritePatternApplier(
            [CanonicalizationRewritePattern(), *canonicalization_patterns(self.fold_constants)],
            ctx=ctx,
            folding_enabled=True,
        )
        PatternRewriteWalker(applier, post_walk_func=region_dce).rewrite_module(op)
