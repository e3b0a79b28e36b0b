"""The operations of the `sima` dialect (float ops; quantized ops come later).

Conventions:
- activations are NHWC; convolution weights are HWIO (`[KH, KW, C_in/groups, C_out]`);
- window attributes: `strides = [sh, sw]`, `pads = [top, left, bottom, right]`,
  `dilations = [dh, dw]`;
- every op may carry `node = "MLA_0/conv2d_add_relu_0"`, its stable user-facing
  name, set by the `name-nodes` pass, and `target = "MLA" | "APU" | "CVU"`, the
  compute unit it runs on, set by the `partition` pass (see docs/quantized_ir.md);
- conv2d, conv2d_transpose and dense may carry a fused clamp after the bias,
  `act_min` / `act_max` (an absent bound is unbounded: relu is `act_min = 0.0`,
  relu6 `act_min = 0.0, act_max = 6.0`), set by the `fuse-activations` pass;
- every op verifies its result type against `sima_dialect.shapes`, so the
  printed IR is always shape-consistent; shapes are static (no `?`);
- integer properties are i64 (`int_attr`), integer lists `array<i64: ...>`
  (`int_array`), float properties any float (`float_attr` builds f32).

Custom syntax is uniform: operands, then properties in the attribute dictionary,
then the functional type:

    %1 = sima.conv2d %0, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>,
           dilations = array<i64: 1, 1>, groups = 1 : i64}
           : (tensor<1x8x8x3xf32>, tensor<3x3x3x16xf32>, tensor<16xf32>) -> tensor<1x8x8x16xf32>

Single-input shape-preserving ops use the shorter `%1 = sima.relu %0 : tensor<...>`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from xdsl.dialects.builtin import (
    BoolAttr,
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    Float32Type,
    I64,
    FloatAttr,
    IntegerAttr,
    IntegerType,
    StringAttr,
    TensorType,
    f32,
    i1,
    i32,
    i64,
)
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.irdl import (
    BaseAttr,
    IRDLOperation,
    VarConstraint,
    ParsePropInAttrDict,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.traits import ConstantLike, Pure
from xdsl.utils.exceptions import VerifyException

from sima_dialect import shapes
from sima_dialect.element_types import is_float_type
from sima_dialect.types import QuantizedType
from sima_dialect.weights import NDArrayAttr

# ---------------------------------------------------------------------------
# helpers shared by the verifiers and the builders

# Integer-list properties (strides, pads, axes, perm...) are `array<i64: ...>`
# and integer properties (axis, groups) are i64, as the helpers below build them.
I64_ARRAY = DenseArrayBase.constr(i64)
I64_INT = IntegerAttr[I64]


def int_array(values: Sequence[int]) -> DenseArrayBase:
    return DenseArrayBase.from_list(i64, [int(v) for v in values])


def int_attr(value: int) -> IntegerAttr:
    return IntegerAttr(int(value), i64)


def float_attr(value: float) -> FloatAttr:
    return FloatAttr(float(value), f32)


def shape_of(value: SSAValue | Attribute) -> tuple[int, ...]:
    value_type = value.type if isinstance(value, SSAValue) else value
    assert isinstance(value_type, TensorType)
    return value_type.get_shape()


def element_type_of(value: SSAValue) -> Attribute:
    assert isinstance(value.type, TensorType)
    return value.type.element_type


TARGETS = ("MLA", "APU", "CVU")
"""The compute units an op can be assigned to (the `target` property)."""


class SimaOp(IRDLOperation):
    """Base of every `sima` op: the optional user-facing node name and compute unit."""

    node = opt_prop_def(StringAttr)
    target = opt_prop_def(StringAttr)

    irdl_options = (ParsePropInAttrDict(),)
    traits = traits_def(Pure())

    @property
    def node_name(self) -> str | None:
        return None if self.node is None else self.node.data

    @property
    def target_name(self) -> str | None:
        return None if self.target is None else self.target.data

    def verify(self, verify_nested_ops: bool = True) -> None:
        # The shape rules need static, non-negative sizes: say so before they
        # compute with a `?` (a huge negative number) or a -1 built from Python.
        for value in (*self.operands, *self.results):
            if isinstance(value.type, TensorType) and any(d < 0 for d in value.type.get_shape()):
                static = value.type.has_static_shape()
                problem = "dimensions must not be negative" if static else "dynamic shapes are not supported"
                error = self.fail(f"{problem}, got {value.type}")
                self.emit_error(f"Operation does not verify: {error}", error)
        super().verify(verify_nested_ops)
        # after the IRDL checks, which make sure `target` is a string
        if self.target is not None and self.target.data not in TARGETS:
            error = self.fail(f"target must be one of {', '.join(repr(t) for t in TARGETS)}, got {self.target.data!r}")
            self.emit_error(f"Operation does not verify: {error}", error)

    def fail(self, message: str) -> VerifyException:
        where = f" '{self.node_name}'" if self.node_name else ""
        return VerifyException(f"{self.name}{where}: {message}")

    def check_shape(self, result: SSAValue, expected: Sequence[int], what: str = "result") -> None:
        actual = shape_of(result)
        if tuple(actual) != tuple(expected):
            raise self.fail(f"{what} shape {list(actual)} does not match the expected {list(expected)}")

    def check_same_element_type(self, *values: SSAValue) -> None:
        types = [element_type_of(v) for v in values]
        if any(t != types[0] for t in types[1:]):
            raise self.fail(f"element types must match, got {', '.join(str(t) for t in types)}")

    def check_float(self, *values: SSAValue) -> None:
        for v in values:
            if not is_float_type(element_type_of(v)):
                raise self.fail(f"expects a float tensor, got {v.type}")

    def shape_rule(self, rule, *args):
        """Run a `shapes` rule, turning its ShapeError into this op's verify error."""
        try:
            return rule(*args)
        except shapes.ShapeError as error:
            raise self.fail(str(error)) from None

    def check_choice(self, prop_name: str, value: str, allowed: Sequence[str]) -> None:
        if value not in allowed:
            raise self.fail(f"{prop_name} must be one of {', '.join(repr(a) for a in allowed)}, got {value!r}")


