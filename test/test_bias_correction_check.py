"""Bias correction's output-level check (`runtime/bias_correction.py`,
`HeldOutJudge`, `preferred_candidate`): the corrections are kept only if,
measured on some calibration samples, they lower the model's output error on
the others significantly (`gain_p_value`, a paired sign-flip test), and
iterative corrections replace regular's only where they lower it further.

The decision rule is tested on its own with hypothesis: pure noise is
rejected with high probability, a real gain is kept, a gain made by one
sample is not, and iterative's choice is never worse than regular's on the
evidence it is given.

On a tiny synthetic model (dense -> softmax, per-tensor int8 weights) whose
quantization error is almost all a systematic bias: small weights that all
round the same way, positive inputs. There the measured correction must be
kept and must lower the output error on new samples; a correction that hurts
the output (the measured one negated and amplified, given as the estimator)
must be rejected, leaving the module as it was. Either way the result is
exactly the uncorrected module or exactly the unchecked correction.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper
from onnx_builders import const, model, tensor

from afe.apis.defines import BiasCorrectionType, MinMaxMethod, default_quantization, quantization_scheme
from afe.core.quantize_pipeline import quantize_float_module
from lowering.onnx_importer import import_onnx
from runtime.bias_correction import (
    HELD_OUT_FOLDS,
    SIGNIFICANCE,
    HeldOutJudge,
    bias_corrected_module,
    compared_outputs,
    gain_p_value,
    preferred_candidate,
    reliable_correction,
)
from runtime.bias_correction import _measure as measure
from runtime.interpreter import Interpreter, find_function
from sima_dialect import ops
from sima_dialect.quantized_ops import QDenseOp

REGULAR, ITERATIVE = BiasCorrectionType.REGULAR, BiasCorrectionType.ITERATIVE
CONFIG = default_quantization.with_calibration(MinMaxMethod()).with_weight_quantization(quantization_scheme(False, False))


def _biased_model(inputs: int, outputs: int, fraction: float, softmax: bool):
    """x [1, inputs] -> dense (-> softmax): a weight of 1 in every column sets the
    per-tensor scale 1/127; column c has (c + 1) (inputs - 1) / outputs other
    weights of `fraction` of a step, which all round the same way (to 0 below
    half a step, to 1 step above): a bias that differs by column (a softmax
    would not see one common to all columns)."""
    weight = np.zeros((inputs, outputs), np.float32)
    weight[0] = 1.0
    for column in range(outputs):
        weight[1 : 1 + (column + 1) * (inputs - 1) // outputs, column] = fraction / 127
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["y"])]
    if softmax:
        nodes.append(helper.make_node("Softmax", ["y"], ["p"], axis=-1))
    proto = model(
        nodes,
        [tensor("x", TensorProto.FLOAT, [1, inputs])],
        [tensor("p" if softmax else "y", TensorProto.FLOAT, [1, outputs])],
        [const("w", weight), const("b", np.zeros(outputs, np.float32))],
    )
    return import_onnx(proto, {"x": [1, inputs]}).module


def _samples(rng: np.random.Generator, count: int, inputs: int) -> list[dict[str, np.ndarray]]:
    return [{"x": rng.uniform(0.5, 1.0, (1, inputs)).astype(np.float32)} for _ in range(count)]


def _biases(module) -> list[np.ndarray]:
    return [op.bias.owner.as_array() for op in module.walk() if isinstance(op, QDenseOp)]


def _output_error(module, float_module, samples) -> float:
    quantized, reference = Interpreter(module), Interpreter(float_module)
    return sum(float(np.sum((quantized.run(s)[0] - reference.run(s)[0]) ** 2)) for s in samples)


def _quiet():
    logging.getLogger("runtime.bias_correction").setLevel(logging.ERROR)


cases = st.tuples(
    st.integers(0, 2**32 - 1),  # seed of the samples
    st.integers(48, 128),  # inputs: enough small weights that the bias they make shows through the int8 softmax
    st.integers(2, 5),  # outputs
    st.floats(0.2, 0.45) | st.floats(0.55, 0.8),  # weights' fraction of a step: rounded down / up
    st.sampled_from([REGULAR, ITERATIVE]),
    st.booleans(),  # softmax
)


@settings(max_examples=5, deadline=None)
@given(cases)
def test_a_correction_that_lowers_the_output_error_is_kept(case):
    seed, inputs, outputs, fraction, kind, softmax = case
    rng = np.random.default_rng(seed)
    calibration, other = _samples(rng, 8, inputs), _samples(rng, 16, inputs)
    plain = quantize_float_module(_biased_model(inputs, outputs, fraction, softmax), calibration, CONFIG, progress=False)
    measurement = measure(plain.quantized.clone(), plain.float_reference, calibration, kind, reliable_correction, False, None, outputs=True)
    judge = HeldOutJudge(measurement.quantized, plain.float_reference, measurement)
    held_out = judge.errors(measurement)
    assert held_out.sum() < 0.5 * judge.plain.sum()  # the bias dominates the error: held out, most of it goes
    assert gain_p_value(judge.plain, held_out) < SIGNIFICANCE
    checked = bias_corrected_module(plain.quantized, plain.float_reference, calibration, kind)
    unchecked = bias_corrected_module(plain.quantized, plain.float_reference, calibration, kind, check=False)
    assert [b.tolist() for b in _biases(checked)] == [b.tolist() for b in _biases(unchecked)]
    assert not np.array_equal(_biases(checked)[0], _biases(plain.quantized)[0])
    assert _output_error(checked, plain.float_reference, other) < _output_error(plain.quantized, plain.float_reference, other)


def _harmful(errors: np.ndarray) -> np.ndarray:
    """The measured correction, negated and amplified: it raises every layer's error."""
    return -4 * errors.mean(axis=0)


