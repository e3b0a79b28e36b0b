"""`LoadedNet.quantize` through the whole flow on the real cls model (MODELS.md),
and the quantized `Model`: integer execution close to the float model,
`fast_mode`'s measured difference from bit-exact, save / load bit for bit,
mixed int8 / int16 precision, an int32 last layer, the tflite requantization,
and errors from the later stages reported as quantization errors.

Calibration uses min / max here (the API is under test, not the calibration
methods, and histogram MSE costs seconds per run); test_seed_snippets.py runs
the seeds' own configs.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from afe.apis.defines import (
    MinMaxMethod,
    QuantizationPrecision,
    RequantizationMode,
    bfloat16_scheme,
    default_quantization,
    int16_quantization,
)
from afe.apis.errors import ExceptionFuncType, UserFacingException
from afe.apis.loaded_net import LoadedNet
from afe.apis.model import Model
from models import real_inputs
from runtime.error_analysis import tapped_interpreter
from runtime.fast_kernels import FAST_KERNELS
from runtime.interpreter import Interpreter
from sima_dialect import quantized_ops as q

MIN_MAX = default_quantization.with_calibration(MinMaxMethod())
SOFTMAX = "MLA_0/softmax_109"
DENSE = "MLA_0/dense_add_108"


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    """12 preprocessed text lines, NHWC: 8 to calibrate on, 4 to evaluate."""
    return [np.ascontiguousarray(x.transpose(0, 2, 3, 1)) for x in real_inputs("cls", 12, seed=7)]


@pytest.fixture(scope="module")
def calibration(images) -> list[dict[str, np.ndarray]]:
    return [{"x": image} for image in images[:8]]


@pytest.fixture(scope="module")
def evaluation(images) -> list[dict[str, np.ndarray]]:
    return [{"x": image} for image in images[8:]]


@pytest.fixture(scope="module")
def int8_model(cls_net, calibration) -> Model:
    return cls_net.quantize(calibration, MIN_MAX, model_name="cls_int8")


@pytest.fixture(scope="module")
def int16_model(cls_net, calibration) -> Model:
    return cls_net.quantize(calibration, int16_quantization.with_calibration(MinMaxMethod()), model_name="cls_int16")


def largest_error(model: Model, cls_net: LoadedNet, samples) -> float:
    return max(float(np.abs(model.execute(s)[0] - cls_net.execute(s)[0]).max()) for s in samples)


def test_the_quantized_model_computes_in_integers_and_tracks_the_float_model(cls_net, int8_model, evaluation) -> None:
    rows = int8_model.list_nodes()
    by_name = {row.name: row for row in rows}
    assert by_name["MLA_0/conv2d_add_0"].kind == "sima.qconv2d" and by_name["MLA_0/conv2d_add_0"].precision == "int8"
    assert by_name[DENSE].kind == "sima.qdense"
    # every MLA op computes in int8 but the float boundary's dequantize
    assert {row.precision for row in rows if row.target == "MLA" and row.kind != "sima.dequantize"} == {"int8"}
    assert any(isinstance(op, q.QConv2DOp) for op in int8_model.module.walk())
    assert int8_model.name == "cls_int8" and int8_model.quantization_config == MIN_MAX
    for sample in evaluation:
        out = int8_model.execute(sample)
        assert len(out) == 1 and out[0].dtype == np.float32 and out[0].shape == (1, 2)
    # measured: 0.049 (softmax probabilities, 8 calibration samples, min / max)
    assert largest_error(int8_model, cls_net, evaluation) < 0.1


def test_the_float_reference_is_the_partitioned_float_net(cls_net, int8_model, evaluation) -> None:
    reference = Model(int8_model.float_reference, name="reference")
    assert [row.name for row in reference.list_nodes()] == [row.name for row in cls_net.list_nodes()]
    for sample in evaluation:
        np.testing.assert_array_equal(reference.execute(sample)[0], cls_net.execute(sample)[0])


def test_fast_mode_numpy_kernels_are_bit_exact_for_this_int8_model(int8_model, evaluation) -> None:
    # every int8 reduction of the model is short enough for exact float32 sums
    # (K * 128 * 127 < 2**24), so the float emulation of the gemms loses nothing.
    # (These are fast mode's NumPy kernels, what SIMA_RUNTIME=numpy runs; by default fast
    # mode is the onnxruntime emulation, measured in test_fast_mode_onnx.py.)
    gemms = [op for op in int8_model.module.walk() if isinstance(op, q.QConv2DOp | q.QDenseOp)]
    depths = [int(np.prod(op.weight.type.get_shape()[:-1])) for op in gemms]
    assert max(depths) * 128 * 127 < 2**24
    fast_numpy = Interpreter(int8_model.module, kernels=FAST_KERNELS)
    for sample in evaluation:
        np.testing.assert_array_equal(fast_numpy.run(sample)[0], int8_model.execute(sample)[0])


def _logits(model: Model, sample, fast_mode: bool) -> np.ndarray:
    """The dense's output (before the softmax, whose rounding would hide small differences), dequantized."""
    (dense,) = [op for op in model.module.walk() if isinstance(op, q.QDenseOp) and op.node_name == DENSE]
    tapped, offset = tapped_interpreter(model.module, [dense.output])
    run = Interpreter(tapped.function.parent_op(), kernels=FAST_KERNELS) if fast_mode else tapped
    element = dense.output.type.element_type
    return (run.run(sample)[offset].astype(np.float64) - element.zero_point_value) * element.scale_value


