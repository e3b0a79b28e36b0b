"""passes/quantize_bfloat16.py: the constants it writes and the function it computes.

The IR it writes is checked in test/filecheck/passes/quantize_bfloat16.mlir;
here: the int8 weights, bias and scale are seed 002's
`get_bfloat16_with_int_weights_quant_params`, and interpreting the converted
module equals composing `runtime.bfloat16`'s functions by hand, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from xdsl.dialects.builtin import ModuleOp

from afe.ir.attributes import ConvAddActivationAttrs
from afe.ir.quantization_conv import get_bfloat16_with_int_weights_quant_params
from passes import get_all_passes
from passes.quantize_bfloat16 import quantize_bfloat16_functions
from runtime import bfloat16 as bf
from runtime.interpreter import Interpreter
from runtime.kernels import KERNELS
from sima_dialect import bfloat16_ops as b
from sima_dialect import ops
from sima_dialect.context import sima_context
from xdsl.parser import Parser

WEIGHT = np.array([[[[0.5, -1.0, 0.3], [0.25, 0.75, 1.1]]]], dtype=np.float32)
BIAS = np.array([0.1, -0.2, 0.3], dtype=np.float32)

SOURCE = """
func.func @net(%x: tensor<1x4x4x2xf32>) -> (tensor<1x4x4x3xf32>, tensor<1x1x1x3xf32>) {
  %w = sima.constant dense<[[[[0.5, -1.0, 0.3], [0.25, 0.75, 1.1]]]]> : tensor<1x1x2x3xf32>
  %b = sima.constant dense<[0.1, -0.2, 0.3]> : tensor<3xf32>
  %0 = sima.conv2d %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, act_min = 0.0 : f32, node = "MLA_0/conv2d_add_relu_0", target = "MLA"} : (tensor<1x4x4x2xf32>, tensor<1x1x2x3xf32>, tensor<3xf32>) -> tensor<1x4x4x3xf32>
  %1 = sima.hard_swish %0 {node = "MLA_0/hard_swish_1", target = "MLA"} : tensor<1x4x4x3xf32>
  %2 = sima.global_avg_pool %1 {node = "MLA_0/global_avg_pool2d_2", target = "MLA"} : (tensor<1x4x4x3xf32>) -> tensor<1x1x1x3xf32>
  %3 = sima.mul %1, %2 {node = "MLA_0/mul_3", target = "MLA"} : (tensor<1x4x4x3xf32>, tensor<1x1x1x3xf32>) -> tensor<1x4x4x3xf32>
  func.return %3, %2 : tensor<1x4x4x3xf32>, tensor<1x1x1x3xf32>
}
"""


def converted(int_weights: bool, per_channel: bool = True) -> ModuleOp:
    module = Parser(sima_context(), SOURCE).parse_module()
    report = quantize_bfloat16_functions(module, int_weights=int_weights, per_channel=per_channel)
    assert report.left_float == {}
    module.verify()
    return module


def constants(module: ModuleOp) -> dict[str, np.ndarray]:
    return {op.value.weight_name: op.as_array() for op in module.walk() if isinstance(op, ops.ConstantOp)}


@pytest.mark.parametrize("per_channel", [True, False])
def test_int_weights_are_seed_002s_constants(per_channel):
    arrays = constants(converted(int_weights=True, per_channel=per_channel))
    q_weight, bias, requantization = get_bfloat16_with_int_weights_quant_params(
        ConvAddActivationAttrs(WEIGHT.astype(np.float64), BIAS.astype(np.float64)), per_channel, 8
    )
    name = "MLA_0/conv2d_add_relu_0.weight"
    assert np.array_equal(arrays[f"{name}.q"], q_weight) and arrays[f"{name}.q"].dtype == np.int8
    assert np.array_equal(arrays[f"{name}.bias.f32"], bias.astype(np.float32))
    assert np.array_equal(arrays[f"{name}.scale"], np.broadcast_to(np.float32(requantization.scale), (3,)))
    assert (np.unique(arrays[f"{name}.scale"]).size == 1) == (not per_channel)


def test_bf16_weights_are_rounded_and_the_scale_is_one():
    arrays = constants(converted(int_weights=False))
    name = "MLA_0/conv2d_add_relu_0.weight"
    assert arrays[f"{name}.bf16"].view(np.uint16).tolist() == bf.round_to_bfloat16(WEIGHT).view(np.uint16).tolist()
    assert arrays[f"{name}.scale"].tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("int_weights", [False, True])
def test_interpreting_the_bf16_module_is_the_model_composed_by_hand(int_weights):
    module = converted(int_weights)
    arrays = constants(module)
    name = "MLA_0/conv2d_add_relu_0.weight"
    weight = arrays[f"{name}.q"] if int_weights else arrays[f"{name}.bf16"]
    x = np.random.default_rng(3).normal(size=(1, 4, 4, 2)).astype(np.float32)
    got_mul, got_pool = Interpreter(module).run([x])

    entered = bf.round_to_bfloat16(x)
    conv = bf.bf16_conv2d(entered, weight, arrays[f"{name}.bias.f32"], arrays[f"{name}.scale"],
                          strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1), groups=1, act_min=0.0)
    table = bf.lookup_table_bfloat16(KERNELS[ops.HardSwishOp](None))
    swish = bf.bf16_lut(conv, table)
    pool = bf.bf16_global_avg_pool(swish)
    mul = bf.bf16_binary("mul", swish, pool)
    assert np.array_equal(got_mul.view(np.uint32), bf.to_float32(mul).view(np.uint32))
    assert np.array_equal(got_pool.view(np.uint32), bf.to_float32(pool).view(np.uint32))


def test_the_pass_is_registered_and_its_ops_have_kernels():
    assert get_all_passes()["quantize-bfloat16"]().name == "quantize-bfloat16"
    assert all(op_type in KERNELS for op_type in b.BFLOAT16_OPS)
