"""Range refinement (`runtime/range_refinement.py`): each activation range
re-chosen for the error it causes downstream.

- the search on random tensors and readers (hypothesis): never worse on its
  own objective than the MSE range it starts from, deterministic, on the int8
  grid with a zero point select-scales would give (0 when symmetric);
- where a tensor's error is measured, on a small network with a residual add;
- the whole flow on that network: `with_range_refinement()` refines the
  ranges the quantize pass reads, the model runs, and its output is closer to
  float than without it on these inputs (the search's own objective can only
  fall, but that is per tensor: this checks the end result on this network);
- the option: a bool, saved with the model, refused with bfloat16 activations.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper

from afe.apis.defines import bfloat16_scheme, default_quantization
from afe.apis.errors import UserFacingException
from afe.apis.loaded_net import LoadedNet, load_model
from afe.core.calibration_pipeline import calibrate_module
from afe.core.quantize_pipeline import partitioned_float_module, quantize_float_module
from afe.ir.tensor_type import ScalarType
from afe.load.importers.general_importer import onnx_source
from onnx_builders import FLOAT, const, model, tensor
from passes.select_scales import quantized_type_from_range
from runtime.interpreter import Interpreter, find_function
from runtime.range_refinement import (
    CLIP_RATIOS,
    candidate,
    RangeRefinementError,
    fake_quantize,
    measurement_paths,
    range_of,
    range_refined_module,
    refine_range,
)
from sima_dialect import ops
from sima_dialect.calibration_ops import ObserveOp

# -- the search ---------------------------------------------------------------------------


def _hard_swish(x: np.ndarray) -> np.ndarray:
    return x * np.clip(x + 3.0, 0.0, 6.0) / 6.0


def _weighted(weights: np.ndarray):
    """A 1x1 conv with one output: each channel's error weighed by its weight."""
    return lambda x: np.asarray(x, dtype=np.float64) @ weights


def _objective(samples, paths, mse, element, targets=None) -> float:
    """The search's objective, recomputed: each path's squared error over the
    samples (against the path of the targets), divided by its error at the MSE range."""
    targets = samples if targets is None else targets
    total = 0.0
    for path in paths:
        def error(e):
            return sum(float(np.sum((path(fake_quantize(x, e)) - path(t)) ** 2)) for x, t in zip(samples, targets))

        at_mse = error(mse)
        total += error(element) / at_mse if at_mse > 0 else 0.0
    return total


