"""The quantize pass for data movement, pools and argmax.

- reshape, transpose, slice, split, expand, pad, nearest resize, max_pool,
  global_max_pool: the same op on the quantized tensor. They move or select
  values, so the result has the input's quantization (the calibrated
  quantization of the result is not used). A constant pad fills with the
  input's zero point, which stands for the real 0.0 the float op pads with.
- concat: the result has its calibrated quantization; inputs quantized
  differently are requantized to it (`sima.requantize`), float inputs are
  quantized straight to it.
- avg_pool / global_avg_pool -> `sima.qavg_pool` / `sima.qglobal_avg_pool`
  (window sums in int32, the divisor folded into the requantization).
- argmax: on the quantized input (quantization is monotonic); the index result
  is unchanged.
"""

from __future__ import annotations

from xdsl.ir import Operation, SSAValue

from passes.quantize_values import Fallback, OpRewrite, element_of, quantized_tensor
from sima_dialect import ops
from sima_dialect.quantized_ops import QAvgPoolOp, QGlobalAvgPoolOp


RETYPED_OPS = (
    ops.MaxPoolOp,
    ops.GlobalMaxPoolOp,
    ops.ReshapeOp,
    ops.TransposeOp,
    ops.SliceOp,
    ops.SplitOp,
    ops.ExpandOp,
    ops.PadOp,
    ops.ResizeOp,
)
"""The ops whose integer form is the same op on the quantized tensor (`quantize_retyped`)."""


def passes_quantization_through(op: Operation) -> bool:
    """Whether the integer form of `op` gives its result its input's quantization
    (the ops `quantize_retyped` handles, apart from the cases it refuses)."""
    if not isinstance(op, RETYPED_OPS):
        return False
    if isinstance(op, ops.ResizeOp):
        return op.mode.data == "nearest"
    if isinstance(op, ops.PadOp) and op.mode.data == "constant":
        return op.value.value.data == 0.0
    return True


def _same_op(rewrite: OpRewrite, operands: list[SSAValue], result_types, **changed) -> list[SSAValue]:
    """A copy of the float op on new operands, with new result types (and changed properties)."""
    op = rewrite.op
    properties = {name: value for name, value in op.properties.items() if name not in ("node", "target")}
    properties.update(changed)
    made = type(op).create(
        operands=operands, result_types=result_types, properties=properties, attributes=dict(op.attributes)
    )
    rewrite.add_main(made)
    return list(made.results)


def quantize_retyped(rewrite: OpRewrite) -> list[SSAValue]:
    op = rewrite.op
    if isinstance(op, ops.ResizeOp) and op.mode.data != "nearest":
        raise Fallback(f"{op.mode.data} resize has no integer form yet (only nearest resize moves values unchanged)")
    x = rewrite.operand(op.operands[0])
    element = element_of(x)
    changed = {}
    if isinstance(op, ops.PadOp) and op.mode.data == "constant":
        if op.value.value.data != 0.0:
            raise Fallback(f"a constant pad with {op.value.value.data} (the MLA pads with the zero point, real 0.0)")
        changed["value"] = ops.float_attr(element.zero_point_value)
    return _same_op(rewrite, [x], [quantized_tensor(r, element) for r in op.results], **changed)


def quantize_concat(rewrite: OpRewrite) -> list[SSAValue]:
    op = rewrite.op
    assert isinstance(op, ops.ConcatOp)
    output = rewrite.output_quantization()
    inputs = [rewrite.operand(value, output) for value in op.inputs]
    return _same_op(rewrite, inputs, [quantized_tensor(op.output, output)])


def quantize_avg_pool(rewrite: OpRewrite) -> list[SSAValue]:
    op = rewrite.op
    assert isinstance(op, ops.AvgPoolOp)
    x = rewrite.operand(op.input)
    pool = QAvgPoolOp.for_types(
        x,
        rewrite.output_quantization(),
        kernel=op.kernel.get_values(),
        strides=op.strides.get_values(),
        pads=op.pads.get_values(),
        count_include_pad=bool(op.count_include_pad.value.data),
    )
    rewrite.add_main(pool)
    return [pool.output]


def quantize_global_avg_pool(rewrite: OpRewrite) -> list[SSAValue]:
    op = rewrite.op
    assert isinstance(op, ops.GlobalAvgPoolOp)
    pool = QGlobalAvgPoolOp.for_types(rewrite.operand(op.input), rewrite.output_quantization())
    rewrite.add_main(pool)
    return [pool.output]


def quantize_argmax(rewrite: OpRewrite) -> list[SSAValue]:
    op = rewrite.op
    assert isinstance(op, ops.ArgMaxOp)
    return _same_op(rewrite, [rewrite.operand(op.input)], [op.output.type])
