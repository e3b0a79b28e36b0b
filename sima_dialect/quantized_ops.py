"""The quantized ops of the `sima` dialect: the MLA's integer ops and the float boundary.

The design is docs/quantized_ir.md; the arithmetic is `runtime.integer_arithmetic`,
whose module docstring is its specification. Each op's docstring gives its
formula and names the function of that module that computes it; the kernels
(`runtime/integer_kernels/`) call exactly those functions.

Types: a quantized activation is `tensor<... x !sima.quant<iN, step:zero_point>>`
(real = step * (q - zero_point)); weights are plain `i8` tensors, biases plain
`i32` tensors, lookup tables plain `i8` / `i16` tensors (constants, printed
elided like every weight). Below, z_x is the zero point of x's type and
R = (M, n, z_out) is the TFLite requantization

    R(A) = sat_out(rshift_half_away(A * M, n) + z_out)     M in [1, 127], n in [0, 38]

with z_out the zero point of the result type. `<< L` is an exact left shift
whose result must fit int32 (`left_shift`, in [0, 31]).

    sima.quantize        f32 -> quant:  sat(round_half_away(x / step) + z)
    sima.dequantize      quant -> f32:  (q - z) * step, rounded once to f32
    sima.requantize      quant -> quant: R((q - z_in) << L)
    sima.qconv2d         conv2d of int8 / int16 input and int8 weights: requantize(P + bias)
    sima.qdense          the same for [..., K] x [K, N]
    sima.qmatmul         int8 x int8 activations: R((sum (a - z_a)(b - z_b)) << L)
    sima.qadd / qsub     R(t_lhs +- t_rhs), t = rshift_half_away(((q - z) << L) * M_i, n_i)
    sima.qmul            R(((a - z_a) * (b - z_b)) << L)
    sima.lut             table[q - min]
    sima.qavg_pool       R_c(sum over the window of (q - z_in)), R_c for c valid taps
    sima.qglobal_avg_pool  R(sum over H, W of (q - z_in)), the divisor in M
    sima.qsoftmax        exp table of (max - q), Q15 divide by the sum, R(p)
    sima.qlayer_norm     integer mean / variance / inverse sqrt, z * gamma + beta, shifted
    sima.qconv2d_transpose  qconv2d over the zero-point-stuffed input, flipped weights
    sima.qresize_linear  bilinear blend with Q15 weights, same quantization in and out
    sima.qprelu          per-channel signed multiplier on the negative side

Every op verifies the element types it needs, the ranges of its integer
constants and, where the operand types bound them, that its worst-case
intermediates fit int32 (the MLA model: a plan that could overflow is a bug).
The data-movement ops of `sima_dialect.ops` (reshape, transpose, slice, split,
concat, pad, expand, max pools, nearest resize) take quantized tensors as they
are, with the same quantization in and out.

The arithmetic of softmax, layer norm, the transposed convolution, linear
resize and per-channel prelu has its own section in `runtime.integer_arithmetic`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from xdsl.dialects.builtin import BoolAttr, IntegerType, StringAttr, TensorType, UnitAttr, f32
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.irdl import irdl_op_definition, operand_def, opt_prop_def, prop_def, result_def

from afe.ir.tensor_type import ScalarType, signed_integer_type
from runtime.integer_arithmetic import (
    ACCUMULATOR_MAX,
    ACCUMULATOR_MIN,
    ARITH_FOLDED_MAX_SHIFT,
    INTRINSIC_SHIFT_HI,
    INTRINSIC_SHIFT_LO,
    MAX_LEFT_SHIFT,
    ADD_LEFT_SHIFT_INT8,
    ADD_LEFT_SHIFT_INT16,
    TFLITE_MAX_SHIFT,
    TFLITE_MULTIPLIER_MAX,
    ArithFoldedRequantization,
    BaseRequantization,
    InputRescale,
    TFLiteRequantization,
    shift_right_round_half_away,
    LAYER_NORM_MAX_EPSILON,
    LAYER_NORM_MAX_LENGTH,
    SIGNED_MULTIPLIER_MAX,
    SOFTMAX_MAX_LENGTH,
    SOFTMAX_PROB_BITS,
)
from sima_dialect import shapes
from sima_dialect.element_types import is_float_type
from sima_dialect.ops import (
    COORDINATE_MODES,
    FUNCTIONAL_FORMAT,
    I64_ARRAY,
    I64_INT,
    SimaOp,
    element_type_of,
    int_array,
    int_attr,
    shape_of,
)
from sima_dialect.types import QuantizedType

# ---------------------------------------------------------------------------
# helpers shared by the verifiers


def quantized_type_of(op: SimaOp, value: SSAValue, what: str, widths: Sequence[int] = (8, 16)) -> QuantizedType:
    """The `!sima.quant` element type of `value`, which must have one of the storage widths."""
    element = element_type_of(value)
    if not isinstance(element, QuantizedType) or element.bits not in widths:
        storage = " or ".join(f"i{w}" for w in widths)
        raise op.fail(f"{what} must be a tensor of !sima.quant<{storage}, ...>, got {value.type}")
    return element


def check_integer_tensor(op: SimaOp, value: SSAValue, width: int, what: str) -> None:
    if element_type_of(value) != IntegerType(width):
        raise op.fail(f"{what} must be a tensor of i{width}, got {value.type}")


def values_of(prop) -> tuple[int, ...]:
    return tuple(int(v) for v in prop.get_values())


def check_range(op: SimaOp, name: str, values: Sequence[int], low: int, high: int) -> None:
    if any(not low <= v <= high for v in values):
        raise op.fail(f"{name} must be in [{low}, {high}], got {list(values)}")


def check_per_channel(op: SimaOp, name: str, values: Sequence[int], channels: int) -> None:
    if len(values) not in (1, channels):
        raise op.fail(f"{name} must hold 1 value or {channels} (one per output channel), got {len(values)}")


def centered_range(quantized: QuantizedType) -> tuple[int, int]:
    """The range of q - zero_point over every q of the storage type."""
    low, high = -(1 << (quantized.bits - 1)), (1 << (quantized.bits - 1)) - 1
    return low - quantized.zero_point_value, high - quantized.zero_point_value


def check_int32(op: SimaOp, what: str, low: int, high: int) -> None:
    """The worst case [low, high] of an intermediate must fit the int32 accumulator."""
    if low < ACCUMULATOR_MIN or high > ACCUMULATOR_MAX:
        raise op.fail(f"{what} can reach [{low}, {high}], which does not fit int32")


def storage_type(quantized: QuantizedType) -> ScalarType:
    return signed_integer_type(quantized.bits)


def _round_half_away(a: int, n: int) -> int:
    return int(shift_right_round_half_away(np.int64(a), n))


def tflite_constants(real_scale: float, what: str) -> tuple[int, int, int]:
    """(left_shift, multiplier, shift) with multiplier * 2**(left_shift - shift) ~ real_scale.

    The 8-bit multiplier (in [64, 127]) and shift come from the planner's
    rounding (`afe.ir.quantization_conv.ConvPlanRequantization`); a factor of
    127.5 or more needs a left shift instead of a negative shift.
    """
    from afe.ir.quantization_conv import ConvPlanRequantization  # the planner imports the runtime, not the dialect

    plan = ConvPlanRequantization.from_scale(np.asarray(float(real_scale)), has_multiplier=True)
    shift, multiplier = int(plan.shift), int(plan.multiplier)
    left_shift = max(0, -shift)
    shift = max(0, shift)
    if shift > TFLITE_MAX_SHIFT or left_shift > MAX_LEFT_SHIFT:
        raise ValueError(
            f"{what}: the real factor {real_scale!r} is outside what an 8-bit multiplier with a shift "
            f"in [-{MAX_LEFT_SHIFT}, {TFLITE_MAX_SHIFT}] represents"
        )
    return left_shift, multiplier, shift


def _result_type(shape: Sequence[int], element_type: Attribute) -> TensorType:
    return TensorType(element_type, list(shape))


def _node(properties: dict[str, Attribute], node: str | None) -> dict[str, Attribute]:
    if node:
        properties["node"] = StringAttr(node)
    return properties


def _quantized_element(value: SSAValue, what: str) -> QuantizedType:
    element = value.type.element_type if isinstance(value.type, TensorType) else None
    if not isinstance(element, QuantizedType):
        raise ValueError(f"{what} must be a quantized tensor, got {value.type}")
    return element


# ---------------------------------------------------------------------------
# the float boundary


@irdl_op_definition
class QuantizeOp(SimaOp):
    """Float to quantized: q = sat(round_half_away_from_zero(x / step) + zero_point).

    x / step is the exact quotient (ties decided exactly), the result type gives
    step, zero point and storage (i8, i16 or i32); NaN is an error
    (`integer_arithmetic.quantize`).
    """

    name = "sima.quantize"
    input = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def __init__(self, input: SSAValue | Operation, element_type: QuantizedType, node: str | None = None):
        value = SSAValue.get(input)
        super().__init__(
            operands=[value], result_types=[_result_type(shape_of(value), element_type)], properties=_node({}, node)
        )

    def verify_(self) -> None:
        if not is_float_type(element_type_of(self.input)):
            raise self.fail(f"input must be a float tensor, got {self.input.type}")
        quantized_type_of(self, self.output, "result", (8, 16, 32))
        self.check_shape(self.output, shape_of(self.input))


@irdl_op_definition
class DequantizeOp(SimaOp):
    """Quantized to f32: (q - zero_point) * step, the exact product rounded once to
    the nearest float32 (`integer_arithmetic.dequantize`)."""

    name = "sima.dequantize"
    input = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def __init__(self, input: SSAValue | Operation, node: str | None = None):
        value = SSAValue.get(input)
        super().__init__(operands=[value], result_types=[_result_type(shape_of(value), f32)], properties=_node({}, node))

    def verify_(self) -> None:
        quantized_type_of(self, self.input, "input", (8, 16, 32))
        if element_type_of(self.output) != f32:
            raise self.fail(f"result must be an f32 tensor, got {self.output.type}")
        self.check_shape(self.output, shape_of(self.input))


# ---------------------------------------------------------------------------
# ops ending with one TFLite requantization


class RescaledOp(SimaOp):
    """An op whose integer result A ends with R(A << left_shift), R = (multiplier,
    shift, zero point of the result type): the TFLite requantization."""

    multiplier = prop_def(I64_INT)
    shift = prop_def(I64_INT)
    left_shift = prop_def(I64_INT)

    def verify_rescale(self) -> None:
        check_range(self, "multiplier", [self.multiplier.value.data], 1, TFLITE_MULTIPLIER_MAX)
        check_range(self, "shift", [self.shift.value.data], 0, TFLITE_MAX_SHIFT)
        check_range(self, "left_shift", [self.left_shift.value.data], 0, MAX_LEFT_SHIFT)

    def check_shifted_int32(self, what: str, low: int, high: int) -> None:
        """The worst case of A, and of A << left_shift, fit int32."""
        check_int32(self, what, low, high)
        left = self.left_shift.value.data
        if left:
            check_int32(self, f"{what} << {left}", low << left, high << left)

    def requantization(self) -> TFLiteRequantization:
        zero_point = _quantized_element(self.results[0], "result").zero_point_value
        return TFLiteRequantization(np.int64(self.multiplier.value.data), np.int64(self.shift.value.data), zero_point)

    @staticmethod
    def rescale_properties(multiplier: int, shift: int, left_shift: int) -> dict[str, Attribute]:
        return {"multiplier": int_attr(multiplier), "shift": int_attr(shift), "left_shift": int_attr(left_shift)}


@irdl_op_definition
class RequantizeOp(RescaledOp):
    """Change of quantization, same shape: y = R((q - z_in) << left_shift)
    (`integer_arithmetic.requantize_integers`); M * 2**(left_shift - shift) ~ step_in / step_out."""

    name = "sima.requantize"
    input = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def __init__(
        self,
        input: SSAValue | Operation,
        element_type: QuantizedType,
        *,
        multiplier: int,
        shift: int,
        left_shift: int = 0,
        node: str | None = None,
    ):
        value = SSAValue.get(input)
        super().__init__(
            operands=[value],
            result_types=[_result_type(shape_of(value), element_type)],
            properties=_node(self.rescale_properties(multiplier, shift, left_shift), node),
        )

    @classmethod
    def for_types(cls, input: SSAValue | Operation, element_type: QuantizedType, node: str | None = None) -> RequantizeOp:
        """The requantization from the input's quantization to `element_type`."""
        source = _quantized_element(SSAValue.get(input), "requantize input")
        left, multiplier, shift = tflite_constants(source.scale_value / element_type.scale_value, "requantize")
        return cls(input, element_type, multiplier=multiplier, shift=shift, left_shift=left, node=node)

    def verify_(self) -> None:
        source = quantized_type_of(self, self.input, "input", (8, 16, 32))
        quantized_type_of(self, self.output, "result", (8, 16, 32))
        self.check_shape(self.output, shape_of(self.input))
        self.verify_rescale()
        self.check_shifted_int32("q - zero point", *centered_range(source))


