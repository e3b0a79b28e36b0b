"""afe.apis.defines: the quantization configuration API of seeds 000, 001 and 003."""

from __future__ import annotations

import dataclasses

import pytest

import afe.apis.calibration as calibration
import afe.apis.errors as errors
from afe.apis.defines import (
    BT_COLOR_COEFF,
    YUV2RGB_FULL_RANGE_CONSTANTS,
    BiasCorrectionType,
    CalibrationMethod,
    ChromaSampling,
    ColorConversion,
    ColorSpaceStandard,
    ExceptionFuncType,
    HistogramEntropyMethod,
    HistogramMSEMethod,
    HistogramPercentileMethod,
    MinMaxMethod,
    MovingAverageMinMaxMethod,
    QuantizationParams,
    QuantizationScheme,
    RequantizationMode,
    ResizeDepositLocation,
    ResizeMethod,
    bfloat16_scheme,
    default_quantization,
    gen1_target,
    gen2_target,
    int16_quantization,
    quantization_scheme,
)
from afe.apis.errors import UserFacingException
from afe.core.configs import QuantizationPrecision


def test_default_quantization_is_as_documented():
    q = default_quantization
    assert q.calibration_method == HistogramMSEMethod(2048)
    assert q.activation_quantization_scheme == QuantizationScheme(asymmetric=True, per_channel=False, bits=8)
    assert q.weight_quantization_scheme == QuantizationScheme(asymmetric=False, per_channel=True, bits=8)
    assert q.requantization_mode is RequantizationMode.sima
    assert q.node_names == frozenset()
    assert q.custom_quantization_configs is None
    assert q.biascorr_type is BiasCorrectionType.NONE
    assert not q.channel_equalization and not q.smooth_quant
    assert QuantizationParams() == default_quantization


def test_int16_quantization_is_as_documented():
    q = int16_quantization
    assert q.activation_quantization_scheme == QuantizationScheme(asymmetric=True, per_channel=False, bits=16)
    assert q.weight_quantization_scheme == QuantizationScheme(asymmetric=False, per_channel=True, bits=8)
    assert q.calibration_method == HistogramMSEMethod(2048)
    assert q.requantization_mode is RequantizationMode.sima
    assert q.weight_rounding and not default_quantization.weight_rounding


def test_params_are_frozen_and_hashable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        default_quantization.smooth_quant = True  # type: ignore[misc]
    custom = default_quantization.with_custom_quantization_configs({"MLA_1/conv2d_add_84": {"output_int32": True}})
    same = default_quantization.with_custom_quantization_configs({"MLA_1/conv2d_add_84": {"output_int32": True}})
    assert hash(custom) == hash(same) and custom == same
    assert len({default_quantization, int16_quantization, custom, same}) == 3


def test_builders_return_new_instances():
    tflite = default_quantization.with_requantization_mode(RequantizationMode.tflite)
    assert tflite.requantization_mode is RequantizationMode.tflite
    assert default_quantization.requantization_mode is RequantizationMode.sima
    assert default_quantization.with_calibration(MinMaxMethod()).calibration_method == MinMaxMethod()
    scheme = quantization_scheme(asymmetric=False, per_channel=False)
    assert default_quantization.with_weight_quantization(scheme).weight_quantization_scheme == scheme
    assert default_quantization.with_activation_quantization(scheme).activation_quantization_scheme == scheme
    first = default_quantization.with_unquantized_nodes({"a", "b"})
    assert first.node_names == {"a", "b"}
    assert first.with_unquantized_nodes({"c"}).node_names == {"c"}  # replaces, not adds
    # Disabling the not-yet-supported passes is allowed (and is the default).
    assert default_quantization.with_bias_correction(False).biascorr_type is BiasCorrectionType.NONE
    assert not default_quantization.with_channel_equalization(False).channel_equalization
    assert not default_quantization.with_smooth_quant(False).smooth_quant
    assert default_quantization.with_requantization_mode("tflite").requantization_mode is RequantizationMode.tflite


