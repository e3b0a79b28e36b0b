"""Folding of data-movement and cast ops applied to a `sima.constant`.

Each pattern computes the result with NumPy and replaces the op by a new
constant; the original constant stays while something else still uses it
(dead-code elimination removes it otherwise). Weights elided from the textual
IR have no data and are never folded.
"""

from __future__ import annotations

import numpy as np
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern, op_type_rewrite_pattern

from sima_dialect.element_types import element_type_to_numpy
from sima_dialect.ops import CastOp, ConstantOp, ReshapeOp, TransposeOp, element_type_of, shape_of
from sima_dialect.types import QuantizedType
from passes.patterns import builders


def _constant_input(op: ReshapeOp | TransposeOp | CastOp) -> tuple[ConstantOp, np.ndarray] | None:
    source = op.input.owner
    if not isinstance(source, ConstantOp):
        return None
    array = builders.constant_array(source)
    return None if array is None else (source, array)


class FoldTransposeOfConstant(RewritePattern):
    """transpose(constant) -> constant (weight `<name>.transpose`)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: TransposeOp, rewriter: PatternRewriter) -> None:
        if (found := _constant_input(op)) is None:
            return
        source, array = found
        folded = np.transpose(array, op.perm.get_values())
        rewriter.replace(op, builders.derived_constant(source, folded, "transpose"))


class FoldReshapeOfConstant(RewritePattern):
    """reshape(constant) -> constant (weight `<name>.reshape`)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: ReshapeOp, rewriter: PatternRewriter) -> None:
        if (found := _constant_input(op)) is None:
            return
        source, array = found
        folded = array.reshape(shape_of(op.output))
        rewriter.replace(op, builders.derived_constant(source, folded, "reshape"))


def exact_cast(array: np.ndarray, dtype: np.dtype) -> np.ndarray | None:
    """`array` cast as `sima.cast` does (float -> int truncates toward zero), or None
    when the result is not fully defined: NaN, infinity or out-of-range values cast
    to an integer type, whose result would depend on the platform."""
    if dtype == np.bool_ or not np.issubdtype(dtype, np.integer):
        return array.astype(dtype)
    values = array
    if not np.issubdtype(array.dtype, np.integer) and array.dtype != np.bool_:
        values = np.trunc(array.astype(np.float64))
        if not np.all(np.isfinite(values)):
            return None
    info = np.iinfo(dtype)
    if values.size and (values.min() < info.min or values.max() > info.max):
        return None
    return values.astype(dtype)


class FoldCastOfConstant(RewritePattern):
    """cast(constant) -> constant (weight `<name>.cast`) when the cast is defined for every value."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: CastOp, rewriter: PatternRewriter) -> None:
        if (found := _constant_input(op)) is None:
            return
        source, array = found
        target = element_type_of(op.output)
        if isinstance(target, QuantizedType) or isinstance(element_type_of(op.input), QuantizedType):
            return  # casts into or out of !sima.quant involve a scale: not a plain conversion
        try:
            dtype = element_type_to_numpy(target)
        except ValueError:
            return
        folded = exact_cast(array, dtype)
        if folded is not None:
            rewriter.replace(op, builders.derived_constant(source, folded, "cast"))


CONSTANT_FOLDING_PATTERNS: tuple[RewritePattern, ...] = (
    FoldTransposeOfConstant(),
    FoldReshapeOfConstant(),
    FoldCastOfConstant(),
)