@st.composite
def problems(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    channels = draw(st.integers(1, 6))
    rng = np.random.default_rng(seed)
    spread = np.exp(rng.uniform(-2.0, 2.0, channels))  # channels of very different size
    samples = [
        (rng.standard_normal((1, 4, 4, channels)) * spread + draw(st.floats(-1.0, 1.0))).astype(np.float32)
        for _ in range(draw(st.integers(1, 3)))
    ]
    values = np.concatenate([x.ravel() for x in samples])
    shrink = draw(st.floats(0.3, 1.0))
    mse = quantized_type_from_range(float(values.min()) * shrink, float(values.max()) * shrink, 8, True)
    paths = [_weighted(rng.standard_normal(channels) * np.exp(rng.uniform(-2, 2, channels)))]
    if draw(st.booleans()):
        paths.append(_hard_swish)
    # the float network's values: the samples plus the error upstream
    targets = [x + 0.1 * rng.standard_normal(x.shape).astype(np.float32) for x in samples] if draw(st.booleans()) else None
    return samples, paths, mse, targets


@settings(max_examples=40, deadline=None)
@given(problems(), st.booleans())
def test_the_search_is_never_worse_than_mse_deterministic_and_on_the_grid(problem, asymmetric):
    samples, paths, mse, targets = problem
    if not asymmetric:
        low, high = range_of(mse)
        mse = quantized_type_from_range(low, high, 8, False)
    refined = refine_range("t", samples, paths, mse, asymmetric, targets)
    assert refined.objective <= refined.mse_objective
    assert _objective(samples, paths, mse, refined.chosen, targets) <= _objective(samples, paths, mse, mse, targets) * (1 + 1e-9)
    again = refine_range("t", samples, paths, mse, asymmetric, targets)
    assert again.chosen == refined.chosen and again.objective == refined.objective
    chosen = refined.chosen
    assert chosen.bits == 8 and chosen.scale_value > 0
    assert -128 <= chosen.zero_point_value <= 127
    low, high = range_of(chosen)
    assert low <= 0.0 <= high
    # made as select-scales makes a quantization, from the MSE range with its ends scaled
    made = {candidate(mse, a, b, asymmetric) for a in CLIP_RATIOS for b in CLIP_RATIOS}
    assert chosen == mse or chosen in made
    if not asymmetric:
        assert chosen.zero_point_value == 0


def test_a_reader_that_needs_fine_steps_on_small_channels_narrows_the_range():
    """One huge channel read with a tiny weight, one small channel read with a
    large one: the MSE range of the tensor covers the huge channel; the error at
    the reader's output wants the small channel resolved finely."""
    rng = np.random.default_rng(0)
    samples = [np.stack([rng.standard_normal(64) * 20.0, rng.standard_normal(64) * 0.2], axis=-1)[None].astype(np.float32)]
    values = np.concatenate([x.ravel() for x in samples])
    mse = quantized_type_from_range(float(values.min()), float(values.max()), 8, True)
    refined = refine_range("t", samples, [_weighted(np.array([0.001, 10.0]))], mse, True)
    assert refined.chosen.scale_value < mse.scale_value
    assert refined.objective < 0.9 * refined.mse_objective


# -- a small network ----------------------------------------------------------------------

SHAPE = (1, 3, 8, 8)


@pytest.fixture(scope="module")
def net(tmp_path_factory) -> LoadedNet:
    """x -> Conv -> HardSwish = h -> Conv = c2 -> Add(c2, h) -> Conv -> y."""
    rng = np.random.default_rng(7)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("HardSwish", ["c1"], ["h"]),
        helper.make_node("Conv", ["h", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "h"], ["s"]),
        helper.make_node("Conv", ["s", "w3", "b3"], ["y"]),
    ]
    # channels of very different size, read with compensating weights
    scale = np.array([4.0, 1.0, 0.1, 0.02], dtype=np.float32)
    inits = [
        const("w1", (rng.standard_normal((4, 3, 3, 3)) * scale[:, None, None, None]).astype(np.float32)),
        const("b1", (rng.standard_normal(4) * 0.1).astype(np.float32)),
        const("w2", (rng.standard_normal((4, 4, 3, 3)) * 0.3 / scale[None, :, None, None]).astype(np.float32)),
        const("b2", np.zeros(4, np.float32)),
        const("w3", (rng.standard_normal((2, 4, 1, 1)) / scale[None, :, None, None]).astype(np.float32)),
        const("b3", np.zeros(2, np.float32)),
    ]
    proto = model(nodes, [tensor("x", FLOAT, list(SHAPE))], [tensor("y", FLOAT, [1, 2, 8, 8])], inits, 14)
    path = tmp_path_factory.mktemp("residual") / "residual.onnx"
    onnx.save(proto, path)
    return load_model(onnx_source(str(path), {"x": SHAPE}, {"x": ScalarType.float32}))