class _ProductOfTwo:
    """Builders shared by the ops whose result is R(product of two centred
    quantized inputs): they differ only in the shape rule of their result."""

    PRODUCT_SHAPE: ClassVar = staticmethod(shapes.broadcast_shapes)

    def __init__(
        self,
        lhs: SSAValue | Operation,
        rhs: SSAValue | Operation,
        element_type: QuantizedType,
        *,
        multiplier: int,
        shift: int,
        left_shift: int = 0,
        node: str | None = None,
    ):
        a, b = SSAValue.get(lhs), SSAValue.get(rhs)
        shape = self.PRODUCT_SHAPE(shape_of(a), shape_of(b))
        super().__init__(
            operands=[a, b],
            result_types=[_result_type(shape, element_type)],
            properties=_node(RescaledOp.rescale_properties(multiplier, shift, left_shift), node),
        )

    @classmethod
    def for_types(
        cls, lhs: SSAValue | Operation, rhs: SSAValue | Operation, element_type: QuantizedType, node: str | None = None
    ):
        """Constants for M * 2**(left_shift - shift) ~ step_lhs * step_rhs / step_out."""
        label = cls.name.split(".")[1]
        a = _quantized_element(SSAValue.get(lhs), f"{label} lhs")
        b = _quantized_element(SSAValue.get(rhs), f"{label} rhs")
        left, multiplier, shift = tflite_constants(a.scale_value * b.scale_value / element_type.scale_value, label)
        return cls(lhs, rhs, element_type, multiplier=multiplier, shift=shift, left_shift=left, node=node)