FUNCTIONAL_FORMAT = "operands attr-dict `:` functional-type(operands, results)"


# ---------------------------------------------------------------------------
# constants


@irdl_op_definition
class ConstantOp(SimaOp):
    """A constant tensor: a named weight (`#sima.ndarray`) or a small `dense<...>`."""

    name = "sima.constant"

    value = prop_def(NDArrayAttr | DenseIntOrFPElementsAttr)
    output = result_def(TensorType)

    traits = traits_def(Pure(), ConstantLike())

    # `sima.constant dense<1.0> : tensor<4xf32>` or `sima.constant #sima.ndarray<...>`:
    # both attributes carry their type, so the op prints no type of its own.
    @classmethod
    def parse(cls, parser: Parser) -> ConstantOp:
        start = parser.pos
        value = parser.parse_attribute()
        if not isinstance(value, NDArrayAttr | DenseIntOrFPElementsAttr):
            parser.raise_error(f"sima.constant expects a #sima.ndarray or dense<...> value, got {value}", start)
        extra = parser.parse_optional_attr_dict()
        op = ConstantOp(value)
        if "node" in extra:
            op.properties["node"] = extra.pop("node")
        op.attributes.update(extra)
        return op

    def print(self, printer: Printer) -> None:
        printer.print_string(" ")
        printer.print_attribute(self.value)
        extra: dict[str, Attribute] = dict(self.attributes)
        if self.node is not None:
            extra["node"] = self.node
        printer.print_op_attributes(extra)

    def __init__(self, value: NDArrayAttr | DenseIntOrFPElementsAttr, node: str | None = None):
        result_type = value.tensor_type if isinstance(value, NDArrayAttr) else value.get_type()
        props: dict[str, Attribute] = {"value": value}
        if node:
            props["node"] = StringAttr(node)
        super().__init__(properties=props, result_types=[result_type])

    @staticmethod
    def from_array(name: str, array: np.ndarray) -> ConstantOp:
        return ConstantOp(NDArrayAttr.from_array(name, array))

    def verify_(self) -> None:
        value_type = self.value.tensor_type if isinstance(self.value, NDArrayAttr) else self.value.get_type()
        if value_type != self.output.type:
            raise self.fail(f"value type {value_type} does not match result type {self.output.type}")

    def as_array(self) -> np.ndarray:
        if isinstance(self.value, NDArrayAttr):
            return self.value.array
        from sima_dialect.element_types import element_type_to_numpy

        values = self.value.get_values()
        dtype = element_type_to_numpy(self.value.get_element_type())
        shape = self.value.get_type().get_shape()
        return np.asarray(values, dtype=dtype).reshape(shape)


