"""The MLA's bfloat16 ops of the `sima` dialect (the bfloat16 scheme).

A bfloat16 MLA region holds its activations as `tensor<... x bf16>`; it is
entered and left with `sima.cast` (f32 -> bf16 rounds to nearest even, bf16 ->
f32 is exact). The arithmetic is the "bfloat16" section of
`runtime.integer_arithmetic`'s docstring; `runtime.bfloat16` computes it.

    sima.bf16_conv2d     y = RN_bf16(clamp(RN_f32(RN_f32(sum x * w + bias) * scale)))
    sima.bf16_dense      the same for [..., K] x [K, N]
    sima.bf16_matmul     y = RN_bf16(RN_f32(sum a * b)), two activations
    sima.bf16_add / bf16_sub / bf16_mul   y = RN_bf16(RN_f32(a op b)), broadcast
    sima.bf16_lut        y = table[bits of x], 65536 bf16 entries
    sima.bf16_global_avg_pool  y = RN_bf16(RN_f32(RN_f32(sum_HW x) * RN_f32(1 / HW)))

conv2d / dense weights are bf16 (bf16 weight scheme; then scale is all ones)
or i8 (integer weights: scale = 1 / weight scale, bias in product units, as
`afe.ir.quantization_conv.get_bfloat16_with_int_weights_quant_params` gives
them); bias and scale are f32 tensors, one value per output channel. Data
movement ops of `sima_dialect.ops` take bf16 tensors as they are.
"""

from __future__ import annotations

from xdsl.dialects.builtin import BFloat16Type, IntegerType, StringAttr, TensorType, bf16, f32, i8
from xdsl.ir import Attribute, SSAValue
from xdsl.irdl import irdl_op_definition, operand_def, prop_def, result_def

from runtime.bfloat16 import BINARY_KINDS, TABLE_SIZE
from sima_dialect import shapes
from sima_dialect.ops import (
    FUNCTIONAL_FORMAT,
    I64_ARRAY,
    I64_INT,
    FusedActivationOp,
    SimaOp,
    element_type_of,
    shape_of,
)


def check_bf16(op: SimaOp, value: SSAValue, what: str) -> None:
    if not isinstance(element_type_of(value), BFloat16Type):
        raise op.fail(f"{what} must be a bf16 tensor, got {value.type}")


def _check_channel_vector(op: SimaOp, value: SSAValue, channels: int, what: str) -> None:
    if element_type_of(value) != f32 or shape_of(value) != (channels,):
        raise op.fail(f"{what} must be tensor<{channels}xf32> (one per output channel), got {value.type}")


class BF16GemmOp(FusedActivationOp):
    """Shared checks of bf16_conv2d / bf16_dense: bf16 input and result, bf16 or i8
    weights, f32 bias and scale per output channel."""

    input = operand_def(TensorType)
    weight = operand_def(TensorType)
    bias = operand_def(TensorType)
    scale = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def check_gemm(self, expected: tuple[int, ...]) -> None:
        check_bf16(self, self.input, "input")
        check_bf16(self, self.output, "result")
        weight = element_type_of(self.weight)
        if not (isinstance(weight, BFloat16Type) or weight == IntegerType(8)):
            raise self.fail(f"weight must be a bf16 or i8 tensor, got {self.weight.type}")
        _check_channel_vector(self, self.bias, expected[-1], "bias")
        _check_channel_vector(self, self.scale, expected[-1], "scale")
        self.check_shape(self.output, expected)
        self.check_activation()

    @property
    def int_weights(self) -> bool:
        return element_type_of(self.weight) == i8


@irdl_op_definition
class BF16Conv2DOp(BF16GemmOp):
    """bfloat16 2-D convolution: NHWC input, HWIO weight."""

    name = "sima.bf16_conv2d"
    strides = prop_def(I64_ARRAY)
    pads = prop_def(I64_ARRAY)
    dilations = prop_def(I64_ARRAY)
    groups = prop_def(I64_INT)

    def verify_(self) -> None:
        expected = self.shape_rule(
            shapes.conv2d_output_shape,
            shape_of(self.input),
            shape_of(self.weight),
            self.strides.get_values(),
            self.pads.get_values(),
            self.dilations.get_values(),
            self.groups.value.data,
        )
        self.check_gemm(expected)