@settings(max_examples=5, deadline=None)
@given(cases)
def test_a_correction_that_raises_the_output_error_is_rejected(case):
    _quiet()
    seed, inputs, outputs, fraction, kind, softmax = case
    rng = np.random.default_rng(seed)
    calibration, other = _samples(rng, 8, inputs), _samples(rng, 16, inputs)
    plain = quantize_float_module(_biased_model(inputs, outputs, fraction, softmax), calibration, CONFIG, progress=False)
    measurement = measure(plain.quantized.clone(), plain.float_reference, calibration, kind, _harmful, False, None, outputs=True)
    judge = HeldOutJudge(measurement.quantized, plain.float_reference, measurement)
    assert judge.errors(measurement).sum() > judge.plain.sum()
    checked = bias_corrected_module(plain.quantized, plain.float_reference, calibration, kind, estimate=_harmful)
    assert checked is plain.quantized  # left as it was
    unchecked = bias_corrected_module(plain.quantized, plain.float_reference, calibration, kind, estimate=_harmful, check=False)
    assert _output_error(unchecked, plain.float_reference, other) > _output_error(plain.quantized, plain.float_reference, other)


def test_the_rejection_is_logged(caplog):
    rng = np.random.default_rng(3)
    calibration = _samples(rng, 8, 12)
    plain = quantize_float_module(_biased_model(12, 3, 0.3, True), calibration, CONFIG, progress=False)
    with caplog.at_level(logging.INFO, logger="runtime.bias_correction"):
        bias_corrected_module(plain.quantized, plain.float_reference, calibration, REGULAR, estimate=_harmful)
    assert any("held-out" in r.getMessage() and "kept: none" in r.getMessage() for r in caplog.records)


def test_too_few_samples_to_hold_out_apply_the_correction_with_a_warning(caplog):
    rng = np.random.default_rng(4)
    calibration = _samples(rng, HELD_OUT_FOLDS - 1, 12)
    plain = quantize_float_module(_biased_model(12, 3, 0.3, False), calibration, CONFIG, progress=False)
    with caplog.at_level(logging.WARNING, logger="runtime.bias_correction"):
        checked = bias_corrected_module(plain.quantized, plain.float_reference, calibration, REGULAR, estimate=_harmful)
    assert any("too few to check" in r.getMessage() for r in caplog.records)
    unchecked = bias_corrected_module(plain.quantized, plain.float_reference, calibration, REGULAR, estimate=_harmful, check=False)
    assert [b.tolist() for b in _biases(checked)] == [b.tolist() for b in _biases(unchecked)]


@pytest.mark.parametrize("softmax", [True, False])
def test_the_check_compares_the_scores_a_final_softmax_reads(softmax):
    calibration = _samples(np.random.default_rng(5), 4, 12)
    plain = quantize_float_module(_biased_model(12, 3, 0.3, softmax), calibration, CONFIG, progress=False)
    [(float_value, quantized_value)] = compared_outputs(plain.float_reference, plain.quantized)
    if softmax:  # the dense's output, on both sides
        assert isinstance(float_value.owner, ops.DenseOp) and isinstance(quantized_value.owner, QDenseOp)
        assert float_value.owner.node_name == quantized_value.owner.node_name
    else:  # the returned values themselves
        assert float_value is find_function(plain.float_reference).get_return_op().operands[0]