# ---------------------------------------------------------------------------
# elementwise


class UnaryElementwiseOp(SimaOp):
    """f(x) applied elementwise; result has the input's type."""

    T: ClassVar = VarConstraint("T", BaseAttr(TensorType))
    input = operand_def(T)
    output = result_def(T)

    assembly_format = "$input attr-dict `:` type($input)"

    def __init__(self, input: SSAValue | Operation, properties: dict[str, Attribute] | None = None):
        input_value = SSAValue.get(input)
        super().__init__(operands=[input_value], result_types=[input_value.type], properties=properties or {})

    def verify_(self) -> None:
        """Types are tied by the IRDL constraint; subclasses check their properties."""


def _unary(op_name: str, doc: str) -> type[UnaryElementwiseOp]:
    cls = type(
        op_name.split(".")[1].title().replace("_", "") + "Op",
        (UnaryElementwiseOp,),
        {"name": op_name, "__doc__": doc, "__module__": __name__},
    )
    return irdl_op_definition(cls)


ReluOp = _unary("sima.relu", "max(x, 0)")
SigmoidOp = _unary("sima.sigmoid", "1 / (1 + exp(-x))")
TanhOp = _unary("sima.tanh", "tanh(x)")
SiluOp = _unary("sima.silu", "x * sigmoid(x)")
HardSwishOp = _unary("sima.hard_swish", "x * relu6(x + 3) / 6")
ExpOp = _unary("sima.exp", "exp(x)")
LogOp = _unary("sima.log", "natural logarithm")
SqrtOp = _unary("sima.sqrt", "square root")
ErfOp = _unary("sima.erf", "Gauss error function")
ReciprocalOp = _unary("sima.reciprocal", "1 / x")
AbsOp = _unary("sima.abs", "|x|")
NegOp = _unary("sima.neg", "-x")


@irdl_op_definition
class ClipOp(UnaryElementwiseOp):
    """min(max(x, min), max); relu6 is clip [0, 6]."""

    name = "sima.clip"
    min = prop_def(FloatAttr)
    max = prop_def(FloatAttr)

    def verify_(self) -> None:
        super().verify_()
        if self.min.value.data > self.max.value.data:
            raise self.fail(f"min {self.min.value.data} is greater than max {self.max.value.data}")


@irdl_op_definition
class HardSigmoidOp(UnaryElementwiseOp):
    """max(0, min(1, alpha * x + beta))."""

    name = "sima.hard_sigmoid"
    alpha = prop_def(FloatAttr)
    beta = prop_def(FloatAttr)


@irdl_op_definition
class LeakyReluOp(UnaryElementwiseOp):
    """x if x >= 0 else alpha * x."""

    name = "sima.leaky_relu"
    alpha = prop_def(FloatAttr)


GELU_APPROXIMATIONS = ("none", "tanh")


@irdl_op_definition
class GeluOp(UnaryElementwiseOp):
    """x * Phi(x): exact (erf) with approximate = "none", or the tanh form."""

    name = "sima.gelu"
    approximate = prop_def(StringAttr)

    def verify_(self) -> None:
        super().verify_()
        self.check_choice("approximate", self.approximate.data, GELU_APPROXIMATIONS)


@irdl_op_definition
class SoftmaxOp(UnaryElementwiseOp):
    """Softmax along one axis."""

    name = "sima.softmax"
    axis = prop_def(I64_INT)

    def verify_(self) -> None:
        super().verify_()
        self.shape_rule(shapes.normalize_axis, self.axis.value.data, len(shape_of(self.input)))
        self.check_float(self.input)


