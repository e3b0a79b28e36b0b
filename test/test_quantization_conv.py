"""afe.ir.quantization_conv: scale helpers, the adjustable plan, and the backtracking planner."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from afe.apis.errors import UserFacingException
from afe.ir.attributes import ConvAddActivationAttrs, ObservedDistribution
from afe.ir.defines import NodeReporter, Quantization, quantization_from_range
from afe.ir.quantization_conv import (
    INTRINSIC_SHIFT_HI,
    INTRINSIC_SHIFT_LO,
    ConvBacktrackingParameters,
    ConvolutionPrecision,
    ConvPlanQuantizations,
    ConvPlanRequantization,
    RoundType,
    _Retry,
    decompose_power_of_2,
    get_bfloat16_with_int_weights_quant_params,
    get_quantization_range,
    normalize_with_pow2,
    output_zp_correction_in_bias,
    quantize_convolution_parameters,
    quantize_weight_tensor,
    quantized_product_zero_value,
    reshape_weight_to_output_channels,
    run_backtracking_loop,
    select_convolution_scales,
    try_increase_intrinsic_shift,
    weight_quantization_scale,
    weight_single_quantization_scale,
)
from afe.ir.tensor_type import ScalarType
from runtime.integer_arithmetic import (
    ACCUMULATOR_MAX,
    ArithFoldedRequantization,
    TFLiteRequantization,
    mla_gemm,
    mla_product,
)

P = ConvolutionPrecision

# ---------------------------------------------------------------------------
# helpers


def test_quantization_range():
    assert get_quantization_range(ScalarType.int8, asymmetry=True) == (-128, 127)
    assert get_quantization_range(ScalarType.int8, asymmetry=False) == (-127, 127)
    assert get_quantization_range(np.int16, asymmetry=False) == (-32767, 32767)
    assert get_quantization_range(ScalarType.int32, asymmetry=True) == (-(2**31), 2**31 - 1)
    with pytest.raises(ValueError, match="signed integer"):
        get_quantization_range(ScalarType.uint8, asymmetry=True)


positive_floats = st.floats(min_value=1e-300, max_value=1e300, allow_subnormal=False)
_F_RANGES = {
    RoundType.UPWARD: lambda f: 0.5 < f <= 1.0,
    RoundType.TONEAREST: lambda f: math.sqrt(0.5) <= f <= math.sqrt(2.0),
    RoundType.TRUNC: lambda f: 1.0 <= f < 2.0,
}


@given(st.lists(positive_floats | st.just(0.0), min_size=1, max_size=8), st.sampled_from(list(RoundType)))
def test_decompose_power_of_2(values, rounding):
    x = np.array(values)
    i, f = decompose_power_of_2(x, rounding)
    assert np.array_equal(np.ldexp(f, i), x)  # exact, not approximate
    for value, fi in zip(values, f):
        if value == 0.0:
            assert fi == 0.0
        else:
            assert _F_RANGES[rounding](fi), (value, fi)


def test_decompose_power_of_2_powers_and_zero():
    i, f = normalize_with_pow2(np.array([1.0, 0.25, 0.0, 3.0]))
    assert i.tolist() == [0, -2, 0, 2]
    assert f.tolist() == [1.0, 1.0, 0.0, 0.75]
    with pytest.raises(ValueError):
        decompose_power_of_2(np.array([-1.0]), RoundType.UPWARD)


def test_weight_scales():
    w = np.zeros((3, 3, 2, 4))
    w[..., 0] = 0.5
    w[0, 0, 0, 1] = -2.0
    w[..., 3] = 1e-30
    assert weight_single_quantization_scale(w) == 127 / 2.0
    per_channel = weight_quantization_scale(w, per_channel=True)
    assert per_channel.tolist() == [254.0, 63.5, 0.0, 127 / 1e-30]
    assert weight_quantization_scale(w, per_channel=False).shape == ()
    assert weight_quantization_scale(np.zeros((2, 2)), per_channel=False) == 0.0
    assert weight_single_quantization_scale(np.array([1.0, -0.5]), bits=4) == 7.0
    assert reshape_weight_to_output_channels(w).shape == (18, 4)


def test_precision_predicates():
    table = {
        P.sima_int8: (False, False, True, False, ScalarType.int8),
        P.tflite_int8: (True, True, False, True, ScalarType.int8),
        P.restricted_tflite_int8: (False, True, False, True, ScalarType.int8),
        P.sima_int16: (False, False, True, False, ScalarType.int16),
        P.tflite_int16: (True, True, False, True, ScalarType.int16),
        P.restricted_tflite_int16: (False, True, False, True, ScalarType.int16),
        P.sima_int32: (False, False, True, False, ScalarType.int32),
    }
    for precision, (mult, zp, folded, tflite, out) in table.items():
        assert precision.has_multiplier() == mult, precision
        assert precision.has_zp_correction() == zp, precision
        assert precision.is_arith_folded() == folded, precision
        assert precision.is_tflite() == tflite, precision
        assert precision.output_type is out
    assert P.for_mode("tflite", 16) is P.tflite_int16
    assert P.sima_int8.restricted() is P.restricted_tflite_int8


# ---------------------------------------------------------------------------
# the plan keeps its fields consistent


@given(
    hnp.arrays(np.float64, (4,), elements=st.floats(1e-20, 1e20)),
    st.booleans(),
    st.lists(st.tuples(st.sampled_from(["weight", "output", "h"]), st.integers(-20, 20)), max_size=8),
)
def test_plan_operations_keep_the_formula(weight_scale, has_multiplier, operations):
    """S = 2**h * Sc / (Sa * Sw) and scale ~ multiplier * 2**-shift after any operation sequence."""
    output = Quantization.representable(37.0, 3, 8)
    sa = 11.0
    plan = ConvPlanQuantizations(
        weight=weight_scale.copy(),
        output=output,
        requant=ConvPlanRequantization.from_scale(output.scale / (sa * weight_scale), has_multiplier),
        intrinsic_shift=np.zeros(4, dtype=np.int64),
        input_scale=sa,
        has_multiplier=has_multiplier,
    )
    for name, amount in operations:
        if name == "weight":
            plan.scale_weight_pow2(np.full(4, amount))
        elif name == "output":
            plan.scale_output_pow2(amount)
        else:
            plan.set_intrinsic_shift(np.full(4, abs(amount) % 9))
        expected = np.ldexp(plan.output.scale, plan.intrinsic_shift) / (plan.input_scale * plan.weight)
        np.testing.assert_allclose(plan.requant.scale, expected, rtol=1e-12)
        represented = plan.requant.multiplier * np.ldexp(1.0, -plan.requant.shift)
        ratio = plan.requant.scale / represented
        if has_multiplier:
            assert np.all(np.abs(ratio - 1) <= 2.0**-7)
        else:
            assert np.all((ratio > 0.5) & (ratio <= 1.0))


@given(st.floats(1e-10, 1e10), st.booleans(), st.integers(-30, 30))
def test_requant_shift_and_scale_move_together(scale, has_multiplier, amount):
    requant = ConvPlanRequantization.from_scale(np.array([scale]), has_multiplier)
    before = requant.scale * np.ldexp(1.0, requant.shift)
    requant.adjust_shift(amount)
    np.testing.assert_allclose(requant.scale * np.ldexp(1.0, requant.shift), before, rtol=1e-15)
    plan_scale = requant.deepcopy()
    plan_scale.adjust_shift(1)
    assert plan_scale.shift[0] == requant.shift[0] + 1  # the copy is independent


def test_plan_unit_and_zero_positions():
    plan = select_convolution_scales(
        np.array([[1.0, 0.0], [-0.5, 0.0]]),
        Quantization.representable(100.0, 0, 8),
        ObservedDistribution(-1.0, 1.0),
        precision=P.sima_int8,
        asymmetry=False,
        per_channel=True,
    )
    assert plan.weight.tolist() == [127.0, 0.0]
    copy = plan.deepcopy()
    plan.set_weight_zero(np.array([True, False]))
    plan.set_requant_one(np.array([True, False]))
    assert plan.weight.tolist() == [0.0, 0.0]
    assert plan.requant.scale[0] == 1.0 and plan.requant.shift[0] == 0 and plan.requant.multiplier[0] == 1
    assert copy.weight.tolist() == [127.0, 0.0]  # the copy is independent


# ---------------------------------------------------------------------------
# backtracking machinery


def test_run_backtracking_loop_retries_and_keeps_only_final_warnings():
    attempts = []

    def f(reporter):
        attempts.append(1)
        reporter.warn(f"attempt {len(attempts)}")
        if len(attempts) < 3:
            raise _Retry()
        return "done"

    reporter = NodeReporter("MLA_0/conv2d_0", log=False)
    assert run_backtracking_loop(f, 5, "unused", reporter) == "done"
    assert reporter.warnings == ["attempt 3"]


def test_run_backtracking_loop_gives_up_naming_the_node():
    def f(reporter):
        raise _Retry()

    with pytest.raises(UserFacingException, match="MLA_0/conv2d_add_7.*no plan.*4 attempts"):
        run_backtracking_loop(f, 4, "no plan", NodeReporter("MLA_0/conv2d_add_7", log=False))


def test_try_increase_intrinsic_shift():
    bt = ConvBacktrackingParameters(
        P.sima_int16, None, np.zeros(3, dtype=bool), ConvBacktrackingParameters.default_weight_adjustment(3, True)
    )
    try_increase_intrinsic_shift(bt, np.array([False, False, False]))  # no change, no retry
    with pytest.raises(_Retry):
        try_increase_intrinsic_shift(bt, np.array([False, True, False]))
    assert bt.intrinsic_shift_adjustment.tolist() == [False, True, False]
    try_increase_intrinsic_shift(bt, np.array([False, True, False]))  # already set: no retry
    assert bt.intrinsic_shift(use_int15=True).tolist() == [INTRINSIC_SHIFT_LO, INTRINSIC_SHIFT_HI, INTRINSIC_SHIFT_LO]
    assert bt.intrinsic_shift(use_int15=False).tolist() == [0, 0, 0]
    assert ConvBacktrackingParameters.default_intrinsic_shift_adjustment(3, True, False).shape == ()


# ---------------------------------------------------------------------------
# constants


def test_quantize_weight_tensor():
    w = np.array([[1.0, 0.3], [-0.5, 2.0], [0.25, 0.0]])
    q, fake = quantize_weight_tensor(w, np.array([127.0, 0.0]))
    assert q.dtype == np.int8
    assert q[:, 0].tolist() == [127, -64, 32]  # -63.5 and 31.75 rounded (half away from zero)
    assert q[:, 1].tolist() == [0, 0, 0]
    np.testing.assert_allclose(fake[:, 0], np.array([127, -64, 32]) / 127.0, rtol=1e-6)
    assert fake[:, 1].tolist() == [0, 0, 0]
    q, _ = quantize_weight_tensor(np.array([[3.0]]), np.array([127.0]))
    assert q.item() == 127  # clipped


@given(
    hnp.arrays(np.int8, (6, 3), elements=st.integers(-127, 127)),
    st.integers(-(2**15), 2**15 - 1),
    st.sampled_from([INTRINSIC_SHIFT_LO, INTRINSIC_SHIFT_HI]),
)
def test_quantized_product_zero_value_matches_the_kernel(q_weight, zero_point, h):
    x16 = np.full((1, 6), zero_point, dtype=np.int16)
    assert quantized_product_zero_value(q_weight, zero_point, h).tolist() == mla_product(x16, q_weight, h)[0].tolist()
    zp8 = max(-128, min(127, zero_point))
    x8 = np.full((1, 6), zp8, dtype=np.int8)
    assert quantized_product_zero_value(q_weight, zp8, 0).tolist() == mla_product(x8, q_weight)[0].tolist()


def test_output_zp_correction_in_bias():
    out = Quantization.representable(10.0, -5, 8)
    folded = ArithFoldedRequantization(np.array([3, 4]))
    assert output_zp_correction_in_bias(P.sima_int8, out, folded).tolist() == [-40, -80]
    assert output_zp_correction_in_bias(P.tflite_int8, out, TFLiteRequantization(np.int64(64), np.int64(3), -5)) == 0


# ---------------------------------------------------------------------------
# the planner: adversarial weights never overflow

CHANNEL_MAGNITUDES = [0.0, 1e-30, 1e-12, 1e-4, 0.05, 1.0, 30.0, 1e4, 1e12, 1e30]


@st.composite
def conv_problems(draw):
    k = draw(st.integers(1, 40))
    c = draw(st.integers(1, 5))
    magnitudes = np.array(draw(st.lists(st.sampled_from(CHANNEL_MAGNITUDES), min_size=c, max_size=c)))
    unit = draw(hnp.arrays(np.float64, (k, c), elements=st.floats(-1.0, 1.0)))
    weight = unit * magnitudes
    with_bias = draw(st.booleans())
    bias = None
    if with_bias:
        bias_magnitude = draw(st.sampled_from([1e-20, 1e-3, 1.0, 1e3, 1e20]))
        bias = draw(hnp.arrays(np.float64, (c,), elements=st.floats(-1.0, 1.0))) * bias_magnitude
    use_int15 = draw(st.booleans())
    input_bits = 16 if use_int15 else 8
    in_lo = -draw(st.sampled_from([0.0, 1e-6, 1.0, 1e6]))
    in_hi = draw(st.sampled_from([1e-6, 1.0, 1e6]))
    input_quant = quantization_from_range(in_lo, in_hi, input_bits, asymmetric=draw(st.booleans()))
    out_scale = draw(st.sampled_from([1e-20, 1e-6, 1.0, 1e6, 1e20]))
    out_lo, out_hi = sorted(draw(st.tuples(st.floats(-1.0, 1.0), st.floats(-1.0, 1.0))))
    distribution = ObservedDistribution(out_lo * out_scale, out_hi * out_scale)
    precision = draw(st.sampled_from(list(P)))
    relu = draw(st.booleans()) and precision in (P.sima_int8, P.sima_int16)
    return dict(
        weight=weight,
        bias=bias,
        input_quant=input_quant,
        output_distribution=distribution,
        per_channel=draw(st.booleans()),
        asymmetry=draw(st.booleans()),
        use_int15=use_int15,
        use_sima_relu_workaround=relu,
        precision=precision,
        allow_full_output_precision=draw(st.booleans()),
    )


def worst_case_inputs(q_weight: np.ndarray, input_type: ScalarType) -> np.ndarray:
    """Inputs that maximise and minimise every channel's product, plus the constant extremes."""
    lo, hi = input_type.min_value, input_type.max_value
    signs = np.sign(q_weight.T.astype(np.int64))  # [C, K]
    rows = [np.where(signs > 0, hi, lo), np.where(signs > 0, lo, hi), np.full_like(signs, lo), np.full_like(signs, hi)]
    return np.concatenate(rows).astype(input_type.numpy_type())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conv_problems())