def test_seed_003_examples_run_as_written():
    symmetric_per_tensor_8_bits = quantization_scheme(asymmetric=False, per_channel=False, bits=8)
    symmetric_per_channel_8_bits = quantization_scheme(asymmetric=False, per_channel=True, bits=8)
    asymmetric_per_tensor_8_bits = quantization_scheme(asymmetric=True, per_channel=False, bits=8)
    quant_configs = default_quantization
    quant_configs = dataclasses.replace(quant_configs, weight_quantization_scheme=symmetric_per_channel_8_bits)
    quant_configs = dataclasses.replace(quant_configs, activation_quantization_scheme=symmetric_per_tensor_8_bits)
    assert quant_configs.activation_quantization_scheme.asymmetric is False

    # the config sweep of seed 003
    cal_methods = [MinMaxMethod(), MovingAverageMinMaxMethod(), HistogramMSEMethod(1024), HistogramEntropyMethod(), HistogramPercentileMethod(99.9)]
    configs = set()
    for c in cal_methods:
        quant_configs = dataclasses.replace(quant_configs, calibration_method=c)
        for w in [symmetric_per_channel_8_bits, symmetric_per_tensor_8_bits]:
            quant_configs = dataclasses.replace(quant_configs, weight_quantization_scheme=w)
            for a in [symmetric_per_tensor_8_bits, asymmetric_per_tensor_8_bits]:
                quant_configs = dataclasses.replace(quant_configs, activation_quantization_scheme=a)
                configs.add(quant_configs)
    assert len(configs) == 20

    assert default_quantization.with_calibration(CalibrationMethod.from_str("mse")).calibration_method == HistogramMSEMethod(2048)
    assert default_quantization.with_calibration(HistogramPercentileMethod(91.0, 2048)).calibration_method.num_bins == 2048

    int16_nodes = ["MLA_0/conv2d_add_relu_0", "MLA_0/max_pool2d_1", "MLA_0/conv2d_add_5"]
    mixed = default_quantization.with_custom_quantization_configs(
        {node: {"quantization_precision": QuantizationPrecision.INT_16} for node in int16_nodes}
    )
    assert mixed.custom_quantization_configs["MLA_0/max_pool2d_1"]["quantization_precision"] is QuantizationPrecision.INT_16
    int32_last = default_quantization.with_custom_quantization_configs({"MLA_1/conv2d_add_84": {"output_int32": True}})
    assert int32_last.custom_quantization_configs["MLA_1/conv2d_add_84"]["output_int32"] is True

    # Seed 003's combined example enables (regular) bias correction.
    combined = default_quantization.with_activation_quantization(
        quantization_scheme(asymmetric=True, per_channel=False, bits=16)
    ).with_requantization_mode(RequantizationMode.tflite).with_bias_correction(True)
    assert combined.biascorr_type is BiasCorrectionType.REGULAR


@pytest.mark.parametrize("bits", [4, 7, 32, True, "8"])
def test_scheme_bits_are_8_or_16(bits):
    with pytest.raises(UserFacingException, match=r"bits: must be 8 \(int8\) or 16 \(int16\)"):
        quantization_scheme(asymmetric=True, per_channel=False, bits=bits)


def test_scheme_flags_are_booleans():
    with pytest.raises(UserFacingException, match="asymmetric: must be True or False"):
        quantization_scheme(asymmetric="yes", per_channel=False)


def test_unsupported_combinations_fail_when_created():
    with pytest.raises(UserFacingException, match="weight_quantization_scheme: asymmetric quantization is not supported"):
        default_quantization.with_weight_quantization(quantization_scheme(asymmetric=True, per_channel=True))
    with pytest.raises(UserFacingException, match="activation_quantization_scheme: per-channel quantization is not supported"):
        default_quantization.with_activation_quantization(quantization_scheme(asymmetric=True, per_channel=True))
    with pytest.raises(UserFacingException, match="weights are quantized to int8"):
        dataclasses.replace(default_quantization, weight_quantization_scheme=quantization_scheme(False, True, bits=16))
    with pytest.raises(UserFacingException, match="bfloat16 weights need bfloat16 activations"):
        default_quantization.with_weight_quantization(bfloat16_scheme())
    with pytest.raises(UserFacingException, match="must be a QuantizationScheme"):
        default_quantization.with_activation_quantization("int8")


