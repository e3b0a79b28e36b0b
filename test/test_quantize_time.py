"""The quantize-time work on the best-accuracy combination (issue #5) leaves its results unchanged.

- `range_refinement.fake_quantize` (one float64 buffer, in place) equals the definition it
  replaced, clip(floor(x / step + 0.5) + zp) then (q - zp) * step, bit for bit (hypothesis:
  any float32 values, 8 and 16 bits, either scheme);
- the candidates' squared error (`_squared_difference`) equals np.sum(np.square(a - b)) in
  float64 bit for bit;
- a whole refinement on a small network (per-sample and batched paths, a 1x1 conv that
  expands, a table before a conv) with those two definitions patched back in chooses the
  same ranges with the same objectives, bit for bit;
- channel groups' first reading with the per-channel maxima only
  (`calibrate(..., observer_statistics=False)`) gives the maxima of the full reading, the
  same plans, and still names a NaN tensor.

(The refinement's one BLAS thread changes the float32 products' rounding as a different
thread count does; bench/bench_quantize_time.py compares the fingerprints of the quantized
real models before and after.)
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import onnx
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from onnx import helper

from afe.apis.defines import default_quantization
from afe.apis.errors import UserFacingException
from afe.apis.loaded_net import load_model
from afe.core.calibration_pipeline import calibrate_module, insert_observers_pass
from afe.core.quantize_pipeline import partitioned_float_module
from afe.ir.tensor_type import ScalarType
from afe.load.importers.general_importer import onnx_source
from onnx_builders import FLOAT, const, model, tensor
from passes.select_scales import quantized_type_from_range
from passes.smooth_quant import channel_absmax
from runtime import range_refinement
from runtime.calibrate import calibrate
from runtime.channel_groups import channel_group_plans
from sima_dialect.calibration_ops import ObserveOp
from sima_dialect.context import sima_context


def _fake_quantize_definition(x, element):
    """`fake_quantize` as it was written before (seven temporaries)."""
    step, zero_point = element.scale_value, element.zero_point_value
    low, high = -(2 ** (element.bits - 1)), 2 ** (element.bits - 1) - 1
    q = np.clip(np.floor(np.asarray(x, dtype=np.float64) / step + 0.5) + zero_point, low, high)
    return ((q - zero_point) * step).astype(np.float32)


def _squared_difference_definition(output, reference) -> float:
    return float(np.sum(np.square(np.asarray(output).astype(np.float64) - reference)))


floats32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(
    hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=4, max_side=5), elements=floats32),
    st.floats(-1e3, 0.0), st.floats(1e-6, 1e3), st.sampled_from([8, 16]), st.booleans(),
)
def test_fake_quantize_equals_its_definition_bit_for_bit(x, low, high, bits, asymmetric):
    element = quantized_type_from_range(low, high, bits, asymmetric)
    expected = _fake_quantize_definition(x, element)
    produced = range_refinement.fake_quantize(x, element)
    assert produced.dtype == expected.dtype and produced.shape == expected.shape
    assert np.array_equal(produced.view(np.uint32), expected.view(np.uint32))
    assert np.array_equal(x, x.copy())  # the input is not written to


def test_fake_quantize_does_not_write_a_float64_input():
    x = np.linspace(-3, 3, 11)
    kept = x.copy()
    range_refinement.fake_quantize(x, quantized_type_from_range(-1.0, 1.0, 8, True))
    assert np.array_equal(x, kept)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 300), st.sampled_from([np.float32, np.float64]))
def test_squared_difference_equals_its_definition_bit_for_bit(seed, size, dtype):
    rng = np.random.default_rng(seed)
    output = (rng.standard_normal(size) * np.exp(rng.uniform(-20, 20))).astype(dtype)
    reference = rng.standard_normal(size) * np.exp(rng.uniform(-20, 20))
    assert range_refinement._squared_difference(output, reference) == _squared_difference_definition(output, reference)


# -- a small network ----------------------------------------------------------------------

SHAPE = (1, 4, 8, 8)


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    """x -> Conv 3x3 -> HardSwish -> depthwise 3x3 -> Conv 1x1 (expands 4 -> 12) -> HardSwish -> Conv 1x1 -> y;
    the first hard_swish's channels span very different ranges (a channel-group block)."""
    rng = np.random.default_rng(11)
    scale = np.array([6.0, 2.0, 0.2, 0.05], dtype=np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("HardSwish", ["c1"], ["h1"]),
        helper.make_node("Conv", ["h1", "wd", "bd"], ["d"], pads=[1, 1, 1, 1], group=4),
        helper.make_node("Conv", ["d", "w2", "b2"], ["c2"]),
        helper.make_node("HardSwish", ["c2"], ["h2"]),
        helper.make_node("Conv", ["h2", "w3", "b3"], ["y"]),
    ]
    inits = [
        const("w1", (rng.standard_normal((4, 4, 3, 3)) * scale[:, None, None, None]).astype(np.float32)),
        const("b1", (rng.standard_normal(4) * 0.1).astype(np.float32)),
        const("wd", (rng.standard_normal((4, 1, 3, 3)) / scale[:, None, None, None] * 0.3).astype(np.float32)),
        const("bd", np.zeros(4, np.float32)),
        const("w2", (rng.standard_normal((12, 4, 1, 1)) * 0.5).astype(np.float32)),
        const("b2", (rng.standard_normal(12) * 0.1).astype(np.float32)),
        const("w3", (rng.standard_normal((3, 12, 1, 1)) * 0.5).astype(np.float32)),
        const("b3", np.zeros(3, np.float32)),
    ]
    proto = model(nodes, [tensor("x", FLOAT, list(SHAPE))], [tensor("y", FLOAT, [1, 3, 8, 8])], inits, 14)
    path = tmp_path_factory.mktemp("quantize_time") / "net.onnx"
    onnx.save(proto, path)
    return load_model(onnx_source(str(path), {"x": SHAPE}, {"x": ScalarType.float32}))