def test_fast_mode_difference_for_int16_is_small(int16_model, evaluation) -> None:
    # int16 inputs: the int15 algorithm's floor is not applied and float32 rounds
    # long sums (runtime/fast_kernels.py). Measured: 7.1e-4 at most (two int16 steps)
    # on these logits (about +-6), while int16 quantization itself is off by ~0.15
    assert any(op.input.type.element_type.bits == 16 for op in int16_model.module.walk() if isinstance(op, q.QConv2DOp))
    differences = [float(np.abs(_logits(int16_model, s, True) - _logits(int16_model, s, False)).max()) for s in evaluation]
    assert 0 < max(differences) < 5e-3


def test_save_then_load_executes_bit_identically(int8_model, int16_model, evaluation, tmp_path) -> None:
    for model in (int8_model, int16_model):
        model.save(model.name, str(tmp_path))
        loaded = Model.load(model.name, str(tmp_path))
        assert loaded.name == model.name and loaded.quantization_config == model.quantization_config
        assert loaded.list_nodes() == model.list_nodes()
        assert loaded.ir_text() == model.ir_text()  # weights elided with their content digests
        for sample in evaluation[:2]:
            np.testing.assert_array_equal(loaded.execute(sample)[0], model.execute(sample)[0])
            np.testing.assert_array_equal(loaded.execute(sample, True)[0], model.execute(sample, True)[0])
        reference = Model(loaded.float_reference, name="reference")
        np.testing.assert_array_equal(reference.execute(evaluation[0])[0], Model(model.float_reference, name="r").execute(evaluation[0])[0])


def test_int16_nodes_and_their_inputs_compute_in_int16(cls_net, calibration) -> None:
    int16 = {"quantization_precision": QuantizationPrecision.INT_16}
    config = MIN_MAX.with_custom_quantization_configs({"MLA_0/conv2d_add_relu_2": int16, "MLA_0/add_16": int16})
    precisions = {row.name: row.precision for row in cls_net.quantize(calibration, config).list_nodes()}
    assert precisions["MLA_0/conv2d_add_relu_2"] == "int16" and precisions["MLA_0/add_16"] == "int16"
    # their inputs: hard_swish_1 feeds the conv; conv2d_add_12 and conv2d_add_15 the add
    assert precisions["MLA_0/hard_swish_1"] == precisions["MLA_0/conv2d_add_15"] == precisions["MLA_0/conv2d_add_12"] == "int16"
    assert precisions["MLA_0/conv2d_add_relu_3"] == precisions["MLA_0/conv2d_add_0"] == "int8"


def test_int32_output_of_the_last_mla_layer(cls_net, calibration, evaluation) -> None:
    plain = MIN_MAX.with_unquantized_nodes({SOFTMAX})
    wide = cls_net.quantize(calibration, plain.with_custom_quantization_configs({DENSE: {"output_int32": True}}))
    narrow = cls_net.quantize(calibration, plain)
    rows = {row.name: row for row in wide.list_nodes()}
    assert rows[DENSE].precision == "int32" and rows["APU_0/softmax_109"].target == "APU"
    assert {row.name: row.precision for row in narrow.list_nodes()}[DENSE] == "int8"
    # the int32 logits carry no output rounding: the result stays at least as close to float
    assert largest_error(wide, cls_net, evaluation) <= largest_error(narrow, cls_net, evaluation) + 1e-3


def test_tflite_requantization(cls_net, calibration, evaluation) -> None:
    model = cls_net.quantize(calibration, MIN_MAX.with_requantization_mode(RequantizationMode.tflite))
    modes = {op.requant_mode.data for op in model.module.walk() if isinstance(op, q.QConv2DOp | q.QDenseOp)}
    assert modes == {"tflite"}
    assert largest_error(model, cls_net, evaluation) < 0.1


def test_errors_of_later_stages_are_quantization_errors(cls_net, calibration) -> None:
    with pytest.raises(UserFacingException) as caught:
        cls_net.quantize(calibration, MIN_MAX.with_activation_quantization(bfloat16_scheme()).with_bias_correction())
    assert caught.value.func_type is ExceptionFuncType.LOADED_NET_QUANTIZE
    assert "bias correction corrects integer quantization" in str(caught.value)
    bad = [calibration[0], {"x": np.zeros((1, 3, 48, 192), np.float32)}]
    with pytest.raises(UserFacingException) as caught:
        cls_net.quantize(bad, MIN_MAX)
    assert caught.value.func_type is ExceptionFuncType.LOADED_NET_QUANTIZE
    assert "calibration sample 1: input 'x' has shape (1, 3, 48, 192), expected (1, 48, 192, 3)" in str(caught.value)


def test_log_level_controls_the_quantizer_notes(cls_net, calibration, caplog) -> None:
    # cls quantizes without a warning (its softmax is an integer op), so the
    # notes watched here are the INFO ones ("quantizing cls")
    with caplog.at_level(logging.INFO):
        cls_net.quantize(calibration[:2], MIN_MAX)
    assert any(record.getMessage().startswith("quantizing ") for record in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        cls_net.quantize(calibration[:2], MIN_MAX, log_level=logging.ERROR)
    assert not caplog.records
    assert logging.getLogger("afe").level == logging.NOTSET  # restored after the call
