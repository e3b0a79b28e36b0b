"""The quantize pass for elementwise ops and matmul.

- add / sub / mul -> `sima.qadd` / `sima.qsub` / `sima.qmul` (TFLite's quantized
  arithmetic with 8-bit multipliers). A constant operand is quantized over its
  own range (`sima.quantize` of the float constant, which the runtime folds).
  An int16 x int16 product whose worst case overflows the int32 accumulator
  gets one operand requantized to symmetric int16 (zero point 0; see
  `_product_operands`).
- unary ops the MLA runs as lookup tables (sigmoid, hard_sigmoid, hard_swish,
  silu, tanh, gelu, leaky_relu, exp, erf, abs, neg, relu, clip; prelu with one
  slope) -> `sima.lut`, the table computed from the float function itself (the
  runtime's float kernel of the op): quantize(f(dequantize(q))) for every q.
- matmul of two activations -> `sima.qmatmul` (int8 inputs).
"""

from __future__ import annotations

import numpy as np
from xdsl.ir import SSAValue

from afe.ir.defines import quantization_from_range
from passes.quantize_values import Fallback, OpRewrite, calibrated_range, element_of, from_quantization
from runtime.integer_arithmetic import ACCUMULATOR_MAX, ACCUMULATOR_MIN, lookup_table
from runtime.kernels import KERNELS
from sima_dialect import ops
from sima_dialect.quantized_ops import LutOp, QAddOp, QMatMulOp, QMulOp, QSubOp, centered_range
from sima_dialect.types import QuantizedType

_BINARY = {ops.AddOp: QAddOp, ops.SubOp: QSubOp, ops.MulOp: QMulOp}

UNARY_FUNCTION_OPS = (
    ops.SigmoidOp,
    ops.HardSigmoidOp,
    ops.HardSwishOp,
    ops.SiluOp,
    ops.TanhOp,
    ops.GeluOp,
    ops.LeakyReluOp,
    ops.ExpOp,
    ops.ErfOp,
    ops.AbsOp,
    ops.NegOp,
    ops.ReluOp,
    ops.ClipOp,
)
"""Functions of one value with no parameter tensor: a lookup table of the float op
computes them exactly as the MLA does (the integer `sima.lut`, the bf16 table)."""


def _product_fits_int32(a: QuantizedType, b: QuantizedType) -> bool:
    corners = [x * y for x in centered_range(a) for y in centered_range(b)]
    return ACCUMULATOR_MIN <= min(corners) and max(corners) <= ACCUMULATOR_MAX


def _symmetric_cost(element: QuantizedType, asymmetric: bool) -> float:
    """How much coarser the symmetric quantization of the same range is (1 to 2)."""
    low, high = calibrated_range(element, asymmetric)
    return 2.0 * max(-low, high) / (high - low) if high > low else 1.0


def _product_operands(rewrite: OpRewrite, lhs: QuantizedType, rhs: QuantizedType) -> tuple[QuantizedType, QuantizedType]:
    """Operand quantizations whose product (q_1 - z_1) * (q_2 - z_2) always fits int32.

    Two int16 inputs with zero points can overflow it (65535 * 65535 > 2**31).
    One operand with zero point 0 cannot (32768 * 65535 < 2**31), so the
    operand whose range the symmetric int16 quantization covers at least cost
    (at most one bit) is requantized to it.
    """
    if _product_fits_int32(lhs, rhs):
        return lhs, rhs
    asymmetric = rewrite.options.asymmetric
    symmetric = {
        side: from_quantization(quantization_from_range(*calibrated_range(element, asymmetric), element.bits, False))
        for side, element in (("lhs", lhs), ("rhs", rhs))
    }
    if _symmetric_cost(lhs, asymmetric) < _symmetric_cost(rhs, asymmetric):
        return symmetric["lhs"], rhs
    return lhs, symmetric["rhs"]


def quantize_binary(rewrite: OpRewrite) -> list[SSAValue]:
    op = rewrite.op
    assert isinstance(op, ops.AddOp | ops.SubOp | ops.MulOp)
    output = rewrite.output_quantization()
    lhs_type = rewrite.operand_quantization(op.lhs, constant_bits=output.bits)
    rhs_type = rewrite.operand_quantization(op.rhs, constant_bits=output.bits)
    if isinstance(op, ops.MulOp):
        lhs_type, rhs_type = _product_operands(rewrite, lhs_type, rhs_type)
    lhs = rewrite.operand(op.lhs, lhs_type)
    rhs = rewrite.operand(op.rhs, rhs_type)
    made = rewrite.add_main(_BINARY[type(op)].for_types(lhs, rhs, output))
    return [made.results[0]]


def _uniform_slope(rewrite: OpRewrite, op: ops.PreluOp) -> np.ndarray:
    slope = rewrite.constant_operand(op.slope, "slope")
    if slope.size == 0 or not np.all(slope == slope.flat[0]):
        raise Fallback("prelu with a slope per channel has no lookup table (one table needs one slope)")
    return np.asarray(slope.flat[0], dtype=np.float32)


def float_function(rewrite: OpRewrite):
    """The float function of a unary op: the runtime's own float kernel, so the
    table and the float interpreter compute the same f."""
    op = rewrite.op
    if isinstance(op, ops.PreluOp):
        slope = _uniform_slope(rewrite, op)
        kernel = KERNELS[ops.PreluOp](op)
        return lambda x: kernel(x, slope)
    return KERNELS[type(op)](op)


def quantize_lookup(rewrite: OpRewrite) -> list[SSAValue]:
    op = rewrite.op
    function = float_function(rewrite)
    x = rewrite.operand(op.operands[0])
    source, output = element_of(x), rewrite.output_quantization()
    table = lookup_table(
        function,
        source.scale_value,
        source.zero_point_value,
        source.bits,
        output.scale_value,
        output.zero_point_value,
        output.bits,
    )
    lut = LutOp(x, rewrite.constant(f"{rewrite.node or op.name}.table", table), output)
    rewrite.add_main(lut)
    return [lut.output]


def quantize_matmul(rewrite: OpRewrite) -> list[SSAValue]:
    op = rewrite.op
    assert isinstance(op, ops.MatMulOp)
    output = rewrite.output_quantization()
    lhs = rewrite.operand(op.lhs, constant_bits=8)
    rhs = rewrite.operand(op.rhs, constant_bits=8)
    made = rewrite.add_main(QMatMulOp.for_types(lhs, rhs, output))
    return [made.results[0]]
