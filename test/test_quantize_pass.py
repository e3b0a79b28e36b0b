"""The quantize pass end to end: a small float graph (conv + relu, residual add,
max pool, lookup-table ops, concat, global average pool, dense) partitioned,
calibrated and quantized, then run bit-exactly by the interpreter next to the
float graph; the quantization rules of the pass as properties (hypothesis);
the `quantize_module` mapping of `QuantizationParams`; and the real cls model.
The IR each op family becomes is in test/filecheck/passes/quantize*.mlir."""

from __future__ import annotations

import dataclasses
import io
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from xdsl.dialects.builtin import TensorType
from xdsl.printer import Printer

from afe.apis.defines import (
    MinMaxMethod,
    QuantizationPrecision,
    RequantizationMode,
    bfloat16_scheme,
    default_quantization,
    int16_quantization,
    quantization_scheme,
)
from afe.apis.errors import UserFacingException
from afe.core.calibration_pipeline import calibrate_module
from afe.ir.defines import quantization_from_range
from passes.partition import partition_and_name
from passes.quantize import QuantizePass, quantize_module, quantize_module_with_report
from passes.quantize_elementwise import _product_fits_int32, _product_operands
from passes.quantize_values import (
    QuantizeError,
    QuantizeOptions,
    calibrated_range,
    from_quantization,
    with_bits,
)
from runtime.interpreter import Interpreter
from sima_dialect import ops
from sima_dialect.calibration_ops import ObserveOp
from sima_dialect.context import parse_module, sima_context
from sima_dialect.element_types import is_float_type
from sima_dialect.quantized_ops import DequantizeOp, QuantizeOp
from sima_dialect.types import QuantizedType
from sima_dialect.weights import print_weights_in_full


def _tensor(shape) -> str:
    return "tensor<" + "x".join(map(str, shape)) + "xf32>"


def _dense(array: np.ndarray) -> str:
    return f"dense<{np.asarray(array, dtype=np.float32).tolist()!r}> : {_tensor(np.shape(array))}"


def _small_graph(seed: int = 0) -> str:
    """conv + relu -> conv -> residual add -> max pool -> hard_swish -> 1x1 conv ->
    sigmoid -> concat (with the pool) -> global average pool -> dense."""
    rng = np.random.default_rng(seed)
    w1, b1 = rng.standard_normal((3, 3, 3, 8)) * 0.3, rng.standard_normal(8) * 0.1
    w2, b2 = rng.standard_normal((3, 3, 8, 8)) * 0.2, rng.standard_normal(8) * 0.1
    w3 = rng.standard_normal((1, 1, 8, 4)) * 0.3
    wd, bd = rng.standard_normal((12, 5)) * 0.3, rng.standard_normal(5) * 0.1
    window = "strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64"
    t = _tensor
    return f"""
func.func @main(%x: tensor<1x8x8x3xf32> {{sima.name = "image"}}) -> tensor<1x1x1x5xf32> {{
  %w1 = sima.constant {_dense(w1)}
  %b1 = sima.constant {_dense(b1)}
  %w2 = sima.constant {_dense(w2)}
  %b2 = sima.constant {_dense(b2)}
  %w3 = sima.constant {_dense(w3)}
  %wd = sima.constant {_dense(wd)}
  %bd = sima.constant {_dense(bd)}
  %0 = sima.conv2d %x, %w1, %b1 {{{window}, pads = array<i64: 1, 1, 1, 1>}} : ({t((1, 8, 8, 3))}, {t(w1.shape)}, {t(b1.shape)}) -> {t((1, 8, 8, 8))}
  %1 = sima.relu %0 : {t((1, 8, 8, 8))}
  %2 = sima.conv2d %1, %w2, %b2 {{{window}, pads = array<i64: 1, 1, 1, 1>}} : ({t((1, 8, 8, 8))}, {t(w2.shape)}, {t(b2.shape)}) -> {t((1, 8, 8, 8))}
  %3 = sima.add %2, %1 : ({t((1, 8, 8, 8))}, {t((1, 8, 8, 8))}) -> {t((1, 8, 8, 8))}
  %4 = sima.max_pool %3 {{kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>}} : ({t((1, 8, 8, 8))}) -> {t((1, 4, 4, 8))}
  %5 = sima.hard_swish %4 : {t((1, 4, 4, 8))}
  %6 = sima.conv2d %5, %w3 {{{window}, pads = array<i64: 0, 0, 0, 0>}} : ({t((1, 4, 4, 8))}, {t(w3.shape)}) -> {t((1, 4, 4, 4))}
  %7 = sima.sigmoid %6 : {t((1, 4, 4, 4))}
  %8 = sima.concat %7, %4 {{axis = 3 : i64}} : ({t((1, 4, 4, 4))}, {t((1, 4, 4, 8))}) -> {t((1, 4, 4, 12))}
  %9 = sima.global_avg_pool %8 : ({t((1, 4, 4, 12))}) -> {t((1, 1, 1, 12))}
  %10 = sima.dense %9, %wd, %bd : ({t((1, 1, 1, 12))}, {t(wd.shape)}, {t(bd.shape)}) -> {t((1, 1, 1, 5))}
  func.return %10 : {t((1, 1, 1, 5))}
}}
"""