@example(  # found by hypothesis: S = Sc / (Sa * Sw) overflowed float64 (output range ~2e-306)
    dict(
        weight=np.array([[1.0e12]]),
        bias=None,
        input_quant=quantization_from_range(-1e-6, 1e-6, 8, asymmetric=False),
        output_distribution=ObservedDistribution(0.0, 2.255263859518445e-306),
        per_channel=False,
        asymmetry=False,
        use_int15=False,
        use_sima_relu_workaround=False,
        precision=P.sima_int8,
        allow_full_output_precision=False,
    )
)
def test_planner_never_lets_an_intermediate_overflow(problem):
    reporter = NodeReporter("MLA_0/conv2d_add_0", log=False)
    q_weight, q_bias, requant, out_type, out_quant, msb_left_shift = quantize_convolution_parameters(
        error_reporter=reporter, **problem
    )
    weight = problem["weight"]
    k, c = weight.shape
    use_int15 = problem["use_int15"]
    event(f"output {out_type.value}, {type(requant).__name__}")
    event(f"zero-weight channels: {bool(np.any(~q_weight.any(axis=0)) and weight.any())}")
    event(f"int15 high intrinsic shift: {bool(use_int15 and not msb_left_shift.all())}")
    event(f"weights narrowed: {bool(0 < np.abs(q_weight.astype(int)).max(initial=0) < 64)}")
    event(f"warnings: {bool(reporter.warnings)}")
    assert q_weight.dtype == np.int8 and q_weight.shape == weight.shape
    assert np.abs(q_weight.astype(int)).max(initial=0) <= 127
    assert q_bias.dtype == np.int32 and q_bias.shape == (c,)
    assert out_quant.bits == out_type.bits
    if out_type is ScalarType.int32:
        assert out_quant.zero_point == 0
    if problem["precision"].is_arith_folded() and out_type is not ScalarType.int32 and not problem["use_sima_relu_workaround"]:
        assert isinstance(requant, ArithFoldedRequantization)
    if problem["use_sima_relu_workaround"] and isinstance(requant, ArithFoldedRequantization):
        assert out_quant.zero_point == 0  # arith-folded ReLU only with zero point 0
    if use_int15:
        h = np.broadcast_to(np.where(msb_left_shift, INTRINSIC_SHIFT_LO, INTRINSIC_SHIFT_HI), (c,))
    else:
        assert not msb_left_shift.any()
        h = np.zeros(c, dtype=np.int64)
    # Worst case over all inputs, computed independently of the planner.
    input_bits = problem["input_quant"].bits
    weight_sum = np.abs(q_weight.astype(np.int64)).sum(axis=0)
    worst = np.ceil(weight_sum * 2.0 ** (input_bits - 1) / 2.0**h) + np.abs(q_bias.astype(np.int64))
    assert np.all(worst <= ACCUMULATOR_MAX)
    # And the kernels, which check every intermediate, run on the extreme inputs.
    input_type = ScalarType.int16 if use_int15 else ScalarType.int8
    x = worst_case_inputs(q_weight, input_type)
    for relu in (False, True):
        mla_gemm(x, q_weight, q_bias, requant, out_type, intrinsic_shift=h if use_int15 else 0, relu=relu)