class BinaryElementwiseOp(SimaOp):
    """lhs (op) rhs with NumPy broadcasting."""

    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    output = result_def(TensorType)

    assembly_format = FUNCTIONAL_FORMAT

    def verify_(self) -> None:
        self.check_same_element_type(self.lhs, self.rhs)
        expected = self.shape_rule(shapes.broadcast_shapes, shape_of(self.lhs), shape_of(self.rhs))
        self.check_shape(self.output, expected)
        self.check_result_element_type()

    def check_result_element_type(self) -> None:
        self.check_same_element_type(self.lhs, self.output)


def _binary(op_name: str, doc: str) -> type[BinaryElementwiseOp]:
    cls = type(
        op_name.split(".")[1].title().replace("_", "") + "Op",
        (BinaryElementwiseOp,),
        {"name": op_name, "__doc__": doc, "__module__": __name__},
    )
    return irdl_op_definition(cls)


AddOp = _binary("sima.add", "lhs + rhs")
SubOp = _binary("sima.sub", "lhs - rhs")
MulOp = _binary("sima.mul", "lhs * rhs")
DivOp = _binary("sima.div", "lhs / rhs")
PowOp = _binary("sima.pow", "lhs ** rhs")
MaximumOp = _binary("sima.maximum", "max(lhs, rhs)")
MinimumOp = _binary("sima.minimum", "min(lhs, rhs)")

COMPARISONS = ("eq", "ne", "lt", "le", "gt", "ge")


@irdl_op_definition
class CompareOp(BinaryElementwiseOp):
    """lhs (kind) rhs, broadcast, giving an i1 mask."""

    name = "sima.compare"
    kind = prop_def(StringAttr)

    def verify_(self) -> None:
        self.check_choice("kind", self.kind.data, COMPARISONS)
        super().verify_()

    def check_result_element_type(self) -> None:
        if element_type_of(self.output) != i1:
            raise self.fail(f"result must be an i1 tensor, got {self.output.type}")


@irdl_op_definition
class PreluOp(SimaOp):
    """x if x >= 0 else slope * x, slope broadcast to x."""

    name = "sima.prelu"
    input = operand_def(TensorType)
    slope = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def verify_(self) -> None:
        self.check_same_element_type(self.input, self.slope, self.output)
        expected = self.shape_rule(shapes.broadcast_shapes, shape_of(self.input), shape_of(self.slope))
        if tuple(expected) != shape_of(self.input):
            raise self.fail(f"slope shape {list(shape_of(self.slope))} must broadcast to the input shape {list(shape_of(self.input))}")
        self.check_shape(self.output, shape_of(self.input))


@irdl_op_definition
class WhereOp(SimaOp):
    """condition ? x : y, all three broadcast."""

    name = "sima.where"
    condition = operand_def(TensorType)
    true_value = operand_def(TensorType)
    false_value = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def verify_(self) -> None:
        if element_type_of(self.condition) != i1:
            raise self.fail(f"condition must be an i1 tensor, got {self.condition.type}")
        self.check_same_element_type(self.true_value, self.false_value, self.output)
        expected = self.shape_rule(
            shapes.broadcast_shapes, shape_of(self.condition), shape_of(self.true_value), shape_of(self.false_value)
        )
        self.check_shape(self.output, expected)


@irdl_op_definition
class CastOp(SimaOp):
    """Element type conversion (float->int truncates toward zero, as ONNX Cast)."""

    name = "sima.cast"
    input = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def verify_(self) -> None:
        self.check_shape(self.output, shape_of(self.input))


# ---------------------------------------------------------------------------
# convolution and matrix products


def _window_props(op: SimaOp) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    return op.strides.get_values(), op.pads.get_values(), op.dilations.get_values()


class FusedActivationOp(SimaOp):
    """An op that may clamp its result (after the bias) to [act_min, act_max].

    `fuse-activations` folds a following relu (act_min = 0) or clip into the op,
    so the MLA applies it in the same pass over the output. An absent bound is
    unbounded.
    """

    act_min = opt_prop_def(FloatAttr)
    act_max = opt_prop_def(FloatAttr)

    def activation_bounds(self) -> tuple[float, float]:
        """(act_min, act_max), with -inf / +inf for an absent bound."""
        low = -math.inf if self.act_min is None else self.act_min.value.data
        high = math.inf if self.act_max is None else self.act_max.value.data
        return low, high

    def check_activation(self) -> None:
        for name, bound in (("act_min", self.act_min), ("act_max", self.act_max)):
            if bound is not None and math.isnan(bound.value.data):
                raise self.fail(f"{name} must not be NaN")
        low, high = self.activation_bounds()
        if low > high:
            raise self.fail(f"act_min {low} is greater than act_max {high}")