def _samples(count: int, seed: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [{"image": rng.standard_normal((1, 8, 8, 3)).astype(np.float32)} for _ in range(count)]


def _sqnr_db(reference: list[np.ndarray], measured: list[np.ndarray]) -> float:
    ref = np.concatenate([r.ravel() for r in reference]).astype(np.float64)
    out = np.concatenate([m.ravel() for m in measured]).astype(np.float64)
    return float(10 * np.log10(np.sum(ref**2) / np.sum((ref - out) ** 2)))


def _float_module():
    module = parse_module(_small_graph())
    partition_and_name(module)
    return module


def _is_float(value) -> bool:
    return isinstance(value.type, TensorType) and is_float_type(value.type.element_type)


def _mla_ops_are_integer(module) -> list[str]:
    """The MLA ops that still compute on float tensors (quantize reads and dequantize writes floats)."""
    offenders = []
    for op in module.walk():
        if not isinstance(op, ops.SimaOp) or op.target_name != "MLA":
            continue
        values = [*op.operands, *op.results]
        if isinstance(op, QuantizeOp):
            values = list(op.results)
        elif isinstance(op, DequantizeOp):
            values = list(op.operands)
        if any(_is_float(v) for v in values):
            offenders.append(op.node_name or op.name)
    return offenders


CONFIGS = {
    "int8": default_quantization,
    "int16": int16_quantization,
    "tflite": default_quantization.with_requantization_mode(RequantizationMode.tflite),
    "per_tensor": default_quantization.with_weight_quantization(quantization_scheme(False, False)),
    "symmetric": default_quantization.with_activation_quantization(quantization_scheme(False, False)),
}


@pytest.fixture(scope="module")
def small_float():
    module = _float_module()
    return module, Interpreter(module)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_small_graph_quantized_is_close_to_float_and_integer_on_the_mla(small_float, name):
    module, float_run = small_float
    config = CONFIGS[name]
    calibrated = calibrate_module(module, _samples(16, seed=1), config, progress=False)
    quantized, report = quantize_module_with_report(calibrated, config)
    quantized.verify()
    assert report.left_float == {}
    assert _mla_ops_are_integer(quantized) == []
    assert not any(isinstance(op, ObserveOp) for op in quantized.walk())
    kinds = {op.name for op in quantized.walk()}
    assert {"sima.qconv2d", "sima.qadd", "sima.lut", "sima.qdense", "sima.qglobal_avg_pool", "sima.max_pool"} <= kinds
    function_type = next(op for op in quantized.walk() if op.name == "func.func").function_type
    assert function_type == next(op for op in module.walk() if op.name == "func.func").function_type  # float signature

    evaluation = _samples(16, seed=2)
    integer_run = Interpreter(quantized)
    reference = [float_run.run(sample)[0] for sample in evaluation]
    measured = [integer_run.run(sample)[0] for sample in evaluation]
    assert _sqnr_db(reference, measured) > 30.0


def test_quantized_ir_prints_and_parses_back_to_the_same_integers(small_float):
    module, _ = small_float
    calibrated = calibrate_module(module, _samples(4, seed=1), default_quantization, progress=False)
    quantized = quantize_module(calibrated, default_quantization)
    text = io.StringIO()
    with print_weights_in_full():
        Printer(stream=text, print_generic_format=True).print_op(quantized)
    reparsed = parse_module(text.getvalue())
    sample = _samples(1, seed=3)[0]
    np.testing.assert_array_equal(Interpreter(reparsed).run(sample)[0], Interpreter(quantized).run(sample)[0])


def test_quantize_module_leaves_the_calibrated_module_untouched(small_float):
    module, _ = small_float
    calibrated = calibrate_module(module, _samples(2, seed=1), default_quantization, progress=False)
    before = str(calibrated)
    quantize_module(calibrated, default_quantization)
    assert str(calibrated) == before


# ---------------------------------------------------------------------------
# QuantizationParams -> the pass


def _ops_named(module, node: str) -> list[ops.SimaOp]:
    return [op for op in module.walk() if isinstance(op, ops.SimaOp) and op.node_name == node]


def _node_of(module, kind: str, index: int = 0) -> str:
    names = [op.node_name for op in module.walk() if isinstance(op, ops.SimaOp) and op.name == kind]
    return names[index]


def test_per_node_int16_widens_the_tensors_the_node_reads_and_writes(small_float):
    module, _ = small_float
    conv = _node_of(module, "sima.conv2d", 1)  # the second convolution
    config = default_quantization.with_custom_quantization_configs(
        {conv: {"quantization_precision": QuantizationPrecision.INT_16}}
    )
    calibrated = calibrate_module(module, _samples(4, seed=1), config, progress=False)
    quantized = quantize_module(calibrated, config)
    (qconv,) = _ops_named(quantized, conv)
    assert qconv.name == "sima.qconv2d"
    assert qconv.input.type.element_type.bits == 16 and qconv.output.type.element_type.bits == 16
    assert all(v > 0 for v in qconv.intrinsic_shift.get_values())  # the int15 algorithm
    # the first conv writes the tensor the int16 node reads; the 1x1 conv after the pool stays int8
    first, _, last = [op for op in quantized.walk() if op.name == "sima.qconv2d"]
    assert first.output.type.element_type.bits == 16
    assert first.input.type.element_type.bits == 8 and last.output.type.element_type.bits == 8


def test_per_node_int8_in_an_int16_model_narrows_its_tensors(small_float):
    module, float_run = small_float
    conv = _node_of(module, "sima.conv2d", 1)
    config = int16_quantization.with_custom_quantization_configs(
        {conv: {"quantization_precision": QuantizationPrecision.INT_8}}
    )
    calibrated = calibrate_module(module, _samples(16, seed=1), config, progress=False)
    quantized = quantize_module(calibrated, config)
    first, second, last = [op for op in quantized.walk() if op.name == "sima.qconv2d"]
    assert second.node_name == conv
    assert second.input.type.element_type.bits == 8 and second.output.type.element_type.bits == 8
    assert list(second.intrinsic_shift.get_values()) == [0]  # the int8 algorithm
    assert first.input.type.element_type.bits == 16 and last.output.type.element_type.bits == 16
    evaluation = _samples(4, seed=2)
    reference = [float_run.run(s)[0] for s in evaluation]
    measured = [Interpreter(quantized).run(s)[0] for s in evaluation]
    assert _sqnr_db(reference, measured) > 30.0


def test_output_int32_keeps_the_accumulator(small_float):
    module, float_run = small_float
    dense = _node_of(module, "sima.dense")
    config = default_quantization.with_custom_quantization_configs({dense: {"output_int32": True}})
    calibrated = calibrate_module(module, _samples(8, seed=1), config, progress=False)
    quantized = quantize_module(calibrated, config)
    (qdense,) = _ops_named(quantized, dense)
    element = qdense.output.type.element_type
    assert isinstance(element, QuantizedType) and element.bits == 32 and element.zero_point_value == 0
    sample = _samples(4, seed=2)
    reference = [float_run.run(s)[0] for s in sample]
    measured = [Interpreter(quantized).run(s)[0] for s in sample]
    assert _sqnr_db(reference, measured) > 30.0


@pytest.mark.parametrize(
    "config, message",
    [
        (
            default_quantization.with_custom_quantization_configs({"MLA_0/conv2d_add_relu_9": {"output_int32": True}}),
            "no conv2d or dense named 'MLA_0/conv2d_add_relu_9' (closest: 'MLA_0/conv2d_add_relu_0'",
        ),
        (
            default_quantization.with_custom_quantization_configs(
                {"MLA_0/nothing": {"quantization_precision": QuantizationPrecision.INT_16}}
            ),
            "custom_quantization_configs: no node named 'MLA_0/nothing'",
        ),
        (
            default_quantization.with_custom_quantization_configs(
                {"MLA_0/conv2d_add_relu_0": {"quantization_precision": QuantizationPrecision.BFLOAT_16}}
            ),
            "node 'MLA_0/conv2d_add_relu_0': bfloat16 precision is not supported yet",
        ),
    ],
    ids=["int32-unknown", "precision-unknown", "bfloat16-node"],
)
def test_bad_per_node_options_are_user_errors_naming_the_node(small_float, config, message):
    module, _ = small_float
    calibrated = calibrate_module(module, _samples(1, seed=1), default_quantization, progress=False)
    with pytest.raises(UserFacingException, match=message.replace("(", r"\(").replace(")", r"\)")):
        quantize_module(calibrated, config)


def test_bfloat16_activations_give_bf16_ops_not_integer_ones():
    # the bfloat16 scheme itself is tested in test_bfloat16_model.py / test_bfloat16_pass.py
    config = dataclasses.replace(
        default_quantization, activation_quantization_scheme=bfloat16_scheme(), weight_quantization_scheme=bfloat16_scheme()
    )
    names = {op.name for op in quantize_module(_float_module(), config).walk()}
    assert "sima.bf16_conv2d" in names and not any(name.startswith("sima.q") for name in names)
    per_node = config.with_custom_quantization_configs(
        {"MLA_0/conv2d_add_relu_0": {"quantization_precision": QuantizationPrecision.INT_16}}
    )
    with pytest.raises(UserFacingException, match="'MLA_0/conv2d_add_relu_0': integer precisions and output_int32 apply"):
        quantize_module(_float_module(), per_node)


def test_an_uncalibrated_module_is_a_user_error_naming_the_node():
    with pytest.raises(UserFacingException, match="MLA_0/conv2d_add_relu_0.*run calibration and select-scales first"):
        quantize_module(_float_module(), default_quantization)


def test_the_pass_is_registered_with_its_options():
    from passes import get_all_passes

    assert get_all_passes()["quantize"]() is QuantizePass
    with pytest.raises(QuantizeError, match="weight-bits must be 8"):
        QuantizePass(weight_bits=4).apply(sima_context(), _float_module())


# ---------------------------------------------------------------------------
# the rules, as properties

_BITS = st.sampled_from([8, 16])


@st.composite
def _quantizations(draw, bits=_BITS, asymmetric=st.booleans()):
    """A quantization as select-scales makes them: from an observed range."""
    b, asym = draw(bits), draw(asymmetric)
    low = draw(st.floats(-1e3, 0.0, allow_nan=False))
    high = draw(st.floats(0.0, 1e3, allow_nan=False))
    if high - low < 1e-3:
        high = low + 1e-3
    return from_quantization(quantization_from_range(low, high, b, asym)), asym


@settings(max_examples=200, deadline=None)
@given(_quantizations())
def test_the_calibrated_range_gives_the_calibrated_quantization_back(quantization):
    """The planner recomputes the output quantization from a range: the one the
    pass gives it must reproduce the calibrated quantization."""
    element, asymmetric = quantization
    again = from_quantization(quantization_from_range(*calibrated_range(element, asymmetric), element.bits, asymmetric))
    assert again.zero_point_value == element.zero_point_value
    assert math.isclose(again.scale_value, element.scale_value, rel_tol=1e-9)


@settings(max_examples=200, deadline=None)
@given(_quantizations(bits=st.just(16)), _quantizations(bits=st.just(16)))
def test_int16_products_get_operands_whose_product_fits_int32(lhs, rhs):
    (a, asymmetric), (b, _) = lhs, rhs

    class Rewrite:  # the part of OpRewrite `_product_operands` reads
        options = QuantizeOptions(asymmetric=asymmetric)

    new_a, new_b = _product_operands(Rewrite(), a, b)
    assert _product_fits_int32(new_a, new_b)
    for old, new in ((a, new_a), (b, new_b)):
        if new != old:  # requantized: symmetric over the same range, at most one bit coarser
            low, high = calibrated_range(old, asymmetric)
            assert new.zero_point_value == 0 and new.bits == 16
            assert new.scale_value * 32767 >= max(-low, high) * (1 - 1e-12)
            assert new.scale_value <= old.scale_value * 65535 / 32767 * (1 + 1e-9)  # all the range on one side


@settings(max_examples=100, deadline=None)
@given(_quantizations(bits=st.just(16), asymmetric=st.just(True)))
def test_narrowing_to_8_bits_keeps_the_range(quantization):
    element, asymmetric = quantization
    narrow = with_bits(element, 8, asymmetric)
    assert narrow.bits == 8
    low, high = calibrated_range(element, asymmetric)
    narrow_low, narrow_high = calibrated_range(narrow, asymmetric)
    step = narrow.scale_value
    assert narrow_low <= min(low, 0.0) + step and narrow_high >= max(high, 0.0) - step


def _clamped_conv_text(input_q: QuantizedType, output_q: QuantizedType, low: float, high: float) -> str:
    def quant(q: QuantizedType) -> str:
        return f"!sima.quant<i{q.bits}, {q.scale_value!r}:{q.zero_point_value}>"

    def f32(v: float) -> str:
        return f"{v:.9e}"

    stats = 'stats = {kind = "min_max", min = 0.0 : f64, max = 1.0 : f64}'
    return f"""
func.func @main(%x: tensor<1x1x64x1xf32>) -> tensor<1x1x64x1xf32> {{
  sima.observe %x {{key = "x", method = {{name = "min_max"}}, {stats}, quant = {quant(input_q)}}} : tensor<1x1x64x1xf32>
  %w = sima.constant dense<1.0> : tensor<1x1x1x1xf32>
  %0 = sima.conv2d %x, %w {{strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, act_min = {f32(low)} : f32, act_max = {f32(high)} : f32, node = "MLA_0/conv2d_clip_0", target = "MLA"}} : (tensor<1x1x64x1xf32>, tensor<1x1x1x1xf32>) -> tensor<1x1x64x1xf32>
  sima.observe %0 {{key = "y", method = {{name = "min_max"}}, {stats}, quant = {quant(output_q)}}} : tensor<1x1x64x1xf32>
  func.return %0 : tensor<1x1x64x1xf32>
}}
"""


@settings(max_examples=40, deadline=None)
@given(
    st.floats(-4.0, 0.0),
    st.floats(0.0, 4.0),
    st.floats(-2.0, 1.0),
    st.floats(0.0, 3.0),
    st.booleans(),
    st.sampled_from(["sima", "tflite"]),
    st.integers(0, 2**32 - 1),
)
def test_a_fused_clamp_holds_in_the_integers(range_low, range_high, act_low, act_width, asymmetric, mode, seed):
    """Whatever the output quantization, the integer conv clamps to [act_min, act_max]
    (by saturation, the relu flag or a table) up to the quantization's own error."""
    act_high = act_low + act_width
    input_q = from_quantization(quantization_from_range(-4.0, 4.0, 8, asymmetric))
    output_q = from_quantization(quantization_from_range(range_low, range_high + 1e-3, 8, asymmetric))
    module = parse_module(_clamped_conv_text(input_q, output_q, act_low, act_high))
    QuantizePass(requant_mode=mode, asymmetric=asymmetric).apply(sima_context(), module)
    module.verify()
    x = np.random.default_rng(seed).uniform(-4.0, 4.0, (1, 1, 64, 1)).astype(np.float32)
    y = Interpreter(module).run([x])[0]
    # the quantization the result has (the planner may coarsen a step finer than the product's)
    (dequantize,) = [op for op in module.walk() if op.name == "sima.dequantize"]
    result_q = dequantize.input.type.element_type
    step, zero_point = result_q.scale_value, result_q.zero_point_value
    expected = np.clip(np.clip(x, act_low, act_high), (-128 - zero_point) * step, (127 - zero_point) * step)
    # input rounding, the folded weight (|w - 1| < 1/64), the output rounding and the 8-bit multiplier
    tolerance = input_q.scale_value / 2 + np.abs(x) / 64 + step * 1.01
    assert np.all(np.abs(y - expected) <= tolerance), (np.abs(y - expected) - tolerance).max()


# ---------------------------------------------------------------------------
# a real model


def test_real_cls_model_quantizes_to_integers_close_to_float():
    """The PP-OCR orientation classifier (MobileNetV3): int8, 4 calibration
    samples, 4 evaluation inputs (the report gives 16 / 50)."""
    from afe.apis.loaded_net import load_model
    from afe.ir.tensor_type import ScalarType
    from afe.load.importers.general_importer import onnx_source
    from models import REAL_MODELS, real_inputs

    spec = REAL_MODELS["cls"]
    assert spec.path is not None, f"{spec.package} is not installed: pip install -e '.[test]'"
    net = load_model(onnx_source(str(spec.path), {spec.input_name: spec.shape}, {spec.input_name: ScalarType.float32}))
    module = net.module.clone()
    partition_and_name(module)

    def nhwc(images):
        return [{spec.input_name: np.ascontiguousarray(a.transpose(0, 2, 3, 1))} for a in images]

    config = default_quantization.with_calibration(MinMaxMethod())
    calibrated = calibrate_module(module, nhwc(real_inputs("cls", 4, seed=1)), config, progress=False)
    quantized, report = quantize_module_with_report(calibrated, config)
    assert report.left_float == {}  # the softmax too is an integer op
    assert _mla_ops_are_integer(quantized) == []
    evaluation = nhwc(real_inputs("cls", 4, seed=2))
    float_run, integer_run = Interpreter(module), Interpreter(quantized)
    reference = [float_run.run(x)[0] for x in evaluation]
    measured = [integer_run.run(x)[0] for x in evaluation]
    assert _sqnr_db(reference, measured) > 12.0
    agree = [int(np.argmax(r)) == int(np.argmax(m)) for r, m in zip(reference, measured)]
    assert sum(agree) >= 3
