"""Weights that compensate the error of the quantized activations they read
(`runtime/weight_rounding.py`, `compensate=True`; the bias change it records is
applied by `passes/weight_rounding.py`).

The algorithm on random problems: the least-squares target reduces to the float
weights when the quantized inputs equal the float ones (today's GPTQ then rounds
the same thing); the moments and the float-output error match their definitions
on the rows; per channel the held-out choice never takes a fit whose
cross-validated error is above the float weight's (else it falls back to it); on
fresh inputs from the same distribution the fit lowers the output error when the
inputs are coarsely quantized and many rows are seen. The pass keeps the plan's
bounds with a bias change too. On the real cls model, the whole step keeps the
plan and raises the output SQNR on other samples.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from afe.apis.defines import MinMaxMethod, default_quantization
from afe.core.quantize_pipeline import quantize_float_module
from afe.ir.quantization_conv import quantized_product_zero_value, worst_case_accumulator
from models import load_real_net, nhwc_samples
from passes.weight_rounding import ROUNDED_BIAS_ATTR, WeightRoundingPass, record_rounding
from runtime.interpreter import Interpreter
from runtime.weight_rounding import (
    CompensationAccumulator,
    GemmInputs,
    compensated_target,
    float_output_error,
    weight_rounded_module,
)
from sima_dialect.context import sima_context
from test_weight_rounding import ACCUMULATOR_MAX, _assert_plan_kept, _dense, _gemms, integer_layers

# -- the algorithm ------------------------------------------------------------------------


def _layer(seed: int, rows: int, inputs: int, channels: int, step: float):
    """Float weights and bias [1, K+1, C], float input rows [M, K] (correlated, some
    inputs dead) and their quantization to `step` (0: exact)."""
    rng = np.random.default_rng(seed)
    target = rng.standard_normal((1, inputs + 1, channels))
    x = rng.standard_normal((rows, inputs)) @ rng.standard_normal((inputs, inputs))
    x[:, rng.random(inputs) < 0.2] = 0.0
    q = x if step == 0 else np.round(x / step) * step
    return target, x, q


layers = st.builds(
    _layer,
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(1, 60),
    inputs=st.integers(1, 8),
    channels=st.integers(1, 4),
    step=st.sampled_from([0.0, 0.05, 0.5, 2.0]),
)


def _split(x: np.ndarray, samples: int) -> list[np.ndarray]:
    """Rows [M, K] as up to `samples` dense inputs [m, K]."""
    return [part for part in np.array_split(x, samples) if part.size]


def _accumulate(x: np.ndarray, q: np.ndarray, samples: int = 8, folds: int = 4) -> CompensationAccumulator:
    accumulator = CompensationAccumulator(GemmInputs(kernel=None), folds=folds)
    for index, (xs, qs) in enumerate(zip(_split(x, samples), _split(q, samples))):
        accumulator.add(index % folds, xs, qs)
    return accumulator


@settings(max_examples=100, deadline=None)
@given(layers)
def test_the_moments_are_the_sums_over_the_rows_with_a_ones_column(layer):
    target, x, q = layer
    accumulator = _accumulate(x.astype(np.float32), q.astype(np.float32))
    ones = lambda a: np.concatenate([a.astype(np.float32).astype(np.float64), np.ones((a.shape[0], 1))], axis=1)  # noqa: E731
    xa, qa = ones(x), ones(q)
    np.testing.assert_allclose(accumulator.float_float.sum(axis=0)[0], xa.T @ xa, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(accumulator.float_quantized.sum(axis=0)[0], xa.T @ qa, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(accumulator.quantized_quantized.sum(axis=0)[0], qa.T @ qa, rtol=1e-5, atol=1e-3)
    # the float-output error is the sum of squared differences of the two outputs
    candidate = target + 0.1
    moments = [m.sum(axis=0) for m in (accumulator.float_float, accumulator.float_quantized, accumulator.quantized_quantized)]
    direct = np.sum((xa @ target[0] - qa @ candidate[0]) ** 2, axis=0)
    np.testing.assert_allclose(float_output_error(target, candidate, *moments)[0], direct, rtol=1e-6, atol=1e-6 * (1 + direct.max()))


@settings(max_examples=100, deadline=None)
@given(layers)
def test_with_exact_inputs_the_target_is_the_float_weight_and_gptq_rounds_it_as_today(layer):
    """X~ = X: nothing to compensate; the fit is the float weight at every strength,
    so GPTQ rounds the float weight under H = X X^T, as today's sequential mode does."""
    target, x, _ = layer
    accumulator = _accumulate(x, x)
    fitted = compensated_target(target, accumulator.float_float, accumulator.float_quantized, accumulator.quantized_quantized)
    np.testing.assert_allclose(fitted.target, target, atol=1e-6 * (1 + np.abs(target).max()))