@irdl_op_definition
class Conv2DOp(FusedActivationOp):
    """2-D convolution: NHWC input, HWIO weight, optional bias [C_out]."""

    name = "sima.conv2d"
    input = operand_def(TensorType)
    weight = operand_def(TensorType)
    bias = opt_operand_def(TensorType)
    strides = prop_def(I64_ARRAY)
    pads = prop_def(I64_ARRAY)
    dilations = prop_def(I64_ARRAY)
    groups = prop_def(I64_INT)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def verify_(self) -> None:
        strides, pads, dilations = _window_props(self)
        expected = self.shape_rule(
            shapes.conv2d_output_shape,
            shape_of(self.input),
            shape_of(self.weight),
            strides,
            pads,
            dilations,
            self.groups.value.data,
        )
        _check_bias(self, expected[-1])
        self.check_shape(self.output, expected)
        self.check_activation()


def _check_bias(op: SimaOp, channels: int) -> None:
    """The optional bias is [channels]; input, weight, bias and result share one element type."""
    if op.bias is not None and shape_of(op.bias) != (channels,):
        raise op.fail(f"bias shape {list(shape_of(op.bias))} must be [{channels}] (one per output channel)")
    op.check_same_element_type(*(v for v in (op.input, op.weight, op.bias, op.output) if v is not None))


@irdl_op_definition
class Conv2DTransposeOp(FusedActivationOp):
    """Transposed 2-D convolution: NHWC input, weight [KH, KW, C_in, C_out/groups]."""

    name = "sima.conv2d_transpose"
    input = operand_def(TensorType)
    weight = operand_def(TensorType)
    bias = opt_operand_def(TensorType)
    strides = prop_def(I64_ARRAY)
    pads = prop_def(I64_ARRAY)
    dilations = prop_def(I64_ARRAY)
    output_padding = prop_def(I64_ARRAY)
    groups = prop_def(I64_INT)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def verify_(self) -> None:
        strides, pads, dilations = _window_props(self)
        expected = self.shape_rule(
            shapes.conv2d_transpose_output_shape,
            shape_of(self.input),
            shape_of(self.weight),
            strides,
            pads,
            dilations,
            self.output_padding.get_values(),
            self.groups.value.data,
        )
        _check_bias(self, expected[-1])
        self.check_shape(self.output, expected)
        self.check_activation()


@irdl_op_definition
class MatMulOp(SimaOp):
    """Batched matrix product of two activations: [..., M, K] x [..., K, N]."""

    name = "sima.matmul"
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def verify_(self) -> None:
        self.check_same_element_type(self.lhs, self.rhs, self.output)
        expected = self.shape_rule(shapes.matmul_output_shape, shape_of(self.lhs), shape_of(self.rhs))
        self.check_shape(self.output, expected)


@irdl_op_definition
class DenseOp(FusedActivationOp):
    """Fully connected layer: [..., K] x weight [K, N] + optional bias [N]."""

    name = "sima.dense"
    input = operand_def(TensorType)
    weight = operand_def(TensorType)
    bias = opt_operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def verify_(self) -> None:
        expected = self.shape_rule(shapes.dense_output_shape, shape_of(self.input), shape_of(self.weight))
        _check_bias(self, expected[-1])
        self.check_shape(self.output, expected)
        self.check_activation()


# ---------------------------------------------------------------------------
# pooling


@irdl_op_definition
class MaxPoolOp(SimaOp):
    """Max pooling over NHWC windows (padding never wins the max)."""

    name = "sima.max_pool"
    input = operand_def(TensorType)
    kernel = prop_def(I64_ARRAY)
    strides = prop_def(I64_ARRAY)
    pads = prop_def(I64_ARRAY)
    dilations = prop_def(I64_ARRAY)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def verify_(self) -> None:
        strides, pads, dilations = _window_props(self)
        expected = self.shape_rule(
            shapes.pool_output_shape, shape_of(self.input), self.kernel.get_values(), strides, pads, dilations
        )
        self.check_shape(self.output, expected)
        self.check_same_element_type(self.input, self.output)


