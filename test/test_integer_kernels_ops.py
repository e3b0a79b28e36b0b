"""The quantized ops together: builders fed by the conv planner and by `for_types`
approximate the float ops (with the error the 8-bit multipliers allow), the
kernels report overflow naming the op, and the data-movement ops run on
quantized tensors."""

from __future__ import annotations

import numpy as np
import pytest
from xdsl.dialects.builtin import f32
from xdsl.utils.exceptions import VerifyException

import runtime_ir
from afe.ir.attributes import ObservedDistribution
from afe.ir.defines import quantization_from_range
from afe.ir.quantization_conv import ConvolutionPrecision, quantize_convolution_parameters
from integer_references import quant, run_op
from runtime.errors import KernelError
from runtime.integer_arithmetic import FloatRequantization, TFLiteRequantization, dequantize, quantize
from sima_dialect import ops
from sima_dialect.quantized_ops import (
    DequantizeOp,
    QAddOp,
    QAvgPoolOp,
    QConv2DOp,
    QDenseOp,
    QGlobalAvgPoolOp,
    QMatMulOp,
    QMulOp,
    QSubOp,
    QuantizeOp,
    RequantizeOp,
)
from sima_dialect.types import QuantizedType


def to_quant(quantization) -> QuantizedType:
    """`afe.ir.defines.Quantization` (scale = 1 / step) as the element type."""
    return quant(quantization.bits, 1.0 / quantization.scale, quantization.zero_point)


def real(q: np.ndarray, element: QuantizedType) -> np.ndarray:
    return dequantize(q, element.scale_value, element.zero_point_value).astype(np.float64)


def integers_of(x: np.ndarray, element: QuantizedType) -> np.ndarray:
    return quantize(x, element.scale_value, element.zero_point_value, element.bits)


# ---------------------------------------------------------------------------
# qconv2d / qdense built from the planner


