"""`LoadedNet.quantize` and `Model`, the parts that need no quantized arithmetic:
config checks, node-name checks (all before any data is read), `arm_only`,
input checks, save / load of a float model, the config's JSON form, and the
accelerator-mode refusal.

The quantized path (calibration + quantize pass + integer execution) is in
`test_model_api_quantized.py`.
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pytest

from afe.apis.defines import (
    HistogramEntropyMethod,
    HistogramPercentileMethod,
    MovingAverageMinMaxMethod,
    QuantizationPrecision,
    RequantizationMode,
    default_quantization,
    int16_quantization,
    quantization_scheme,
)
from afe.apis.errors import ExceptionFuncType, UserFacingException
from afe.apis.model import Model, config_from_json, config_to_json
from afe.core.quantize_pipeline import partitioned_float_module, resolve_custom_configs
from afe.serialization import load_module, model_file_paths, save_model_files
from models import real_inputs

LAST_CONV = "MLA_0/conv2d_add_103"  # the cls model's last convolution (a hard_swish on the MLA reads it)
DENSE = "MLA_0/dense_add_108"  # its classifier, read by the softmax
SOFTMAX = "MLA_0/softmax_109"


class Unreadable:
    """Calibration data that fails the test if anything reads it."""

    def __iter__(self):
        raise AssertionError("calibration data was read")


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    return [np.ascontiguousarray(x.transpose(0, 2, 3, 1)) for x in real_inputs("cls", 3, seed=11)]


@pytest.fixture(scope="module")
def arm_model(cls_net) -> Model:
    return cls_net.quantize(Unreadable(), default_quantization, arm_only=True, model_name="cls_arm")


def quantize_error(cls_net, config, data=None, **kwargs) -> UserFacingException:
    with pytest.raises(UserFacingException) as caught:
        cls_net.quantize(Unreadable() if data is None else data, config, **kwargs)
    assert caught.value.func_type is ExceptionFuncType.LOADED_NET_QUANTIZE
    return caught.value


# -- argument and config checks ---------------------------------------------------------


@pytest.mark.parametrize("config", [None, "default", {"calibration_method": "mse"}, quantization_scheme(True, False)])
def test_the_config_must_be_quantization_params(cls_net, config) -> None:
    error = quantize_error(cls_net, config)
    assert "quantization_config must be a QuantizationParams" in str(error)
    assert error.__cause__ is None


@pytest.mark.parametrize("option, value", [("arm_only", "yes"), ("simulated_arm", 1), ("model_name", ""), ("model_name", 3)])
def test_bad_flags_name_the_option(cls_net, option, value) -> None:
    assert option in str(quantize_error(cls_net, default_quantization, **{option: value}))


def test_unknown_unquantized_node_suggests_the_closest_name(cls_net) -> None:
    config = default_quantization.with_unquantized_nodes({"MLA_0/softmax_108"})
    message = str(quantize_error(cls_net, config))
    assert "with_unquantized_nodes" in message and "'MLA_0/softmax_108'" in message
    assert f"'{SOFTMAX}'" in message


def test_unknown_custom_node_names_the_option_and_suggests(cls_net) -> None:
    config = default_quantization.with_custom_quantization_configs(
        {"MLA_0/conv2d_add_relu_0": {"quantization_precision": QuantizationPrecision.INT_16}, "nothing_like_it": {"output_int32": True}}
    )
    message = str(quantize_error(cls_net, config))
    assert "custom_quantization_configs" in message
    assert "no node named 'MLA_0/conv2d_add_relu_0' (closest: 'MLA_0/conv2d_add_relu_" in message
    assert "no node named 'nothing_like_it' (no similar name" in message


def test_seed_resnet_names_are_rejected_with_cls_names_suggested(cls_net) -> None:
    # seed 003's example names belong to resnet50; on another model they must fail loudly
    int16_nodes = ["MLA_0/conv2d_add_relu_0", "MLA_0/max_pool2d_1", "MLA_0/conv2d_add_4"]
    config = default_quantization.with_custom_quantization_configs(
        {node: {"quantization_precision": QuantizationPrecision.INT_16} for node in int16_nodes}
    )
    message = str(quantize_error(cls_net, config))
    assert all(f"no node named '{node}'" in message for node in int16_nodes)
    assert "no node named 'MLA_0/conv2d_add_4' (closest: 'MLA_0/conv2d_add_" in message


def test_options_on_an_unquantized_node_are_refused(cls_net) -> None:
    config = default_quantization.with_unquantized_nodes({SOFTMAX}).with_custom_quantization_configs(
        {SOFTMAX: {"quantization_precision": QuantizationPrecision.INT_16}}
    )
    message = str(quantize_error(cls_net, config))
    assert f"node '{SOFTMAX}' runs in float on the APU" in message


def test_output_int32_needs_a_gemm(cls_net) -> None:
    config = default_quantization.with_custom_quantization_configs({"MLA_0/hard_swish_1": {"output_int32": True}})
    assert "output_int32 applies to a convolution or dense node, this one is sima.hard_swish" in str(quantize_error(cls_net, config))


def test_output_int32_must_leave_the_mla(cls_net) -> None:
    config = default_quantization.with_custom_quantization_configs({LAST_CONV: {"output_int32": True}})
    message = str(quantize_error(cls_net, config))
    assert "final MLA layer" in message and "MLA_0/hard_swish_104" in message
    # the classifier is the last MLA layer once the softmax runs on the APU
    config = default_quantization.with_unquantized_nodes({SOFTMAX}).with_custom_quantization_configs({DENSE: {"output_int32": True}})
    float_reference = partitioned_float_module(cls_net.module, config.node_names)
    assert resolve_custom_configs(float_reference, cls_net.module, config).custom_quantization_configs == {DENSE: {"output_int32": True}}


def test_names_from_before_forcing_nodes_are_renamed(cls_net) -> None:
    # forcing a node in the middle splits MLA_0: later nodes become MLA_1/..., but
    # the names list_nodes() showed before still reach them
    int16 = {"quantization_precision": QuantizationPrecision.INT_16}
    config = default_quantization.with_unquantized_nodes({"MLA_0/mul_8"}).with_custom_quantization_configs(
        {"MLA_0/conv2d_add_9": int16, "MLA_0/conv2d_add_0": int16}
    )
    float_reference = partitioned_float_module(cls_net.module, config.node_names)
    names = [row[0] for row in _rows(float_reference)]
    assert "APU_0/mul_8" in names and "MLA_1/conv2d_add_9" in names
    resolved = resolve_custom_configs(float_reference, cls_net.module, config)
    assert resolved.custom_quantization_configs == {"MLA_1/conv2d_add_9": int16, "MLA_0/conv2d_add_0": int16}
    assert resolved.node_names == config.node_names


def _rows(module):
    from passes.name_nodes import node_rows

    return list(node_rows(module))


# -- arm_only -----------------------------------------------------------------------------


def test_arm_only_runs_every_op_in_float_on_the_apu(cls_net, arm_model, images, capsys) -> None:
    rows = arm_model.list_nodes()
    arm_model.print_nodes()
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split() == ["node", "op", "target", "precision"] and len(printed) == len(rows) + 1
    assert printed[1].split() == ["APU_0/conv2d_add_0", "sima.conv2d", "APU", "float32"]
    assert len(rows) == len(cls_net.list_nodes())
    assert {row.target for row in rows} == {"APU"} and {row.precision for row in rows} == {"float32"}
    assert rows[0].name == "APU_0/conv2d_add_0" and rows[-1].name == "APU_0/softmax_109"
    assert arm_model.arm_only and arm_model.name == "cls_arm" and "arm_only" in repr(arm_model)
    for image in images:
        np.testing.assert_array_equal(arm_model.execute({"x": image})[0], cls_net.execute({"x": image})[0])
    assert arm_model.input_types == cls_net.input_types and arm_model.output_names == cls_net.output_names


def test_quantize_leaves_the_loaded_net_unchanged(cls_net, images) -> None:
    before = cls_net.ir_text()
    cls_net.quantize(Unreadable(), default_quantization, arm_only=True)
    assert cls_net.ir_text() == before


# -- Model.execute input checks -------------------------------------------------------------


@pytest.mark.parametrize(
    "inputs, message",
    [
        ([np.zeros((1, 48, 192, 3), np.float32)], "inputs must be a dict from input name to array, got list"),
        ({"y": np.zeros((1, 48, 192, 3), np.float32)}, "unknown input 'y'; the model's inputs are ['x']"),
        ({}, "input 'x' is missing: expected shape [1, 48, 192, 3] (NHWC) and dtype float32"),
        ({"x": np.zeros((1, 3, 48, 192), np.float32)}, "input 'x' has shape [1, 3, 48, 192] and dtype float32"),
        ({"x": np.zeros((1, 48, 192, 3), np.float64)}, "and dtype float64: expected"),
        ({"x": [[0.0]]}, "input 'x' must be a NumPy array, got list"),
    ],
)
def test_execute_checks_inputs_as_the_loaded_net_does(cls_net, arm_model, inputs, message) -> None:
    with pytest.raises(UserFacingException) as from_model:
        arm_model.execute(inputs)
    with pytest.raises(UserFacingException) as from_net:
        cls_net.execute(inputs)
    assert from_model.value.func_type is ExceptionFuncType.MODEL_EXECUTE
    assert message in str(from_model.value)
    assert from_model.value.message == from_net.value.message


def test_fast_mode_must_be_a_flag(arm_model, images) -> None:
    with pytest.raises(UserFacingException, match="fast_mode must be True or False"):
        arm_model.execute({"x": images[0]}, fast_mode="yes")
    # a float model has no integer arithmetic: fast mode (onnxruntime's float kernels) differs by float32 rounding only
    np.testing.assert_allclose(arm_model.execute({"x": images[0]}, True)[0], arm_model.execute({"x": images[0]})[0], rtol=1e-4, atol=1e-6)


def test_accelerator_mode_is_refused_with_an_explanation(arm_model, images) -> None:
    with pytest.raises(UserFacingException) as caught:
        arm_model.execute_in_accelerator_mode([{"x": images[0]}], devkit="192.168.1.20", username="sima", password="x")
    assert caught.value.func_type is ExceptionFuncType.MODEL_EXECUTE
    assert "no accelerator" in str(caught.value) and "Model.execute" in str(caught.value)


# -- save / load --------------------------------------------------------------------------


def test_save_and_load_a_float_model(arm_model, images, tmp_path) -> None:
    directory = tmp_path / "saved" / "deeper"  # created by save
    arm_model.save("cls_arm", str(directory))
    sima, view = model_file_paths("cls_arm", directory)
    assert os.path.exists(sima) and os.path.exists(view)
    loaded = Model.load("cls_arm.sima", str(directory))  # the extension may be given
    assert loaded.name == "cls_arm" and loaded.arm_only
    assert loaded.quantization_config == default_quantization
    assert loaded.ir_text() == arm_model.ir_text()
    assert loaded.float_reference is not None
    for image in images:
        np.testing.assert_array_equal(loaded.execute({"x": image})[0], arm_model.execute({"x": image})[0])
    # the Netron view shows @main only
    layers = json.loads(open(view).read())["config"]["layers"]
    assert sum(layer["class_name"] != "InputLayer" for layer in layers) == len(arm_model.list_nodes())


def test_the_file_holds_the_float_reference_and_the_metadata(arm_model, tmp_path) -> None:
    arm_model.save("m", str(tmp_path))
    module, metadata = load_module(model_file_paths("m", tmp_path)[0])
    functions = sorted(op.sym_name.data for op in module.body.ops)
    assert functions == ["float_reference", "main"]
    assert metadata["kind"] == "sima-quantized-model" and metadata["model_name"] == "cls_arm"
    assert metadata["inputs"] == [{"name": "x", "shape": [1, 48, 192, 3], "dtype": "float32"}]
    assert metadata["outputs"] == arm_model.output_names and metadata["float_reference"] == "float_reference"
    assert metadata["quantization_config"]["calibration_method"] == {"name": "mse", "num_bins": 2048}
    loaded = Model.load("m", str(tmp_path))
    assert [row.target for row in _rows(loaded.float_reference)][:1] == ["MLA"]
    assert [row.name for row in _rows(loaded.float_reference)] == [row.name for row in _rows(arm_model.float_reference)]


def test_a_file_without_float_reference_or_metadata_loads(cls_net, images, tmp_path) -> None:
    save_model_files("plain", tmp_path, cls_net.module)
    loaded = Model.load("plain", str(tmp_path))
    assert loaded.name == "plain" and loaded.float_reference is None and loaded.quantization_config is None
    np.testing.assert_array_equal(loaded.execute({"x": images[0]})[0], cls_net.execute({"x": images[0]})[0])


def test_load_errors_name_the_file(tmp_path) -> None:
    with pytest.raises(UserFacingException) as caught:
        Model.load("absent", str(tmp_path))
    assert caught.value.func_type is ExceptionFuncType.MODEL_LOAD and "absent.sima': no such file" in str(caught.value)
    (tmp_path / "junk.sima").write_bytes(b"not a model")
    with pytest.raises(UserFacingException, match="junk.sima': not a .sima model file"):
        Model.load("junk", str(tmp_path))


def test_save_errors_are_user_facing(arm_model, tmp_path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(UserFacingException) as caught:
        arm_model.save("m", str(tmp_path / "file" / "sub"))
    assert caught.value.func_type is ExceptionFuncType.MODEL_SAVE and "cannot create output directory" in str(caught.value)
    with pytest.raises(UserFacingException, match="model_name must be a non-empty string"):
        arm_model.save("", str(tmp_path))


# -- the config's JSON form -------------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        default_quantization,
        int16_quantization,
        default_quantization.with_calibration(HistogramPercentileMethod(91.0, 2048))
        .with_weight_quantization(quantization_scheme(False, False))
        .with_requantization_mode(RequantizationMode.tflite),
        dataclasses.replace(default_quantization, calibration_method=MovingAverageMinMaxMethod()),
        default_quantization.with_calibration(HistogramEntropyMethod(256))
        .with_unquantized_nodes({SOFTMAX, "MLA_0/mul_8"})
        .with_custom_quantization_configs(
            {DENSE: {"output_int32": True}, "MLA_0/add_16": {"quantization_precision": QuantizationPrecision.INT_16}}
        ),
    ],
)
def test_config_json_round_trip(config) -> None:
    data = config_to_json(config)
    assert config_from_json(json.loads(json.dumps(data))) == config


def test_quantized_outputs_come_back_dequantized() -> None:
    # a graph that returns its integers (the quantize pass dequantizes at the
    # return, other producers of sima IR may not): execute still returns floats
    from xdsl.dialects.builtin import ModuleOp, TensorType, f32
    from xdsl.dialects.func import FuncOp, ReturnOp
    from xdsl.ir import Block, Region

    from integer_references import quant
    from sima_dialect.quantized_ops import QuantizeOp

    block = Block(arg_types=[TensorType(f32, [4])])
    quantize = QuantizeOp(block.args[0], quant(8, 0.5, 3))
    block.add_ops([quantize, ReturnOp(quantize.output)])
    module = ModuleOp([FuncOp("main", ([block.args[0].type], [quantize.output.type]), Region(block))])
    model = Model(module, name="q")
    (out,) = model.execute({"arg0": np.array([-1.0, 0.2, 0.3, 100.0], np.float32)})
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [-1.0, 0.0, 0.5, 62.0])  # q = round(x / 0.5) + 3, saturated at 127
