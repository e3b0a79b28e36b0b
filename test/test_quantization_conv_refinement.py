"""The planner's clipped weight refinement: one more weight bit where it lowers the weight error.

Without a multiplier (sima, restricted TFLite) the weight scale of a channel is
a power of two times Sc / Sa, so its weights span max|Qw| in (63.5, 127]; the
planner may take twice that scale (clipping the largest weights at 127) where
the channel's squared weight error is smaller.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, event, given, settings

import afe.ir.quantization_conv as planner
from afe.ir.attributes import ObservedDistribution
from afe.ir.defines import quantization_from_range
from afe.ir.quantization_conv import ConvolutionPrecision, clipped_weight_refinement, quantize_convolution_parameters, select_convolution_scales
from afe.ir.tensor_type import ScalarType
from runtime.integer_arithmetic import (
    ACCUMULATOR_MAX,
    INTRINSIC_SHIFT_HI,
    INTRINSIC_SHIFT_LO,
    ArithFoldedRequantization,
    TFLiteRequantization,
    mla_gemm,
)
from test_quantization_conv import benign_problems, conv_problems, worst_case_inputs

P = ConvolutionPrecision


def _effective_weight_scale(requant, out_quant, input_quant, msb_left_shift, use_int15, channels) -> np.ndarray:
    """Sw = 2**h * Sc / (Sa * S) of a plan whose S is a power of two."""
    h = np.where(msb_left_shift, INTRINSIC_SHIFT_LO, INTRINSIC_SHIFT_HI) if use_int15 else 0
    s = np.broadcast_to(requant.real_scale(), (channels,))
    return np.broadcast_to(np.ldexp(out_quant.scale, h), (channels,)) / (input_quant.scale * s)


def _squared_error(weight: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Per-channel sum of (Qw / Sw - w)**2, Qw the weights rounded half away from zero and clipped to +-127."""
    q = np.clip(np.trunc(weight * scale + np.copysign(0.5, weight * scale)), -127, 127)
    return np.square(q / scale - weight).sum(axis=0)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(benign_problems())
def test_a_clipped_channel_has_less_weight_error_than_its_never_clip_scale(problem):
    weight, bias, input_quant, x, precision, per_channel, asymmetry, use_int15 = problem
    distribution = ObservedDistribution.from_array(input_quant.dequantize(input_quant.quantize(x)) @ weight + bias)
    q_weight, q_bias, requant, out_type, out_quant, msb = quantize_convolution_parameters(
        input_quant, distribution, weight, bias, per_channel=per_channel, asymmetry=asymmetry,
        use_int15=use_int15, use_sima_relu_workaround=False, precision=precision, allow_full_output_precision=False,
    )
    if isinstance(requant, TFLiteRequantization) and requant.multiplier.max() > 1:
        return  # the weights keep their own scale 127 / max|w|: nothing is folded
    c = weight.shape[1]
    scale = _effective_weight_scale(requant, out_quant, input_quant, msb, use_int15, c)
    active = q_weight.any(axis=0)
    # The planned integers are the weights rounded at that scale (so the scale is the plan's).
    np.testing.assert_array_equal(
        q_weight[:, active], np.clip(np.trunc(weight * scale + np.copysign(0.5, weight * scale)), -127, 127)[:, active]
    )
    span = np.abs(weight).max(axis=0) * scale
    clipped = active & (span > 127.5)
    event(f"clipped channels: {bool(clipped.any())}")
    assert np.all(span[active] <= 254.0 * (1 + 1e-12))  # at most the one bit the fraction cost
    if not clipped.any():
        return
    finer, never_clip = _squared_error(weight, scale), _squared_error(weight, scale / 2)
    if per_channel:
        assert np.all(finer[clipped] < never_clip[clipped])
    else:
        assert finer[active].sum() < never_clip[active].sum()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv_problems())