@irdl_op_definition
class AvgPoolOp(SimaOp):
    """Average pooling; `count_include_pad` says whether padding counts in the divisor."""

    name = "sima.avg_pool"
    input = operand_def(TensorType)
    kernel = prop_def(I64_ARRAY)
    strides = prop_def(I64_ARRAY)
    pads = prop_def(I64_ARRAY)
    count_include_pad = prop_def(BoolAttr)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def verify_(self) -> None:
        expected = self.shape_rule(
            shapes.pool_output_shape,
            shape_of(self.input),
            self.kernel.get_values(),
            self.strides.get_values(),
            self.pads.get_values(),
            (1, 1),
        )
        self.check_shape(self.output, expected)
        self.check_same_element_type(self.input, self.output)


class GlobalPoolOp(SimaOp):
    input = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def verify_(self) -> None:
        in_shape = shape_of(self.input)
        if len(in_shape) != 4:
            raise self.fail(f"input must be rank 4 (NHWC), got rank {len(in_shape)}")
        self.check_shape(self.output, (in_shape[0], 1, 1, in_shape[3]))
        self.check_same_element_type(self.input, self.output)


@irdl_op_definition
class GlobalAvgPoolOp(GlobalPoolOp):
    """Mean over H and W: [N, H, W, C] -> [N, 1, 1, C]."""

    name = "sima.global_avg_pool"


@irdl_op_definition
class GlobalMaxPoolOp(GlobalPoolOp):
    """Max over H and W: [N, H, W, C] -> [N, 1, 1, C]."""

    name = "sima.global_max_pool"


# ---------------------------------------------------------------------------
# data movement


@irdl_op_definition
class ConcatOp(SimaOp):
    """Concatenation along `axis`."""

    name = "sima.concat"
    inputs = var_operand_def(TensorType)
    axis = prop_def(I64_INT)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def verify_(self) -> None:
        self.check_same_element_type(*self.inputs, self.output)
        expected = self.shape_rule(shapes.concat_output_shape, [shape_of(v) for v in self.inputs], self.axis.value.data)
        self.check_shape(self.output, expected)


@irdl_op_definition
class SplitOp(SimaOp):
    """Split along `axis`; the result types give the piece sizes."""

    name = "sima.split"
    input = operand_def(TensorType)
    axis = prop_def(I64_INT)
    outputs = var_result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def verify_(self) -> None:
        in_shape = shape_of(self.input)
        axis = self.shape_rule(shapes.normalize_axis, self.axis.value.data, len(in_shape))
        out_shapes = [shape_of(v) for v in self.outputs]
        for i, out_shape in enumerate(out_shapes):
            if len(out_shape) != len(in_shape):
                raise self.fail(f"result {i} has rank {len(out_shape)}, but the input has rank {len(in_shape)}")
        expected = self.shape_rule(shapes.split_output_shapes, in_shape, [s[axis] for s in out_shapes], axis)
        for i, (result, expected_shape) in enumerate(zip(self.outputs, expected)):
            self.check_shape(result, expected_shape, what=f"result {i}")
        self.check_same_element_type(self.input, *self.outputs)


@irdl_op_definition
class SliceOp(SimaOp):
    """Static strided slice, one (start, end, step) per axis (`range` semantics)."""

    name = "sima.slice"
    input = operand_def(TensorType)
    starts = prop_def(I64_ARRAY)
    ends = prop_def(I64_ARRAY)
    steps = prop_def(I64_ARRAY)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def verify_(self) -> None:
        expected = self.shape_rule(
            shapes.slice_output_shape,
            shape_of(self.input),
            self.starts.get_values(),
            self.ends.get_values(),
            self.steps.get_values(),
        )
        self.check_shape(self.output, expected)
        self.check_same_element_type(self.input, self.output)


@irdl_op_definition
class ReshapeOp(SimaOp):
    """Row-major reshape to the result type's shape."""

    name = "sima.reshape"
    input = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def verify_(self) -> None:
        n_in, n_out = shapes.element_count(shape_of(self.input)), shapes.element_count(shape_of(self.output))
        if n_in != n_out:
            raise self.fail(f"cannot reshape {n_in} elements {list(shape_of(self.input))} into {n_out} elements {list(shape_of(self.output))}")
        self.check_same_element_type(self.input, self.output)