# -- the decision rule ----------------------------------------------------------------------------

# per held-out sample output errors: how many samples (the check's folds hold
# 16-32 calibration samples), how they spread, and how heavy their tail is
# (a softmax's near-tie samples make a few errors much larger than the rest)
error_shapes = st.tuples(st.integers(8, 32), st.floats(1e-4, 10.0), st.sampled_from(["normal", "heavy"]))


def _per_sample_errors(rng: np.random.Generator, samples: int, scale: float, tail: str) -> np.ndarray:
    spread = rng.standard_normal(samples) if tail == "normal" else rng.standard_t(1.5, samples)
    return scale * (1.0 + np.abs(spread))


@settings(max_examples=10, deadline=None)
@given(error_shapes, st.integers(0, 2**32 - 1))
def test_a_correction_that_only_redraws_the_errors_is_rejected_with_high_probability(shape, seed):
    """The corrected errors are a fresh draw of the same distribution (the
    correction re-draws per-sample errors, as on the classifiers): over 200
    such draws, at most ~SIGNIFICANCE of them may be kept (10%: 4 standard
    deviations of the binomial above 5%)."""
    samples, scale, tail = shape
    rng = np.random.default_rng(seed)
    kept = 0
    for _ in range(200):
        plain = _per_sample_errors(rng, samples, scale, tail)
        corrected = _per_sample_errors(rng, samples, scale, tail)
        kept += gain_p_value(plain, corrected) < SIGNIFICANCE
    assert kept <= 200 * 2 * SIGNIFICANCE


@settings(max_examples=20, deadline=None)
@given(error_shapes, st.integers(0, 2**32 - 1))
def test_a_correction_that_removes_a_real_bias_is_kept(shape, seed):
    """Every held-out sample loses a bias worth half its error (and the rest
    of its error varies): the gain is real and significant."""
    samples, scale, tail = shape
    rng = np.random.default_rng(seed)
    corrected = _per_sample_errors(rng, samples, scale, tail)
    plain = corrected * rng.uniform(1.5, 2.5, samples)
    assert gain_p_value(plain, corrected) < SIGNIFICANCE
    chosen, _ = preferred_candidate(plain, [corrected])
    assert chosen == 0


@settings(max_examples=20, deadline=None)
@given(st.integers(8, 32), st.floats(1.0, 1e6), st.integers(0, 2**32 - 1))
def test_a_gain_made_by_one_sample_is_not_significant(samples, gain, seed):
    """A near-tie sample far better with the correction, the others as much
    worse as better (gains +-g in pairs): the mean gain may be large, but one
    sample makes it."""
    rng = np.random.default_rng(seed)
    others = rng.uniform(0, 0.01, (samples - 1) // 2)
    gains = np.concatenate([[gain], others, -others, np.zeros((samples - 1) % 2)])
    plain = 1.0 + rng.uniform(0, 0.1, samples)
    corrected = plain - gains
    assert np.mean(plain - corrected) > 0
    assert gain_p_value(plain, corrected) >= SIGNIFICANCE


@settings(max_examples=200, deadline=None)
@given(
    st.integers(4, 24).flatmap(
        lambda n: st.tuples(*[st.lists(st.floats(0.0, 10.0), min_size=n, max_size=n).map(np.array) for _ in range(3)])
    )
)
def test_iterative_is_never_worse_than_regular_on_the_evidence(errors):
    """Whatever the held-out errors of none / regular / iterative: with
    iterative, the choice is regular's unless iterative's errors are a
    significant gain over regular's choice, and its summed held-out error is
    never above that of regular's choice."""
    plain, regular, iterative = errors
    regular_choice, _ = preferred_candidate(plain, [regular])
    iterative_choice, p_values = preferred_candidate(plain, [regular, iterative])
    by_choice = {None: plain, 0: regular, 1: iterative}
    if iterative_choice != 1:
        assert iterative_choice == regular_choice
    else:
        assert gain_p_value(by_choice[regular_choice], iterative) < SIGNIFICANCE
        assert p_values[1] < SIGNIFICANCE
    assert by_choice[iterative_choice].sum() <= by_choice[regular_choice].sum()