@irdl_op_definition
class QMatMulOp(_ProductOfTwo, RescaledOp):
    """Batched product of two int8 activations, [..., M, K] x [..., K, N]:
    y = R((sum_k (a_k - z_a) * (b_k - z_b)) << left_shift), M * 2**(left_shift - shift)
    ~ step_a * step_b / step_out (`integer_arithmetic.matmul_integers`)."""

    name = "sima.qmatmul"
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT
    PRODUCT_SHAPE: ClassVar = staticmethod(shapes.matmul_output_shape)

    def verify_(self) -> None:
        a = quantized_type_of(self, self.lhs, "lhs", (8,))
        b = quantized_type_of(self, self.rhs, "rhs", (8,))
        quantized_type_of(self, self.output, "result", (8, 16))
        expected = self.shape_rule(shapes.matmul_output_shape, shape_of(self.lhs), shape_of(self.rhs))
        self.check_shape(self.output, expected)
        self.verify_rescale()
        corners = [x * y for x in centered_range(a) for y in centered_range(b)]
        k = shape_of(self.lhs)[-1]
        self.check_shifted_int32("sum of products", k * min(corners), k * max(corners))


class QuantizedBinaryOp(RescaledOp):
    """Two quantized inputs (i8 or i16), broadcast; a quantized result (i8 or i16)."""

    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def verify_operands(self) -> tuple[QuantizedType, QuantizedType]:
        a = quantized_type_of(self, self.lhs, "lhs")
        b = quantized_type_of(self, self.rhs, "rhs")
        quantized_type_of(self, self.output, "result")
        expected = self.shape_rule(shapes.broadcast_shapes, shape_of(self.lhs), shape_of(self.rhs))
        self.check_shape(self.output, expected)
        self.verify_rescale()
        return a, b


class QuantizedAddSubOp(QuantizedBinaryOp):
    """TFLite's quantized ADD with the model's 8-bit multipliers (`integer_arithmetic.add_integers`):

        t_lhs = rshift_half_away(((a - z_a) << left_shift) * lhs_multiplier, lhs_shift)
        t_rhs = rshift_half_away(((b - z_b) << left_shift) * rhs_multiplier, rhs_shift)
        y = R(t_lhs + t_rhs)   (qsub: R(t_lhs - t_rhs))

    Built by `for_types`: left_shift 20 (int8 inputs) or 14 (int16),
    lhs_multiplier * 2**-lhs_shift ~ step_a / (2 * max(step_a, step_b)) (rhs
    likewise), multiplier * 2**-shift ~ 2 * max(step_a, step_b) / (2**left_shift * step_out).
    """

    lhs_multiplier = prop_def(I64_INT)
    lhs_shift = prop_def(I64_INT)
    rhs_multiplier = prop_def(I64_INT)
    rhs_shift = prop_def(I64_INT)

    SUBTRACT: ClassVar[bool] = False

    def __init__(
        self,
        lhs: SSAValue | Operation,
        rhs: SSAValue | Operation,
        element_type: QuantizedType,
        *,
        lhs_multiplier: int,
        lhs_shift: int,
        rhs_multiplier: int,
        rhs_shift: int,
        multiplier: int,
        shift: int,
        left_shift: int,
        node: str | None = None,
    ):
        a, b = SSAValue.get(lhs), SSAValue.get(rhs)
        shape = shapes.broadcast_shapes(shape_of(a), shape_of(b))
        properties = {
            "lhs_multiplier": int_attr(lhs_multiplier),
            "lhs_shift": int_attr(lhs_shift),
            "rhs_multiplier": int_attr(rhs_multiplier),
            "rhs_shift": int_attr(rhs_shift),
            **self.rescale_properties(multiplier, shift, left_shift),
        }
        super().__init__(operands=[a, b], result_types=[_result_type(shape, element_type)], properties=_node(properties, node))

    @classmethod
    def for_types(
        cls, lhs: SSAValue | Operation, rhs: SSAValue | Operation, element_type: QuantizedType, node: str | None = None
    ):
        a = _quantized_element(SSAValue.get(lhs), f"{cls.name} lhs")
        b = _quantized_element(SSAValue.get(rhs), f"{cls.name} rhs")
        left_shift = ADD_LEFT_SHIFT_INT8 if max(a.bits, b.bits) == 8 else ADD_LEFT_SHIFT_INT16
        twice_max = 2.0 * max(a.scale_value, b.scale_value)
        constants = {}
        for side, step in (("lhs", a.scale_value), ("rhs", b.scale_value)):
            _, constants[f"{side}_multiplier"], constants[f"{side}_shift"] = tflite_constants(step / twice_max, cls.name)
        output_left, multiplier, shift = tflite_constants(twice_max / (2.0**left_shift * element_type.scale_value), cls.name)
        if output_left:
            raise ValueError(f"{cls.name}: the output step {element_type.scale_value!r} is too fine for the inputs' steps")
        return cls(lhs, rhs, element_type, multiplier=multiplier, shift=shift, left_shift=left_shift, node=node, **constants)

    def input_rescales(self) -> tuple[InputRescale, InputRescale]:
        a = _quantized_element(self.lhs, "lhs")
        b = _quantized_element(self.rhs, "rhs")
        return (
            InputRescale(a.zero_point_value, self.lhs_multiplier.value.data, self.lhs_shift.value.data),
            InputRescale(b.zero_point_value, self.rhs_multiplier.value.data, self.rhs_shift.value.data),
        )

    def verify_(self) -> None:
        a, b = self.verify_operands()
        for side in ("lhs", "rhs"):
            check_range(self, f"{side}_multiplier", [getattr(self, f"{side}_multiplier").value.data], 1, TFLITE_MULTIPLIER_MAX)
            check_range(self, f"{side}_shift", [getattr(self, f"{side}_shift").value.data], 0, TFLITE_MAX_SHIFT)
        left = self.left_shift.value.data
        rescaled = []
        for side, quantized in (("lhs", a), ("rhs", b)):
            low, high = centered_range(quantized)
            self.check_shifted_int32(f"{side} - zero point", low, high)
            multiplier, shift = getattr(self, f"{side}_multiplier").value.data, getattr(self, f"{side}_shift").value.data
            rescaled.append([_round_half_away((v << left) * multiplier, shift) for v in (low, high)])
        (a_low, a_high), (b_low, b_high) = rescaled
        if self.SUBTRACT:
            check_int32(self, "the difference of the rescaled inputs", a_low - b_high, a_high - b_low)
        else:
            check_int32(self, "the sum of the rescaled inputs", a_low + b_low, a_high + b_high)