@irdl_op_definition
class TransposeOp(SimaOp):
    """Axis permutation: output dim i is input dim perm[i]."""

    name = "sima.transpose"
    input = operand_def(TensorType)
    perm = prop_def(I64_ARRAY)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def verify_(self) -> None:
        expected = self.shape_rule(shapes.transpose_output_shape, shape_of(self.input), self.perm.get_values())
        self.check_shape(self.output, expected)
        self.check_same_element_type(self.input, self.output)


PAD_MODES = ("constant", "reflect", "edge")


@irdl_op_definition
class PadOp(SimaOp):
    """Padding: `pads` = begins of every axis, then ends (as ONNX)."""

    name = "sima.pad"
    input = operand_def(TensorType)
    pads = prop_def(I64_ARRAY)
    mode = prop_def(StringAttr)
    value = prop_def(FloatAttr)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def verify_(self) -> None:
        self.check_choice("mode", self.mode.data, PAD_MODES)
        expected = self.shape_rule(shapes.pad_output_shape, shape_of(self.input), self.pads.get_values())
        self.check_shape(self.output, expected)
        self.check_same_element_type(self.input, self.output)
        quantized = element_type_of(self.input)
        # a quantized tensor pads with real 0: `value` is then the stored integer, its zero point
        if isinstance(quantized, QuantizedType) and self.mode.data == "constant":
            if self.value.value.data != quantized.zero_point_value:
                raise self.fail(
                    f"a quantized tensor pads with its zero point {quantized.zero_point_value}, got value {self.value.value.data}"
                )


RESIZE_MODES = ("nearest", "linear")
COORDINATE_MODES = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric")
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


@irdl_op_definition
class ResizeOp(SimaOp):
    """Spatial resize of an NHWC tensor to the result's H and W."""

    name = "sima.resize"
    input = operand_def(TensorType)
    mode = prop_def(StringAttr)
    coordinate_mode = prop_def(StringAttr)
    nearest_mode = prop_def(StringAttr)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def verify_(self) -> None:
        self.check_choice("mode", self.mode.data, RESIZE_MODES)
        self.check_choice("coordinate_mode", self.coordinate_mode.data, COORDINATE_MODES)
        self.check_choice("nearest_mode", self.nearest_mode.data, NEAREST_MODES)
        in_shape, out_shape = shape_of(self.input), shape_of(self.output)
        if len(in_shape) != 4 or len(out_shape) != 4:
            raise self.fail("input and result must be rank 4 (NHWC)")
        if in_shape[0] != out_shape[0] or in_shape[3] != out_shape[3]:
            raise self.fail(f"resize changes only H and W; got {list(in_shape)} -> {list(out_shape)}")
        # nearest resize only moves values, so it takes quantized tensors too
        if not (self.mode.data == "nearest" and isinstance(element_type_of(self.input), QuantizedType)):
            self.check_float(self.input)
        self.check_same_element_type(self.input, self.output)


@irdl_op_definition
class ExpandOp(SimaOp):
    """Broadcast the input to the result type's shape."""

    name = "sima.expand"
    input = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def verify_(self) -> None:
        out_shape = shape_of(self.output)
        expected = self.shape_rule(shapes.broadcast_shapes, shape_of(self.input), out_shape)
        if tuple(expected) != tuple(out_shape):
            raise self.fail(f"input {list(shape_of(self.input))} does not broadcast to {list(out_shape)}")
        self.check_same_element_type(self.input, self.output)


@irdl_op_definition
class GatherOp(SimaOp):
    """Take entries of `data` along `axis` at integer `indices` (embeddings)."""

    name = "sima.gather"
    data = operand_def(TensorType)
    indices = operand_def(TensorType)
    axis = prop_def(I64_INT)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def verify_(self) -> None:
        if not isinstance(element_type_of(self.indices), IntegerType) or element_type_of(self.indices) == i1:
            raise self.fail(f"indices must be an integer tensor, got {self.indices.type}")
        expected = self.shape_rule(
            shapes.gather_output_shape, shape_of(self.data), shape_of(self.indices), self.axis.value.data
        )
        self.check_shape(self.output, expected)
        self.check_same_element_type(self.data, self.output)


