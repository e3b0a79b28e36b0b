"""Ranges re-chosen on the compensated network, alternating with the compensation
(`runtime/compensated_ranges.py`), and range refinement against another network's
paths (`refined_ranges(..., target=)`, `refine_range(..., target_paths=)`).

- the search with target paths (hypothesis): never worse than the starting range on
  its objective, the objective being the definition (rounded samples through the paths
  against the targets through the target paths), and identical to the search without
  them when the target paths are the paths;
- `target=`: a copy of the module itself gives exactly `float_target`'s ranges; a module
  of another shape is refused by name;
- the compensated float module holds the compensated int8 layers' weights (integers
  times steps) and biases, the calibrated module is left alone;
- the alternation: 0 rounds is the plain compensation; a round re-chooses ranges and
  refits (the returned calibrated module carries exactly the moved ranges, the weights are
  those compensation fits to them) and the model runs (whether it is closer to float is a
  question for `bench/bench_top1_techniques.py`, not this small network); bad arguments
  are refused.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from afe.apis.defines import default_quantization
from afe.ir.quantization_conv import reshape_weight_to_output_channels
from passes.patterns import builders
from passes.quantize import quantize_module
from runtime.compensated_ranges import (
    CompensatedRangesError,
    alternated_module,
    compensated_float_module,
    compensated_weights,
)
from runtime.interpreter import Interpreter, find_function
from runtime.range_refinement import RangeRefinementError, fake_quantize, refine_range, refined_ranges
from runtime.weight_rounding import weight_rounded_module, weight_steps
from sima_dialect import ops
from sima_dialect.calibration_ops import ObserveOp
from sima_dialect.quantized_ops import QConv2DOp
from test_range_refinement import _weighted, calibrated, net, problems, samples  # noqa: F401 (fixtures)

# -- the search against target paths --------------------------------------------------------


def _objective(samples, paths, target_paths, targets, mse, element) -> float:
    """The definition: per path, sum |path(Q(x)) - target_path(t)|^2 over the samples,
    divided by the same at the starting range, summed over the paths."""
    total = 0.0
    for path, target_path in zip(paths, target_paths):
        def error(e):
            return sum(float(np.sum((path(fake_quantize(x, e)) - target_path(t)) ** 2)) for x, t in zip(samples, targets))

        at_start = error(mse)
        total += error(element) / at_start if at_start > 0 else 0.0
    return total


@settings(max_examples=40, deadline=None)
@given(problems(), st.integers(0, 2**32 - 1))
def test_the_search_against_target_paths_is_its_definition_and_never_worse(problem, seed):
    samples_, paths, mse, targets = problem
    targets = samples_ if targets is None else targets
    rng = np.random.default_rng(seed)
    channels = samples_[0].shape[-1]
    # the same readers with other weights (e.g. the float ones beside the compensated)
    target_paths = [_weighted(rng.standard_normal(channels)) if i == 0 else path for i, path in enumerate(paths)]
    refined = refine_range("t", samples_, paths, mse, True, targets, target_paths)
    assert refined.objective <= refined.mse_objective
    chosen = _objective(samples_, paths, target_paths, targets, mse, refined.chosen)
    assert chosen <= _objective(samples_, paths, target_paths, targets, mse, mse) * (1 + 1e-9)
    assert chosen == pytest.approx(refined.objective, rel=1e-6, abs=1e-9)
    same = refine_range("t", samples_, paths, mse, True, targets, list(paths))
    plain = refine_range("t", samples_, paths, mse, True, targets)
    assert (same.chosen, same.objective) == (plain.chosen, plain.objective)


def test_a_copy_of_the_module_as_target_gives_the_float_targets_ranges(calibrated):  # noqa: F811
    data = samples(4, seed=1)
    by_float_target = refined_ranges(calibrated, data, float_target=True)
    by_copy = refined_ranges(calibrated, data, target=calibrated.clone())
    assert [(r.key, r.chosen, r.objective) for r in by_copy] == [(r.key, r.chosen, r.objective) for r in by_float_target]


def test_a_target_of_another_shape_is_refused(calibrated, net):  # noqa: F811
    from afe.core.quantize_pipeline import partitioned_float_module

    other = partitioned_float_module(net.module)  # no observes: other ops
    with pytest.raises(RangeRefinementError, match="not shaped as the refined one|differs from the refined one"):
        refined_ranges(calibrated, samples(1, seed=1), target=other)


# -- the compensated prefix ------------------------------------------------------------------


@pytest.fixture(scope="module")
def compensated(calibrated):  # noqa: F811
    return weight_rounded_module(quantize_module(calibrated, default_quantization), calibrated, samples(8, seed=1), compensate=True,
                                 progress=False)


def _float_layers(module) -> dict[str, ops.Conv2DOp]:
    return {op.node_name: op for op in find_function(module).walk() if isinstance(op, ops.Conv2DOp)}


def test_the_compensated_float_module_holds_the_int8_layers_real_weights(calibrated, compensated):  # noqa: F811
    rounded, report = compensated
    weights = compensated_weights(rounded, calibrated, report)
    assert set(weights) == set(report.layers) and len(weights) == 3
    before = {name: builders.constant_array(op.weight.owner).copy() for name, op in _float_layers(calibrated).items()}
    prefix = compensated_float_module(calibrated, weights)
    quantized = {op.node_name: op for op in find_function(rounded).walk() if isinstance(op, QConv2DOp)}
    for name, op in _float_layers(prefix).items():
        integers = builders.constant_array(quantized[name].weight.owner).astype(np.float64)
        expected = reshape_weight_to_output_channels(integers) * weight_steps(quantized[name])
        np.testing.assert_allclose(reshape_weight_to_output_channels(builders.constant_array(op.weight.owner)), expected, rtol=1e-6)
        float_bias = builders.constant_array(_float_layers(calibrated)[name].bias.owner)
        np.testing.assert_allclose(builders.constant_array(op.bias.owner), float_bias + report.layers[name].bias_delta, rtol=1e-6, atol=1e-7)
    for name, op in _float_layers(calibrated).items():  # the calibrated module is untouched
        np.testing.assert_array_equal(builders.constant_array(op.weight.owner), before[name])


# -- the alternation ---------------------------------------------------------------------------


def _weights(module) -> dict[str, np.ndarray]:
    return {op.node_name: builders.constant_array(op.weight.owner) for op in find_function(module).walk() if isinstance(op, QConv2DOp)}


def _quantizations(module) -> dict[str, object]:
    return {op.key.data: op.quant for op in find_function(module).walk() if isinstance(op, ObserveOp)}


def test_no_round_is_the_plain_compensation(calibrated, compensated):  # noqa: F811
    quantized, returned, history = alternated_module(calibrated, default_quantization, samples(8, seed=1), rounds=0)
    assert history == [] and _quantizations(returned) == _quantizations(calibrated)
    expected = _weights(compensated[0])
    assert {k: v.tolist() for k, v in _weights(quantized).items()} == {k: v.tolist() for k, v in expected.items()}


@pytest.mark.parametrize("float_target", [False, True])
def test_a_round_moves_ranges_refits_and_runs(calibrated, float_target):  # noqa: F811
    data = samples(8, seed=1)
    quantized, returned, history = alternated_module(calibrated, default_quantization, data, rounds=1, float_target=float_target)
    assert len(history) == 1
    before, after = _quantizations(calibrated), _quantizations(returned)
    moved = {r.key: r.chosen for r in history[0].moved}
    assert {key for key in before if after[key] != before[key]} == set(moved)
    assert all(after[key] == chosen for key, chosen in moved.items())
    assert set(history[0].report.layers) == set(_weights(quantized))
    # the refit compensation's weights fit the new ranges: as compensating the new calibrated module does
    refit, _ = weight_rounded_module(quantize_module(returned, default_quantization), returned, data, compensate=True, progress=False)
    assert {k: v.tolist() for k, v in _weights(quantized).items()} == {k: v.tolist() for k, v in _weights(refit).items()}
    from afe.apis.model import Model

    model = Model(quantized, name="residual", float_reference=calibrated, config=default_quantization)
    reference = Interpreter(calibrated)
    for sample in samples(2, seed=2):
        produced, expected = model.execute(sample)[0], reference.run(sample)[0]
        assert produced.shape == expected.shape and np.all(np.isfinite(produced))


def test_bad_arguments_are_refused(calibrated):  # noqa: F811
    with pytest.raises(CompensatedRangesError, match="rounds must be >= 0"):
        alternated_module(calibrated, default_quantization, samples(2, seed=1), rounds=-1)
    with pytest.raises(CompensatedRangesError, match="at least one calibration sample"):
        alternated_module(calibrated, default_quantization, [], rounds=1)