@irdl_op_definition
class BF16DenseOp(BF16GemmOp):
    """bfloat16 fully connected layer: [..., K] x weight [K, N]."""

    name = "sima.bf16_dense"

    def verify_(self) -> None:
        self.check_gemm(self.shape_rule(shapes.dense_output_shape, shape_of(self.input), shape_of(self.weight)))


@irdl_op_definition
class BF16MatMulOp(SimaOp):
    """bfloat16 batched matrix product of two activations."""

    name = "sima.bf16_matmul"
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def verify_(self) -> None:
        for value, what in ((self.lhs, "lhs"), (self.rhs, "rhs"), (self.output, "result")):
            check_bf16(self, value, what)
        self.check_shape(self.output, self.shape_rule(shapes.matmul_output_shape, shape_of(self.lhs), shape_of(self.rhs)))


class BF16BinaryOp(SimaOp):
    """bfloat16 lhs (kind) rhs, broadcast; BF16_BINARY_OPS maps each kind to its op."""

    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def verify_(self) -> None:
        for value, what in ((self.lhs, "lhs"), (self.rhs, "rhs"), (self.output, "result")):
            check_bf16(self, value, what)
        self.check_shape(self.output, self.shape_rule(shapes.broadcast_shapes, shape_of(self.lhs), shape_of(self.rhs)))


def _binary(kind: str) -> type[BF16BinaryOp]:
    cls = type(
        f"BF16{kind.title()}Op",
        (BF16BinaryOp,),
        {"name": f"sima.bf16_{kind}", "__doc__": f"bfloat16 {kind}, broadcast", "__module__": __name__},
    )
    return irdl_op_definition(cls)


BF16_BINARY_OPS = {kind: _binary(kind) for kind in BINARY_KINDS}
BF16AddOp, BF16SubOp, BF16MulOp = BF16_BINARY_OPS["add"], BF16_BINARY_OPS["sub"], BF16_BINARY_OPS["mul"]


@irdl_op_definition
class BF16LutOp(SimaOp):
    """bfloat16 elementwise lookup: y = table[bit pattern of x] (65536 bf16 entries)."""

    name = "sima.bf16_lut"
    input = operand_def(TensorType)
    table = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def __init__(self, input: SSAValue, table: SSAValue, node: str | None = None):
        properties: dict[str, Attribute] = {} if node is None else {"node": StringAttr(node)}
        super().__init__(operands=[input, table], result_types=[input.type], properties=properties)

    def verify_(self) -> None:
        check_bf16(self, self.input, "input")
        check_bf16(self, self.output, "result")
        self.check_shape(self.output, shape_of(self.input))
        if shape_of(self.table) != (TABLE_SIZE,) or element_type_of(self.table) != bf16:
            raise self.fail(f"table must be tensor<{TABLE_SIZE}xbf16> (one entry per bf16 value), got {self.table.type}")


@irdl_op_definition
class BF16GlobalAvgPoolOp(SimaOp):
    """bfloat16 mean over H and W: [N, H, W, C] -> [N, 1, 1, C]."""

    name = "sima.bf16_global_avg_pool"
    input = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def verify_(self) -> None:
        check_bf16(self, self.input, "input")
        check_bf16(self, self.output, "result")
        in_shape = shape_of(self.input)
        if len(in_shape) != 4:
            raise self.fail(f"input must be rank 4 (NHWC), got rank {len(in_shape)}")
        self.check_shape(self.output, (in_shape[0], 1, 1, in_shape[3]))


BFLOAT16_OPS: list[type[SimaOp]] = [
    BF16Conv2DOp,
    BF16DenseOp,
    BF16MatMulOp,
    *BF16_BINARY_OPS.values(),
    BF16LutOp,
    BF16GlobalAvgPoolOp,
]