# ---------------------------------------------------------------------------
# normalisation and reductions


@irdl_op_definition
class LayerNormOp(SimaOp):
    """(x - mean) / sqrt(var + epsilon) * scale + bias over the axes from `axis` on."""

    name = "sima.layer_norm"
    input = operand_def(TensorType)
    scale = operand_def(TensorType)
    bias = opt_operand_def(TensorType)
    axis = prop_def(I64_INT)
    epsilon = prop_def(FloatAttr)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def verify_(self) -> None:
        in_shape = shape_of(self.input)
        axis = self.shape_rule(shapes.normalize_axis, self.axis.value.data, len(in_shape))
        normalized = tuple(in_shape[axis:])
        for what, value in (("scale", self.scale), ("bias", self.bias)):
            if value is not None:
                try:
                    fits = shapes.broadcast_shapes(normalized, shape_of(value)) == normalized
                except shapes.ShapeError:
                    fits = False
                if not fits:
                    raise self.fail(f"{what} shape {list(shape_of(value))} must broadcast to the normalized shape {list(normalized)}")
        if not self.epsilon.value.data > 0:
            raise self.fail(f"epsilon must be positive, got {self.epsilon.value.data}")
        self.check_float(self.input)
        self.check_same_element_type(*(v for v in (self.input, self.scale, self.bias, self.output) if v is not None))
        self.check_shape(self.output, in_shape)


REDUCE_KINDS = ("mean", "sum", "max", "min")


@irdl_op_definition
class ReduceOp(SimaOp):
    """Reduction (mean, sum, max, min) over `axes`."""

    name = "sima.reduce"
    input = operand_def(TensorType)
    kind = prop_def(StringAttr)
    axes = prop_def(I64_ARRAY)
    keepdims = prop_def(BoolAttr)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def verify_(self) -> None:
        self.check_choice("kind", self.kind.data, REDUCE_KINDS)
        expected = self.shape_rule(
            shapes.reduce_output_shape, shape_of(self.input), self.axes.get_values(), bool(self.keepdims.value.data)
        )
        self.check_shape(self.output, expected)
        self.check_same_element_type(self.input, self.output)


@irdl_op_definition
class ArgMaxOp(SimaOp):
    """Index of the maximum along `axis` (first occurrence), as an integer tensor."""

    name = "sima.argmax"
    input = operand_def(TensorType)
    axis = prop_def(I64_INT)
    keepdims = prop_def(BoolAttr)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def verify_(self) -> None:
        expected = self.shape_rule(
            shapes.reduce_output_shape, shape_of(self.input), (self.axis.value.data,), bool(self.keepdims.value.data)
        )
        self.check_shape(self.output, expected)
        out_type = element_type_of(self.output)
        if out_type not in (i32, i64):
            raise self.fail(f"result must be an i32 or i64 tensor, got {self.output.type}")


ALL_OPS: list[type[IRDLOperation]] = [
    ConstantOp,
    ReluOp,
    SigmoidOp,
    TanhOp,
    SiluOp,
    HardSwishOp,
    ExpOp,
    LogOp,
    SqrtOp,
    ErfOp,
    ReciprocalOp,
    AbsOp,
    NegOp,
    ClipOp,
    HardSigmoidOp,
    LeakyReluOp,
    GeluOp,
    SoftmaxOp,
    AddOp,
    SubOp,
    MulOp,
    DivOp,
    PowOp,
    MaximumOp,
    MinimumOp,
    CompareOp,
    PreluOp,
    WhereOp,
    CastOp,
    Conv2DOp,
    Conv2DTransposeOp,
    MatMulOp,
    DenseOp,
    MaxPoolOp,
    AvgPoolOp,
    GlobalAvgPoolOp,
    GlobalMaxPoolOp,
    ConcatOp,
    SplitOp,
    SliceOp,
    ReshapeOp,
    TransposeOp,
    PadOp,
    ResizeOp,
    ExpandOp,
    GatherOp,
    LayerNormOp,
    ReduceOp,
    ArgMaxOp,
]