@settings(max_examples=100, deadline=None)
@given(layers)
def test_a_channel_takes_a_fit_only_where_its_held_out_error_is_lower(layer):
    target, x, q = layer
    accumulator = _accumulate(x, q)
    fitted = compensated_target(target, accumulator.float_float, accumulator.float_quantized, accumulator.quantized_quantized)
    plain = np.isinf(fitted.strength)
    assert np.all(fitted.chosen_error[~plain] < fitted.plain_error[~plain])
    np.testing.assert_array_equal(fitted.chosen_error[plain], fitted.plain_error[plain])
    np.testing.assert_array_equal(fitted.target[:, :, plain[0]], target[:, :, plain[0]])  # the fallback: the float weight


def test_on_fresh_inputs_the_fit_lowers_the_output_error_of_coarse_inputs():
    """Many rows, coarse input steps: the compensated target's error on new rows from the
    same distribution is below the float weight's (the effect the step is for)."""
    gains = []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        inputs, channels = 6, 3
        mixing = rng.standard_normal((inputs, inputs))
        target = rng.standard_normal((1, inputs + 1, channels))
        draw = lambda rows: rng.standard_normal((rows, inputs)) @ mixing  # noqa: E731
        quantize = lambda x: np.round(x / 1.5) * 1.5  # noqa: E731
        x = draw(2000)
        accumulator = _accumulate(x, quantize(x), samples=16)
        fitted = compensated_target(target, accumulator.float_float, accumulator.float_quantized, accumulator.quantized_quantized)
        fresh = draw(2000)
        fresh_accumulator = _accumulate(fresh, quantize(fresh), samples=1, folds=1)
        moments = [m[0] for m in (fresh_accumulator.float_float, fresh_accumulator.float_quantized, fresh_accumulator.quantized_quantized)]
        plain = float_output_error(target, target, *moments).sum()
        compensated = float_output_error(target, fitted.target, *moments).sum()
        gains.append(plain / compensated)
    assert min(gains) > 1.0 and np.median(gains) > 1.2, gains


# -- the pass: a bias change with the weights ----------------------------------------------


@settings(max_examples=120, deadline=None)
@given(integer_layers(), st.data())
def test_the_pass_adds_the_bias_change_within_the_plans_bounds(layer, data):
    weight, bias, intrinsic, zero_point, input_bits, candidate = layer
    shift = np.broadcast_to(intrinsic, bias.shape)
    if np.any(worst_case_accumulator(weight, bias, input_bits, shift) > ACCUMULATOR_MAX):
        return  # not a plan the planner could have made
    channels = bias.shape[0]
    # from small changes to ones far beyond what the accumulator holds (_dense: one accumulator unit is 1.0)
    delta = np.array(data.draw(st.lists(st.sampled_from([0.0, 0.4, -2.6, 1e3, -3e9, 5e12]), min_size=channels, max_size=channels)))
    module, dense = _dense(weight, bias, intrinsic, zero_point, input_bits)
    record_rounding(dense, candidate, delta)
    WeightRoundingPass().apply(sima_context(), module)
    assert ROUNDED_BIAS_ATTR not in dense.attributes
    new_weight, new_bias = dense.weight.owner.as_array(), dense.bias.owner.as_array()
    assert np.all(np.abs(new_weight.astype(np.int64)) <= 127)
    assert np.all(worst_case_accumulator(new_weight, new_bias, input_bits, shift) <= ACCUMULATOR_MAX)
    steps = np.where(delta >= 0, np.floor(delta + 0.5), np.ceil(delta - 0.5)).astype(np.int64)
    moved = bias.astype(np.int64) + quantized_product_zero_value(weight, zero_point, shift) - quantized_product_zero_value(candidate, zero_point, shift)
    for c in range(channels):
        taken = np.array_equal(new_weight[:, c], candidate[:, c]) and new_bias[c] == moved[c] + steps[c]
        kept = np.array_equal(new_weight[:, c], weight[:, c]) and new_bias[c] == bias[c]
        assert taken or kept, c
        fits = np.all(np.abs(candidate[:, c].astype(np.int64)) <= 127) and (
            worst_case_accumulator(candidate[:, [c]], (moved + steps)[[c]], input_bits, shift[[c]])[0] <= ACCUMULATOR_MAX
        )
        assert taken if fits else kept, c
    interpreter = Interpreter(module)
    for value in (-(2 ** (input_bits - 1)), 2 ** (input_bits - 1) - 1):
        interpreter.run([np.full((1, weight.shape[0]), value, dtype=np.int16 if input_bits == 16 else np.int8)])