def samples(count: int, seed: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [{"x": rng.standard_normal((1, 8, 8, 3)).astype(np.float32)} for _ in range(count)]


@pytest.fixture(scope="module")
def calibrated(net):
    return calibrate_module(partitioned_float_module(net.module), samples(8, seed=1), default_quantization)


def _observe(module, producer_type) -> ObserveOp:
    return next(
        op for op in find_function(module).walk()
        if isinstance(op, ObserveOp) and isinstance(op.input.owner, producer_type)
    )


def test_paths_go_through_tables_to_the_next_gemm_and_stop_before_a_second_activation(calibrated):
    function = find_function(calibrated)
    constants = {op.results[0] for op in function.walk() if isinstance(op, ops.ConstantOp)}
    first_conv = next(op for op in function.walk() if isinstance(op, ops.Conv2DOp))
    hard_swish = next(op for op in function.walk() if isinstance(op, ops.HardSwishOp))
    second_conv = next(op for op in hard_swish.results[0].uses if isinstance(op.operation, ops.Conv2DOp)).operation
    add = next(op for op in function.walk() if isinstance(op, ops.AddOp))
    assert set(measurement_paths(first_conv.results[0], constants)) == {(hard_swish, second_conv), (hard_swish,)}
    assert set(measurement_paths(hard_swish.results[0], constants)) == {(second_conv,), ()}
    # the second conv's output enters the add beside h: measured at itself only
    assert measurement_paths(second_conv.results[0], constants) == [()]
    last_conv = next(use.operation for use in add.results[0].uses if isinstance(use.operation, ops.Conv2DOp))
    assert measurement_paths(add.results[0], constants) == [(last_conv,)]


def test_refined_module_changes_only_the_observes_quantizations(calibrated):
    refined, refinements = range_refined_module(calibrated, samples(4, seed=1))
    keys = {r.key for r in refinements}
    assert keys and all(r.objective <= r.mse_objective for r in refinements)
    before = {op.key.data: op.quant for op in find_function(calibrated).walk() if isinstance(op, ObserveOp)}
    after = {op.key.data: op.quant for op in find_function(refined).walk() if isinstance(op, ObserveOp)}
    assert before.keys() == after.keys()
    for key in before:
        if key not in keys:
            assert after[key] == before[key]
    by_key = {r.key: r for r in refinements}
    assert all(after[key] == by_key[key].chosen for key in keys)
    # the input of the function is read by a conv, the add's output by one: both refined
    assert _observe(calibrated, ops.AddOp).key.data in keys
    assert "x" in keys


def test_against_the_float_network_the_same_tensors_are_refined_and_never_worse(calibrated):
    """`float_target`: the paths compared with the float network's (walked in
    lock step); the objective still never ends above the MSE range's."""
    plain = {r.key for r in range_refined_module(calibrated, samples(4, seed=1))[1]}
    _, refinements = range_refined_module(calibrated, samples(4, seed=1), float_target=True)
    assert {r.key for r in refinements} == plain
    assert all(r.objective <= r.mse_objective for r in refinements)


def test_refinement_needs_samples_and_scales(calibrated, net):
    with pytest.raises(RangeRefinementError, match="at least one calibration sample"):
        range_refined_module(calibrated, [])
    unscaled = partitioned_float_module(net.module)
    from passes.insert_observers import InsertObserversPass
    from sima_dialect.context import sima_context

    InsertObserversPass().apply(sima_context(), unscaled)
    with pytest.raises(RangeRefinementError, match="run select-scales first"):
        range_refined_module(unscaled, samples(1, seed=1))


def test_the_refined_model_runs_and_is_closer_to_float_here(net):
    calibration, evaluation = samples(16, seed=1), samples(8, seed=2)
    plain = quantize_float_module(net.module, calibration, default_quantization, progress=False)
    refined = quantize_float_module(net.module, calibration, default_quantization.with_range_refinement(), progress=False)
    reference = Interpreter(plain.float_reference)

    def error(result) -> float:
        from afe.apis.model import Model

        quantized = Model(result.quantized, name="residual", float_reference=result.float_reference, config=result.config)
        return sum(float(np.sum((quantized.execute(s)[0] - reference.run(s)[0]) ** 2)) for s in evaluation)

    assert refined.config.range_refinement
    assert error(refined) < error(plain)


# -- the option ---------------------------------------------------------------------------


def test_range_refinement_is_an_option_saved_with_the_model():
    from afe.apis.model import config_from_json, config_to_json

    refined = default_quantization.with_range_refinement()
    assert refined.range_refinement and not default_quantization.range_refinement
    assert dataclasses.replace(default_quantization, range_refinement=True) == refined
    with pytest.raises(UserFacingException, match="range_refinement: must be True or False"):
        default_quantization.with_range_refinement("yes")
    for config in (refined, refined.with_range_refinement(False)):
        assert config_from_json(config_to_json(config)) == config
    legacy = config_to_json(refined)
    del legacy["range_refinement"]  # a file written before the option existed
    assert not config_from_json(legacy).range_refinement


def test_bfloat16_has_no_ranges_to_refine(net):
    config = default_quantization.with_activation_quantization(bfloat16_scheme()).with_range_refinement()
    with pytest.raises(UserFacingException, match="range_refinement: refines integer activation ranges"):
        quantize_float_module(net.module, samples(1, seed=1), config, progress=False)


def test_the_command_line_chooses_range_refinement():
    import argparse

    from afe.cli_config import add_config_options, config_from_options, describe_config

    parser = argparse.ArgumentParser()
    add_config_options(parser)
    assert not config_from_options(parser.parse_args([])).range_refinement
    refined = config_from_options(parser.parse_args(["--range-refinement"]))
    assert refined.range_refinement
    assert "activation ranges refined downstream" in describe_config(refined)
