"""`fuse-activations`: fold a relu or clip into the conv2d / conv2d_transpose / dense before it.

    %0 = sima.conv2d %x, %w, %b {...}                  %0 = sima.conv2d %x, %w, %b {..., act_min = 0.0 : f32}
    %1 = sima.relu %0                          ->
    (uses of %1)                                        (uses of %0)

relu becomes `act_min = 0.0`; clip [a, b] (relu6 is [0, 6]) becomes
`act_min = a, act_max = b` (an infinite bound is left out). The MLA applies the
clamp while it writes the output, so the fused op is one node
(`conv2d_add_relu`, as the seeds name it) with one quantized output whose
range starts where the activation's does. A residual `add` after a conv is not
fused: the seeds' `conv2d_add` is the convolution plus its bias.

The float function is unchanged: the runtime clamps the fused op's result with
the same NumPy call the relu / clip kernel makes.

An activation is fused only when its input has no other use. Another user of
the pre-activation tensor (a branch, a graph output) still needs the
unclamped values, which would no longer exist. That includes a `sima.observe`:
a calibration observer on the pre-activation tensor records a range the fused
op never outputs, and removing the tensor would leave the observer without
its input. So run this pass before `insert-observers`, as the flow in
docs/quantized_ir.md does; on IR that is already observed it leaves every
observed conv alone. A clamp already on the op is intersected with the new one
(clamping to [a1, b1] then [a2, b2] is clamping to their intersection when it
is not empty; an empty intersection is not fused).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from sima_dialect.element_types import is_float_type
from sima_dialect.ops import ClipOp, FusedActivationOp, ReluOp, float_attr


def activation_range(op: ReluOp | ClipOp) -> tuple[float, float]:
    """The interval a relu or clip clamps to."""
    if isinstance(op, ReluOp):
        return 0.0, math.inf
    return op.min.value.data, op.max.value.data


class FuseActivationIntoProducer(RewritePattern):
    """relu / clip of a conv2d, conv2d_transpose or dense used only there -> the op's act_min / act_max."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: ReluOp | ClipOp, rewriter: PatternRewriter) -> None:
        producer = op.input.owner
        if not isinstance(producer, FusedActivationOp) or not op.input.has_one_use():
            return
        if not isinstance(op.input.type, TensorType) or not is_float_type(op.input.type.element_type):
            return
        low, high = activation_range(op)
        fused_low, fused_high = producer.activation_bounds()
        low, high = max(low, fused_low), min(high, fused_high)
        if not low <= high:
            return
        for name, bound, unbounded in (("act_min", low, -math.inf), ("act_max", high, math.inf)):
            if bound == unbounded:
                producer.properties.pop(name, None)
            else:
                producer.properties[name] = float_attr(bound)
        if producer.node is None and op.node is not None:
            producer.properties["node"] = op.node
        rewriter.replace(op, [], [producer.output])
        rewriter.handle_operation_modification(producer)


@dataclass(frozen=True)
class FuseActivationsPass(ModulePass):
    """Fold relu / clip into the conv2d, conv2d_transpose or dense that feeds only them."""

    name = "fuse-activations"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(FuseActivationIntoProducer(), apply_recursively=True).rewrite_module(op)