def test_bias_and_product_share_the_accumulator():
    # Alone, the worst product (2**16 * 127 * 128 ~ 1.07e9) and the bias (70000 * 127 * 127
    # ~ 1.13e9) each fit int32; together they do not, so the planner must narrow channel 0.
    k = 2**16
    weight = np.ones((k, 2))
    weight[::2, 1] = -1.0
    bias = np.array([70000.0, 0.0])
    input_quant = quantization_from_range(-1.0, 1.0, 8, asymmetric=False)
    q_weight, q_bias, requant, out_type, _, _ = quantize_convolution_parameters(
        input_quant, ObservedDistribution(-67000.0, 67000.0), weight, bias,  # S just below 2**-23
        per_channel=True, asymmetry=False, use_int15=False, use_sima_relu_workaround=False,
        precision=P.sima_int8, allow_full_output_precision=False,
    )
    worst = np.abs(q_weight.astype(np.int64)).sum(axis=0) * 128 + np.abs(q_bias.astype(np.int64))
    assert np.all(worst <= ACCUMULATOR_MAX)
    assert np.abs(q_weight[:, 0].astype(int)).max() < np.abs(q_weight[:, 1].astype(int)).max()
    mla_gemm(worst_case_inputs(q_weight, ScalarType.int8), q_weight, q_bias, requant, out_type)