@irdl_op_definition
class QAddOp(QuantizedAddSubOp):
    __doc__ = QuantizedAddSubOp.__doc__
    name = "sima.qadd"


@irdl_op_definition
class QSubOp(QuantizedAddSubOp):
    __doc__ = QuantizedAddSubOp.__doc__
    name = "sima.qsub"
    SUBTRACT: ClassVar[bool] = True


@irdl_op_definition
class QMulOp(_ProductOfTwo, QuantizedBinaryOp):
    """Elementwise product, broadcast: y = R(((a - z_a) * (b - z_b)) << left_shift),
    M * 2**(left_shift - shift) ~ step_a * step_b / step_out (`integer_arithmetic.multiply_integers`)."""

    name = "sima.qmul"

    def verify_(self) -> None:
        a, b = self.verify_operands()
        corners = [x * y for x in centered_range(a) for y in centered_range(b)]
        self.check_shifted_int32("(lhs - zero point) * (rhs - zero point)", min(corners), max(corners))


# ---------------------------------------------------------------------------
# convolution and dense

REQUANT_MODES = ("sima", "tflite")


class QuantizedGemmOp(SimaOp):
    """The requantization of qconv2d / qdense: the arithmetic of `integer_arithmetic.mla_gemm`.

    P = the product of the input and the int8 weights, per output channel c:
    int8 input: sum x * w; int16 input: the int15 algorithm with intrinsic shift
    h[c] in {1, 8} (floor(sum x * w / 2**h[c]) from byte-split partial products).
    A = P + bias (int32; the bias holds the input zero-point correction and, in
    sima mode, the output zero point scaled by 2**shift). Then

    - `requant_mode = "sima"`: y = sat(rshift_half_up(A, shift[c])), shift in [0, 31];
      `relu` clamps A at 0 first (so the result type's zero point must be 0);
      no `multiplier`.
    - `requant_mode = "tflite"`: y = sat(rshift_half_away(A * multiplier[c], shift[c]) + z_out),
      multiplier in [1, 127], shift in [0, 38], z_out the result type's zero point;
      `relu` clamps at 0 before adding z_out.

    `shift`, `multiplier` and `intrinsic_shift` hold one value (per tensor) or
    one per output channel; `intrinsic_shift` is 0 for int8 inputs. `relu` is
    a unit property (present or absent).
    """

    requant_mode = prop_def(StringAttr)
    shift = prop_def(I64_ARRAY)
    multiplier = opt_prop_def(I64_ARRAY)
    intrinsic_shift = prop_def(I64_ARRAY)
    relu = opt_prop_def(UnitAttr)

    @property
    def has_relu(self) -> bool:
        return self.relu is not None

    def verify_requantization(self, channels: int) -> None:
        source = quantized_type_of(self, self.input, "input")
        result = quantized_type_of(self, self.output, "result", (8, 16, 32))
        check_integer_tensor(self, self.weight, 8, "weight")
        check_integer_tensor(self, self.bias, 32, "bias")
        if shape_of(self.bias) != (channels,):
            raise self.fail(f"bias shape {list(shape_of(self.bias))} must be [{channels}] (one per output channel)")
        mode = self.requant_mode.data
        self.check_choice("requant_mode", mode, REQUANT_MODES)
        shift = values_of(self.shift)
        check_per_channel(self, "shift", shift, channels)
        if mode == "sima":
            check_range(self, "shift", shift, 0, ARITH_FOLDED_MAX_SHIFT)
            if self.multiplier is not None:
                raise self.fail("sima requantization has no multiplier (the scale is folded into the weights)")
            if self.has_relu and result.zero_point_value != 0:
                raise self.fail(
                    f"relu in sima mode clamps the accumulator at 0, which needs a result zero point of 0, "
                    f"got {result.zero_point_value}"
                )
        else:
            check_range(self, "shift", shift, 0, TFLITE_MAX_SHIFT)
            if self.multiplier is None:
                raise self.fail("tflite requantization needs a multiplier")
            multiplier = values_of(self.multiplier)
            check_per_channel(self, "multiplier", multiplier, channels)
            check_range(self, "multiplier", multiplier, 1, TFLITE_MULTIPLIER_MAX)
        intrinsic = values_of(self.intrinsic_shift)
        check_per_channel(self, "intrinsic_shift", intrinsic, channels)
        if source.bits == 8 and any(intrinsic):
            raise self.fail(f"intrinsic_shift must be 0 for an int8 input, got {list(intrinsic)}")
        if source.bits == 16 and any(h not in (INTRINSIC_SHIFT_LO, INTRINSIC_SHIFT_HI) for h in intrinsic):
            raise self.fail(
                f"intrinsic_shift must be {INTRINSIC_SHIFT_LO} or {INTRINSIC_SHIFT_HI} for an int16 input, got {list(intrinsic)}"
            )

    def requantization(self) -> BaseRequantization:
        shift = np.array(values_of(self.shift), dtype=np.int64)
        if self.requant_mode.data == "sima":
            return ArithFoldedRequantization(shift)
        zero_point = _quantized_element(self.output, "result").zero_point_value
        return TFLiteRequantization(np.array(values_of(self.multiplier), dtype=np.int64), shift, zero_point)

    def intrinsic_shift_values(self) -> np.ndarray:
        return np.array(values_of(self.intrinsic_shift), dtype=np.int64)

    @staticmethod
    def gemm_properties(
        requantization: BaseRequantization, intrinsic_shift, element_type: QuantizedType, relu: bool
    ) -> dict[str, Attribute]:
        """The requantization properties for a planner's result (`quantize_convolution_parameters`)."""
        properties: dict[str, Attribute] = {}
        if isinstance(requantization, ArithFoldedRequantization):
            properties["requant_mode"] = StringAttr("sima")
        elif isinstance(requantization, TFLiteRequantization):
            if requantization.zero_point != element_type.zero_point_value:
                raise ValueError(
                    f"the requantization adds zero point {requantization.zero_point}, "
                    f"but the result type's is {element_type.zero_point_value}"
                )
            properties["requant_mode"] = StringAttr("tflite")
            properties["multiplier"] = int_array(np.atleast_1d(requantization.multiplier).tolist())
        else:
            raise TypeError(f"{type(requantization).__name__} has no integer form (it is for bfloat16 outputs)")
        properties["shift"] = int_array(np.atleast_1d(requantization.shift).tolist())
        properties["intrinsic_shift"] = int_array(np.atleast_1d(np.asarray(intrinsic_shift, dtype=np.int64)).tolist())
        if relu:
            properties["relu"] = UnitAttr()
        return properties


