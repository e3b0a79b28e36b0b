"""Building `sima` ops from Python: the builders, their result types, and verification
errors as a Python caller sees them."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    DenseIntOrFPElementsAttr,
    IntegerType,
    ModuleOp,
    Signedness,
    StringAttr,
    TensorType,
    f32,
    i8,
    i16,
    i32,
    i64,
)
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.printer import Printer
from xdsl.utils.exceptions import VerifyException
from xdsl.utils.test_value import create_ssa_value

from sima_dialect import ops, shapes
from sima_dialect.context import parse_module
from sima_dialect.types import QuantizedType
from sima_dialect.weights import NDArrayAttr, print_weights_in_full


def tensor(*shape: int, element_type=f32) -> TensorType:
    return TensorType(element_type, shape)


def printed(op, full: bool = False) -> str:
    stream = io.StringIO()
    with print_weights_in_full(full):
        Printer(stream=stream).print_op(op)
    return stream.getvalue()


# --- sima.constant ------------------------------------------------------------


def test_constant_from_array_has_the_array_type_and_verifies():
    weight = np.arange(24, dtype=np.float32).reshape(2, 3, 1, 4)
    op = ops.ConstantOp.from_array("conv.weight", weight)
    op.verify()
    assert op.output.type == tensor(2, 3, 1, 4)
    assert isinstance(op.value, NDArrayAttr)
    assert op.value.weight_name == "conv.weight"
    np.testing.assert_array_equal(op.as_array(), weight)
    assert not op.as_array().flags.writeable


def test_constant_node_name_is_a_property():
    op = ops.ConstantOp(NDArrayAttr.from_array("b", np.zeros(2, np.float32)), node="MLA_0/b")
    assert op.node_name == "MLA_0/b"
    assert op.properties["node"] == StringAttr("MLA_0/b")
    assert ops.ConstantOp(NDArrayAttr.from_array("b", np.zeros(2, np.float32))).node_name is None


@pytest.mark.parametrize(
    "values, element_type, dtype",
    [([1.5, -2.0, 0.25], f32, np.float32), ([1, -2, 3], i32, np.int32), ([7, 8], i64, np.int64)],
)
def test_constant_from_dense_values(values, element_type, dtype):
    dense = DenseIntOrFPElementsAttr.from_list(tensor(len(values), element_type=element_type), values)
    op = ops.ConstantOp(dense)
    op.verify()
    assert op.output.type == tensor(len(values), element_type=element_type)
    array = op.as_array()
    assert array.dtype == dtype
    np.testing.assert_array_equal(array, np.array(values, dtype=dtype))


def test_constant_custom_form_prints_the_value_and_no_type():
    op = ops.ConstantOp.from_array("b", np.array([1.0, 2.0], dtype=np.float32))
    assert printed(op, full=True) == '%0 = sima.constant #sima.ndarray<"b", tensor<2xf32>, "0x0000803F00000040">'


# --- unary builders -------------------------------------------------------------

UNARY_WITHOUT_PROPERTIES = [
    cls
    for cls in ops.ALL_OPS
    if issubclass(cls, ops.UnaryElementwiseOp) and not cls.get_irdl_definition().properties.keys() - {"node", "target"}
]


def test_every_plain_unary_op_is_listed():
    names = {cls.name for cls in UNARY_WITHOUT_PROPERTIES}
    assert {"sima.relu", "sima.sigmoid", "sima.tanh", "sima.exp", "sima.neg"} <= names


@pytest.mark.parametrize("cls", UNARY_WITHOUT_PROPERTIES, ids=lambda cls: cls.name)
def test_unary_builder_gives_the_input_type(cls):
    x = create_ssa_value(tensor(1, 4, 4, 8))
    op = cls(x)
    op.verify()
    assert op.output.type == x.type
    assert op.input is x


def test_unary_builder_accepts_an_operation_and_properties():
    producer = ops.ConstantOp.from_array("x", np.ones((2, 3), np.float32))
    clip = ops.ClipOp(producer, {"min": ops.float_attr(0.0), "max": ops.float_attr(6.0)})
    clip.verify()
    assert clip.input is producer.output
    assert (clip.min.value.data, clip.max.value.data) == (0.0, 6.0)
    softmax = ops.SoftmaxOp(producer, {"axis": ops.int_attr(-1)})
    softmax.verify()


def test_unary_builder_checks_its_properties_at_verify():
    x = create_ssa_value(tensor(4))
    with pytest.raises(VerifyException, match="sima.clip: min 6.0 is greater than max 0.0"):
        ops.ClipOp(x, {"min": ops.float_attr(6.0), "max": ops.float_attr(0.0)}).verify()


# --- generic builders with result types from `shapes` ----------------------------


def test_conv_built_from_shape_rule_verifies():
    x = create_ssa_value(tensor(1, 8, 8, 3))
    weight = ops.ConstantOp.from_array("w", np.zeros((3, 3, 3, 16), np.float32))
    bias = ops.ConstantOp.from_array("b", np.zeros(16, np.float32))
    strides, pads, dilations = (2, 2), (1, 1, 1, 1), (1, 1)
    out = shapes.conv2d_output_shape((1, 8, 8, 3), (3, 3, 3, 16), strides, pads, dilations, 1)
    conv = ops.Conv2DOp.build(
        operands=[x, weight.output, bias.output],
        result_types=[tensor(*out)],
        properties={
            "strides": ops.int_array(strides),
            "pads": ops.int_array(pads),
            "dilations": ops.int_array(dilations),
            "groups": ops.int_attr(1),
            "node": StringAttr("conv"),
        },
    )
    conv.verify()
    assert out == (1, 4, 4, 16)
    # the bias is optional
    no_bias = ops.Conv2DOp.build(
        operands=[x, weight.output, None], result_types=[tensor(*out)], properties=dict(conv.properties)
    )
    no_bias.verify()
    assert no_bias.bias is None


def test_verify_error_from_python_names_op_and_node():
    lhs, rhs = create_ssa_value(tensor(2, 3)), create_ssa_value(tensor(4))
    add = ops.AddOp.build(operands=[lhs, rhs], result_types=[tensor(2, 3)], properties={"node": StringAttr("blk/add")})
    with pytest.raises(VerifyException, match=r"sima.add 'blk/add': shapes \(2, 3\) and \(4,\) do not broadcast"):
        add.verify()


def test_dynamic_shapes_are_rejected_before_the_shape_rules():
    x = create_ssa_value(TensorType(f32, (DYNAMIC_INDEX, 4)))
    with pytest.raises(VerifyException, match=r"sima.relu: dynamic shapes are not supported, got tensor<\?x4xf32>"):
        ops.ReluOp(x).verify()


def test_negative_sizes_from_python_are_rejected():
    # -1 is not "dynamic" in xDSL; a builder that passes it gets a clear error
    x = create_ssa_value(TensorType(f32, (-1, 4)))
    with pytest.raises(VerifyException, match=r"sima.relu: dimensions must not be negative, got tensor<-1x4xf32>"):
        ops.ReluOp(x).verify()


def test_built_module_prints_parses_and_prints_the_same():
    func = FuncOp("main", ((tensor(1, 4, 4, 8),), (tensor(1, 4, 4, 8),)))
    block = func.body.block
    bias = ops.ConstantOp.from_array("bias", np.linspace(-1, 1, 8, dtype=np.float32))
    add = ops.AddOp.build(operands=[block.args[0], bias.output], result_types=[tensor(1, 4, 4, 8)])
    relu = ops.ReluOp(add, {"node": StringAttr("relu")})
    block.add_ops([bias, add, relu, ReturnOp(relu)])
    module = ModuleOp([func])
    module.verify()
    for full in (False, True):
        text = printed(module, full=full)
        assert printed(parse_module(text), full=full) == text
    reparsed = parse_module(printed(module, full=True))
    constant = next(op for op in reparsed.walk() if isinstance(op, ops.ConstantOp))
    np.testing.assert_array_equal(constant.as_array(), bias.as_array())


# --- !sima.quant built in Python --------------------------------------------------


def test_quantized_type_accessors():
    qtype = QuantizedType(i16, 0.125, -7)
    assert (qtype.bits, qtype.scale_value, qtype.zero_point_value) == (16, 0.125, -7)
    assert QuantizedType(i8, 0.5, 1) == QuantizedType(i8, 0.5, 1)
    assert QuantizedType(i8, 0.5, 1) != QuantizedType(i8, 0.25, 1)


@pytest.mark.parametrize(
    "storage, scale, zero_point, message",
    [
        (i8, math.inf, 0, "scale must be positive and finite, got inf"),
        (i8, math.nan, 0, "scale must be positive and finite, got nan"),
        (i8, -1.0, 0, "scale must be positive and finite, got -1.0"),
        (IntegerType(8, Signedness.UNSIGNED), 0.5, 0, "storage must be i8, i16 or i32, got ui8"),
        (IntegerType(64), 0.5, 0, "storage must be i8, i16 or i32, got i64"),
        (i8, 0.5, -129, r"zero point -129 is outside the i8 range \[-128, 127\]"),
        (i32, 0.5, 2**31, r"zero point 2147483648 is outside the i32 range"),
    ],
)
def test_quantized_type_rejects(storage, scale, zero_point, message):
    with pytest.raises(VerifyException, match=message):
        QuantizedType(storage, scale, zero_point)