def test_all_zero_and_tiny_channels_output_the_bias():
    weight = np.zeros((9, 3))
    weight[:, 0] = np.linspace(-0.3, 0.3, 9)
    weight[:, 2] = 1e-30
    bias = np.array([0.1, -0.7, 0.4])
    input_quant = quantization_from_range(-1.0, 1.0, 8, asymmetric=True)
    reporter = NodeReporter("n", log=False)
    q_weight, q_bias, requant, out_type, out_quant, _ = quantize_convolution_parameters(
        input_quant, ObservedDistribution(-1.0, 1.0), weight, bias,
        per_channel=True, asymmetry=True, use_int15=False, use_sima_relu_workaround=False,
        precision=P.sima_int8, allow_full_output_precision=False, error_reporter=reporter,
    )
    assert not q_weight[:, 1].any() and not q_weight[:, 2].any()
    assert any("channel(s) 2" in w and "zero" in w for w in reporter.warnings)
    x = input_quant.quantize(np.random.default_rng(0).uniform(-1, 1, (5, 9))).astype(np.int8)
    out = out_quant.dequantize(mla_gemm(x, q_weight, q_bias, requant, out_type))
    step = 1.0 / out_quant.scale
    np.testing.assert_allclose(out[:, 1], -0.7, atol=step)
    np.testing.assert_allclose(out[:, 2], 0.4, atol=step)