@irdl_op_definition
class QConv2DOp(QuantizedGemmOp):
    __doc__ = (
        """Quantized 2-D convolution: NHWC input (i8 or i16), HWIO i8 weight, i32 bias [C_out].

    Window properties as sima.conv2d (strides, pads, dilations, groups); padding
    holds the input zero point.
    """
        + QuantizedGemmOp.__doc__
    )

    name = "sima.qconv2d"
    input = operand_def(TensorType)
    weight = operand_def(TensorType)
    bias = operand_def(TensorType)
    strides = prop_def(I64_ARRAY)
    pads = prop_def(I64_ARRAY)
    dilations = prop_def(I64_ARRAY)
    groups = prop_def(I64_INT)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def __init__(
        self,
        input: SSAValue | Operation,
        weight: SSAValue | Operation,
        bias: SSAValue | Operation,
        requantization: BaseRequantization,
        intrinsic_shift,
        element_type: QuantizedType,
        *,
        strides: Sequence[int] = (1, 1),
        pads: Sequence[int] = (0, 0, 0, 0),
        dilations: Sequence[int] = (1, 1),
        groups: int = 1,
        relu: bool = False,
        node: str | None = None,
    ):
        x, w, b = SSAValue.get(input), SSAValue.get(weight), SSAValue.get(bias)
        shape = shapes.conv2d_output_shape(shape_of(x), shape_of(w), strides, pads, dilations, groups)
        properties = {
            "strides": int_array(strides),
            "pads": int_array(pads),
            "dilations": int_array(dilations),
            "groups": int_attr(groups),
            **self.gemm_properties(requantization, intrinsic_shift, element_type, relu),
        }
        super().__init__(operands=[x, w, b], result_types=[_result_type(shape, element_type)], properties=_node(properties, node))

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
        self.check_shape(self.output, expected)
        self.verify_requantization(expected[-1])


@irdl_op_definition
class QDenseOp(QuantizedGemmOp):
    __doc__ = (
        """Quantized fully connected layer: input [..., K] (i8 or i16), i8 weight [K, N], i32 bias [N].
    """
        + QuantizedGemmOp.__doc__
    )

    name = "sima.qdense"
    input = operand_def(TensorType)
    weight = operand_def(TensorType)
    bias = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def __init__(
        self,
        input: SSAValue | Operation,
        weight: SSAValue | Operation,
        bias: SSAValue | Operation,
        requantization: BaseRequantization,
        intrinsic_shift,
        element_type: QuantizedType,
        *,
        relu: bool = False,
        node: str | None = None,
    ):
        x, w, b = SSAValue.get(input), SSAValue.get(weight), SSAValue.get(bias)
        shape = shapes.dense_output_shape(shape_of(x), shape_of(w))
        properties = self.gemm_properties(requantization, intrinsic_shift, element_type, relu)
        super().__init__(operands=[x, w, b], result_types=[_result_type(shape, element_type)], properties=_node(properties, node))

    def verify_(self) -> None:
        expected = self.shape_rule(shapes.dense_output_shape, shape_of(self.input), shape_of(self.weight))
        self.check_shape(self.output, expected)
        self.verify_requantization(expected[-1])


# ---------------------------------------------------------------------------
# lookup tables


@irdl_op_definition
class LutOp(SimaOp):
    """Elementwise lookup: y = table[q - min], q of the input's storage type (i8:
    256 entries indexed by q + 128; i16: 65536 entries indexed by q + 32768);
    the table is a constant of the result's storage type (`integer_arithmetic.lookup`).

    The quantize pass computes it from the float function as
    quantize(f(dequantize(q))) (`integer_arithmetic.lookup_table`).
    """

    name = "sima.lut"
    input = operand_def(TensorType)
    table = operand_def(TensorType)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def __init__(self, input: SSAValue | Operation, table: SSAValue | Operation, element_type: QuantizedType, node: str | None = None):
        x, t = SSAValue.get(input), SSAValue.get(table)
        super().__init__(operands=[x, t], result_types=[_result_type(shape_of(x), element_type)], properties=_node({}, node))

    def verify_(self) -> None:
        source = quantized_type_of(self, self.input, "input")
        result = quantized_type_of(self, self.output, "result")
        self.check_shape(self.output, shape_of(self.input))
        entries = 1 << source.bits
        if shape_of(self.table) != (entries,):
            raise self.fail(f"table must have {entries} entries (one per i{source.bits} value), got shape {list(shape_of(self.table))}")
        check_integer_tensor(self, self.table, result.bits, "table (of the result's storage type)")


# ---------------------------------------------------------------------------
# average pools


def _pool_properties(multiplier: Sequence[int], shift: Sequence[int]) -> dict[str, Attribute]:
    return {"multiplier": int_array(multiplier), "shift": int_array(shift)}


