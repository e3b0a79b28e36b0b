"""The logit-error tools of issue #5's top-1 study (`runtime/logit_error.py`,
`runtime/logit_ranges.py`) on a small classifier with a squeeze-and-excitation
block and a depthwise conv:

- the batched run equals the interpreter (float), its logits are the
  softmax's input centred; a run that starts at a changed tensor equals a
  full run (hypothesis over which tensors are rounded, and which changes);
- `rounded` is `range_refinement.fake_quantize` in float32: on the grid, in
  the range, within one float32 ulp of the float64 rounding (hypothesis);
- weights rounded per output channel within half a step, the channel's max kept;
- the parts of the network are found by structure (stem, SE squeeze / gate /
  multiply, depthwise input, head, input);
- logit-refined ranges: the objective never ends above the MSE ranges', only
  the observes' quantizations change, deterministic;
- prefix cuts of the integer model (`integer_values`, `RoundedRun.prefix_logits`): with
  every node cut the logits are the quantized model's (bit-exact, dequantized, centred);
  with nothing replaced they are the float ones; the cuts computed one after another
  equal each cut computed alone (hypothesis over the cuts); cuts must increase.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper

from afe.apis.defines import default_quantization
from afe.core.calibration_pipeline import calibrate_module
from afe.core.quantize_pipeline import partitioned_float_module
from afe.apis.loaded_net import load_model
from passes.quantize import quantize_module
from afe.ir.tensor_type import ScalarType
from afe.load.importers.general_importer import onnx_source
from onnx_builders import FLOAT, const, model, tensor
from passes.select_scales import quantized_type_from_range
from runtime.interpreter import Interpreter, find_function
from runtime.logit_error import LogitErrorError, RoundedRun, integer_values, rounded, rounded_weight, tensor_groups
from runtime.logit_ranges import logit_refined_module
from runtime.range_refinement import candidate, fake_quantize
from sima_dialect import ops
from sima_dialect.calibration_ops import ObserveOp

SHAPE = (1, 3, 8, 8)


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """x -> Conv -> HardSwish = h -> SE(h) * h -> depthwise Conv -> pool -> Gemm -> Softmax."""
    rng = np.random.default_rng(3)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("HardSwish", ["c1"], ["h"]),
        helper.make_node("GlobalAveragePool", ["h"], ["p"]),
        helper.make_node("Conv", ["p", "ws1", "bs1"], ["s1"]),
        helper.make_node("Relu", ["s1"], ["r"]),
        helper.make_node("Conv", ["r", "ws2", "bs2"], ["s2"]),
        helper.make_node("HardSigmoid", ["s2"], ["g"], alpha=1.0 / 6, beta=0.5),
        helper.make_node("Mul", ["h", "g"], ["m"]),
        helper.make_node("Conv", ["m", "wd", "bd"], ["d"], pads=[1, 1, 1, 1], group=4),
        helper.make_node("GlobalAveragePool", ["d"], ["q"]),
        helper.make_node("Flatten", ["q"], ["f"]),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["l"]),
        helper.make_node("Softmax", ["l"], ["y"]),
    ]
    inits = [
        const("w1", rng.standard_normal((4, 3, 3, 3)).astype(np.float32)),
        const("b1", (rng.standard_normal(4) * 0.1).astype(np.float32)),
        const("ws1", rng.standard_normal((2, 4, 1, 1)).astype(np.float32)),
        const("bs1", np.zeros(2, np.float32)),
        const("ws2", rng.standard_normal((4, 2, 1, 1)).astype(np.float32)),
        const("bs2", np.zeros(4, np.float32)),
        const("wd", rng.standard_normal((4, 1, 3, 3)).astype(np.float32)),
        const("bd", np.zeros(4, np.float32)),
        const("wf", rng.standard_normal((4, 3)).astype(np.float32)),
        const("bf", np.array([5.0, 5.0, 5.0], np.float32)),  # a common part the softmax ignores
    ]
    proto = model(nodes, [tensor("x", FLOAT, list(SHAPE))], [tensor("y", FLOAT, [1, 3])], inits, 14)
    path = tmp_path_factory.mktemp("se") / "se.onnx"
    onnx.save(proto, path)
    net = load_model(onnx_source(str(path), {"x": SHAPE}, {"x": ScalarType.float32}))
    return calibrate_module(partitioned_float_module(net.module), samples(8, seed=1), default_quantization, progress=False)


def samples(count: int, seed: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [{"x": rng.standard_normal((1, 8, 8, 3)).astype(np.float32)} for _ in range(count)]


@pytest.fixture(scope="module")
def run(calibrated):
    return RoundedRun(calibrated, samples(5, seed=2))


def test_float_logits_are_the_softmax_input_centred(calibrated, run):
    function = find_function(calibrated)
    softmax = next(op for op in function.walk() if isinstance(op, ops.SoftmaxOp))
    from runtime.error_analysis import tapped_interpreter

    interpreter, offset = tapped_interpreter(calibrated, [softmax.operands[0]])
    expected = np.concatenate([interpreter.run(s)[offset] for s in samples(5, seed=2)]).astype(np.float64)
    logits = run.logits({}, keep=False)
    np.testing.assert_allclose(logits, expected - expected.mean(axis=1, keepdims=True), rtol=1e-5, atol=1e-5)
    assert np.abs(logits.sum(axis=1)).max() < 1e-5
    assert np.abs(expected.mean()) > 1.0  # the bias's common part was there to remove


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_a_run_from_the_changed_tensor_equals_a_full_run(run, data):
    keys = list(run.observes)
    mse = run.mse_choices()
    first = data.draw(st.lists(st.sampled_from(keys), unique=True), label="rounded first")
    run.logits({k: mse[k] for k in first})
    changed = data.draw(st.sampled_from(keys), label="changed from")
    later = keys[keys.index(changed):]
    ratio = data.draw(st.sampled_from([0.5, 0.8, 1.0, 1.25]))
    second = {k: mse[k] for k in first if k not in later}
    for key in data.draw(st.lists(st.sampled_from(later), unique=True), label="rounded after"):
        second[key] = candidate(mse[key], ratio, ratio, True)
    partial = run.logits(second, changed_from=changed, keep=False)
    full = run.logits(second, keep=False)
    np.testing.assert_array_equal(partial, full)


def test_every_tensor_rounded_is_close_to_the_quantized_model_and_worse_than_float(run):
    reference = run.logits({}, keep=False)
    everything = run.logits(run.mse_choices(), keep=False)
    assert 0 < np.sum((everything - reference) ** 2) < 0.05 * np.sum(reference**2)


def test_unknown_names_are_refused(run):
    with pytest.raises(LogitErrorError, match="no roundable tensor or gemm named 'nope'"):
        run.logits({"nope": None})


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-50, 50, width=32), min_size=1, max_size=20),
    st.floats(-4.0, 0.0), st.floats(0.1, 40.0),
)
def test_rounded_is_fake_quantize_in_float32(values, low, high):
    element = quantized_type_from_range(low, high, 8, True)
    x = np.array(values, dtype=np.float32)
    ours, reference = rounded(x, element), fake_quantize(x, element)
    step = element.scale_value
    assert ours.dtype == np.float32
    # on the grid and in the range
    q = np.round(ours / step) + element.zero_point_value
    assert np.all(np.abs(ours / step + element.zero_point_value - q) < 1e-3)
    assert q.min() >= -128 and q.max() <= 127
    # the same grid point, or a neighbour where float32 and float64 round a tie differently
    differs = np.round(ours / step) != np.round(reference / step)
    assert np.all(np.abs(ours - reference)[differs] <= step * 1.0001)
    halfway = np.abs((x.astype(np.float64) / step) % 1.0 - 0.5) < 1e-4
    assert np.all(halfway[differs])
    np.testing.assert_allclose(ours[~differs], reference[~differs], rtol=1e-6, atol=1e-7 * step)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 5), st.integers(1, 6))
def test_rounded_weights_per_output_channel(seed, rows, channels):
    rng = np.random.default_rng(seed)
    weight = (rng.standard_normal((rows, 2, channels)) * np.exp(rng.uniform(-3, 3, channels))).astype(np.float32)
    result = rounded_weight(weight)
    absmax = np.abs(weight).reshape(-1, channels).max(axis=0)
    step = absmax / 127
    assert np.all(np.abs(result - weight).reshape(-1, channels).max(axis=0) <= step / 2 * (1 + 1e-5))
    np.testing.assert_allclose(np.abs(result).reshape(-1, channels).max(axis=0), absmax, rtol=1e-6)
    steps = result.reshape(-1, channels) / step
    assert np.allclose(steps, np.round(steps), atol=1e-3)


def test_the_parts_of_the_network_by_structure(run):
    groups = tensor_groups(run)

    def produced_by(kind):
        return [key for key, op in run.observes.items() if isinstance(op.input.owner, kind)]

    assert groups["x"] == "input"
    first_conv = next(op for op in run.body if isinstance(op, ops.Conv2DOp))
    assert groups[next(k for k, op in run.observes.items() if op.input.owner is first_conv)] == "stem"
    assert {groups[k] for k in produced_by(ops.HardSwishOp)} == {"stem"}
    assert {groups[k] for k in produced_by(ops.HardSigmoidOp)} == {"SE gate"}
    assert {groups[k] for k in produced_by(ops.MulOp)} == {"SE multiply"}
    pools = produced_by(ops.GlobalAvgPoolOp)
    assert sorted(groups[k] for k in pools) == ["SE squeeze", "head"]
    assert {groups[k] for k in produced_by(ops.DenseOp)} == {"head"}
    se_convs = [k for k, op in run.observes.items()
                if isinstance(op.input.owner, ops.Conv2DOp) and op.input.owner.operands[1].type.get_shape()[:2] == (1, 1)]
    assert se_convs and {groups[k] for k in se_convs} == {"SE squeeze"}
    assert set(groups.values()) <= {"input", "stem", "SE squeeze", "SE gate", "SE multiply", "head", "other"}


def test_logit_refined_ranges_never_raise_the_objective_and_change_only_observes(calibrated):
    data = samples(6, seed=4)
    refined, history = logit_refined_module(calibrated, data)
    assert history[-1] <= history[0]
    again, history_again = logit_refined_module(calibrated, data)
    before = {op.key.data: op.quant for op in find_function(calibrated).walk() if isinstance(op, ObserveOp)}
    after = {op.key.data: op.quant for op in find_function(refined).walk() if isinstance(op, ObserveOp)}
    assert after == {op.key.data: op.quant for op in find_function(again).walk() if isinstance(op, ObserveOp)}
    assert history == history_again
    assert before.keys() == after.keys()
    # the objective recomputed on the refined module's own choices
    run = RoundedRun(refined, data)
    reference = run.logits({}, keep=False)
    assert float(np.sum((run.logits(run.mse_choices(), keep=False) - reference) ** 2)) == pytest.approx(history[-1], rel=1e-9)
    # the module still runs
    Interpreter(refined).run(data[0])


@pytest.fixture(scope="module")
def cut(calibrated, run):
    """The integer values of the quantized model over run's samples, and the positions of run's ops they replace."""
    replaced = integer_values(quantize_module(calibrated, default_quantization), run, samples(5, seed=2))
    cuts = [i for i, op in enumerate(run.body) if op.results and all(r in replaced for r in op.results)]
    return replaced, cuts


def test_every_node_cut_gives_the_integer_models_logits(calibrated, run, cut):
    from runtime.error_analysis import tapped_interpreter

    replaced, cuts = cut
    assert len(cuts) >= 8  # conv, hard_swish, pool, SE convs, gate, mul, depthwise, pool, dense
    quantized = quantize_module(calibrated, default_quantization)
    softmax = next(op for op in find_function(quantized).walk() if op.name == "sima.qsoftmax")
    interpreter, offset = tapped_interpreter(quantized, [softmax.operands[0]])
    element = softmax.operands[0].type.element_type
    integer = np.concatenate([(interpreter.run(s)[offset].astype(np.float64) - element.zero_point_value) * element.scale_value
                              for s in samples(5, seed=2)])
    last = run.prefix_logits(replaced, cuts)[-1]
    np.testing.assert_allclose(last, integer - integer.mean(axis=1, keepdims=True), rtol=1e-5, atol=1e-6)
    float_logits = run.logits({}, keep=False)
    assert np.sum((last - float_logits) ** 2) > 0
    np.testing.assert_array_equal(run.prefix_logits({}, cuts)[-1], float_logits)


@settings(max_examples=20, deadline=None)
@given(st.data())
def test_cuts_in_one_pass_equal_each_cut_alone(run, cut, data):
    replaced, cuts = cut
    chosen = sorted(data.draw(st.lists(st.sampled_from(cuts), min_size=1, max_size=5, unique=True), label="cuts"))
    together = run.prefix_logits(replaced, chosen)
    for position, logits in zip(chosen, together):
        np.testing.assert_array_equal(logits, run.prefix_logits(replaced, [position])[0])


def test_cuts_must_increase(run, cut):
    replaced, cuts = cut
    with pytest.raises(LogitErrorError, match="prefix cuts must increase"):
        run.prefix_logits(replaced, [cuts[1], cuts[0]])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), sigma=st.floats(0.05, 2.0), classes=st.integers(2, 5))
def test_flip_model_predicts_gaussian_flips(seed: int, sigma: float, classes: int) -> None:
    """On logits whose top-2 difference is moved by Gaussian noise of a known std, the flip
    model finds that std, predicts the agreement measured (within binomial noise), and the
    sigma it says 98 % needs is the largest that reaches it."""
    from scipy.stats import norm

    from runtime.logit_error import flip_model

    rng = np.random.default_rng(seed)
    reference = rng.normal(0.0, 3.0, size=(4000, classes))
    order = np.argsort(reference, axis=1)
    rows = np.arange(len(reference))
    approximation = reference.copy()
    approximation[rows, order[:, -1]] += rng.normal(0.0, sigma, size=len(reference))  # only the best logit moves
    model = flip_model(reference, approximation)
    assert abs(model.sigma - sigma) <= 0.05 * sigma
    measured = float(np.mean(np.argmax(approximation, axis=1) == order[:, -1]))
    if classes == 2:  # with more classes the third-best can win too: the model is a bound there
        assert abs(model.predicted - measured) <= 4 * np.sqrt(0.25 / len(reference)) + 0.01
    else:
        assert model.predicted >= measured - 4 * np.sqrt(0.25 / len(reference))
    margin = reference[rows, order[:, -1]] - reference[rows, order[:, -2]]
    expected = lambda s: float(np.mean(norm.cdf(margin / s)))  # noqa: E731
    if model.predicted < 0.98:
        assert expected(model.needed_sigma) >= 0.98 > expected(model.needed_sigma * 1.01)
        assert model.needed_db > 0
    else:
        assert model.needed_sigma == model.sigma and model.needed_db == 0