def test_huge_weights_coarsen_the_output_with_a_warning():
    weight = np.full((4, 1), 1e30)
    reporter = NodeReporter("big", log=False)
    _, _, requant, _, out_quant, _ = quantize_convolution_parameters(
        quantization_from_range(-1.0, 1.0, 8, True), ObservedDistribution(-1.0, 1.0), weight, None,
        per_channel=True, asymmetry=True, use_int15=False, use_sima_relu_workaround=False,
        precision=P.sima_int8, allow_full_output_precision=False, error_reporter=reporter,
    )
    assert any("coarsened" in w for w in reporter.warnings)
    assert out_quant.scale < 1e-25  # one output step now covers the product's resolution


def test_requant_scale_beyond_float64_coarsens_the_output_exactly():
    # S = Sc / (Sa * Sw) ~ 2**1030 overflows float64; the plan must coarsen the output by
    # exactly the power of two that brings S to (0.5, 1], as it does for smaller excesses.
    args = dict(per_channel=False, asymmetry=False, use_int15=False, use_sima_relu_workaround=False,
                precision=P.sima_int8, allow_full_output_precision=False)
    input_quant = quantization_from_range(-1e-6, 1e-6, 8, asymmetric=False)
    for out_max in (1e-300, 2.2e-306):  # S finite, S beyond float64
        reporter = NodeReporter("n", log=False)
        q_weight, q_bias, requant, out_type, out_quant, _ = quantize_convolution_parameters(
            input_quant, ObservedDistribution(0.0, out_max), np.array([[1e12, -3e11]]), None,
            error_reporter=reporter, **args
        )
        assert requant.shift.tolist() == 0
        coarsening = round(math.log2(quantization_from_range(0.0, out_max, 8, False).scale) - math.log2(out_quant.scale))
        assert reporter.warnings == [
            "the output quantization is finer than the product of input and weights can resolve; "
            f"the output scale is coarsened by 2**{coarsening}"
        ]
        # One output step is one product unit: Qc = Qa * Qw.
        assert q_weight.tolist()[0][0] > 64 and not q_bias.any()
        x = np.array([[1], [-1], [2]], dtype=np.int8)
        assert mla_gemm(x, q_weight, q_bias, requant, out_type).tolist() == np.clip(x.astype(int) @ q_weight, -128, 127).tolist()


