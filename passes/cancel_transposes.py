"""`cancel-transposes`: move transposes through layout-agnostic ops until they cancel.

The ONNX importer keeps the model's NCHW semantics and wraps every
layout-sensitive op (convolution, pooling, resize, ...) in explicit transposes
to and from NHWC. Between two such ops sit transposes that undo each other
across ops that do not care about the layout: this pass removes them.

Method. A *layout* of a value v is a permutation p with v == transpose(v', p).
Starting from each transpose, the pass grows a connected *region* of
layout-agnostic ops (below) and gives every activation in it a layout,
propagated op by op through the rules of `passes/patterns/layout_rules.py`
(an op whose rule cannot take the layouts it is offered stays outside; a
second, cautious region also leaves out ops that would need a new transpose
on an input from outside). It then counts the transposes the region would
need if every op in it computed the un-transposed values v' instead of v:
- an input x of the region in layout q is read as transpose(x, q^-1): free for
  a constant (folded), nothing at all when x is itself transpose(y, q);
- a transpose reading a value of the region is composed with that value's
  layout, and vanishes when they are inverse;
- any other user of a value of the region (a layout-sensitive op, the
  function's return) gets transpose(v', p) back, so the function's signature
  and every other op see exactly the values they saw before.
The region is rewritten only if this strictly lowers the number of real
transposes (identity and size-1-axis-only transposes count as free; ties are
broken by the number of elements transposed). Each rewrite lowers that count,
so the pass terminates; sinking a transpose below an op and hoisting it above
one are the two directions of the same rewrite. Before and after, transpose
chains are folded, identity transposes removed, transposes of constants
folded and (option `to-reshape`) transposes that only move size-1 axes become
reshapes; two transposes of one value by one perm become one; dead ops are
erased.

Ops a transpose moves through, and why each is sound (v = transpose(v', p)
means axis i of v is axis p[i] of v'):
- elementwise unary ops (relu, sigmoid, tanh, silu, hard_swish, exp, log,
  sqrt, erf, reciprocal, abs, neg, clip, hard_sigmoid, leaky_relu, gelu) and
  cast: each output element depends only on the input element at the same
  index, so f(transpose(x', p)) == transpose(f(x'), p);
- elementwise binary/ternary ops (add, sub, mul, div, pow, maximum, minimum,
  compare, prelu, where) and expand: the same, with NumPy broadcasting, which
  is decided axis by axis and so is permuted along with the axes. Every
  non-constant operand must have the result's rank (or be all 1s, which
  broadcasts identically in any layout); a constant of lower rank gets its
  leading 1s first, then is transposed by folding;
- softmax, concat, split (axis a -> p[a]); slice (the start/end/step of axis i
  go to axis p[i]); pad (the pads of axis i go to axis p[i]; constant, edge and
  reflect padding act on each axis independently); reduce and argmax with
  keepdims (axes a -> p[a]): these act on named axes only, and renumbering the
  axes names the same ones. argmax's first-occurrence rule is unaffected since
  the order along the reduced axis is kept;
- reduce and argmax without keepdims: as above, and the output layout is the
  input's with the reduced axes dropped and the rest renumbered;
- reshape, only where it commutes with the transpose: ignoring size-1 axes
  (which do not move data), the reshape merges and splits consecutive groups of
  axes; if the transpose keeps every group's axes adjacent and in order, x'
  holds each group as a contiguous block, reshaping x' block by block gives
  v', and v's layout moves whole groups. Otherwise the reshape stays outside.
Everything else (convolutions, pooling, matmul, dense, layer_norm, gather,
resize, and any op added later until it is listed here) is layout-sensitive.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import GreedyRewritePatternApplier, PatternRewriteWalker, RewritePattern
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.transforms.dead_code_elimination import region_dce

from sima_dialect.ops import ConstantOp, SimaOp, TransposeOp, shape_of
from sima_dialect.shapes import element_count
from passes.patterns import builders
from passes.patterns.constant_folding import FoldTransposeOfConstant
from passes.patterns.identities import FoldReshapeChain, RemoveSameTypeConversion
from passes.patterns.layout_rules import LayoutRule, Layouts, layout_rule, untransposed_shape
from passes.patterns.permutations import Perm, compose, identity, invert, is_identity, is_reshape_like
from passes.patterns.transposes import (
    FoldTransposeChain,
    MergeDuplicateTransposes,
    RemoveIdentityTranspose,
    ReshapeLikeTransposeToReshape,
)

Cost = tuple[int, int]
"""(number of real transposes, number of elements they move)."""


def transpose_cost(input_shape: tuple[int, ...], perm: Perm) -> Cost:
    if is_identity(perm) or is_reshape_like(input_shape, perm):
        return (0, 0)
    return (1, element_count(input_shape))


def _add(a: Cost, b: Cost) -> Cost:
    return (a[0] + b[0], a[1] + b[1])


def _is_foldable_constant(value: SSAValue) -> bool:
    return isinstance(value.owner, ConstantOp) and builders.constant_array(value.owner) is not None


def _operand_slots(op: Operation, rule: LayoutRule, layouts: Layouts) -> list[tuple[SSAValue, Perm | None]]:
    """Each operand of `op` with the layout the rewritten op reads it in (None: unchanged)."""
    return list(zip(op.operands, rule.operand_layouts(layouts)))


class _Region:
    """A set of layout-agnostic ops of one block with a layout for each activation."""

    def __init__(self, block: Block, members: dict[Operation, LayoutRule], layouts: dict[SSAValue, Perm]):
        self.block = block
        self.rules = members
        self.layouts = layouts
        self.ops = list(members)

    def produces(self, value: SSAValue) -> bool:
        return isinstance(value.owner, Operation) and value.owner in self.rules

    def source(self, value: SSAValue) -> tuple[tuple[int, ...], Perm]:
        """After the rewrite, value == transpose(s, perm): (shape of s, perm)."""
        if self.produces(value):
            perm = self.layouts[value]
            return untransposed_shape(shape_of(value), perm), perm
        return shape_of(value), identity(len(shape_of(value)))

    def read_cost(self, value: SSAValue, layout: Perm | None) -> Cost:
        """What it costs a region op to read `value` in `layout` (None: as it is)."""
        if layout is None:
            layout = identity(len(shape_of(value)))
        if self.produces(value):
            shape, perm = self.source(value)
            return transpose_cost(shape, compose(perm, invert(layout)))
        if is_identity(layout) or _is_foldable_constant(value):
            return (0, 0)
        if isinstance(producer := value.owner, TransposeOp):
            shape, perm = self.source(producer.input)
            return transpose_cost(shape, compose(compose(perm, producer.perm.get_values()), invert(layout)))
        return transpose_cost(_broadcast_shape(value, len(layout)), invert(layout))

    def adjacent_transposes(self) -> list[TransposeOp]:
        found: dict[TransposeOp, None] = {}
        for op in self.ops:
            for operand in op.operands:
                if isinstance(operand.owner, TransposeOp):
                    found[operand.owner] = None
            for result in op.results:
                for use in result.uses:
                    if isinstance(use.operation, TransposeOp):
                        found[use.operation] = None
        return list(found)

    def costs(self) -> tuple[Cost, Cost]:
        """(transposes around the region now, transposes around it after the rewrite)."""
        before = after = (0, 0)
        read_as_is: set[SSAValue] = set()
        reads: dict[tuple[SSAValue, Perm | None], None] = {}
        for op in self.ops:
            for value, layout in _operand_slots(op, self.rules[op], self.layouts):
                reads[(value, layout)] = None
                if not self.produces(value) and (layout is None or is_identity(layout)):
                    read_as_is.add(value)
        for value, layout in reads:
            after = _add(after, self.read_cost(value, layout))
        for transpose in self.adjacent_transposes():
            if not transpose.output.uses:
                continue
            perm = transpose.perm.get_values()
            before = _add(before, transpose_cost(shape_of(transpose.input), perm))
            used_outside = any(use.operation not in self.rules for use in transpose.output.uses)
            if used_outside or transpose.output in read_as_is:
                shape, source_perm = self.source(transpose.input)
                after = _add(after, transpose_cost(shape, compose(source_perm, perm)))
        for op in self.ops:
            for result in op.results:
                if any(u.operation not in self.rules and not isinstance(u.operation, TransposeOp) for u in result.uses):
                    shape, perm = self.source(result)
                    after = _add(after, transpose_cost(shape, perm))
        return before, after

    def _producers_first(self) -> list[Operation]:
        """The region's ops, each after the region ops it reads (a topological order)."""
        ordered: list[Operation] = []
        placed: set[Operation] = set()

        def place(op: Operation) -> None:
            stack = [(op, False)]
            while stack:
                current, ready = stack.pop()
                if current in placed:
                    continue
                if ready:
                    placed.add(current)
                    ordered.append(current)
                    continue
                stack.append((current, True))
                for operand in current.operands:
                    producer = operand.owner
                    if isinstance(producer, Operation) and producer in self.rules and producer not in placed:
                        stack.append((producer, False))

        for op in self.rules:
            place(op)
        return ordered

    def rewrite(self) -> list[Operation]:
        """Rewrite the region; returns the ops that may have become dead."""
        self.ops = self._producers_first()
        dead: list[Operation] = []
        new_values: dict[SSAValue, SSAValue] = {}
        reads: dict[tuple[SSAValue, Perm], SSAValue] = {}
        restored: dict[SSAValue, SSAValue] = {}

        def transposed(value: SSAValue, perm: Perm, before: Operation) -> SSAValue:
            if is_identity(perm):
                return value
            op = builders.transpose(value, perm)
            Rewriter.insert_op(op, InsertPoint.before(before))
            return op.output

        def read(value: SSAValue, layout: Perm, before: Operation) -> SSAValue:
            """value' with value == transpose(value', layout), built before `before` (once)."""
            if (value, layout) not in reads:
                reads[(value, layout)] = build_read(value, layout, before)
            return reads[(value, layout)]

        def build_read(value: SSAValue, layout: Perm, before: Operation) -> SSAValue:
            if self.produces(value):
                return transposed(new_values[value], compose(self.layouts[value], invert(layout)), before)
            if is_identity(layout):
                return value
            if _is_foldable_constant(value):
                constant = value.owner
                array = builders.constant_array(constant)
                array = array.reshape(_broadcast_shape(value, len(layout)))
                folded = builders.derived_constant(constant, np.transpose(array, invert(layout)), "transpose")
                Rewriter.insert_op(folded, InsertPoint.before(before))
                return folded.output
            if isinstance(producer := value.owner, TransposeOp):
                # value' = transpose(producer.input, perm): read producer.input in layout perm^-1
                perm = compose(producer.perm.get_values(), invert(layout))
                if self.produces(producer.input):
                    return read(producer.input, invert(perm), before)
                return transposed(producer.input, perm, before)
            full_shape = _broadcast_shape(value, len(layout))
            if full_shape != shape_of(value):  # an elided constant of lower rank
                reshape = builders.reshape(value, full_shape)
                Rewriter.insert_op(reshape, InsertPoint.before(before))
                value = reshape.output
            return transposed(value, invert(layout), before)

        for op in self.ops:
            rule = self.rules[op]
            operands = [
                value if layout is None and not self.produces(value)
                else read(value, layout or identity(len(shape_of(value))), op)
                for value, layout in _operand_slots(op, rule, self.layouts)
            ]
            new_op = rule.rebuild(self.layouts, operands)
            Rewriter.insert_op(new_op, InsertPoint.before(op))
            for result, new_result in zip(op.results, new_op.results):
                new_result.name_hint = result.name_hint
                new_values[result] = new_result

        for op in self.ops:
            for result in op.results:
                new_result, perm = new_values[result], self.layouts[result]
                for use in list(result.uses):
                    user = use.operation
                    if user in self.rules or user.parent is None:
                        continue
                    if isinstance(user, TransposeOp):
                        replacement = transposed(new_result, compose(perm, user.perm.get_values()), user)
                        Rewriter.replace_op(user, [], [replacement])
                        if replacement.owner is not new_result.owner:
                            dead.append(replacement.owner)  # unused if the transpose only fed the region
                    else:
                        if result not in restored:
                            restored[result] = transposed(new_result, perm, op)
                        user.operands[use.index] = restored[result]

        for op in reversed(self.ops):
            dead.extend(v.owner for v in op.operands if isinstance(v.owner, Operation))
            Rewriter.erase_op(op)
        return dead