@pytest.mark.parametrize(
    "precision, per_channel, groups",
    [
        (ConvolutionPrecision.sima_int8, True, 1),
        (ConvolutionPrecision.sima_int8, False, 1),
        (ConvolutionPrecision.tflite_int8, True, 2),
        (ConvolutionPrecision.sima_int16, True, 1),
        (ConvolutionPrecision.tflite_int16, False, 8),
    ],
)
def test_qconv2d_from_the_planner_approximates_the_float_convolution(precision, per_channel, groups):
    rng = np.random.default_rng(7)
    bits = 16 if precision.output_type.bits == 16 else 8
    x = rng.uniform(-1.0, 2.0, (1, 7, 6, 8)).astype(np.float32)
    weight = rng.normal(0, 0.2, (3, 3, 8 // groups, 8)).astype(np.float32)
    bias = rng.normal(0, 0.1, 8).astype(np.float32)
    window = dict(strides=[1, 2], pads=[1, 1, 1, 0], dilations=[1, 1], groups=groups)
    (float_out,) = runtime_ir.run_op(
        ops.Conv2DOp, [x, weight, bias], [((1, 7, 3, 8), np.float32)], **{k: v for k, v in window.items()}
    )
    input_quant = quantization_from_range(-1.0, 2.0, bits, asymmetric=True)
    q_weight, q_bias, requant, out_type, out_quant, msb_left_shift = quantize_convolution_parameters(
        input_quant, ObservedDistribution.from_array(float_out), weight, bias,
        per_channel=per_channel, asymmetry=True, use_int15=bits == 16, use_sima_relu_workaround=False,
        precision=precision, allow_full_output_precision=False,
    )
    intrinsic = 0 if bits == 8 else np.where(msb_left_shift, 1, 8)
    in_type, out_element = to_quant(input_quant), to_quant(out_quant)

    def build(xv, wv, bv):
        return QConv2DOp(xv, wv, bv, requant, intrinsic, out_element, node="MLA_0/conv2d_add_0", **window)

    result = run_op(build, [(integers_of(x, in_type), in_type)], [q_weight, q_bias])
    error = np.abs(real(result, out_element) - float_out)
    value_range = float_out.max() - float_out.min()
    # int8: the input, weight and output roundings; int16 leaves the weights' 8 bits
    assert error.max() <= 0.01 * value_range, (error.max(), value_range)  # measured: 0.34% to 0.59%
    assert error.mean() <= 0.0025 * value_range  # measured: 0.10% to 0.15%


def test_qdense_with_relu_from_the_restricted_tflite_fallback():
    rng = np.random.default_rng(3)
    x = rng.uniform(-1.0, 1.0, (4, 16)).astype(np.float32)
    weight = rng.normal(0, 0.3, (16, 5)).astype(np.float32)
    float_out = np.maximum(x.astype(np.float64) @ weight, 0.0)
    input_quant = quantization_from_range(-1.0, 1.0, 8, asymmetric=True)
    q_weight, q_bias, requant, _, out_quant, _ = quantize_convolution_parameters(
        input_quant, ObservedDistribution(-0.5, float(float_out.max())), weight, None,
        per_channel=True, asymmetry=True, use_int15=False, use_sima_relu_workaround=True,
        precision=ConvolutionPrecision.sima_int8, allow_full_output_precision=False,
    )
    assert isinstance(requant, TFLiteRequantization)  # the output zero point is not 0
    in_type, out_element = to_quant(input_quant), to_quant(out_quant)
    result = run_op(
        lambda xv, wv, bv: QDenseOp(xv, wv, bv, requant, 0, out_element, relu=True),
        [(integers_of(x, in_type), in_type)],
        [q_weight, q_bias],
    )
    dequantized = real(result, out_element)
    assert dequantized.min() >= 0.0
    assert np.abs(dequantized - float_out).max() <= 0.03 * float_out.max()


def test_gemm_builders_reject_requantizations_without_an_integer_form():
    with pytest.raises(TypeError, match="FloatRequantization has no integer form"):
        QConv2DOp.gemm_properties(FloatRequantization(np.ones(2)), 0, quant(8, 1.0, 0), False)
    with pytest.raises(ValueError, match="adds zero point 3, but the result type's is 0"):
        QConv2DOp.gemm_properties(TFLiteRequantization(np.array([64]), np.array([7]), 3), 0, quant(8, 1.0, 0), False)


def test_accumulator_overflow_names_the_op():
    # the product 3 * 3 * 64 * 127 * 127 plus a bias near 2**31 leaves int32: a plan the
    # planner never makes, so the kernel refuses it instead of wrapping
    x = np.full((1, 3, 3, 64), 127, dtype=np.int8)
    weight = np.full((3, 3, 64, 1), 127, dtype=np.int8)
    bias = np.array([2**31 - 1000], dtype=np.int32)
    requant = TFLiteRequantization(np.array([64]), np.array([20]), 0)
    with pytest.raises(KernelError, match=r"sima.qconv2d 'MLA_0/conv2d_0' failed: product \+ bias \(int32 accumulator\) out of range"):
        run_op(
            lambda xv, wv, bv: QConv2DOp(xv, wv, bv, requant, 0, quant(8, 1.0, 0), node="MLA_0/conv2d_0"),
            [(x, quant(8, 1.0, 0))],
            [weight, bias],
        )


# ---------------------------------------------------------------------------
# ops built by `for_types`: the float op within the 8-bit multipliers' error


def tolerance(magnitude: np.ndarray, element: QuantizedType) -> np.ndarray:
    """Half an output step of rounding (plus one of slack for the intermediate
    roundings) and 2**-6 of `magnitude` for the 8-bit multipliers (each within
    2**-7 of its real factor)."""
    return 1.5 * element.scale_value + 2.0**-6 * np.abs(magnitude)


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("op_class, function", [(QAddOp, np.add), (QSubOp, np.subtract), (QMulOp, np.multiply)])
def test_binary_ops_for_types_approximate_the_float_op(op_class, function, bits):
    rng = np.random.default_rng(bits)
    a_type, b_type = quant(bits, 3.0 / 2**bits, -5), quant(8, 0.021, 17)
    a = rng.integers(-(2 ** (bits - 1)), 2 ** (bits - 1), (4, 1, 6)).astype(f"int{bits}")
    b = rng.integers(-128, 128, (1, 5, 6)).astype(np.int8)
    expected = function(real(a, a_type), real(b, b_type))
    out_type = quant(bits, float(np.abs(expected).max()) / 2 ** (bits - 2), 3)
    result = run_op(lambda x, y: op_class.for_types(x, y, out_type), [(a, a_type), (b, b_type)])
    # add / sub rescale each input with its own multiplier: the error follows |a| + |b|
    magnitude = expected if op_class is QMulOp else np.abs(real(a, a_type)) + np.abs(real(b, b_type))
    assert np.all(np.abs(real(result, out_type) - expected) <= tolerance(magnitude, out_type))


def test_qmatmul_and_requantize_for_types_approximate_the_float_op():
    rng = np.random.default_rng(11)
    a_type, b_type = quant(8, 0.03, 4), quant(8, 0.05, -9)
    a = rng.integers(-128, 128, (2, 3, 7)).astype(np.int8)
    b = rng.integers(-128, 128, (2, 7, 4)).astype(np.int8)
    expected = real(a, a_type) @ real(b, b_type)
    out_type = quant(8, float(np.abs(expected).max()) / 100, -2)
    result = run_op(lambda x, y: QMatMulOp.for_types(x, y, out_type), [(a, a_type), (b, b_type)])
    assert np.all(np.abs(real(result, out_type) - expected) <= tolerance(expected, out_type))
    # int8 -> int16 with a much finer step needs a left shift
    wide = quant(16, 0.03 / 200, 0)
    widened = run_op(lambda x: RequantizeOp.for_types(x, wide), [(a, a_type)])
    assert np.all(np.abs(real(widened, wide) - real(a, a_type)) <= tolerance(real(a, a_type), wide))


@pytest.mark.parametrize("count_include_pad", [True, False])
def test_average_pools_for_types_approximate_the_float_pools(count_include_pad):
    rng = np.random.default_rng(5)
    in_type, out_type = quant(8, 0.04, -20), quant(8, 0.03, 6)
    x = rng.integers(-128, 128, (1, 6, 5, 3)).astype(np.int8)
    window = dict(kernel=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=count_include_pad)
    (expected,) = runtime_ir.run_op(ops.AvgPoolOp, [real(x, in_type).astype(np.float32)], [((1, 3, 3, 3), np.float32)], **window)
    result = run_op(lambda v: QAvgPoolOp.for_types(v, out_type, **window), [(x, in_type)])
    assert np.all(np.abs(real(result, out_type) - expected) <= tolerance(expected, out_type))
    expected_global = real(x, in_type).mean(axis=(1, 2), keepdims=True)
    global_result = run_op(lambda v: QGlobalAvgPoolOp.for_types(v, out_type), [(x, in_type)])
    assert np.all(np.abs(real(global_result, out_type) - expected_global) <= tolerance(expected_global, out_type))


def test_quantize_dequantize_round_trip_within_half_a_step():
    element = quant(8, 0.05, -7)
    x = np.linspace(-6.0, 6.0, 97, dtype=np.float32).reshape(1, 97)
    q = run_op(lambda v: QuantizeOp(v, element), [(x, f32)])
    back = run_op(lambda v: DequantizeOp(v), [(q, element)])
    inside = (x >= element.scale_value * (-128 + 7)) & (x <= element.scale_value * (127 + 7))
    assert np.all(np.abs(back - x)[inside] <= element.scale_value / 2 + 1e-6)


# ---------------------------------------------------------------------------
# data movement on quantized tensors


def test_pad_of_a_quantized_tensor_pads_with_the_zero_point():
    element = quant(8, 0.5, -3)
    x = np.arange(6, dtype=np.int8).reshape(1, 2, 3)

    def build(v):
        return ops.PadOp.build(
            operands=[v],
            result_types=[runtime_ir.TensorType(element, [1, 3, 4])],
            properties={"pads": ops.int_array([0, 1, 0, 0, 0, 1]), "mode": runtime_ir.StringAttr("constant"), "value": ops.float_attr(-3.0)},
        )

    result = run_op(build, [(x, element)])
    np.testing.assert_array_equal(result[0, 0], [-3, -3, -3, -3])
    np.testing.assert_array_equal(result[0, 1:, :3], x[0])
    with pytest.raises(VerifyException, match="pads with its zero point -3, got value 0.0"):
        run_op(
            lambda v: ops.PadOp.build(
                operands=[v],
                result_types=[runtime_ir.TensorType(element, [1, 3, 4])],
                properties={"pads": ops.int_array([0, 1, 0, 0, 0, 1]), "mode": runtime_ir.StringAttr("constant"), "value": ops.float_attr(0.0)},
            ),
            [(x, element)],
        )


def test_max_pool_and_nearest_resize_move_quantized_integers():
    element = quant(8, 0.1, 100)
    x = np.array([-128, -100, -127, -90], dtype=np.int8).reshape(1, 2, 2, 1)
    pooled = run_op(
        lambda v: ops.MaxPoolOp.build(
            operands=[v],
            result_types=[runtime_ir.TensorType(element, [1, 2, 2, 1])],
            properties={"kernel": ops.int_array([2, 2]), "strides": ops.int_array([1, 1]), "pads": ops.int_array([1, 1, 0, 0]), "dilations": ops.int_array([1, 1])},
        ),
        [(x, element)],
    )
    # padding (even below the zero point's real 0) never wins
    np.testing.assert_array_equal(pooled.ravel(), [-128, -100, -127, -90])
    resized = run_op(
        lambda v: ops.ResizeOp.build(
            operands=[v],
            result_types=[runtime_ir.TensorType(element, [1, 4, 4, 1])],
            properties={"mode": runtime_ir.StringAttr("nearest"), "coordinate_mode": runtime_ir.StringAttr("asymmetric"), "nearest_mode": runtime_ir.StringAttr("floor")},
        ),
        [(x, element)],
    )
    np.testing.assert_array_equal(resized[0, :, :, 0], np.repeat(np.repeat(x[0, :, :, 0], 2, axis=0), 2, axis=1))


# ---------------------------------------------------------------------------
# the ops together


def test_every_quantized_op_has_a_kernel():
    from runtime.kernels import KERNELS
    from sima_dialect.quantized_ops import QUANTIZED_OPS

    assert [op.name for op in QUANTIZED_OPS if op not in KERNELS] == []


def test_a_quantized_chain_follows_the_float_chain():
    """quantize -> qconv2d (planner) -> lut (sigmoid) -> qglobal_avg_pool -> dequantize."""
    from xdsl.dialects.builtin import ModuleOp, TensorType
    from xdsl.dialects.func import FuncOp, ReturnOp
    from xdsl.ir import Block, Region

    from runtime.integer_arithmetic import lookup_table
    from runtime.interpreter import Interpreter
    from sima_dialect.quantized_ops import LutOp

    rng = np.random.default_rng(2)
    x = rng.uniform(-1.0, 1.0, (2, 6, 6, 3)).astype(np.float32)
    weight = rng.normal(0, 0.3, (3, 3, 3, 4)).astype(np.float32)
    window = dict(strides=[1, 1], pads=[1, 1, 1, 1], dilations=[1, 1], groups=1)
    (conv,) = runtime_ir.run_op(ops.Conv2DOp, [x, weight, None], [((2, 6, 6, 4), np.float32)], **window)
    sigmoid = 1.0 / (1.0 + np.exp(-conv.astype(np.float64)))
    expected = sigmoid.mean(axis=(1, 2), keepdims=True)

    input_quant = quantization_from_range(-1.0, 1.0, 8, asymmetric=True)
    q_weight, q_bias, requant, _, conv_quant, _ = quantize_convolution_parameters(
        input_quant, ObservedDistribution.from_array(conv), weight, None,
        per_channel=True, asymmetry=True, use_int15=False, use_sima_relu_workaround=False,
        precision=ConvolutionPrecision.sima_int8, allow_full_output_precision=False,
    )
    in_type, conv_type, unit_type = to_quant(input_quant), to_quant(conv_quant), quant(8, 1.0 / 255, -128)
    table = lookup_table(
        lambda v: 1.0 / (1.0 + np.exp(-v)), conv_type.scale_value, conv_type.zero_point_value, 8,
        unit_type.scale_value, unit_type.zero_point_value, 8,
    )
    block = Block(arg_types=[TensorType(f32, list(x.shape))])
    constants = [ops.ConstantOp.from_array(name, array) for name, array in (("w", q_weight), ("b", q_bias), ("sigmoid", table))]
    quantized = QuantizeOp(block.args[0], in_type)
    conv_op = QConv2DOp(quantized, constants[0], constants[1], requant, 0, conv_type, **window)
    lut = LutOp(conv_op, constants[2], unit_type)
    pooled = QGlobalAvgPoolOp.for_types(lut, unit_type)
    result = DequantizeOp(pooled)
    block.add_ops([*constants, quantized, conv_op, lut, pooled, result, ReturnOp(result.output)])
    module = ModuleOp([FuncOp("main", ([TensorType(f32, list(x.shape))], [result.output.type]), Region(block))])
    module.verify()
    (output,) = Interpreter(module).run([x])
    assert output.shape == expected.shape
    # measured: 0.56 of an output step
    assert np.abs(output - expected).max() <= 1.5 * unit_type.scale_value