def test_product_beyond_float64_is_refused_naming_node_and_channels():
    with pytest.raises(UserFacingException, match=r"node MLA_0/conv2d_add_3: cannot quantize this convolution: "
                       r"the product of input and weights of output channel\(s\) 0, 1 is coarser than the calibrated "
                       r"output step \(0.00787402\) by a factor 2\*\*1113.*beyond float64"):
        quantize_convolution_parameters(
            quantization_from_range(-1e30, 1e30, 8, False), ObservedDistribution(-1.0, 1.0), np.full((3, 2), 1e307),
            None, per_channel=True, asymmetry=False, use_int15=False, use_sima_relu_workaround=False,
            precision=P.sima_int8, allow_full_output_precision=False,
            error_reporter=NodeReporter("MLA_0/conv2d_add_3", log=False),
        )


def test_int16_with_full_output_precision_widens_to_int32():
    weight = np.full((4, 1), 1e30)
    args = dict(per_channel=True, asymmetry=True, use_int15=True, use_sima_relu_workaround=False, precision=P.sima_int16)
    inputs = (quantization_from_range(-1.0, 1.0, 16, True), ObservedDistribution(-1.0, 1.0), weight, None)
    *_, out_type, out_quant, _ = quantize_convolution_parameters(*inputs, allow_full_output_precision=True, **args)
    assert out_type is ScalarType.int32 and out_quant.bits == 32
    *_, out_type, _, _ = quantize_convolution_parameters(*inputs, allow_full_output_precision=False, **args)
    assert out_type is ScalarType.int16