def test_refined_plans_fit_the_accumulator(problem):
    """Adversarial weights with the refinement: every int8 weight and int32 intermediate fits."""
    q_weight, q_bias, requant, out_type, out_quant, msb = quantize_convolution_parameters(**problem)
    use_int15 = problem["use_int15"]
    c = q_weight.shape[1]
    h = np.broadcast_to(np.where(msb, INTRINSIC_SHIFT_LO, INTRINSIC_SHIFT_HI), (c,)) if use_int15 else np.zeros(c, int)
    worst = np.ceil(np.abs(q_weight.astype(np.int64)).sum(axis=0) * 2.0 ** (problem["input_quant"].bits - 1) / 2.0**h)
    assert np.all(worst + np.abs(q_bias.astype(np.int64)) <= ACCUMULATOR_MAX)
    x = worst_case_inputs(q_weight, ScalarType.int16 if use_int15 else ScalarType.int8)
    mla_gemm(x, q_weight, q_bias, requant, out_type, intrinsic_shift=h if use_int15 else 0)


def _problem(weight, out_max=4.0):
    return dict(
        input_quant=quantization_from_range(-1.0, 1.0, 8, asymmetric=False),
        output_distribution=ObservedDistribution(-out_max, out_max),
        weight=weight, bias=None, per_channel=True, asymmetry=False, use_int15=False,
        use_sima_relu_workaround=False, precision=P.sima_int8, allow_full_output_precision=False,
    )


def _plan(problem):
    return select_convolution_scales(
        problem["weight"], problem["input_quant"], problem["output_distribution"],
        precision=P.sima_int8, asymmetry=False, per_channel=True,
    )


def _with_folded_spans(seed: int, spans: list[float], out_max: float = 4.0) -> dict:
    """A problem whose channels' weights span max|w| * folded Sw = `spans` (normal weights)."""
    base = np.random.default_rng(seed).normal(size=(64, len(spans)))
    base /= np.abs(base).max(axis=0)
    _, fraction = planner.normalize_with_pow2(_plan(_problem(base, out_max)).requant.scale)
    # Sw = 127 / max|w| and S's fraction are both invariant under this rescaling but for max|w|
    return _problem(base * np.array(spans) / (127.0 * fraction), out_max)


def test_refinement_is_chosen_where_the_fraction_costs_nearly_a_bit():
    # Channel 0 spans 64.5 (fraction ~0.508): doubling its scale clips one weight by about
    # one unit and halves every other rounding error. Channel 1 spans 127 already.
    problem = _with_folded_spans(3, [64.5, 127.0])
    assert clipped_weight_refinement(problem["weight"], _plan(problem), per_channel=True).tolist() == [1, 0]
    q_weight, *_ = quantize_convolution_parameters(**problem)
    assert np.abs(q_weight.astype(int)).max(axis=0).tolist() == [127, 127]


def test_backtracking_gives_the_refined_bit_up_first(monkeypatch):
    # With S = f * 2**-23 (f ~ 0.508) the accumulator values reaching every int8 output,
    # 128.5 / S ~ 2.12e9, just fit int32; the refinement halves S and they would not. The
    # plan must then be the never-clip one, not one with a weight bit narrowed away.
    problem = _with_folded_spans(4, [64.5])
    assert clipped_weight_refinement(problem["weight"], _plan(problem), True).tolist() == [1]
    shift = int(_plan(problem).requant.shift[0])
    # an output range 2**(23 - shift) times wider (a coarser Sc) puts the shift at 23
    problem["output_distribution"] = ObservedDistribution(-4.0 * 2.0 ** (23 - shift), 4.0 * 2.0 ** (23 - shift))
    assert int(_plan(problem).requant.shift[0]) == 23
    q_weight, _, requant, *_ = quantize_convolution_parameters(**problem)
    assert isinstance(requant, ArithFoldedRequantization) and int(requant.shift[0]) == 23
    assert 64 <= np.abs(q_weight.astype(int)).max() <= 127  # the never-clip span, no bit narrowed
    monkeypatch.setattr(planner, "clipped_weight_refinement", lambda w, plan, per_channel: np.zeros(plan.weight.shape, np.int64))
    never_clip, *_ = quantize_convolution_parameters(**problem)
    np.testing.assert_array_equal(q_weight, never_clip)
    # one power of two finer output (shift 22): the refinement fits (shift 23), and is kept
    problem["output_distribution"] = ObservedDistribution(-4.0 * 2.0 ** (22 - shift), 4.0 * 2.0 ** (22 - shift))
    monkeypatch.undo()
    q_weight, _, requant, *_ = quantize_convolution_parameters(**problem)
    assert int(requant.shift[0]) == 23 and np.abs(q_weight.astype(int)).max() == 127
