"""The quantize pass for softmax: `sima.qsoftmax`.

The exp table is computed from the input's step (`integer_arithmetic.softmax_exp_table`);
the result keeps its calibrated quantization (the Q15 probability is
requantized to it), so a softmax whose outputs never reach 1.0 keeps the
finer step calibration found.
"""

from __future__ import annotations

from xdsl.ir import SSAValue

from passes.quantize_values import OpRewrite, element_of
from runtime.integer_arithmetic import softmax_exp_table
from sima_dialect import ops
from sima_dialect.quantized_ops import QSoftmaxOp


def quantize_softmax(rewrite: OpRewrite) -> list[SSAValue]:
    op = rewrite.op
    assert isinstance(op, ops.SoftmaxOp)
    x = rewrite.operand(op.input)
    source = element_of(x)
    table = rewrite.constant(f"{rewrite.node or op.name}.exp_table", softmax_exp_table(source.scale_value, source.bits))
    made = rewrite.add_main(QSoftmaxOp.for_types(x, table, rewrite.output_quantization(), axis=op.axis.value.data))
    return [made.results[0]]