def test_long_int16_reduction_uses_the_high_intrinsic_shift():
    # sum |Qw| * 2**15 / 2 > 2**31 for 4608 weights near 127: h = 1 could overflow.
    weight = np.random.default_rng(1).choice([-1.0, 1.0], size=(4608, 2))
    *_, msb_left_shift = quantize_convolution_parameters(
        quantization_from_range(-1.0, 1.0, 16, True), ObservedDistribution(-50.0, 50.0), weight, None,
        per_channel=True, asymmetry=True, use_int15=True, use_sima_relu_workaround=False,
        precision=P.sima_int16, allow_full_output_precision=False,
    )
    assert msb_left_shift.shape == (2,) and not msb_left_shift.any()


def test_relu_workaround_falls_back_to_restricted_tflite():
    weight = np.random.default_rng(2).normal(size=(8, 4))
    args = dict(per_channel=True, asymmetry=True, use_int15=False, precision=P.sima_int8, allow_full_output_precision=False)
    inputs = (quantization_from_range(-1.0, 1.0, 8, True), ObservedDistribution(0.0, 3.0), weight, None)
    _, _, requant, _, out_quant, _ = quantize_convolution_parameters(*inputs, use_sima_relu_workaround=True, **args)
    assert isinstance(requant, TFLiteRequantization)
    assert np.all(requant.multiplier == 1) and requant.zero_point == out_quant.zero_point == -128
    _, _, requant, _, _, _ = quantize_convolution_parameters(*inputs, use_sima_relu_workaround=False, **args)
    assert isinstance(requant, ArithFoldedRequantization)


def test_input_precision_mismatch_is_reported():
    with pytest.raises(UserFacingException, match="node conv_9.*int15.*int16"):
        quantize_convolution_parameters(
            quantization_from_range(-1.0, 1.0, 8, True), ObservedDistribution(-1.0, 1.0), np.ones((2, 2)), None,
            per_channel=True, asymmetry=True, use_int15=True, use_sima_relu_workaround=False,
            precision=P.sima_int16, allow_full_output_precision=False, error_reporter=NodeReporter("conv_9", log=False),
        )
    with pytest.raises(UserFacingException, match="inf or NaN"):
        quantize_convolution_parameters(
            quantization_from_range(-1.0, 1.0, 8, True), ObservedDistribution(-1.0, 1.0), np.array([[np.nan]]), None,
            per_channel=True, asymmetry=True, use_int15=False, use_sima_relu_workaround=False,
            precision=P.sima_int8, allow_full_output_precision=False,
        )


# ---------------------------------------------------------------------------
# the planner: the integer result is the real computation