def test_bias_correction_option():
    # its pass and data step run in LoadedNet.quantize (test_bias_correction.py)
    assert default_quantization.biascorr_type is BiasCorrectionType.NONE
    assert default_quantization.with_bias_correction().biascorr_type is BiasCorrectionType.REGULAR
    assert default_quantization.with_bias_correction(False).biascorr_type is BiasCorrectionType.NONE
    assert default_quantization.with_bias_correction("iterative").biascorr_type is BiasCorrectionType.ITERATIVE
    with pytest.raises(UserFacingException, match="biascorr_type: must be one of"):
        default_quantization.with_bias_correction("sometimes")


def test_equalization_and_smooth_quant_are_options():
    # their passes run in LoadedNet.quantize (test_accuracy_techniques.py)
    assert default_quantization.with_channel_equalization().channel_equalization
    assert dataclasses.replace(default_quantization, channel_equalization=True).channel_equalization
    assert default_quantization.with_smooth_quant(True).smooth_quant
    with pytest.raises(UserFacingException, match="smooth_quant: must be True or False"):
        default_quantization.with_smooth_quant("yes")


def test_invalid_options_name_the_allowed_values():
    with pytest.raises(UserFacingException, match="requantization_mode: must be one of RequantizationMode.sima, RequantizationMode.tflite"):
        default_quantization.with_requantization_mode("fast")
    with pytest.raises(UserFacingException, match="unknown option 'output_int8'; allowed options: quantization_precision"):
        default_quantization.with_custom_quantization_configs({"n": {"output_int8": True}})
    with pytest.raises(UserFacingException, match="option 'quantization_precision' must be a QuantizationPrecision"):
        default_quantization.with_custom_quantization_configs({"n": {"quantization_precision": 16}})
    with pytest.raises(UserFacingException, match="option 'output_int32' must be a bool"):
        default_quantization.with_custom_quantization_configs({"n": {"output_int32": 1}})
    with pytest.raises(UserFacingException, match="node_names: must be a set of node names"):
        default_quantization.with_unquantized_nodes("MLA_0/conv2d_0")
    with pytest.raises(UserFacingException, match="calibration_method: must be a CalibrationMethod"):
        default_quantization.with_calibration(42)
    with pytest.raises(UserFacingException, match="Unsupported calibration method"):
        default_quantization.with_calibration("median")


def test_custom_configs_are_read_only():
    q = default_quantization.with_custom_quantization_configs({"n": {"output_int32": True}})
    with pytest.raises(TypeError):
        q.custom_quantization_configs["m"] = {}  # type: ignore[index]
    with pytest.raises(TypeError):
        q.custom_quantization_configs["n"]["output_int32"] = False  # type: ignore[index]


def test_bfloat16_scheme():
    scheme = bfloat16_scheme()
    assert scheme.bf16
    q = default_quantization.with_activation_quantization(scheme).with_weight_quantization(scheme)
    assert q.activation_quantization_scheme.bf16 and q.weight_quantization_scheme.bf16
    # bf16 activations with int8 weights (the int-weights bfloat16 convolution)
    assert default_quantization.with_activation_quantization(scheme).weight_quantization_scheme.bits == 8


def test_reexports_are_the_same_objects():
    assert ExceptionFuncType is errors.ExceptionFuncType
    assert HistogramMSEMethod is calibration.HistogramMSEMethod
    assert CalibrationMethod is calibration.CalibrationMethod


def test_preprocessing_enums_and_constants():
    assert ColorSpaceStandard.BT709.value == "BT709"
    assert ColorConversion.BGR2RGB.value == "BGR2RGB"
    assert ChromaSampling.NV12.value == "NV12"
    assert ResizeMethod.AREA.value == "area"
    assert ResizeDepositLocation.BOTTOMRIGHT.value == "bottomright"
    for coefficients in BT_COLOR_COEFF.values():
        assert sum(coefficients) == pytest.approx(1.0)
    # The familiar full-range BT.601 YCbCr -> RGB matrix.
    assert YUV2RGB_FULL_RANGE_CONSTANTS["BT601"] == pytest.approx([1.402, 0.344136, 0.714136, 1.772], abs=1e-6)
    assert YUV2RGB_FULL_RANGE_CONSTANTS["BT709"] == pytest.approx([1.5748, 0.187324, 0.468124, 1.8556], abs=1e-6)
    assert gen1_target != gen2_target