def samples(count: int, seed: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [{"x": rng.standard_normal((1, 8, 8, 4)).astype(np.float32)} for _ in range(count)]


def test_refinement_chooses_the_same_ranges_as_the_definitions(net, monkeypatch):
    calibrated = calibrate_module(partitioned_float_module(net.module), samples(8, seed=1), default_quantization)
    data = samples(5, seed=2)
    faster = range_refinement.refined_ranges(calibrated, data)
    monkeypatch.setattr(range_refinement, "fake_quantize", _fake_quantize_definition)
    monkeypatch.setattr(range_refinement, "_squared_difference", _squared_difference_definition)
    defined = range_refinement.refined_ranges(calibrated, data)
    assert len(faster) >= 4
    assert any(r.chosen != r.mse for r in faster)  # the search moved some range: the comparison means something
    assert [(r.key, r.chosen, r.mse, r.objective, r.mse_objective) for r in faster] == [
        (r.key, r.chosen, r.mse, r.objective, r.mse_objective) for r in defined
    ]


def _statistics(net, data, **options):
    module = partitioned_float_module(net.module)
    insert_observers_pass(default_quantization.calibration_method).apply(sima_context(), module)
    calibrate(module, data, progress=False, channel_statistics=True, **options)
    return module


def test_the_per_channel_maxima_alone_are_those_of_the_full_reading(net):
    data = samples(6, seed=3)
    full, only = _statistics(net, data), _statistics(net, data, observer_statistics=False)
    observes = [(a, b) for a, b in zip(full.walk(), only.walk()) if isinstance(a, ObserveOp)]
    assert observes
    for a, b in observes:
        channels = a.input.type.get_shape()[-1]
        assert np.array_equal(channel_absmax(a, channels), channel_absmax(b, channels))
        assert set(b.stats.data) == {"channel_absmax"}  # the method's histogram is not gathered
    plans = channel_group_plans(full, min_gain=2.0)
    assert plans and channel_group_plans(only, min_gain=2.0) == plans


def test_the_per_channel_maxima_alone_still_name_a_non_finite_tensor(net):
    data = samples(2, seed=4)
    data[1]["x"][...] = 3e38  # finite, but the first conv's sums overflow to Inf
    with pytest.raises(UserFacingException, match="calibration sample 1: tensor .*NaN or Inf"):
        _statistics(net, data, observer_statistics=False)


def test_maxima_alone_need_the_maxima(net):
    with pytest.raises(ValueError, match="channel_statistics"):
        calibrate(partitioned_float_module(net.module), samples(1, seed=5), observer_statistics=False)


# -- activation compensation's quantize time ----------------------------------------------
#
# The moments gathered through the float target (`ProjectedCompensationAccumulator`) and the
# fits in the rows' space where the rows are fewer than the inputs (`compensated_target_of_rows`)
# against the definitions they replaced; the whole compensation on a small net against the
# code before them (kept below, as it was).

from dataclasses import dataclass  # noqa: E402

from afe.core.quantize_pipeline import quantize_float_module  # noqa: E402
from runtime import weight_rounding  # noqa: E402
from runtime.weight_rounding import (  # noqa: E402
    CompensationAccumulator,
    GemmInputs,
    OutputError,
    ProjectedCompensationAccumulator,
    ProjectedMoments,
    RidgeFits,
    RowSpaceFits,
    compensated_target_of_rows,
    gptq_round,
    projection_pays,
    ridge_fit,
    weight_steps,
)


def _old_compensated_target(target, float_float, float_quantized, quantized_quantized, strengths=weight_rounding.COMPENSATION_STRENGTHS):
    """`compensated_target` before this change (from the full moments)."""
    total = [m.sum(axis=0) for m in (float_float, float_quantized, quantized_quantized)]
    total_cross = np.swapaxes(total[1], 1, 2) @ target
    errors = np.zeros((1 + len(strengths), *target.shape[::2]))
    for f in range(float_float.shape[0]):
        error_on_fold = OutputError(target, float_float[f], float_quantized[f], quantized_quantized[f])
        difference = float_float[f] - float_quantized[f] - np.swapaxes(float_quantized[f], 1, 2) + quantized_quantized[f]
        errors[0] += np.sum(target * (difference @ target), axis=1)
        fits = RidgeFits(target, total_cross - error_on_fold.cross, total[2] - quantized_quantized[f])
        for index, strength in enumerate(strengths, start=1):
            errors[index] += error_on_fold(fits.fit(strength))
    best = np.argmin(errors, axis=0)
    chosen = np.take_along_axis(errors, best[None], axis=0)[0]
    strength_of = np.array([np.inf, *strengths])[best]
    fitted = target.copy()
    if np.any(best > 0):
        fit = RidgeFits(target, total_cross, total[2]).fit(np.where(best > 0, strength_of, 1.0))
        fitted = np.where((best > 0)[:, None, :], fit, fitted)
    return weight_rounding.CompensatedTarget(fitted, strength_of, errors[0], chosen)


def _old_round_compensated_layer(op, float_weight, float_bias, accumulator):
    """`round_compensated_layer` before this change: the fit from the full moments, then the
    rounding this change left as it was (`round_fitted_layer`)."""
    steps = weight_steps(op)
    inputs = GemmInputs.of(op)
    weight = inputs.group_weight(np.asarray(float_weight, dtype=np.float64))
    bias = np.broadcast_to(np.asarray(float_bias, dtype=np.float64), steps.shape).reshape(inputs.groups, -1)
    target = np.concatenate([weight, bias[:, None, :]], axis=1)
    moments = (accumulator.float_float, accumulator.float_quantized, accumulator.quantized_quantized)
    fitted = _old_compensated_target(target, *moments)
    total = [m.sum(axis=0) for m in moments]
    return weight_rounding.round_fitted_layer(op, target, fitted, total[2], OutputError(target, *total))


@st.composite
def gemm_rows(draw):
    """A layer's geometry, its float target [G, K+1, C] and a few samples' float / quantized inputs."""
    groups = draw(st.sampled_from([1, 2, 3]))
    dense = draw(st.booleans())
    inputs = GemmInputs(kernel=None) if dense else GemmInputs(
        (draw(st.integers(1, 3)), draw(st.integers(1, 3))),
        strides=(draw(st.integers(1, 2)), 1), pads=tuple(draw(st.integers(0, 1)) for _ in range(4)), groups=groups,
    )  # fmt: skip
    groups = inputs.groups
    per_group = draw(st.integers(1, 3))
    channels_in = per_group * groups
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    size = draw(st.integers(3, 6))  # a 3x3 kernel still has outputs
    shape = (draw(st.integers(1, 5)), channels_in) if dense else (1, size, size + 1, channels_in)
    xs = [rng.standard_normal(shape).astype(np.float32) for _ in range(draw(st.integers(1, 9)))]
    if draw(st.booleans()):  # an input never nonzero
        for x in xs:
            x[..., 0] = 0.0
    step = draw(st.sampled_from([0.05, 0.5]))
    qs = [(np.round(x / step) * step).astype(np.float32) for x in xs]
    k = per_group if dense else per_group * inputs.kernel[0] * inputs.kernel[1]
    target = rng.standard_normal((groups, k + 1, draw(st.integers(1, 5))))
    return inputs, draw(st.sampled_from([None, 7])), target, xs, qs


@settings(max_examples=80, deadline=None)
@given(gemm_rows(), st.integers(1, 4))
def test_projected_moments_equal_those_of_the_full_moments(problem, folds):
    """sum x~ x~^T bit for bit (the same symmetric products, summed in the same order); the
    projections through the target equal those of the full moments to float64 rounding."""
    inputs, cap, target, xs, qs = problem
    full = CompensationAccumulator(inputs, folds=folds, cap=cap)
    projected = ProjectedCompensationAccumulator(inputs, target, folds=folds, cap=cap)
    for index, (x, q) in enumerate(zip(xs, qs)):
        full.add(index % folds, x, q)
        projected.add(index % folds, x, q)
    fold_rows = projected.fold_rows()  # fewer rows than inputs: the rows themselves, before they are gathered
    expected = full.projected_moments(target)
    got = projected.projected_moments(target)
    assert np.array_equal(got.quantized_quantized, expected.quantized_quantized)
    if fold_rows is not None:
        assert sum(x.shape[1] for x, _ in fold_rows) < target.shape[1]
        from_rows = ProjectedMoments.of_rows(target, fold_rows)
        assert all(np.array_equal(a, b) for a, b in zip(from_rows.arrays(), got.arrays()))
    for name in ("float_energy", "cross", "plain_error"):
        want = getattr(expected, name)
        np.testing.assert_allclose(getattr(got, name), want, rtol=1e-9, atol=1e-9 * (1 + np.abs(want).max()), err_msg=name)
    with pytest.raises(ValueError, match="another target"):
        projected.projected_moments(target + 1.0)


def test_projection_is_chosen_where_it_multiplies_less():
    assert projection_pays(26, 1)  # a 5x5 depthwise conv
    assert projection_pays(865, 24)  # a 3x3 conv of 96 inputs to 24 channels
    assert not projection_pays(481, 480)  # a 1x1 conv as wide out as in: the full product is cheaper
    assert projection_pays(101, 49) and not projection_pays(101, 51)


def _rows(seed: int, groups: int, inputs: int, channels: int, rows: int, dead: float):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((groups, rows, inputs)) @ rng.standard_normal((inputs, inputs))
    x[:, :, rng.random(inputs) < dead] = 0.0
    q = np.round(x * 2) / 2
    ones = np.ones((groups, rows, 1))
    return rng.standard_normal((groups, inputs + 1, channels)), np.concatenate([x, ones], 2), np.concatenate([q, ones], 2)


few_rows = st.builds(
    _rows, seed=st.integers(0, 2**32 - 1), groups=st.integers(1, 3), inputs=st.integers(2, 30),
    channels=st.integers(1, 8), rows=st.integers(1, 12), dead=st.sampled_from([0.0, 0.3]),
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(few_rows, st.sampled_from(weight_rounding.COMPENSATION_STRENGTHS + (3e-3, 100.0)), st.integers(0, 2**32 - 1))
def test_row_space_fits_equal_the_direct_solve(problem, strength, seed):
    target, x, q = problem
    fits = RowSpaceFits(target, q, (x - q) @ target)
    float_quantized, quantized_quantized = np.swapaxes(x, 1, 2) @ q, np.swapaxes(q, 1, 2) @ q
    expected = ridge_fit(target, float_quantized, quantized_quantized, strength)
    np.testing.assert_allclose(fits.fit(strength), expected, rtol=1e-8, atol=1e-8 * (1 + np.abs(expected).max()))
    per_channel = np.random.default_rng(seed).choice(weight_rounding.COMPENSATION_STRENGTHS, size=target.shape[::2])
    fitted = fits.fit(per_channel)
    for value in weight_rounding.COMPENSATION_STRENGTHS:
        where = np.broadcast_to((per_channel == value)[:, None, :], fitted.shape)
        expected = ridge_fit(target, float_quantized, quantized_quantized, value)
        np.testing.assert_allclose(fitted[where], expected[where], rtol=1e-8, atol=1e-8 * (1 + np.abs(expected).max()))


@settings(max_examples=100, deadline=None)
@given(few_rows, st.integers(1, 4))
def test_the_choice_in_the_rows_space_equals_the_choice_from_the_moments(problem, folds):
    target, x, q = problem
    fold_rows = [(x[:, f::folds], q[:, f::folds]) for f in range(folds)]
    moments = [np.stack([np.swapaxes(a, 1, 2) @ b for a, b in pairs]) for pairs in (
        [(xf, xf) for xf, _ in fold_rows], [(xf, qf) for xf, qf in fold_rows], [(qf, qf) for _, qf in fold_rows])]  # fmt: skip
    got = compensated_target_of_rows(target, fold_rows)
    expected = _old_compensated_target(target, *moments)
    scale = 1e-8 * (1 + np.abs(expected.plain_error).max())
    np.testing.assert_allclose(got.plain_error, expected.plain_error, rtol=1e-7, atol=scale)
    np.testing.assert_allclose(got.chosen_error, expected.chosen_error, rtol=1e-7, atol=scale)
    # where the moments' best strength is clear of the runner-up, the same choice and fit
    errors = [expected.plain_error] + [
        sum(float_output_error_of_fold(target, moments, f, s) for f in range(folds)) for s in weight_rounding.COMPENSATION_STRENGTHS
    ]
    ordered = np.sort(np.stack(errors), axis=0)
    clear = ordered[1] - ordered[0] > 1e-6 * (1 + np.abs(ordered[0]))
    np.testing.assert_array_equal(got.strength[clear], expected.strength[clear])
    np.testing.assert_allclose(np.where(clear[:, None, :], got.target, 0), np.where(clear[:, None, :], expected.target, 0),
                               rtol=1e-6, atol=1e-6 * (1 + np.abs(expected.target).max()))  # fmt: skip


def float_output_error_of_fold(target, moments, fold, strength):
    """One strength's held-out error on `fold` from the moments (the definition)."""
    total = [m.sum(axis=0) for m in moments]
    fit = ridge_fit(target, total[1] - moments[1][fold], total[2] - moments[2][fold], strength)
    return weight_rounding.float_output_error(target, fit, *(m[fold] for m in moments))


# -- the whole compensation on a small net -----------------------------------------------------

HEAD_SHAPE = (1, 4, 6, 6)


@pytest.fixture(scope="module")
def head_net(tmp_path_factory):
    """x -> Conv 3x3 (4 -> 4) -> HardSwish -> depthwise 3x3 -> Conv 1x1 (4 -> 12) -> Relu -> GlobalAveragePool
    -> Gemm (12 -> 16) -> Relu -> Gemm (16 -> 3): the 3x3 convs and the last Gemm gather their moments
    through the target, the 1x1 expansion and the first Gemm in full (more channels than inputs); the
    Gemms see one row per sample, fewer than their inputs (the rows' space)."""
    rng = np.random.default_rng(12)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("HardSwish", ["c1"], ["h1"]),
        helper.make_node("Conv", ["h1", "wd", "bd"], ["d"], pads=[1, 1, 1, 1], group=4),
        helper.make_node("Conv", ["d", "w2", "b2"], ["c2"]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["g3"], transB=1),
        helper.make_node("Relu", ["g3"], ["r3"]),
        helper.make_node("Gemm", ["r3", "w4", "b4"], ["y"], transB=1),
    ]
    inits = [
        const("w1", (rng.standard_normal((4, 4, 3, 3)) * 0.5).astype(np.float32)),
        const("b1", (rng.standard_normal(4) * 0.1).astype(np.float32)),
        const("wd", (rng.standard_normal((4, 1, 3, 3)) * 0.5).astype(np.float32)),
        const("bd", (rng.standard_normal(4) * 0.1).astype(np.float32)),
        const("w2", (rng.standard_normal((12, 4, 1, 1)) * 0.5).astype(np.float32)),
        const("b2", (rng.standard_normal(12) * 0.1).astype(np.float32)),
        const("w3", (rng.standard_normal((16, 12)) * 0.5).astype(np.float32)),
        const("b3", (rng.standard_normal(16) * 0.1).astype(np.float32)),
        const("w4", (rng.standard_normal((3, 16)) * 0.5).astype(np.float32)),
        const("b4", (rng.standard_normal(3) * 0.1).astype(np.float32)),
    ]
    proto = model(nodes, [tensor("x", FLOAT, list(HEAD_SHAPE))], [tensor("y", FLOAT, [1, 3])], inits, 14)
    path = tmp_path_factory.mktemp("compensation_time") / "head.onnx"
    onnx.save(proto, path)
    return load_model(onnx_source(str(path), {"x": HEAD_SHAPE}, {"x": ScalarType.float32}))


def _head_samples(count: int, seed: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [{"x": rng.standard_normal((1, 6, 6, 4)).astype(np.float32)} for _ in range(count)]


def _constants(module) -> list[np.ndarray]:
    from runtime.interpreter import find_function
    from sima_dialect import ops

    return [op.as_array() for op in find_function(module).walk() if isinstance(op, ops.ConstantOp)]


@dataclass
class _Paths:
    projected: int = 0
    full: int = 0
    rows: int = 0


def test_compensation_on_a_small_net_gives_the_integers_of_the_code_before(head_net, monkeypatch):
    data = _head_samples(8, seed=1)
    plain = quantize_float_module(head_net.module, data, default_quantization, progress=False)
    paths = _Paths()
    choose, of_rows = weight_rounding.compensation_accumulator, weight_rounding.compensated_target_of_rows

    def counted_choice(op, weight, bias):
        accumulator = choose(op, weight, bias)
        paths.projected += isinstance(accumulator, ProjectedCompensationAccumulator)
        paths.full += not isinstance(accumulator, ProjectedCompensationAccumulator)
        return accumulator

    def counted_rows(*args, **kwargs):
        paths.rows += 1
        return of_rows(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(weight_rounding, "compensation_accumulator", counted_choice)
        patch.setattr(weight_rounding, "compensated_target_of_rows", counted_rows)
        faster, report = weight_rounding.weight_rounded_module(plain.quantized, plain.float_reference, data, compensate=True, progress=False)
    assert (paths.projected, paths.full, paths.rows) == (3, 2, 2)  # every path is taken
    assert sum(layer.compensated for layer in report.layers.values()) > 0  # the fits changed something
    monkeypatch.setattr(weight_rounding, "compensation_accumulator", lambda op, w, b: CompensationAccumulator(GemmInputs.of(op)))
    monkeypatch.setattr(weight_rounding, "round_compensated_layer", _old_round_compensated_layer)
    before, old_report = weight_rounding.weight_rounded_module(plain.quantized, plain.float_reference, data, compensate=True, progress=False)
    assert [layer.compensated for layer in report.layers.values()] == [layer.compensated for layer in old_report.layers.values()]
    got, expected = _constants(faster), _constants(before)
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        assert a.dtype == b.dtype and np.array_equal(a, b)


def _prepared_one_by_one(scaled, hessian, damping):
    """`_prepared_groups` as it was: `_prepared` for each group in turn (the identity where it fails)."""
    orders, weights, uppers = zip(*(weight_rounding._prepared(scaled[g], hessian[g], damping) for g in range(len(scaled))))
    failed = np.array([u is None for u in uppers])
    upper = np.stack([np.eye(len(orders[0])) if u is None else u for u in uppers])
    return np.stack(orders), np.stack(weights), upper, failed


@settings(max_examples=150, deadline=None)
@given(
    st.integers(0, 2**32 - 1), st.integers(1, 6), st.integers(1, 30), st.integers(1, 4), st.integers(1, 40),
    st.sampled_from([0.0, 0.2, 1.0]), st.sampled_from([1.0, 0.01, 0.0]), st.floats(-6, 6),
)
def test_gptq_with_groups_prepared_together_equals_its_definition_bit_for_bit(seed, groups, inputs, channels, rows, dead, damping, scale):
    """Every group whole, some with inputs never seen, some whose undamped H is singular (damping 0)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((groups, rows, inputs)) * np.exp(scale)
    x[rng.random((groups, 1, inputs)).repeat(rows, axis=1) < dead] = 0.0
    hessian = np.swapaxes(x, 1, 2) @ x
    scaled = rng.standard_normal((groups, inputs, channels)) * 30
    together = weight_rounding._prepared_groups(scaled, hessian, damping)
    for got, want in zip(together, _prepared_one_by_one(scaled, hessian, damping)):
        assert got.dtype == want.dtype and np.array_equal(got, want)
    with mock.patch.object(weight_rounding, "_prepared_groups", _prepared_one_by_one):
        expected = gptq_round(scaled, hessian, damping=damping, block=7)
    assert np.array_equal(gptq_round(scaled, hessian, damping=damping, block=7), expected)


def _old_ridge_solve(fits: RidgeFits, strength: float) -> np.ndarray:
    """`RidgeFits._solve` before the pull was added in place (a product with the identity, a copy for LAPACK)."""
    from scipy.linalg import lapack

    pull = strength * fits.pull
    system = fits.quantized_quantized + pull[:, :, None] * np.eye(pull.shape[1])
    right = fits.cross + pull[:, :, None] * fits.target
    if system.shape[0] == 1:
        _, solution, info = lapack.dposv(system[0], right[0])
        if info == 0:
            return solution[None]
    return np.linalg.solve(system, right)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 2), st.integers(2, 24), st.sampled_from([0.0, 0.3]), st.booleans(),
       st.sampled_from(weight_rounding.COMPENSATION_STRENGTHS + (1e-4,)))  # fmt: skip
def test_ridge_solve_equals_its_definition_bit_for_bit(seed, groups, inputs, dead, indefinite, strength):
    """Gram moments (Cholesky), and symmetric indefinite ones where the LU fallback takes over."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((groups, inputs + 3, inputs))
    x[:, :, rng.random(inputs) < dead] = 0.0
    quantized_quantized = np.swapaxes(x, 1, 2) @ x
    if indefinite:
        mixing = np.triu(rng.standard_normal((groups, inputs, inputs)) * 5, 1)  # off the diagonal: the pull stays
        never_seen = np.all(x == 0, axis=(0, 1))
        mixing[:, :, never_seen] = 0.0
        mixing[:, never_seen, :] = 0.0
        quantized_quantized = quantized_quantized + mixing + np.swapaxes(mixing, 1, 2)
    target = rng.standard_normal((groups, inputs, int(rng.integers(1, inputs))))  # fewer channels than inputs: the solves
    fits = RidgeFits(target, rng.standard_normal(target.shape), quantized_quantized)
    assume(not fits.eigen)  # an input never seen leaves as many channels as inputs seen: one decomposition
    got = fits._fit(strength)  # on the inputs seen
    assert np.array_equal(got, _old_ridge_solve(fits, strength))
    kept = fits.quantized_quantized.copy()
    fits.fit(strength)
    assert np.array_equal(fits.quantized_quantized, kept)  # solved in a copy


@settings(max_examples=150, deadline=None)
@given(
    st.integers(0, 2**32 - 1), st.integers(2, 5), st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)),
    st.tuples(st.integers(1, 2), st.integers(1, 2)), st.tuples(*[st.integers(0, 2)] * 4), st.tuples(st.integers(1, 2), st.integers(1, 2)),
    st.sampled_from([None, 1, 7]), st.integers(1, 2),
)  # fmt: skip
def test_gathered_rows_of_a_grouped_conv_are_its_rows_bit_for_bit(seed, groups, per_group, kernel, strides, pads, dilations, cap, batch):
    from runtime.weight_rounding import GatheredRows, _rows_with_ones

    inputs = GemmInputs(kernel, strides, pads, dilations, groups)
    rng = np.random.default_rng(seed)
    size = 2 * max(kernel) + 1
    x = rng.standard_normal((batch, size, size + 1, groups * per_group)).astype(np.float32)
    gathered, source = inputs.row_gather(x, cap), inputs.row_source(x, cap)
    assert isinstance(gathered, GatheredRows) and gathered.shape == inputs.rows(x, cap).shape
    k = gathered.shape[2]
    # alone, into a wider buffer and after other rows (the moments' layouts), and a block of groups
    assert np.array_equal(_rows_with_ones([(gathered, gathered)], k)[0], _rows_with_ones([(source, source)], k)[0])
    twice = _rows_with_ones([(gathered, gathered), (gathered, gathered)], k)[1]
    assert np.array_equal(twice, _rows_with_ones([(source, source), (source, source)], k)[1])
    wide = np.zeros((groups - 1, gathered.shape[1], k + 3))
    GemmInputs.write_rows(gathered[1:], wide[:, :, 1 : k + 1])
    assert np.array_equal(wide[:, :, 1 : k + 1], inputs.rows(x, cap)[1:].astype(np.float64))
    assert not wide[:, :, [0, k + 1, k + 2]].any()