def _broadcast_shape(value: SSAValue, rank: int) -> tuple[int, ...]:
    """`value`'s shape with leading 1s up to `rank`, as broadcasting reads it."""
    shape = shape_of(value)
    return (1,) * (rank - len(shape)) + tuple(shape)


class _BlockOptimizer:
    """Finds the regions of a block whose rewrite pays, and rewrites them."""

    def __init__(self, block: Block):
        self.block = block
        self._rules: dict[Operation, tuple[tuple[SSAValue, ...], LayoutRule | None]] = {}

    def rule(self, op: Operation) -> LayoutRule | None:
        """`op`'s layout rule (cached; recomputed when a rewrite changed its operands)."""
        if op.parent is not self.block:
            return None
        operands = tuple(op.operands)
        cached = self._rules.get(op)
        if cached is None or cached[0] != operands:
            cached = (operands, layout_rule(op))
            self._rules[op] = cached
        return cached[1]

    def _tied(self, op: Operation) -> tuple[SSAValue, ...]:
        rule = self.rule(op)
        return () if rule is None else rule.tied

    def seeds(self) -> list[tuple[TransposeOp, SSAValue, Perm]]:
        """(transpose, value, layout): a value next to a real transpose, in the layout that undoes it."""
        found = []
        for op in self.block.ops:
            if not isinstance(op, TransposeOp) or not op.output.uses:
                continue
            perm = op.perm.get_values()
            if transpose_cost(shape_of(op.input), perm) == (0, 0):
                continue
            if any(op.output in self._tied(use.operation) for use in op.output.uses):
                found.append((op, op.output, perm))
            if isinstance(op.input.owner, Operation) and op.input in self._tied(op.input.owner):
                found.append((op, op.input, invert(perm)))
        return found

    def grow(self, seed: SSAValue, perm: Perm, cautious: bool) -> _Region | None:
        layouts: dict[SSAValue, Perm] = {seed: perm}
        members: dict[Operation, LayoutRule] = {}
        queue = [seed]
        while queue:
            value = queue.pop()
            for op in _touching(value):
                rule = self.rule(op)
                if op in members or rule is None or value not in rule.tied:
                    continue
                known = {t: layouts[t] for t in rule.tied if t in layouts}
                proposed = rule.propagate(known)
                if proposed is None or any(proposed[t] != p for t, p in known.items()):
                    continue
                if cautious and self._needs_new_input_transposes(op, proposed, layouts):
                    continue
                members[op] = rule
                for t, p in proposed.items():
                    if t not in layouts:
                        layouts[t] = p
                        queue.append(t)
        return _Region(self.block, members, layouts) if members else None

    def _needs_new_input_transposes(self, op: Operation, proposed: Layouts, layouts: Layouts) -> bool:
        """Would `op` read an input from outside any region in a layout that costs a transpose?"""
        for operand in op.operands:
            if operand in layouts or operand not in proposed:
                continue
            if isinstance(operand.owner, Operation) and self.rule(operand.owner) is not None:
                continue  # may join the region
            layout = proposed[operand]
            if isinstance(producer := operand.owner, TransposeOp):
                cost = transpose_cost(shape_of(producer.input), compose(producer.perm.get_values(), invert(layout)))
            else:
                cost = transpose_cost(shape_of(operand), invert(layout))
            if cost != (0, 0):
                return True
        return False

    def best_region(self, seed: SSAValue, perm: Perm) -> _Region | None:
        """The region grown from `seed` whose rewrite lowers the cost most, if any does."""
        best: tuple[Cost, _Region] | None = None
        for cautious in (False, True):
            region = self.grow(seed, perm, cautious)
            if region is None:
                continue
            before, after = region.costs()
            if after < before and (best is None or after < best[0]):
                best = (after, region)
        return None if best is None else best[1]

    def run(self) -> None:
        """Rewrite paying regions, round after round, until none is left.

        Each rewrite lowers the block's transpose cost by what it predicts; a
        round that does not lower it ends the loop, which guarantees termination.
        """
        cost = _block_cost(self.block)
        while True:
            tried: set[tuple[SSAValue, Perm]] = set()
            for transpose, seed, perm in self.seeds():
                if transpose.parent is None or (seed, perm) in tried:
                    continue  # erased by an earlier rewrite of this round
                tried.add((seed, perm))
                if (region := self.best_region(seed, perm)) is not None:
                    _erase_dead(region.rewrite())
            cost, previous = _block_cost(self.block), cost
            if not cost < previous:
                return


