"""The quantization snippets of seed 003, run as written on the real cls model.

Each test body is the seed's code with its placeholders filled in: `loaded_net`
is the PP-OCR text-line orientation classifier (test/models.py), the
calibration data a list of dicts of real, preprocessed inputs (NHWC), and the
node names come from `list_nodes()` of that model, since the seed's resnet50
names do not exist in it. Where a snippet cannot run as written the test says
why (the seed's calibration loop appends one dict over and over). The "cycling through quantization options"
template runs with shorter lists (two calibration methods, one activation
scheme) to keep the file fast; the seed's default, MSE calibration, costs about
10 s per int8 run and 20 s per int16 run on this model.
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pytest

from afe.apis.defines import (
    HistogramPercentileMethod,
    MinMaxMethod,
    MovingAverageMinMaxMethod,
    default_quantization,
    int16_quantization,
    quantization_scheme,
)
from afe.apis.errors import UserFacingException
from afe.apis.loaded_net import LoadedNet, load_model
from afe.apis.model import Model
from afe.core.configs import QuantizationPrecision
from afe.ir.defines import BiasCorrectionType, RequantizationMode
from afe.ir.tensor_type import ScalarType
from afe.load.importers.general_importer import onnx_source
from models import REAL_MODELS, real_inputs

CALIB_IMAGES = 6
TEST_IMAGES = 4
MODEL_NAME = "cls"


@pytest.fixture(scope="module")
def loaded_net() -> LoadedNet:
    spec = REAL_MODELS["cls"]
    assert spec.path is not None, f"{spec.package} is not installed: pip install -e '.[test]'"
    return load_model(onnx_source(str(spec.path), {"x": spec.shape}, {"x": ScalarType.float32}))


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    """`dataset_f['x']` of the seed: preprocessed samples, each [1, 48, 192, 3] (NHWC)."""
    images = real_inputs("cls", CALIB_IMAGES + TEST_IMAGES, seed=3)
    return np.stack([np.ascontiguousarray(image.transpose(0, 2, 3, 1)) for image in images])


@pytest.fixture(scope="module")
def calib_data(data) -> list[dict[str, np.ndarray]]:
    # The seed's loop creates `inputs = dict()` once, before the loop, so every
    # element of its list is the same dict (holding the last sample); one dict
    # per sample is what it means.
    calib_data = []
    for i in range(CALIB_IMAGES):
        inputs = dict()
        inputs["x"] = data[i]
        calib_data.append(inputs)
    return calib_data


@pytest.fixture(scope="module")
def test_data(data) -> list[np.ndarray]:
    return list(data[CALIB_IMAGES:])


def agreement(quant_model: Model, loaded_net: LoadedNet, test_data) -> float:
    """The seed's evaluation loop, with the float model's predictions as labels.

    The loop evaluates with `fast_mode=True`, as the seed does; every prediction
    must equal the bit-exact one. How often the quantized model agrees with the
    float one is an accuracy figure, measured on real evaluation sets by the
    accuracy benchmarks, not asserted on these four samples.
    """
    inputs = dict()
    correct = 0
    for sample in test_data:
        inputs["x"] = sample
        tvm_fp32_model_out = loaded_net.execute(inputs)
        quant_model_out = quant_model.execute(inputs, fast_mode=True)
        fp_32prediction = np.argmax(tvm_fp32_model_out[0])
        quant_prediction = np.argmax(quant_model_out[0])
        assert quant_prediction == np.argmax(quant_model.execute(inputs)[0])
        if fp_32prediction == quant_prediction:
            correct += 1
    return correct / len(test_data)


@pytest.fixture(scope="module")
def default_model(loaded_net, calib_data) -> Model:
    # quantize
    quant_model = loaded_net.quantize(calibration_data=calib_data, quantization_config=default_quantization, model_name=MODEL_NAME)
    return quant_model


def test_default_quantization(default_model, loaded_net, test_data) -> None:
    assert default_model.quantization_config == default_quantization
    assert {row.precision for row in default_model.list_nodes() if row.kind == "sima.qconv2d"} == {"int8"}
    agreement(default_model, loaded_net, test_data)


def test_defining_different_quantization_schemes(loaded_net, calib_data, test_data) -> None:
    # define quantization schemes for weights and activations
    symmetric_per_tensor_8_bits = quantization_scheme(asymmetric=False, per_channel=False, bits=8)
    symmetric_per_channel_8_bits = quantization_scheme(asymmetric=False, per_channel=True, bits=8)
    asymmetric_per_tensor_8_bits = quantization_scheme(asymmetric=True, per_channel=False, bits=8)  # noqa: F841 (as in the seed)

    # set the quantization configuration to the default
    quant_configs = default_quantization

    # modify default to change weight quantization
    quant_configs = dataclasses.replace(quant_configs, weight_quantization_scheme=symmetric_per_channel_8_bits)

    # modify default to change activation quantization
    quant_configs = dataclasses.replace(quant_configs, activation_quantization_scheme=symmetric_per_tensor_8_bits)

    # quantize
    quant_model = loaded_net.quantize(calibration_data=calib_data, quantization_config=quant_configs, model_name=MODEL_NAME)

    # symmetric activations: every zero point is 0
    zero_points = {
        value.type.element_type.zero_point_value
        for op in quant_model.module.walk()
        for value in op.results
        if hasattr(value.type, "element_type") and hasattr(value.type.element_type, "zero_point_value")
    }
    assert zero_points == {0}
    agreement(quant_model, loaded_net, test_data)


def test_int16_quantization(loaded_net, calib_data, test_data) -> None:
    quant_model = loaded_net.quantize(calibration_data=calib_data, quantization_config=int16_quantization, model_name=MODEL_NAME)
    precisions = {row.precision for row in quant_model.list_nodes() if row.kind == "sima.qconv2d"}
    assert precisions == {"int16"}
    agreement(quant_model, loaded_net, test_data)


def test_manual_mixed_precision_quantization(loaded_net, calib_data, tmp_path) -> None:
    # the seed's resnet50 names, replaced by the first six nodes of this model's list_nodes()
    int16_nodes = [row.name for row in loaded_net.list_nodes()[:6]]
    assert int16_nodes[:3] == ["MLA_0/conv2d_add_0", "MLA_0/hard_swish_1", "MLA_0/conv2d_add_relu_2"]
    quant_configs = default_quantization.with_custom_quantization_configs(
        {int16_node: {"quantization_precision": QuantizationPrecision.INT_16} for int16_node in int16_nodes}
    )

    sdk_net = loaded_net.quantize(calibration_data=calib_data, quantization_config=quant_configs, model_name="tut_cls")

    # "verify ... by saving sdk_net": the int16 nodes show input_int16 in the .sima.json
    sdk_net.save(model_name="tut_cls", output_directory=str(tmp_path))
    layers = {layer["name"]: layer["config"] for layer in json.loads((tmp_path / "tut_cls.sima.json").read_text())["config"]["layers"]}
    assert all(layers[node]["input_int16"] for node in int16_nodes if node != "MLA_0/global_avg_pool2d_4")
    assert not layers["MLA_0/conv2d_add_relu_10"]["input_int16"]
    precisions = {row.name: row.precision for row in sdk_net.list_nodes()}
    assert [precisions[node] for node in int16_nodes] == ["int16"] * 6
    assert precisions["MLA_0/conv2d_add_relu_10"] == "int8"


def test_int32_quantization_for_the_final_mla_layer(loaded_net, calib_data, test_data) -> None:
    # The seed's "MLA_1/conv2d_add_84" is resnet50's last layer. Here the last
    # MLA layer is the classifier once the softmax after it runs on the APU.
    custom_quantization_configs = {"MLA_0/dense_add_108": {"output_int32": True}}
    quant_configs = default_quantization.with_unquantized_nodes({"MLA_0/softmax_109"}).with_custom_quantization_configs(
        custom_quantization_configs
    )
    quant_model = loaded_net.quantize(calibration_data=calib_data, quantization_config=quant_configs, model_name=MODEL_NAME)
    assert {row.name: row.precision for row in quant_model.list_nodes()}["MLA_0/dense_add_108"] == "int32"
    agreement(quant_model, loaded_net, test_data)


def test_requantization_mode_and_bias_correction() -> None:
    requantization_mode = RequantizationMode.tflite
    asymmetric_pertensor_int16 = quantization_scheme(asymmetric=True, per_channel=False, bits=16)
    enable_bias_correction = True
    quant_config = default_quantization \
        .with_activation_quantization(asymmetric_pertensor_int16) \
        .with_requantization_mode(requantization_mode) \
        .with_bias_correction(enable_bias_correction)
    # what quantizing with it does is tested in test_bias_correction.py (int16 + MSE here would take ~30 s)
    assert quant_config.requantization_mode is RequantizationMode.tflite
    assert quant_config.biascorr_type is BiasCorrectionType.REGULAR
    assert quant_config.activation_quantization_scheme.bits == 16


def test_calibration_method_snippets(loaded_net, calib_data, test_data) -> None:
    # modify the default quantization to use moving average min-max calibration
    quant_configs = dataclasses.replace(default_quantization, calibration_method=MovingAverageMinMaxMethod())
    quant_model = loaded_net.quantize(calibration_data=calib_data, quantization_config=quant_configs, model_name="test_model")
    agreement(quant_model, loaded_net, test_data)
    # use percentile calibration method with custom percentile value and number of bins
    quant_configs = default_quantization
    calibration_method = HistogramPercentileMethod(91.0, 2048)
    quant_configs = quant_configs.with_calibration(calibration_method)
    sdk_net = loaded_net.quantize(calibration_data=calib_data, quantization_config=quant_configs, model_name="test_model")
    assert sdk_net.quantization_config.calibration_method == HistogramPercentileMethod(91.0, 2048)


def test_cycling_through_quantization_options(loaded_net, calib_data, test_data, tmp_path) -> None:
    saved_model_directory = str(tmp_path)
    model_name = MODEL_NAME

    # define quantization schemes & calibration methods
    symmetric_per_tensor = quantization_scheme(asymmetric=False, per_channel=False)
    symmetric_per_channel = quantization_scheme(asymmetric=False, per_channel=True)
    asymmetric_per_tensor = quantization_scheme(asymmetric=True, per_channel=False)

    weights_schemes = [symmetric_per_channel, symmetric_per_tensor]
    activation_schemes = [asymmetric_per_tensor]  # the seed also tries symmetric_per_tensor
    cal_methods = [MinMaxMethod(), HistogramPercentileMethod(99.9)]  # the seed tries five methods

    # set initial best accuracy to 0
    current_best_accuracy = 0.0
    tried = []

    quant_configs = default_quantization

    for c in cal_methods:
        quant_configs = dataclasses.replace(quant_configs, calibration_method=c)

        for w in weights_schemes:
            quant_configs = dataclasses.replace(quant_configs, weight_quantization_scheme=w)

            for a in activation_schemes:
                quant_configs = dataclasses.replace(quant_configs, activation_quantization_scheme=a)

                # quantize
                quant_model = loaded_net.quantize(calibration_data=calib_data, quantization_config=quant_configs, model_name=model_name)

                # evaluate (the float model's predictions are the labels)
                accuracy = agreement(quant_model, loaded_net, test_data)
                tried.append((c, w, a, accuracy))

                # save model if accuracy improved
                if accuracy > current_best_accuracy:
                    current_best_accuracy = accuracy
                    quant_model.save(model_name=model_name, output_directory=saved_model_directory)

    assert len(tried) == 4 and current_best_accuracy == max(accuracy for *_, accuracy in tried) >= 0.75
    assert sorted(os.listdir(saved_model_directory)) == ["cls.sima", "cls.sima.json"]
    best = next(config for config in tried if config[3] == current_best_accuracy)
    saved = Model.load(model_name, saved_model_directory)
    assert saved.quantization_config.calibration_method == best[0]
    assert saved.quantization_config.weight_quantization_scheme == best[1]


def test_saving_and_loading_a_quantized_model(default_model, test_data, tmp_path) -> None:
    quant_model, model_name, saved_model_directory = default_model, MODEL_NAME, str(tmp_path / "sdk")
    quant_model.save(model_name=model_name, output_directory=saved_model_directory)
    # "This will create two files: model_name.sima and model_name.sima.json"
    assert sorted(os.listdir(saved_model_directory)) == ["cls.sima", "cls.sima.json"]
    loaded = Model.load(model_name, saved_model_directory)
    for sample in test_data:
        np.testing.assert_array_equal(loaded.execute({"x": sample})[0], quant_model.execute({"x": sample})[0])


def test_accelerator_mode_is_out_of_scope(default_model, test_data) -> None:
    with pytest.raises(UserFacingException, match="no accelerator"):
        default_model.execute_in_accelerator_mode(input_data=[{"x": s} for s in test_data], devkit="devkit.local", username="sima", password="")