@irdl_op_definition
class QAvgPoolOp(SimaOp):
    """Quantized average pooling (kernel, strides, pads, count_include_pad as sima.avg_pool).

    A = sum of (q - z_in) over the window's taps inside the input (padding
    holds z_in and adds 0); with c the divisor (the kernel area if
    count_include_pad or without pads, else the number of taps inside the input):

        y = sat(rshift_half_away(A * multiplier[c], shift[c]) + z_out)

    multiplier[c] * 2**-shift[c] ~ step_in / (c * step_out). `multiplier` and
    `shift` hold one value (a constant divisor) or KH * KW values, indexed by
    c - 1 (`integer_arithmetic.requantize_window_sums`).
    """

    name = "sima.qavg_pool"
    input = operand_def(TensorType)
    kernel = prop_def(I64_ARRAY)
    strides = prop_def(I64_ARRAY)
    pads = prop_def(I64_ARRAY)
    count_include_pad = prop_def(BoolAttr)
    multiplier = prop_def(I64_ARRAY)
    shift = prop_def(I64_ARRAY)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def __init__(
        self,
        input: SSAValue | Operation,
        element_type: QuantizedType,
        *,
        kernel: Sequence[int],
        strides: Sequence[int],
        pads: Sequence[int],
        count_include_pad: bool,
        multiplier: Sequence[int],
        shift: Sequence[int],
        node: str | None = None,
    ):
        x = SSAValue.get(input)
        shape = shapes.pool_output_shape(shape_of(x), kernel, strides, pads, (1, 1))
        properties = {
            "kernel": int_array(kernel),
            "strides": int_array(strides),
            "pads": int_array(pads),
            "count_include_pad": BoolAttr.from_bool(count_include_pad),
            **_pool_properties(multiplier, shift),
        }
        super().__init__(operands=[x], result_types=[_result_type(shape, element_type)], properties=_node(properties, node))

    @classmethod
    def for_types(
        cls,
        input: SSAValue | Operation,
        element_type: QuantizedType,
        *,
        kernel: Sequence[int],
        strides: Sequence[int],
        pads: Sequence[int],
        count_include_pad: bool,
        node: str | None = None,
    ) -> QAvgPoolOp:
        source = _quantized_element(SSAValue.get(input), "qavg_pool input")
        area = int(kernel[0]) * int(kernel[1])
        divisors = range(1, area + 1) if _varying_divisor(pads, count_include_pad) else [area]
        constants = [_pool_constants(source.scale_value / (c * element_type.scale_value)) for c in divisors]
        return cls(
            input,
            element_type,
            kernel=kernel,
            strides=strides,
            pads=pads,
            count_include_pad=count_include_pad,
            multiplier=[m for m, _ in constants],
            shift=[n for _, n in constants],
            node=node,
        )

    @property
    def varying_divisor(self) -> bool:
        return _varying_divisor(self.pads.get_values(), bool(self.count_include_pad.value.data))

    def verify_(self) -> None:
        kernel = self.kernel.get_values()
        expected = self.shape_rule(
            shapes.pool_output_shape, shape_of(self.input), kernel, self.strides.get_values(), self.pads.get_values(), (1, 1)
        )
        self.check_shape(self.output, expected)
        source = quantized_type_of(self, self.input, "input")
        quantized_type_of(self, self.output, "result")
        area = kernel[0] * kernel[1]
        _check_pool_constants(self, values_of(self.multiplier), values_of(self.shift), area, self.varying_divisor)
        low, high = centered_range(source)
        check_int32(self, f"the sum of {area} taps", area * low, area * high)


def _varying_divisor(pads: Sequence[int], count_include_pad: bool) -> bool:
    return not count_include_pad and any(pads)


def _pool_constants(factor: float) -> tuple[int, int]:
    left, multiplier, shift = tflite_constants(factor, "average pool")
    if left:
        raise ValueError(f"average pool: the factor {factor!r} needs a left shift, which pools do not have")
    return multiplier, shift


def _check_pool_constants(op: SimaOp, multiplier: Sequence[int], shift: Sequence[int], area: int, varying: bool) -> None:
    if len(multiplier) != len(shift):
        raise op.fail(f"multiplier and shift must have the same length, got {len(multiplier)} and {len(shift)}")
    if varying and len(multiplier) != area:
        raise op.fail(
            f"windows at the border hold fewer taps (count_include_pad is false): multiplier and shift "
            f"need {area} values, one per divisor, got {len(multiplier)}"
        )
    if len(multiplier) not in (1, area):
        raise op.fail(f"multiplier and shift must hold 1 value or {area} (one per divisor), got {len(multiplier)}")
    check_range(op, "multiplier", multiplier, 1, TFLITE_MULTIPLIER_MAX)
    check_range(op, "shift", shift, 0, TFLITE_MAX_SHIFT)


@irdl_op_definition
class QGlobalAvgPoolOp(SimaOp):
    """Quantized mean over H and W, [N, H, W, C] -> [N, 1, 1, C]:
    A = sum over H, W of (q - z_in), y = sat(rshift_half_away(A * multiplier, shift) + z_out)
    with multiplier * 2**-shift ~ step_in / (H * W * step_out) (`integer_arithmetic.requantize_window_sums`)."""

    name = "sima.qglobal_avg_pool"
    input = operand_def(TensorType)
    multiplier = prop_def(I64_INT)
    shift = prop_def(I64_INT)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def __init__(self, input: SSAValue | Operation, element_type: QuantizedType, *, multiplier: int, shift: int, node: str | None = None):
        x = SSAValue.get(input)
        n, _, _, c = shape_of(x)
        properties = {"multiplier": int_attr(multiplier), "shift": int_attr(shift)}
        super().__init__(operands=[x], result_types=[_result_type((n, 1, 1, c), element_type)], properties=_node(properties, node))

    @classmethod
    def for_types(cls, input: SSAValue | Operation, element_type: QuantizedType, node: str | None = None) -> QGlobalAvgPoolOp:
        x = SSAValue.get(input)
        source = _quantized_element(x, "qglobal_avg_pool input")
        _, h, w, _ = shape_of(x)
        multiplier, shift = _pool_constants(source.scale_value / (h * w * element_type.scale_value))
        return cls(x, element_type, multiplier=multiplier, shift=shift, node=node)

    def verify_(self) -> None:
        in_shape = shape_of(self.input)
        if len(in_shape) != 4:
            raise self.fail(f"input must be rank 4 (NHWC), got rank {len(in_shape)}")
        self.check_shape(self.output, (in_shape[0], 1, 1, in_shape[3]))
        source = quantized_type_of(self, self.input, "input")
        quantized_type_of(self, self.output, "result")
        _check_pool_constants(self, [self.multiplier.value.data], [self.shift.value.data], 1, False)
        count = in_shape[1] * in_shape[2]
        low, high = centered_range(source)
        check_int32(self, f"the sum of {count} pixels", count * low, count * high)


# ---------------------------------------------------------------------------
# softmax, layer norm, transposed convolution, linear resize, per-channel prelu
# (the arithmetic: `runtime.integer_arithmetic`, module docstring)


