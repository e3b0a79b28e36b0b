"""The calibration flow over the IR: insert-observers -> calibrate -> select-scales.

Checks that the statistics recorded in the IR are exactly what each method's
observer computes from the tensors the float model produces, that the IR is
the only carrier between the steps (print -> parse -> select-scales gives the
same scales), and that bad data is reported by sample and input.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from afe.apis.calibration import (
    HistogramEntropyMethod,
    HistogramMSEMethod,
    HistogramPercentileMethod,
    MinMaxMethod,
    MovingAverageMinMaxMethod,
)
from afe.apis.defines import default_quantization, int16_quantization, quantization_scheme
from afe.apis.errors import UserFacingException
from afe.core.calibration_pipeline import calibrate_module, insert_observers_pass
from passes.saturating_readers import saturation_interval
from passes.select_scales import SelectScalesPass
from runtime.calibrate import calibrate
from runtime.observers import HistogramMSEObserver
from sima_dialect.calibration_ops import CHANNEL_ABSMAX_KEY, ObserveOp
from sima_dialect.context import parse_module, sima_context
from sima_dialect.plain_data import from_attribute, to_attribute

MODEL = """
func.func @main(%x: tensor<1x4x4x3xf32> {sima.name = "image"}) -> tensor<1x4x4x2xf32> {
  %w = sima.constant dense<[[[[0.5, -1.0], [0.25, 0.75], [-0.5, 1.0]]]]> : tensor<1x1x3x2xf32>
  %0 = sima.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, node = "conv"} : (tensor<1x4x4x3xf32>, tensor<1x1x3x2xf32>) -> tensor<1x4x4x2xf32>
  %1 = sima.relu %0 {node = "relu"} : tensor<1x4x4x2xf32>
  func.return %1 : tensor<1x4x4x2xf32>
}
"""
WEIGHT = np.array([[0.5, -1.0], [0.25, 0.75], [-0.5, 1.0]], dtype=np.float32)

METHODS = [
    MinMaxMethod(),
    MovingAverageMinMaxMethod(),
    HistogramMSEMethod(64),
    HistogramEntropyMethod(64),
    HistogramPercentileMethod(99.0, 64),
]


def _samples(count: int, seed: int = 0) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [{"image": (rng.standard_normal((1, 4, 4, 3)) * (i + 1)).astype(np.float32)} for i in range(count)]


def _tensors(sample: np.ndarray) -> dict[str, np.ndarray]:
    conv = sample @ WEIGHT
    return {"image": sample, "conv": conv, "relu": np.maximum(conv, 0)}


def _observes(module) -> dict[str, ObserveOp]:
    return {op.key.data: op for op in module.walk() if isinstance(op, ObserveOp)}


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
def test_recorded_statistics_are_the_observers_of_the_float_tensors(method):
    samples = _samples(5)
    module = parse_module(MODEL)
    calibrated = module.clone()
    insert_observers_pass(method).apply(sima_context(), calibrated)
    calibrate(calibrated, samples, progress=False, channel_statistics=True)
    SelectScalesPass(bits=8, asymmetric=True).apply(sima_context(), calibrated)

    observes = _observes(calibrated)
    assert set(observes) == {"image", "conv", "relu"}
    for key, op in observes.items():
        expected = method.create_observer()
        for sample in samples:
            expected.update(_tensors(sample["image"])[key])
        stats = from_attribute(op.stats)
        absmax = stats.pop(CHANNEL_ABSMAX_KEY)
        assert stats == expected.to_dict()
        every = np.concatenate([_tensors(s["image"])[key].reshape(-1, 2 if key != "image" else 3) for s in samples])
        np.testing.assert_allclose(absmax, np.abs(every).max(axis=0), rtol=0, atol=0)
        if isinstance(expected, HistogramMSEObserver):  # chosen for what its readers see (select-scales)
            lo, hi = expected.select_range(8, symmetric=False, interval=saturation_interval(op.input))
        else:
            lo, hi = expected.select_range(8, symmetric=False)
        step = op.quant.scale_value
        # The selected grid covers the selected range (to rounding of the zero point).
        assert op.quant.bits == 8
        assert (-128 - op.quant.zero_point_value) * step <= lo + step
        assert (127 - op.quant.zero_point_value) * step >= hi - step
    # The input module is untouched.
    assert not _observes(module)


def test_channel_statistics_only_when_asked():
    calibrated = calibrate_module(parse_module(MODEL), _samples(2), default_quantization, progress=False)
    assert all(CHANNEL_ABSMAX_KEY not in from_attribute(op.stats) for op in _observes(calibrated).values())


def test_scales_come_from_the_ir_alone():
    """Printing the calibrated IR and choosing scales again from the text gives the same types."""
    config = dataclasses.replace(default_quantization, calibration_method=HistogramMSEMethod(128))
    calibrated = calibrate_module(parse_module(MODEL), _samples(3), config, progress=False)
    reparsed = parse_module(str(calibrated))
    for op in _observes(reparsed).values():
        op.properties.pop("quant")
    SelectScalesPass(bits=8, asymmetric=True).apply(sima_context(), reparsed)
    assert {k: o.quant for k, o in _observes(reparsed).items()} == {k: o.quant for k, o in _observes(calibrated).items()}


def test_activation_scheme_sets_width_and_symmetry():
    symmetric = default_quantization.with_activation_quantization(quantization_scheme(False, False, 8))
    for config, bits, symmetric_zero in [(int16_quantization, 16, False), (symmetric, 8, True)]:
        calibrated = calibrate_module(parse_module(MODEL), _samples(2), config, progress=False)
        for op in _observes(calibrated).values():
            assert op.quant.bits == bits
            if symmetric_zero:
                assert op.quant.zero_point_value == 0


def test_insert_observers_pass_carries_the_methods_parameters():
    assert insert_observers_pass(HistogramPercentileMethod(91.0, 2048)).method == "percentile"
    pass_ = insert_observers_pass(HistogramPercentileMethod(91.0, 2048))
    assert (pass_.percentile, pass_.num_bins) == (91.0, 2048)
    assert insert_observers_pass(HistogramEntropyMethod()).num_bins == 512
    assert insert_observers_pass(MovingAverageMinMaxMethod()).averaging_constant == 0.01


def test_calibration_reads_a_generator_once():
    reads = []

    def generate():
        for sample in _samples(3):
            reads.append(1)
            yield sample

    calibrate_module(parse_module(MODEL), generate(), default_quantization, progress=False)
    assert len(reads) == 3


def test_bad_sample_names_index_and_input():
    samples = _samples(3)
    samples[2] = {"image": np.full((1, 4, 4, 3), np.nan, dtype=np.float32)}
    with pytest.raises(UserFacingException, match=r"sample 2.*'image'"):
        calibrate_module(parse_module(MODEL), samples, default_quantization, progress=False)
    with pytest.raises(UserFacingException, match="empty"):
        calibrate_module(parse_module(MODEL), [], default_quantization, progress=False)


def test_nan_produced_inside_the_model_names_the_tensor():
    module = parse_module(MODEL.replace("sima.relu %0", "sima.log %0"))
    calibrated = module.clone()
    insert_observers_pass(MinMaxMethod()).apply(sima_context(), calibrated)
    with pytest.raises(UserFacingException, match=r"sample 0: tensor 'relu'.*NaN"):
        calibrate(calibrated, _samples(1), progress=False)


# Statistics are keyed by identifiers and hold ASCII names (observer kinds).
identifiers = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=6)
plain = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**62), 2**62) | st.floats(allow_nan=False)
    | st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=5)
    | st.lists(st.integers(-(2**62), 2**62), max_size=5) | st.lists(st.floats(allow_nan=False), min_size=1, max_size=5),
    lambda children: st.dictionaries(identifiers, children, max_size=4),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(plain)
def test_plain_data_round_trips_through_attributes(value):
    back = from_attribute(to_attribute(value))
    assert back == value
    # and through the textual IR
    from xdsl.parser import Parser

    assert from_attribute(Parser(sima_context(), str(to_attribute(value))).parse_attribute()) == back