def _erase_dead(candidates: Iterable[Operation]) -> None:
    """Erase the candidates nobody reads any more, and what only they read."""
    worklist = list(candidates)
    while worklist:
        op = worklist.pop()
        if op.parent is None or not isinstance(op, SimaOp) or any(r.uses for r in op.results):
            continue
        worklist.extend(v.owner for v in op.operands if isinstance(v.owner, Operation))
        Rewriter.erase_op(op)


def _block_cost(block: Block) -> Cost:
    cost = (0, 0)
    for op in block.ops:
        if isinstance(op, TransposeOp) and op.output.uses:
            cost = _add(cost, transpose_cost(shape_of(op.input), op.perm.get_values()))
    return cost


def _touching(value: SSAValue) -> Iterable[Operation]:
    if isinstance(value.owner, Operation):
        yield value.owner
    for use in value.uses:
        yield use.operation


def _cleanup_patterns(to_reshape: bool) -> list[RewritePattern]:
    patterns: list[RewritePattern] = [
        RemoveIdentityTranspose(),
        FoldTransposeChain(),
        MergeDuplicateTransposes(),
        FoldTransposeOfConstant(),
        FoldReshapeChain(),
        RemoveSameTypeConversion(),
    ]
    if to_reshape:
        patterns.append(ReshapeLikeTransposeToReshape())
    return patterns


@dataclass(frozen=True)
class CancelTransposesPass(ModulePass):
    """Move transposes through layout-agnostic ops so that inverse pairs meet and vanish."""

    name = "cancel-transposes"

    to_reshape: bool = True
    """Turn transposes that only move size-1 axes into reshapes."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        self._cleanup(op)
        blocks = {o.parent_block(): None for o in op.walk() if isinstance(o, TransposeOp)}
        for block in blocks:
            if block is not None and block.parent is not None:
                _BlockOptimizer(block).run()
        self._cleanup(op)

    def _cleanup(self, op: ModuleOp) -> None:
        walker = PatternRewriteWalker(
            GreedyRewritePatternApplier(_cleanup_patterns(self.to_reshape)), post_walk_func=region_dce
        )
        walker.rewrite_module(op)