@st.composite
def benign_problems(draw):
    k = draw(st.integers(1, 64))
    c = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    weight = rng.normal(size=(k, c)) * draw(st.sampled_from([1e-3, 0.1, 10.0]))
    bias = rng.normal(size=c) * draw(st.sampled_from([0.0, 0.1, 5.0]))
    use_int15 = draw(st.booleans())
    lo, hi = -draw(st.sampled_from([0.0, 0.5, 4.0])), draw(st.sampled_from([0.5, 4.0]))
    input_quant = quantization_from_range(lo, hi, 16 if use_int15 else 8, asymmetric=draw(st.booleans()))
    x = rng.uniform(lo, hi, size=(32, k))
    precision = draw(st.sampled_from([p for p in P if p is not P.sima_int32]))
    if precision.output_type is ScalarType.int16 and not use_int15:
        precision = P.for_mode("sima" if precision.is_arith_folded() else "tflite", 8)
    return weight, bias, input_quant, x, precision, draw(st.booleans()), draw(st.booleans()), use_int15


@settings(max_examples=150, deadline=None)
@given(benign_problems())
def test_planned_integer_result_matches_the_real_computation(problem):
    """dequantize(integer output) = dequantized input @ effective weights + bias, to within
    the documented roundings: half an output step, the int15 floors, and TFLite's 8-bit multiplier."""
    weight, bias, input_quant, x, precision, per_channel, asymmetry, use_int15 = problem
    real_input = input_quant.dequantize(input_quant.quantize(x))
    reference = real_input @ weight + bias
    distribution = ObservedDistribution.from_array(reference)
    q_weight, q_bias, requant, out_type, out_quant, msb = quantize_convolution_parameters(
        input_quant, distribution, weight, bias, per_channel=per_channel, asymmetry=asymmetry,
        use_int15=use_int15, use_sima_relu_workaround=False, precision=precision, allow_full_output_precision=False,
    )
    c = weight.shape[1]
    h = np.broadcast_to(np.where(msb, INTRINSIC_SHIFT_LO, INTRINSIC_SHIFT_HI), (c,)) if use_int15 else np.zeros(c, int)
    out = mla_gemm(input_quant.quantize(x), q_weight, q_bias, requant, out_type, intrinsic_shift=h if use_int15 else 0)
    # The planner's effective real weights: Qw / Sw with Sw = 2**h * Sc / (Sa * S).
    s = np.broadcast_to(requant.real_scale(), (c,))
    effective_weight = q_weight * (input_quant.scale * s) / (np.ldexp(out_quant.scale, h))
    if isinstance(requant, TFLiteRequantization) and requant.multiplier.max() > 1:
        effective_weight = q_weight / np.broadcast_to(weight_quantization_scale(weight, per_channel), (c,))
    ideal = real_input @ effective_weight + bias
    step = 1.0 / out_quant.scale
    tolerance = 0.5 * step + 1e-9 * np.abs(ideal)
    if use_int15:
        tolerance = tolerance + 2.0 * s * step  # two floors of one product unit each (P and its zero-point term)
    tolerance = tolerance + 0.5 * s * step  # bias rounding: half a product unit
    if isinstance(requant, TFLiteRequantization) and requant.multiplier.max() > 1:
        tolerance = tolerance + 2.0**-7 * np.abs(ideal - out_quant.dequantize(out_quant.zero_point))
    inside = (ideal > out_quant.min_val + step) & (ideal < out_quant.max_val - step)
    error = np.abs(out_quant.dequantize(out) - ideal)
    assert np.all(error[inside] <= np.broadcast_to(tolerance, error.shape)[inside] + 1e-12 * step)


def test_bfloat16_with_int_weights():
    weight = np.array([[1.0, 0.0], [-0.5, 0.0]])
    attrs = ConvAddActivationAttrs(weight, np.array([0.2, 0.3]))
    q_weight, bias, requant = get_bfloat16_with_int_weights_quant_params(attrs, per_channel=True, bits=4)
    assert q_weight[:, 0].tolist() == [7, -4] and not q_weight[:, 1].any()
    x = np.array([[2.0, 1.0]])
    result = requant.requantize(x @ q_weight + bias, ScalarType.float32)
    np.testing.assert_allclose(result[0], [2.0 * 1.0 + 1.0 * (-4 / 7) + 0.2, 0.3], rtol=1e-6)
    with pytest.raises(ValueError, match="int8 or int4"):
        get_bfloat16_with_int_weights_quant_params(attrs, per_channel=True, bits=16)
