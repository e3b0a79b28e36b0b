"""Compensation with each depthwise row weighted by its activation's slope
(`runtime/weighted_compensation.py`, `weight_rounded_module(accumulator_for=)`).

- the slope: hard_swish's derivative (hypothesis, against finite differences away from
  its kinks), a clip's 0 / 1, composed;
- the weighted moments are their definition on the rows (hypothesis: random depthwise
  inputs, weights, floors), and with every weight 1 they are the plain accumulator's;
- which layers take it: a depthwise conv followed by a hard_swish does, a conv with
  several channels per group or without an activation does not;
- the whole step on a small conv -> depthwise -> hard_swish network: records weights,
  fits the layer before the depthwise one as the plain compensation does.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper

from afe.apis.defines import default_quantization
from afe.apis.loaded_net import load_model
from afe.core.calibration_pipeline import calibrate_module
from afe.core.quantize_pipeline import partitioned_float_module
from afe.ir.tensor_type import ScalarType
from afe.load.importers.general_importer import onnx_source
from onnx_builders import FLOAT, const, model, tensor
from passes.patterns import builders
from passes.quantize import quantize_module
from runtime.interpreter import find_function
from runtime.kernels.elementwise import hard_swish
from runtime.weight_rounding import CompensationAccumulator, GemmInputs, weight_rounded_module
from runtime.weighted_compensation import (
    WeightedCompensationAccumulator,
    activation_slope,
    activation_weighted_accumulator,
    hard_swish_slope,
)
from sima_dialect import ops
from sima_dialect.quantized_ops import QConv2DOp


@settings(max_examples=100, deadline=None)
@given(st.floats(-10.0, 10.0))
def test_the_hard_swish_slope_is_its_derivative(y):
    if min(abs(y - 3.0), abs(y + 3.0)) < 1e-3:
        return  # the kinks
    h = 1e-5
    numeric = (hard_swish(np.array(y + h)) - hard_swish(np.array(y - h))) / (2 * h)
    assert float(hard_swish_slope(np.array(y))) == pytest.approx(float(numeric), abs=1e-6)


def _depthwise_rows(seed: int, channels: int):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((1, 5, 6, channels)) * 2).astype(np.float32)
    q = (np.round(x / 0.25) * 0.25).astype(np.float32)
    weight = rng.standard_normal((channels, 9))
    bias = rng.standard_normal(channels)
    return GemmInputs(kernel=(3, 3), pads=(1, 1, 1, 1), groups=channels), x, q, weight, bias


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 5), st.sampled_from([0.0, 0.01, 0.25]), st.integers(1, 3))
def test_the_weighted_moments_are_their_definition(seed, channels, floor, samples):
    inputs, _, _, weight, bias = _depthwise_rows(seed, channels)
    slope = lambda y: hard_swish_slope(np.clip(y, 0.0, 6.0)) * ((y > 0) & (y < 6))  # noqa: E731 (relu6 then hard_swish)
    accumulator = WeightedCompensationAccumulator(inputs, weight, bias, slope, floor=floor, folds=2)
    expected = [np.zeros((2, channels, 10, 10)) for _ in range(3)]
    for index in range(samples):
        _, x, q, _, _ = _depthwise_rows(seed + index + 1, channels)
        accumulator.add(index % 2, x, q)
        for g in range(channels):
            xr, qr = (inputs.rows(a)[g].astype(np.float64) for a in (x, q))
            r2 = np.maximum(np.square(slope(xr @ weight[g] + bias[g])), floor)
            xa, qa = (np.concatenate([a, np.ones((a.shape[0], 1))], axis=1) for a in (xr, qr))
            for moment, (a, b) in zip(expected, ((xa, xa), (xa, qa), (qa, qa))):
                moment[index % 2, g] += (a * r2[:, None]).T @ b
    got = (accumulator.float_float, accumulator.float_quantized, accumulator.quantized_quantized)
    for moment, want in zip(got, expected):
        np.testing.assert_allclose(moment, want, rtol=1e-9, atol=1e-9)


def test_with_every_weight_one_the_moments_are_the_plain_ones():
    inputs, x, q, weight, bias = _depthwise_rows(3, 4)
    weighted = WeightedCompensationAccumulator(inputs, weight, bias, lambda y: np.ones_like(y), floor=0.0)
    plain = CompensationAccumulator(inputs)
    for fold in range(4):
        weighted.add(fold, x + fold, q + fold)
        plain.add(fold, x + fold, q + fold)
    for name in ("float_float", "float_quantized", "quantized_quantized"):
        np.testing.assert_allclose(getattr(weighted, name), getattr(plain, name), rtol=1e-9, atol=1e-6)


# -- a network ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """x -> Conv(3->4) -> Relu -> depthwise Conv -> HardSwish -> Conv(4->2) -> y."""
    rng = np.random.default_rng(5)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r"]),
        helper.make_node("Conv", ["r", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], group=4),
        helper.make_node("HardSwish", ["c2"], ["h"]),
        helper.make_node("Conv", ["h", "w3", "b3"], ["y"]),
    ]
    inits = [
        const("w1", rng.standard_normal((4, 3, 3, 3)).astype(np.float32)),
        const("b1", (rng.standard_normal(4) * 0.1).astype(np.float32)),
        const("w2", rng.standard_normal((4, 1, 3, 3)).astype(np.float32)),
        const("b2", (rng.standard_normal(4) * 0.5).astype(np.float32)),
        const("w3", rng.standard_normal((2, 4, 1, 1)).astype(np.float32)),
        const("b3", np.zeros(2, np.float32)),
    ]
    proto = model(nodes, [tensor("x", FLOAT, [1, 3, 8, 8])], [tensor("y", FLOAT, [1, 2, 8, 8])], inits, 14)
    path = tmp_path_factory.mktemp("depthwise") / "depthwise.onnx"
    onnx.save(proto, path)
    net = load_model(onnx_source(str(path), {"x": (1, 3, 8, 8)}, {"x": ScalarType.float32}))
    return calibrate_module(partitioned_float_module(net.module), _samples(8, 1), default_quantization)


def _samples(count: int, seed: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [{"x": rng.standard_normal((1, 8, 8, 3)).astype(np.float32)} for _ in range(count)]


def _convs(module, kind=ops.Conv2DOp) -> list:
    return [op for op in find_function(module).walk() if isinstance(op, kind)]


def test_only_a_depthwise_conv_before_an_activation_is_weighted(calibrated):
    first, depthwise, last = _convs(calibrated)
    assert activation_slope(last) is None
    slope = activation_slope(first)  # the fused relu: 0 below, 1 above
    assert slope is not None and slope(np.array([-1.0, 2.0])).tolist() == [0.0, 1.0]
    assert activation_slope(depthwise)(np.array([-4.0, 0.0, 4.0])).tolist() == [0.0, 0.5, 1.0]
    quantized = {op.node_name: op for op in _convs(quantize_module(calibrated, default_quantization), QConv2DOp)}
    made = [
        activation_weighted_accumulator(quantized[op.node_name], op, builders.constant_array(op.weight.owner), builders.constant_array(op.bias.owner))
        for op in (first, depthwise, last)
    ]
    assert made[0] is None and isinstance(made[1], WeightedCompensationAccumulator) and made[2] is None


def test_the_weighted_step_runs_and_fits_the_layers_before_the_depthwise_one_as_before(calibrated):
    quantized = quantize_module(calibrated, default_quantization)
    data = _samples(8, 1)
    plain, _ = weight_rounded_module(quantized, calibrated, data, compensate=True, progress=False)
    weighted, report = weight_rounded_module(quantized, calibrated, data, compensate=True, progress=False,
                                             accumulator_for=activation_weighted_accumulator)
    assert len(report.layers) == 3
    first, depthwise, last = (op.node_name for op in _convs(calibrated))
    weights = lambda module: {op.node_name: builders.constant_array(op.weight.owner) for op in _convs(module, QConv2DOp)}  # noqa: E731
    plain_weights, weighted_weights = weights(plain), weights(weighted)
    # the layer before the depthwise one is fitted as before (the walk reaches it first)
    np.testing.assert_array_equal(plain_weights[first], weighted_weights[first])
    assert np.all(np.abs(weighted_weights[depthwise].astype(np.int64)) <= 127)