@irdl_op_definition
class QSoftmaxOp(SimaOp):
    """Softmax along `axis` of an i8 / i16 input (`integer_arithmetic.softmax_integers`):

        d = max(q) - q,  e = table[d] (Q23 exp),  S = sum e,  p = floor(e * 2**15 / S + 1/2)
        y = sat(rshift_half_away(p * multiplier, shift) + z_out)

    `table` is an i32 constant of 2**bits entries, table[d] = round(exp(-d * step_in) * 2**23);
    multiplier * 2**-shift ~ 2**-15 / step_out. The axis holds at most 2**15 values.
    """

    name = "sima.qsoftmax"
    input = operand_def(TensorType)
    table = operand_def(TensorType)
    axis = prop_def(I64_INT)
    multiplier = prop_def(I64_INT)
    shift = prop_def(I64_INT)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def __init__(self, input: SSAValue | Operation, table: SSAValue | Operation, element_type: QuantizedType, *,
                 axis: int, multiplier: int, shift: int, node: str | None = None):
        x, t = SSAValue.get(input), SSAValue.get(table)
        properties = {"axis": int_attr(axis), "multiplier": int_attr(multiplier), "shift": int_attr(shift)}
        super().__init__(operands=[x, t], result_types=[_result_type(shape_of(x), element_type)], properties=_node(properties, node))

    @classmethod
    def for_types(cls, input: SSAValue | Operation, table: SSAValue | Operation, element_type: QuantizedType, *,
                  axis: int, node: str | None = None) -> QSoftmaxOp:
        left, multiplier, shift = tflite_constants(2.0**-SOFTMAX_PROB_BITS / element_type.scale_value, "qsoftmax")
        if left:
            raise ValueError(f"qsoftmax: the output step {element_type.scale_value!r} is finer than the Q15 probability")
        return cls(input, table, element_type, axis=axis, multiplier=multiplier, shift=shift, node=node)

    def verify_(self) -> None:
        source = quantized_type_of(self, self.input, "input")
        quantized_type_of(self, self.output, "result")
        in_shape = shape_of(self.input)
        self.check_shape(self.output, in_shape)
        axis = self.shape_rule(shapes.normalize_axis, self.axis.value.data, len(in_shape))
        if in_shape[axis] > SOFTMAX_MAX_LENGTH:
            raise self.fail(f"the softmax axis holds {in_shape[axis]} values; the sum of exponentials fits 40 bits for at most {SOFTMAX_MAX_LENGTH}")
        entries = 1 << source.bits
        if shape_of(self.table) != (entries,):
            raise self.fail(f"table must have {entries} entries (one per i{source.bits} difference), got shape {list(shape_of(self.table))}")
        check_integer_tensor(self, self.table, 32, "table")
        check_range(self, "multiplier", [self.multiplier.value.data], 1, TFLITE_MULTIPLIER_MAX)
        check_range(self, "shift", [self.shift.value.data], 0, TFLITE_MAX_SHIFT)


@irdl_op_definition
class QLayerNormOp(SimaOp):
    """Layer norm over the axes from `axis` on, i8 in and out (`integer_arithmetic.layer_norm_integers`):
    integer mean and N**2 * variance + epsilon, an exact integer square root, the
    normalized value z in Q11, then y = sat(rshift_half_away(z * gamma + beta, shift) + z_out).

    gamma (i16, |gamma| <= 32767) and beta (i32) have the normalized shape;
    gamma ~ gamma_real * 2**(shift - 11) / step_out, beta ~ beta_real * 2**shift / step_out,
    epsilon (in [1, 2**38]) ~ N**2 * epsilon_real / step_in**2. At most 4096 normalized values.
    """

    name = "sima.qlayer_norm"
    input = operand_def(TensorType)
    gamma = operand_def(TensorType)
    beta = operand_def(TensorType)
    axis = prop_def(I64_INT)
    epsilon = prop_def(I64_INT)
    shift = prop_def(I64_INT)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def __init__(self, input: SSAValue | Operation, gamma: SSAValue | Operation, beta: SSAValue | Operation,
                 element_type: QuantizedType, *, axis: int, epsilon: int, shift: int, node: str | None = None):
        x, g, b = SSAValue.get(input), SSAValue.get(gamma), SSAValue.get(beta)
        properties = {"axis": int_attr(axis), "epsilon": int_attr(epsilon), "shift": int_attr(shift)}
        super().__init__(operands=[x, g, b], result_types=[_result_type(shape_of(x), element_type)], properties=_node(properties, node))

    def normalized_shape(self) -> tuple[int, ...]:
        in_shape = shape_of(self.input)
        return tuple(in_shape[self.axis.value.data % len(in_shape):])

    def verify_(self) -> None:
        quantized_type_of(self, self.input, "input", (8,))
        quantized_type_of(self, self.output, "result", (8,))
        in_shape = shape_of(self.input)
        self.check_shape(self.output, in_shape)
        axis = self.shape_rule(shapes.normalize_axis, self.axis.value.data, len(in_shape))
        normalized = tuple(in_shape[axis:])
        count = int(np.prod(normalized))
        if count > LAYER_NORM_MAX_LENGTH:
            raise self.fail(f"normalizes {count} values; the variance fits its 64-bit register for at most {LAYER_NORM_MAX_LENGTH}")
        for what, value, width in (("gamma", self.gamma, 16), ("beta", self.beta, 32)):
            check_integer_tensor(self, value, width, what)
            if shape_of(value) != normalized:
                raise self.fail(f"{what} shape {list(shape_of(value))} must be the normalized shape {list(normalized)}")
        check_range(self, "epsilon", [self.epsilon.value.data], 1, LAYER_NORM_MAX_EPSILON)
        check_range(self, "shift", [self.shift.value.data], 0, TFLITE_MAX_SHIFT)


