"""Bias correction's per-channel mean outputs from window sums (`runtime/bias_correction.py`:
`window_sums`, `mean_output`, used by `_Layer.add_float` / `quantized_mean`) against
their definitions:

- on random geometry (hypothesis), the mean of the im2col rows times the weight plus the
  bias, with float and int8 inputs, padding with zero or with another value;
- on the real cls model's quantized layers, the int8 accumulator's mean equals that of
  the accumulator kernel bit for bit, and the float mean that of the float kernel to
  float32 rounding.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from afe.apis.defines import default_quantization
from afe.core.quantize_pipeline import quantize_float_module
from models import load_real_net, nhwc_samples
from runtime.bias_correction import _channel_means, _layers, mean_output, window_sums
from runtime.error_analysis import tapped_interpreter
from runtime.weight_rounding import GemmInputs


@st.composite
def problems(draw):
    groups = draw(st.sampled_from([1, 2, 3]))
    per_group = draw(st.integers(1, 3))
    dense = draw(st.booleans())
    inputs = GemmInputs(kernel=None) if dense else GemmInputs(
        (draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        strides=(draw(st.integers(1, 2)), draw(st.integers(1, 2))),
        pads=tuple(draw(st.integers(0, 2)) for _ in range(4)),
        dilations=(draw(st.integers(1, 2)), draw(st.integers(1, 2))),
        groups=groups,
    )  # fmt: skip
    channels = per_group * (1 if dense else groups)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    integer = draw(st.booleans())
    size = draw(st.integers(4, 7))
    shape = (draw(st.integers(1, 5)), channels) if dense else (draw(st.integers(1, 2)), size, size + 2, channels)
    x = rng.integers(-128, 128, shape).astype(np.int8) if integer else rng.standard_normal(shape).astype(np.float32)
    outputs = per_group * draw(st.integers(1, 3)) * (1 if dense else groups)
    weight_shape = (channels, outputs) if dense else (*inputs.kernel, per_group, outputs)
    weight = rng.integers(-127, 128, weight_shape) if integer else rng.standard_normal(weight_shape)
    bias = rng.integers(-(2**20), 2**20, outputs) if integer else rng.standard_normal(outputs)
    pad_value = int(rng.integers(-128, 128)) if integer and draw(st.booleans()) else 0
    return inputs, x, weight, bias, pad_value


@settings(max_examples=150, deadline=None)
@given(problems())
def test_mean_output_is_the_mean_of_the_rows_times_the_weight(problem):
    inputs, x, weight, bias, pad_value = problem
    if inputs.kernel is not None and pad_value:  # the rows pad with zero: pad by hand, then no padding
        top, left, bottom, right = inputs.pads
        x_rows = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=pad_value)
        row_inputs = GemmInputs(inputs.kernel, inputs.strides, (0, 0, 0, 0), inputs.dilations, inputs.groups)
    else:
        x_rows, row_inputs = x, inputs
    rows = row_inputs.rows(x_rows.astype(np.float64))  # [G, M, K]
    grouped = inputs.group_weight(np.asarray(weight, dtype=np.float64))
    expected = np.concatenate([(rows[g] @ grouped[g]).mean(axis=0) for g in range(rows.shape[0])]) + bias
    sums, count = window_sums(inputs, x, pad_value)
    assert count == rows.shape[1]
    got = mean_output(inputs, sums, count, weight, bias)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9 * (1 + np.abs(expected).max()))


@pytest.fixture(scope="module")
def cls_layers():
    net = load_real_net("cls")
    samples = nhwc_samples("cls", 3, seed=1)
    logging.getLogger().setLevel(logging.ERROR)
    modules = quantize_float_module(net.module, samples, default_quantization, progress=False)
    layers = _layers(modules.quantized, modules.float_reference)
    interpreter, offset = tapped_interpreter(modules.float_reference, [layer.float_input for layer in layers])
    return layers, interpreter.run(samples[2])[offset:]


def test_real_layers_means_equal_their_kernels(cls_layers):
    layers, inputs = cls_layers
    assert len(layers) > 10
    for layer, x in zip(layers, inputs):
        weights = [a for a in layer.float_operands if a is not None]
        layer.add_float(x)
        np.testing.assert_allclose(layer.float_means[-1], _channel_means(layer.float_kernel(x, *weights)), rtol=1e-5, atol=1e-5)
        quantized = layer.quantize_input(x)
        assert quantized.dtype == np.int8
        bias = layer.op.bias.owner.as_array()
        accumulator = layer.accumulator_kernel(quantized, layer.op.weight.owner.as_array(), bias)
        np.testing.assert_array_equal(layer.quantized_mean(quantized, bias), (_channel_means(accumulator) - layer.offset) * layer.unit)
