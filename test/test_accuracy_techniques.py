"""Channel equalization and SmoothQuant through `LoadedNet.quantize` on the real
cls model (MobileNetV3, MODELS.md): enabling each changes the quantized
weights, leaves the float function (and the float reference kept for error
analysis) unchanged, and gives a model that runs close to the float one;
SmoothQuant refuses calibration data it cannot read twice. Bias correction
after equalization is measured against the equalized layers
(test_bias_correction.py tests bias correction itself).

Min / max calibration on 4 samples keeps each quantization under two seconds;
bench/bench_accuracy_techniques.py measures what the techniques buy.
"""

from __future__ import annotations

import functools
import logging

import numpy as np
import pytest

from afe.apis.defines import MinMaxMethod, default_quantization
from afe.apis.errors import UserFacingException
from afe.apis.loaded_net import LoadedNet, load_model
from afe.apis.model import Model
from afe.core.calibration_pipeline import calibrate_module
from afe.core import quantize_pipeline
from afe.core.quantize_pipeline import equalized_module, partitioned_float_module, quantize_float_module
from afe.ir.defines import BiasCorrectionType
from passes.bias_correction import accumulator_unit
from runtime.bias_correction import bias_corrected_module, measure_channel_errors, reliable_correction
from afe.core.utils import length_hinted
from afe.ir.tensor_type import ScalarType
from afe.load.importers.general_importer import onnx_source
from models import REAL_MODELS, real_inputs
from runtime.interpreter import Interpreter
from sima_dialect import ops
from sima_dialect import quantized_ops as q
from sima_dialect.weights import NDArrayAttr

MIN_MAX = default_quantization.with_calibration(MinMaxMethod())
EQUALIZED = MIN_MAX.with_channel_equalization()
SMOOTHED = MIN_MAX.with_smooth_quant()


@pytest.fixture(scope="module")
def net() -> LoadedNet:
    spec = REAL_MODELS["cls"]
    assert spec.path is not None, f"{spec.package} is not installed: pip install -e '.[test]'"
    return load_model(onnx_source(str(spec.path), {spec.input_name: spec.shape}, {spec.input_name: ScalarType.float32}))


@pytest.fixture(scope="module")
def samples() -> list[dict[str, np.ndarray]]:
    """6 text lines, NHWC: 4 to calibrate on, 2 to evaluate."""
    return [{"x": np.ascontiguousarray(x.transpose(0, 2, 3, 1))} for x in real_inputs("cls", 6, seed=11)]


@pytest.fixture(scope="module")
def calibration(samples):
    return samples[:4]


@pytest.fixture(scope="module")
def evaluation(samples):
    return samples[4:]


@pytest.fixture(scope="module")
def models(net, calibration) -> dict[str, Model]:
    quiet = {"log_level": logging.ERROR}
    return {
        "plain": net.quantize(calibration, MIN_MAX, **quiet),
        "equalized": net.quantize(calibration, EQUALIZED, **quiet),
        "smoothed": net.quantize(calibration, SMOOTHED, **quiet),
    }


def quantized_weights(model: Model) -> dict[str, np.ndarray]:
    """The integer weights of every quantized conv / dense, by node name."""
    weights = {}
    for op in model.module.walk():
        if isinstance(op, q.QConv2DOp | q.QDenseOp):
            constant = op.weight.owner
            assert isinstance(constant, ops.ConstantOp) and isinstance(constant.value, NDArrayAttr)
            weights[op.node_name] = constant.value.array
    return weights


def weight_names(module) -> set[str]:
    return {op.value.weight_name for op in module.walk() if isinstance(op, ops.ConstantOp) and isinstance(op.value, NDArrayAttr)}


def assert_same_function(module_a, module_b, samples) -> None:
    """Equal outputs up to float32 rounding (relative to each output's range)."""
    run_a, run_b = Interpreter(module_a), Interpreter(module_b)
    for sample in samples:
        for a, b in zip(run_a.run(sample), run_b.run(sample)):
            np.testing.assert_allclose(b, a, rtol=0, atol=1e-4 * float(np.abs(a).max()))


# -- the config -------------------------------------------------------------------------


def test_equalization_and_smooth_quant_are_options() -> None:
    assert EQUALIZED.channel_equalization and not EQUALIZED.smooth_quant
    assert SMOOTHED.smooth_quant and not SMOOTHED.channel_equalization
    assert not EQUALIZED.with_channel_equalization(False).channel_equalization


def test_bias_correction_after_equalization_measures_against_the_equalized_layers(net, calibration, monkeypatch) -> None:
    """Bias correction compares each layer with the float weights it was quantized
    from: with equalization those are the equalized ones (against the original
    float model the corrected layers would be off by the equalization factors).
    The held-out check is off here: on these few samples it keeps no correction
    (no significant gain), and this test is about what a kept correction does."""
    monkeypatch.setattr(quantize_pipeline, "bias_corrected_module", functools.partial(bias_corrected_module, check=False))
    plain = quantize_float_module(net.module, calibration, EQUALIZED, progress=False)
    modules = quantize_float_module(net.module, calibration, EQUALIZED.with_bias_correction(True), progress=False)
    equalized, regular = equalized_module(modules.float_reference), BiasCorrectionType.REGULAR
    before = measure_channel_errors(plain.quantized, equalized, calibration, regular)
    after = measure_channel_errors(modules.quantized, equalized, calibration, regular, estimate=lambda e: np.zeros(e.shape[1]))
    units = {op.node_name: accumulator_unit(op) for op in modules.quantized.walk() if isinstance(op, q.QConv2DOp | q.QDenseOp)}
    # each layer's mean error moved by the correction chosen, within half an accumulator unit
    assert before and all(
        np.all(np.abs(after[n].mean(axis=0) - (e.mean(axis=0) - reliable_correction(e))) <= 0.5 * units[n] * (1 + 1e-6) + 1e-6)
        for n, e in before.items()
    )