@irdl_op_definition
class QConv2DTransposeOp(QuantizedGemmOp):
    __doc__ = (
        """Quantized transposed 2-D convolution: NHWC input (i8 or i16), i8 weight
    [KH, KW, C_in, C_out] (groups = 1), i32 bias [C_out]; window properties as
    sima.conv2d_transpose. Computed as qconv2d over the input stuffed with
    stride - 1 zero points between pixels, with the spatially flipped weights.
    """
        + QuantizedGemmOp.__doc__
    )

    name = "sima.qconv2d_transpose"
    input = operand_def(TensorType)
    weight = operand_def(TensorType)
    bias = operand_def(TensorType)
    strides = prop_def(I64_ARRAY)
    pads = prop_def(I64_ARRAY)
    dilations = prop_def(I64_ARRAY)
    output_padding = prop_def(I64_ARRAY)
    groups = prop_def(I64_INT)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def __init__(
        self,
        input: SSAValue | Operation,
        weight: SSAValue | Operation,
        bias: SSAValue | Operation,
        requantization: BaseRequantization,
        intrinsic_shift,
        element_type: QuantizedType,
        *,
        strides: Sequence[int] = (1, 1),
        pads: Sequence[int] = (0, 0, 0, 0),
        dilations: Sequence[int] = (1, 1),
        output_padding: Sequence[int] = (0, 0),
        relu: bool = False,
        node: str | None = None,
    ):
        x, w, b = SSAValue.get(input), SSAValue.get(weight), SSAValue.get(bias)
        shape = shapes.conv2d_transpose_output_shape(shape_of(x), shape_of(w), strides, pads, dilations, output_padding, 1)
        properties = {
            "strides": int_array(strides),
            "pads": int_array(pads),
            "dilations": int_array(dilations),
            "output_padding": int_array(output_padding),
            "groups": int_attr(1),
            **self.gemm_properties(requantization, intrinsic_shift, element_type, relu),
        }
        super().__init__(operands=[x, w, b], result_types=[_result_type(shape, element_type)], properties=_node(properties, node))

    def verify_(self) -> None:
        if self.groups.value.data != 1:
            raise self.fail(f"groups must be 1 (grouped transposed convolutions have no integer form), got {self.groups.value.data}")
        expected = self.shape_rule(
            shapes.conv2d_transpose_output_shape,
            shape_of(self.input),
            shape_of(self.weight),
            self.strides.get_values(),
            self.pads.get_values(),
            self.dilations.get_values(),
            self.output_padding.get_values(),
            1,
        )
        self.check_shape(self.output, expected)
        self.verify_requantization(expected[-1])


@irdl_op_definition
class QResizeLinearOp(SimaOp):
    """Bilinear resize of an NHWC i8 / i16 tensor to the result's H and W, with the
    same quantization in and out (`integer_arithmetic.resize_linear_integers`):
    exact rational source coordinates (`coordinate_mode` as sima.resize), weights
    in Q`weight_bits`, rows then columns in int32, each blend rounded by a shift
    of weight_bits. (bits - 1) + weight_bits must be at most 30.
    """

    name = "sima.qresize_linear"
    input = operand_def(TensorType)
    coordinate_mode = prop_def(StringAttr)
    weight_bits = prop_def(I64_INT)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def __init__(self, input: SSAValue | Operation, output_hw: Sequence[int], *, coordinate_mode: str, weight_bits: int,
                 node: str | None = None):
        x = SSAValue.get(input)
        n, _, _, c = shape_of(x)
        properties = {"coordinate_mode": StringAttr(coordinate_mode), "weight_bits": int_attr(weight_bits)}
        element = element_type_of(x)
        super().__init__(operands=[x], result_types=[_result_type((n, *output_hw, c), element)], properties=_node(properties, node))

    def verify_(self) -> None:
        source = quantized_type_of(self, self.input, "input")
        self.check_choice("coordinate_mode", self.coordinate_mode.data, COORDINATE_MODES)
        in_shape, out_shape = shape_of(self.input), shape_of(self.output)
        if len(in_shape) != 4 or len(out_shape) != 4:
            raise self.fail("input and result must be rank 4 (NHWC)")
        if in_shape[0] != out_shape[0] or in_shape[3] != out_shape[3]:
            raise self.fail(f"resize changes only H and W; got {list(in_shape)} -> {list(out_shape)}")
        if element_type_of(self.output) != source:
            raise self.fail(f"result must have the input's quantization {source}, got {element_type_of(self.output)}")
        most = ACCUMULATOR_MAX.bit_length() - 1 - (source.bits - 1)
        check_range(self, "weight_bits", [self.weight_bits.value.data], 0, most)


@irdl_op_definition
class QPreluOp(SimaOp):
    """PReLU with one slope per channel (the last axis), c = q - z_in
    (`integer_arithmetic.prelu_integers`):

        y = sat(rshift_half_away(c * multiplier, shift) + z_out)              c >= 0
        y = sat(rshift_half_away(c * neg_multiplier[k], neg_shift[k]) + z_out)  c < 0

    multiplier in [1, 127], neg_multiplier signed in [-127, 127], shifts in [0, 38];
    neg_multiplier / neg_shift hold 1 value or one per channel.
    """

    name = "sima.qprelu"
    input = operand_def(TensorType)
    multiplier = prop_def(I64_INT)
    shift = prop_def(I64_INT)
    neg_multiplier = prop_def(I64_ARRAY)
    neg_shift = prop_def(I64_ARRAY)
    output = result_def(TensorType)
    assembly_format = FUNCTIONAL_FORMAT

    def __init__(self, input: SSAValue | Operation, element_type: QuantizedType, *, multiplier: int, shift: int,
                 neg_multiplier: Sequence[int], neg_shift: Sequence[int], node: str | None = None):
        x = SSAValue.get(input)
        properties = {
            "multiplier": int_attr(multiplier),
            "shift": int_attr(shift),
            "neg_multiplier": int_array(neg_multiplier),
            "neg_shift": int_array(neg_shift),
        }
        super().__init__(operands=[x], result_types=[_result_type(shape_of(x), element_type)], properties=_node(properties, node))

    def verify_(self) -> None:
        quantized_type_of(self, self.input, "input")
        quantized_type_of(self, self.output, "result")
        in_shape = shape_of(self.input)
        self.check_shape(self.output, in_shape)
        if not in_shape:
            raise self.fail("input must have a channel axis (rank >= 1)")
        check_range(self, "multiplier", [self.multiplier.value.data], 1, TFLITE_MULTIPLIER_MAX)
        check_range(self, "shift", [self.shift.value.data], 0, TFLITE_MAX_SHIFT)
        neg_multiplier, neg_shift = values_of(self.neg_multiplier), values_of(self.neg_shift)
        if len(neg_multiplier) != len(neg_shift):
            raise self.fail(f"neg_multiplier and neg_shift must have the same length, got {len(neg_multiplier)} and {len(neg_shift)}")
        check_per_channel(self, "neg_multiplier", neg_multiplier, in_shape[-1])
        check_range(self, "neg_multiplier", neg_multiplier, -SIGNED_MULTIPLIER_MAX, SIGNED_MULTIPLIER_MAX)
        check_range(self, "neg_shift", neg_shift, 0, TFLITE_MAX_SHIFT)


QUANTIZED_OPS: list[type[SimaOp]] = [
    QuantizeOp,
    DequantizeOp,
    RequantizeOp,
    QConv2DOp,
    QDenseOp,
    QMatMulOp,
    QAddOp,
    QSubOp,
    QMulOp,
    LutOp,
    QAvgPoolOp,
    QGlobalAvgPoolOp,
    QSoftmaxOp,
    QLayerNormOp,
    QConv2DTransposeOp,
    QResizeLinearOp,
    QPreluOp,
]