def test_a_bias_change_without_rounded_weights_names_the_node():
    weight, bias = np.ones((2, 1), np.int8), np.zeros(1, np.int32)
    module, dense = _dense(weight, bias, np.zeros(1, np.int64), 0, 8)
    record_rounding(dense, weight, np.array([1.0]))
    del dense.attributes["rounded_weight"]
    with pytest.raises(Exception, match="MLA_0/dense_add_0.*rounded_bias_delta needs the rounded_weight"):
        WeightRoundingPass().apply(sima_context(), module)


def test_a_bias_change_of_the_wrong_size_names_the_node():
    weight, bias = np.ones((2, 1), np.int8), np.zeros(1, np.int32)
    module, dense = _dense(weight, bias, np.zeros(1, np.int64), 0, 8)
    record_rounding(dense, weight, np.array([1.0, 2.0]))
    with pytest.raises(Exception, match="MLA_0/dense_add_0.*rounded_bias_delta must hold 1 finite numbers"):
        WeightRoundingPass().apply(sima_context(), module)


# -- the step on a real model -------------------------------------------------------------

MIN_MAX = default_quantization.with_calibration(MinMaxMethod())


@pytest.fixture(scope="module")
def cls_compensated():
    net = load_real_net("cls")
    calibration = nhwc_samples("cls", 8, seed=31)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        plain = quantize_float_module(net.module, calibration, MIN_MAX, progress=False)
        compensated, report = weight_rounded_module(plain.quantized, plain.float_reference, calibration, compensate=True, progress=False)
    finally:
        root.setLevel(level)
    return net, plain, compensated, report


def test_real_model_compensation_keeps_the_plan(cls_compensated):
    _, plain, compensated, report = cls_compensated
    _assert_plan_kept(plain.quantized, compensated)
    assert all(layer.rounded_error <= layer.nearest_error for layer in report.layers.values())
    assert sum(layer.compensated for layer in report.layers.values()) > 0
    assert not any(ROUNDED_BIAS_ATTR in op.attributes for op in _gemms(compensated).values())


def test_real_model_compensation_is_closer_to_float_on_other_samples(cls_compensated):
    net, plain, compensated, _ = cls_compensated
    evaluation = nhwc_samples("cls", 32, seed=32)
    reference = [net.execute(sample)[0] for sample in evaluation]
    noise = {}
    for label, module in (("plain", plain.quantized), ("compensated", compensated)):
        interpreter = Interpreter(module)  # bit-exact integer kernels
        outputs = [interpreter.run(sample)[0] for sample in evaluation]
        noise[label] = sum(float(np.sum((r.astype(np.float64) - o) ** 2)) for r, o in zip(reference, outputs))
    signal = sum(float(np.sum(np.square(r, dtype=np.float64))) for r in reference)
    print(f"cls MinMax 8 calibration samples, 32 others: SQNR {10 * np.log10(signal / noise['plain']):.2f} -> "
          f"{10 * np.log10(signal / noise['compensated']):.2f} dB")
    assert noise["compensated"] < noise["plain"]


# -- the option -----------------------------------------------------------------------------


def test_activation_compensation_is_an_option_saved_with_the_model():
    from afe.apis.errors import UserFacingException
    from afe.apis.model import config_from_json, config_to_json

    compensating = default_quantization.with_activation_compensation()
    assert compensating.activation_compensation and not compensating.with_activation_compensation(False).activation_compensation
    assert dataclasses.replace(default_quantization, activation_compensation=True) == compensating
    with pytest.raises(UserFacingException, match="activation_compensation: must be True or False"):
        default_quantization.with_activation_compensation("yes")
    for config in (compensating, default_quantization):
        assert config_from_json(config_to_json(config)) == config
    legacy = config_to_json(compensating)
    del legacy["activation_compensation"]  # a file written before the option existed
    assert not config_from_json(legacy).activation_compensation


def test_bfloat16_has_no_int8_weights_to_compensate():
    from afe.apis.defines import bfloat16_scheme
    from afe.apis.errors import UserFacingException

    config = default_quantization.with_activation_quantization(bfloat16_scheme()).with_activation_compensation()
    with pytest.raises(UserFacingException, match="activation_compensation: rounds the int8 weights of integer quantization"):
        quantize_float_module(load_real_net("cls").module, nhwc_samples("cls", 1, seed=33), config, progress=False)


def test_the_command_line_chooses_compensation():
    import argparse

    from afe.cli_config import add_config_options, config_from_options, describe_config

    parser = argparse.ArgumentParser()
    add_config_options(parser)
    for choice, rounding, compensating in (("compensated", False, True), ("gptq", True, False), ("nearest", False, False)):
        config = config_from_options(parser.parse_args(["--weight-rounding", choice]))
        assert (config.weight_rounding, config.activation_compensation) == (rounding, compensating), choice
    assert "weights compensating the int8 activations" in describe_config(
        config_from_options(parser.parse_args(["--weight-rounding", "compensated"]))
    )