# -- channel equalization ---------------------------------------------------------------


def test_equalization_keeps_the_float_function(net, calibration) -> None:
    reference = partitioned_float_module(net.module)
    equalized = equalized_module(reference)
    assert any(name.endswith(".cle") for name in weight_names(equalized))
    assert not any(name.endswith(".cle") for name in weight_names(reference)), "the float module was modified"
    assert_same_function(reference, equalized, calibration[:2])


def test_equalization_changes_the_quantized_weights(models) -> None:
    plain, equalized = quantized_weights(models["plain"]), quantized_weights(models["equalized"])
    assert plain.keys() == equalized.keys()
    changed = [name for name in plain if not np.array_equal(plain[name], equalized[name])]
    # 15 pairs of the 53 convolutions are equalizable (passes/channel_equalization.py)
    assert len(changed) >= 15, changed


@pytest.mark.parametrize("variant", ["equalized", "smoothed"])
def test_the_float_reference_stays_the_original_model(net, models, evaluation, variant) -> None:
    reference = models[variant].float_reference
    assert not any(name.endswith((".cle", ".smooth")) for name in weight_names(reference))
    for sample in evaluation:
        np.testing.assert_array_equal(Interpreter(reference).run(sample)[0], net.execute(sample)[0])


@pytest.mark.parametrize("variant", ["equalized", "smoothed"])
def test_the_quantized_model_runs_in_integers(net, models, evaluation, variant) -> None:
    """The model executes: its last op is the integer softmax over two classes,
    so each output row is a probability distribution, each probability within
    one output step (1/255 here) of its exact value. (How close
    it is to the float model is measured by bench/bench_accuracy_techniques.py:
    with 4 calibration samples even the plain int8 model is far off on some lines.)"""
    kinds = {row.kind for row in models[variant].list_nodes()}
    assert "sima.qconv2d" in kinds
    for sample in evaluation:
        expected, actual = net.execute(sample)[0], models[variant].execute(sample)[0]
        assert actual.shape == expected.shape and np.isfinite(actual).all()
        assert np.all((actual >= 0) & (actual <= 1)) and np.allclose(actual.sum(axis=-1), 1.0, atol=2 / 255)


# -- SmoothQuant ------------------------------------------------------------------------


def test_smooth_quant_keeps_the_float_function_and_recalibrates(net, calibration) -> None:
    reference = partitioned_float_module(net.module)
    smoothed = calibrate_module(reference, calibration, SMOOTHED, progress=False)
    plain = calibrate_module(reference, calibration, MIN_MAX, progress=False)
    assert any(name.endswith(".smooth") for name in weight_names(smoothed))
    assert_same_function(reference, smoothed, calibration[:2])
    # every tensor has fresh statistics and a scale after the second reading
    observes = [op for op in smoothed.walk() if op.name == "sima.observe"]
    assert observes and all(op.properties.get("stats") is not None and op.properties.get("quant") is not None for op in observes)
    assert len(observes) == len([op for op in plain.walk() if op.name == "sima.observe"])


def test_smooth_quant_changes_the_quantized_weights(models) -> None:
    plain, smoothed = quantized_weights(models["plain"]), quantized_weights(models["smoothed"])
    assert plain.keys() == smoothed.keys()
    assert any(not np.array_equal(plain[name], smoothed[name]) for name in plain)


def test_smooth_quant_refuses_a_generator_before_reading_it(net, calibration) -> None:
    read = []

    def generator():
        for sample in calibration:
            read.append(sample)
            yield sample

    with pytest.raises(UserFacingException, match="smooth_quant reads the calibration data twice.*got a generator"):
        net.quantize(generator(), SMOOTHED)
    assert read == []
    with pytest.raises(UserFacingException, match="re-iterable, e.g. a list.*got a list_iterator"):
        net.quantize(iter(calibration), SMOOTHED)


def test_smooth_quant_names_data_that_is_empty_the_second_time(net, calibration) -> None:
    once = length_hinted(len(calibration), (sample for sample in calibration))  # iterable, but one-shot inside
    with pytest.raises(UserFacingException, match="second reading of the data yielded no samples"):
        net.quantize(once, SMOOTHED)


def test_without_smooth_quant_a_generator_still_works(net, calibration, models, evaluation) -> None:
    model = net.quantize((sample for sample in calibration), MIN_MAX)
    sample = evaluation[0]
    np.testing.assert_array_equal(model.execute(sample)[0], models["plain"].execute(sample)[0])
