"""Which sima ops the MLA runs, and at which integer widths: THE support table.

The `partition` pass puts an op on the MLA when `mla_support(op)` finds it here;
the quantize pass asks `supports_bits(op, bits)` before giving an op 16-bit
activations. The rows follow the 8/16-bit operator table of seed 003 (the
operator names in `MlaSupport.operator` are the seed's):

| seed operator                        | sima ops                                          | 8 | 16 |
|--------------------------------------|---------------------------------------------------|---|----|
| Conv2DOperator                       | conv2d, dense (a 1x1 convolution on the MLA)      | y | y  |
| UpscaleOperator                      | conv2d_transpose, resize                          | y | y  |
| BatchMatMulOperator                  | matmul (two activations)                          | y | n  |
| BinaryElementwiseOperator            | add, sub, mul                                     | y | y  |
| BroadcastOperator                    | expand                                            | y | y  |
| ClipOperator / ReluOperator          | clip / relu                                       | y | n  |
| ConcatOperator / ConcatBatchOperator | concat (along axis 0: ConcatBatch)                | y | y / n |
| LayerNormOperator                    | layer_norm                                        | y | n  |
| PoolOperator                         | max_pool, avg_pool, global_avg/max_pool           | y | y  |
| PreluOperator                        | prelu                                             | y | n  |
| SliceOperator                        | slice, split (several slices)                     | y | y  |
| SoftmaxOperator                      | softmax                                           | y | y  |
| TransposeOperator                    | transpose                                         | y | n  |
| ArgMinMaxOperator                    | argmax                                            | y | n  |
| UDFOperator (lookup table)           | sigmoid, hard_sigmoid, hard_swish, silu, tanh,    | y | y  |
|                                      | gelu, leaky_relu, exp, erf, abs, neg              |   |    |
| (data movement, no arithmetic)       | reshape, pad (zero or edge/reflect padding)       | y | y  |

A lookup table covers any function of one value whose result is finite over
the whole input range, so log, sqrt and reciprocal (undefined or infinite at
or below zero) stay off the MLA. A constant pad with a non-zero value is APU:
the MLA pads with the input's zero point, which only stands for 0.0. Ops on
integer or boolean tensors (index arithmetic, masks, casts) are never MLA ops:
the MLA quantizes float tensors. Everything not in the table (div, pow,
maximum/minimum, compare, where, gather, reduce, cast, ...) runs in float on
the APU.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.dialects.builtin import TensorType
from xdsl.ir import Operation, SSAValue

from sima_dialect import ops
from sima_dialect.element_types import is_float_type


@dataclass(frozen=True)
class MlaSupport:
    """One row of the support table: the seed's operator name and the widths it runs at."""

    operator: str
    int8: bool
    int16: bool

    def supports(self, bits: int) -> bool:
        return {8: self.int8, 16: self.int16}.get(bits, False)


_BOTH = (True, True)
_INT8_ONLY = (True, False)


def _row(operator: str, widths: tuple[bool, bool]) -> MlaSupport:
    return MlaSupport(operator, *widths)


_LOOKUP_TABLE = _row("UDFOperator", _BOTH)

MLA_SUPPORT: dict[type[ops.SimaOp], MlaSupport] = {
    ops.Conv2DOp: _row("Conv2DOperator", _BOTH),
    ops.DenseOp: _row("Conv2DOperator", _BOTH),
    ops.Conv2DTransposeOp: _row("UpscaleOperator", _BOTH),
    ops.ResizeOp: _row("UpscaleOperator", _BOTH),
    ops.MatMulOp: _row("BatchMatMulOperator", _INT8_ONLY),
    ops.AddOp: _row("BinaryElementwiseOperator", _BOTH),
    ops.SubOp: _row("BinaryElementwiseOperator", _BOTH),
    ops.MulOp: _row("BinaryElementwiseOperator", _BOTH),
    ops.ExpandOp: _row("BroadcastOperator", _BOTH),
    ops.ClipOp: _row("ClipOperator", _INT8_ONLY),
    ops.ReluOp: _row("ReluOperator", _INT8_ONLY),
    ops.ConcatOp: _row("ConcatOperator", _BOTH),
    ops.LayerNormOp: _row("LayerNormOperator", _INT8_ONLY),
    ops.MaxPoolOp: _row("PoolOperator", _BOTH),
    ops.AvgPoolOp: _row("PoolOperator", _BOTH),
    ops.GlobalAvgPoolOp: _row("PoolOperator", _BOTH),
    ops.GlobalMaxPoolOp: _row("PoolOperator", _BOTH),
    ops.PreluOp: _row("PreluOperator", _INT8_ONLY),
    ops.SliceOp: _row("SliceOperator", _BOTH),
    ops.SplitOp: _row("SliceOperator", _BOTH),
    ops.SoftmaxOp: _row("SoftmaxOperator", _BOTH),
    ops.TransposeOp: _row("TransposeOperator", _INT8_ONLY),
    ops.ArgMaxOp: _row("ArgMinMaxOperator", _INT8_ONLY),
    ops.ReshapeOp: _row("DataMovement", _BOTH),
    ops.PadOp: _row("DataMovement", _BOTH),
    ops.SigmoidOp: _LOOKUP_TABLE,
    ops.HardSigmoidOp: _LOOKUP_TABLE,
    ops.HardSwishOp: _LOOKUP_TABLE,
    ops.SiluOp: _LOOKUP_TABLE,
    ops.TanhOp: _LOOKUP_TABLE,
    ops.GeluOp: _LOOKUP_TABLE,
    ops.LeakyReluOp: _LOOKUP_TABLE,
    ops.ExpOp: _LOOKUP_TABLE,
    ops.ErfOp: _LOOKUP_TABLE,
    ops.AbsOp: _LOOKUP_TABLE,
    ops.NegOp: _LOOKUP_TABLE,
}

_CONCAT_BATCH = _row("ConcatBatchOperator", _INT8_ONLY)


def _is_float_tensor(value: SSAValue) -> bool:
    return isinstance(value.type, TensorType) and is_float_type(value.type.element_type)


def _quantizable_tensors(op: Operation) -> bool:
    """The tensors the MLA would hold are float (argmax's index result aside)."""
    values = list(op.operands) if isinstance(op, ops.ArgMaxOp) else [*op.operands, *op.results]
    return all(_is_float_tensor(v) for v in values)


def mla_support(op: Operation) -> MlaSupport | None:
    """The support-table row of `op` if the MLA runs it, else None (the op is APU)."""
    row = MLA_SUPPORT.get(type(op))
    if row is None or not _quantizable_tensors(op):
        return None
    if isinstance(op, ops.PadOp) and op.mode.data == "constant" and op.value.value.data != 0.0:
        return None
    if isinstance(op, ops.ConcatOp) and op.axis.value.data % len(ops.shape_of(op.output)) == 0:
        return _CONCAT_BATCH
    return row


def supports_bits(op: Operation, bits: int) -> bool:
    """Whether the MLA runs `op` with `bits`-bit (8 or 16) activations."""
    row = mla_support(op)
    return row is not None and row.supports(bits)
