"""Automatic int16 node choice (`afe.apis.mixed_precision.suggest_int16_nodes`,
`runtime/mixed_precision.py`).

The model: conv A -> relu -> conv B -> relu -> conv C, fed an image whose first
channel spans +-1000 while A's weights on it are zero: at 8 bits the input's
step (~8) wipes out the two channels that matter, at 16 bits (~0.03) it does
not. Only A reads the input, so A is the one sensitive node and must be chosen
first. The search itself is also run on made-up scores (fast, exact
expectations): the walk keeps only nodes that help, respects every budget, and
records steps that are prefixes of each other."""

from __future__ import annotations

import math

import numpy as np
import pytest
from onnx import helper

from afe.apis.defines import default_quantization, int16_quantization
from afe.apis.errors import UserFacingException
from afe.apis.loaded_net import LoadedNet
from afe.apis.mixed_precision import suggest_int16_nodes
from afe.core.configs import QuantizationPrecision
from lowering.onnx_importer import import_onnx
from onnx_builders import FLOAT, const, model, tensor
from afe.apis.model import Model
from runtime.mixed_precision import (
    Int16Budget,
    Int16Candidate,
    SampleErrors,
    logits_module,
    output_sqnr_db,
    search_int16_nodes,
)

A, B, C = "MLA_0/conv2d_relu_0", "MLA_0/conv2d_relu_1", "MLA_0/conv2d_2"
INT16 = {"quantization_precision": QuantizationPrecision.INT_16}


@pytest.fixture(scope="module")
def net() -> LoadedNet:
    rng = np.random.default_rng(0)
    wa = rng.standard_normal((8, 3, 3, 3)).astype(np.float32) * 0.3
    wa[:, 0] = 0.0  # the huge input channel does not matter to the output
    wb = rng.standard_normal((8, 8, 1, 1)).astype(np.float32) * 0.3
    wc = rng.standard_normal((4, 8, 1, 1)).astype(np.float32) * 0.3
    nodes = [
        helper.make_node("Conv", ["x", "wa"], ["a"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["a"], ["ar"]),
        helper.make_node("Conv", ["ar", "wb"], ["b"]),
        helper.make_node("Relu", ["b"], ["br"]),
        helper.make_node("Conv", ["br", "wc"], ["y"]),
    ]
    proto = model(nodes, [tensor("x", FLOAT, [1, 3, 8, 8])], [tensor("y", FLOAT, [1, 4, 8, 8])],
                  [const("wa", wa), const("wb", wb), const("wc", wc)])
    return LoadedNet(import_onnx(proto, {"x": (1, 3, 8, 8)}).module, name="sensitive")


def _samples(count: int, seed: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(count):
        x = rng.standard_normal((1, 8, 8, 3)).astype(np.float32)
        x[..., 0] = rng.uniform(-1000, 1000, (1, 8, 8))
        samples.append({"x": x})
    return samples


@pytest.fixture(scope="module")
def calibration() -> list[dict[str, np.ndarray]]:
    return _samples(6, seed=1)


@pytest.fixture(scope="module")
def one_node(net, calibration):
    return suggest_int16_nodes(net, calibration, default_quantization, max_nodes=1, progress=False)


def test_the_sensitive_node_is_ranked_and_chosen_first(net, calibration, one_node):
    assert [row.name for row in net.list_nodes()] == [A, B, C]
    ranking = dict(one_node.ranking)
    assert one_node.ranking[0][0] == A
    assert ranking[A] > 10.0 and ranking[A] > 5 * max(ranking[B], ranking[C], 0.1)
    assert one_node.nodes == (A,)
    assert one_node.custom_quantization_configs == {A: INT16}
    assert one_node.sqnr_db > one_node.baseline_sqnr_db + 10.0
    assert one_node.stopped == "max_nodes (1) reached"
    assert len(one_node.steps) == 2 and one_node.steps[1].nodes == (A,)
    assert 0.0 < one_node.mac_share < 1.0


def test_ranked_from_int16_chooses_the_sensitive_node_first(net, calibration):
    suggestion = suggest_int16_nodes(net, calibration, default_quantization, max_nodes=1, ranked_from="int16", progress=False)
    assert suggestion.ranking[0][0] == A and suggestion.nodes == (A,)
    assert suggestion.ranking[0][1] > 10.0 + max(gain for _, gain in suggestion.ranking[1:])


def test_the_suggestion_quantizes_to_the_model_measured(net, calibration, one_node):
    """LoadedNet.quantize with the suggestion (a fresh calibration) gives the SQNR the tool measured."""
    expected = [net.execute(s) for s in calibration]
    for count in (0, 1):
        config = default_quantization.with_custom_quantization_configs(one_node.configs_for(count))
        quantized = net.quantize(calibration, config)
        produced = [quantized.execute(s) for s in calibration]
        assert output_sqnr_db(expected, produced) == pytest.approx(one_node.steps[count].sqnr_db, abs=1e-9)
    precisions = {row.name: row.precision for row in net.quantize(calibration, one_node.quantization_config).list_nodes()}
    assert precisions[A] == "int16"
    # held-out inputs: the chosen node helps there too
    held_out = _samples(4, seed=2)
    reference = [net.execute(s) for s in held_out]
    int8 = [net.quantize(calibration, default_quantization).execute(s) for s in held_out]
    mixed_model = net.quantize(calibration, one_node.quantization_config)
    assert output_sqnr_db(reference, [mixed_model.execute(s) for s in held_out]) > output_sqnr_db(reference, int8) + 10.0


def test_budgets(net, calibration, one_node):
    share_of_a = one_node.mac_share
    capped = suggest_int16_nodes(net, calibration, default_quantization, max_mac_share=share_of_a * 0.99, progress=False)
    assert A not in capped.nodes and capped.mac_share <= share_of_a * 0.99
    target = suggest_int16_nodes(net, calibration, default_quantization, target_sqnr_db=one_node.sqnr_db - 1.0, progress=False)
    assert target.nodes == (A,) and target.stopped.startswith("target")
    reached = suggest_int16_nodes(net, calibration, default_quantization, target_sqnr_db=-100.0, progress=False)
    assert reached.nodes == () and reached.ranking == ()  # the int8 model already reaches it: nothing measured beyond
    # a node already int16 in the config is kept and not proposed again
    given = default_quantization.with_custom_quantization_configs({A: INT16})
    more = suggest_int16_nodes(net, calibration, given, max_nodes=1, candidates=[B, C], progress=False)
    assert A in more.custom_quantization_configs and A not in more.nodes
    assert more.baseline_sqnr_db == pytest.approx(one_node.sqnr_db, abs=1e-9)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "give a budget"),
        ({"max_nodes": -1}, "max_nodes must be an integer >= 0"),
        ({"max_nodes": 1.5}, "max_nodes must be an integer"),
        ({"max_nodes": True}, "max_nodes must be an integer"),
        ({"max_mac_share": 1.5}, "max_mac_share must be a number from 0.0 to 1.0"),
        ({"target_sqnr_db": "30"}, "target_sqnr_db must be a number"),
        ({"max_nodes": 1, "min_gain_db": -1}, "min_gain_db must be a number >= 0.0"),
        ({"max_nodes": 1, "ranking_samples": 0}, "ranking_samples must be an integer >= 1"),
        ({"max_nodes": 1, "folds": 0}, "folds must be an integer >= 1"),
        ({"max_nodes": 1, "folds": 7}, "folds (7) must not exceed the number of calibration samples (6)"),
        ({"max_nodes": 1, "candidates": ["MLA_0/conv2d_relu_9"]}, "'MLA_0/conv2d_relu_9'"),
        ({"max_nodes": 1, "candidates": "MLA_0/conv2d_2"}, "candidates must be a list of node names"),
        ({"max_nodes": 1, "progress": "yes"}, "progress must be True, False or None"),
        ({"max_nodes": 1, "measured_at": "loss"}, "measured_at must be one of 'logits', 'outputs'"),
        ({"max_nodes": 1, "ranked_from": "int4"}, "ranked_from must be one of 'int8', 'int16'"),
    ],
)
def test_bad_options_are_named(net, calibration, options, message):
    with pytest.raises(UserFacingException, match="suggest_int16_nodes") as raised:
        suggest_int16_nodes(net, calibration, default_quantization, **options)
    assert message in str(raised.value)


def test_unknown_node_suggests_close_names(net, calibration):
    with pytest.raises(UserFacingException) as raised:
        suggest_int16_nodes(net, calibration, default_quantization, max_nodes=1, candidates=["MLA_0/conv2d_relu_9"])
    assert A in str(raised.value) or B in str(raised.value)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (int16_quantization, "already quantizes every activation to 16 bits"),
        (default_quantization.with_channel_groups(), "channel_groups"),
        ("default", "quantization_config must be a QuantizationParams"),
    ],
)
def test_bad_configs_are_named(net, calibration, config, message):
    with pytest.raises(UserFacingException, match=message):
        suggest_int16_nodes(net, calibration, config, max_nodes=1)


def test_bad_net_and_data(calibration):
    with pytest.raises(UserFacingException, match="loaded_net must be a LoadedNet"):
        suggest_int16_nodes("model.onnx", calibration, default_quantization, max_nodes=1)


def test_bad_calibration_sample_is_named(net):
    with pytest.raises(UserFacingException, match="calibration sample 0: input 'x' has shape"):
        suggest_int16_nodes(net, [{"x": np.zeros((2, 2), np.float32)}], default_quantization, max_nodes=1)


# -- the walk on made-up scores -----------------------------------------------------------------


def _fake(gains: dict[str, float | tuple[float, float]], interaction: dict[frozenset[str], float] | None = None):
    """Two samples, each at SQNR 10 dB + the sum of the nodes' gains on it (a number: the same
    on both; + a correction for node pairs); counts calls."""
    calls = []

    def measure(nodes: frozenset[str], ranking: bool) -> SampleErrors:
        calls.append((nodes, ranking))
        per_sample = np.full(2, 10.0)
        for n in nodes:
            per_sample += np.asarray(gains[n], dtype=float)
        for pair, correction in (interaction or {}).items():
            if pair <= nodes:
                per_sample += correction
        return SampleErrors(np.ones(2), 10.0 ** (-per_sample / 10.0))

    return measure, calls


CANDIDATES = [Int16Candidate(name, "sima.conv2d", work) for name, work in (("a", 10), ("b", 50), ("c", 20), ("d", 20))]


def test_walk_keeps_only_nodes_that_help_and_respects_the_budgets():
    gains = {"a": 1.0, "b": 5.0, "c": 3.0, "d": -1.0}
    # c and b widen the same tensor: together they gain b's only
    measure, calls = _fake(gains, {frozenset("bc"): -3.0})
    search = search_int16_nodes(CANDIDATES, 100, measure, Int16Budget(max_nodes=3))
    assert [name for name, _ in search.ranking] == ["b", "c", "a", "d"]
    assert search.nodes == ("b", "a")  # c gained nothing beside b; d hurts alone, never checked
    assert [check[0] for check in search.checks] == ["b", "c", "a"]
    assert [step.sqnr_db for step in search.steps] == pytest.approx([10.0, 15.0, 16.0])
    assert search.steps[2].work_share == pytest.approx(0.6)
    assert all(later.nodes[: len(earlier.nodes)] == earlier.nodes for earlier, later in zip(search.steps, search.steps[1:]))
    assert sum(1 for _, ranking in calls if ranking) == 1 + len(CANDIDATES)

    capped = search_int16_nodes(CANDIDATES, 100, _fake(gains)[0], Int16Budget(max_work_share=0.35))
    assert capped.nodes == ("c", "a") and capped.steps[-1].work_share <= 0.35  # b alone is 50 %

    target = search_int16_nodes(CANDIDATES, 100, _fake(gains)[0], Int16Budget(target_sqnr_db=14.0))
    assert target.nodes == ("b",) and target.stopped == "target 14.0 dB reached"

    demanding = search_int16_nodes(CANDIDATES, 100, _fake(gains)[0], Int16Budget(max_nodes=3, min_gain_db=2.0))
    assert demanding.nodes == ("b", "c")  # a's 1 dB is below the minimum gain

    start = search_int16_nodes(CANDIDATES, 100, _fake(gains)[0], Int16Budget(max_nodes=1), already_int16={"b"})
    assert "b" not in dict(start.ranking) and start.nodes == ("c",) and start.steps[0].work_share == pytest.approx(0.5)


def test_folds_refuse_a_gain_one_sample_carries():
    gains = {"a": (8.0, -1.0), "b": (1.0, 1.0), "c": -1.0, "d": -2.0}  # a: large in total, worse on sample 1
    assert search_int16_nodes(CANDIDATES, 100, _fake(gains)[0], Int16Budget(max_nodes=1)).nodes == ("a",)
    robust = search_int16_nodes(CANDIDATES, 100, _fake(gains)[0], Int16Budget(max_nodes=1, folds=2))
    assert robust.nodes == ("b",)
    assert robust.checks[0][0] == "a" and not robust.checks[0][2]  # checked, refused


def test_ranked_from_int16_finds_a_spread_error():
    """Noise from a, b and c, swamped while two of them are int8: in the int8 model no node
    gains alone, in the int16 model each one put back in int8 shows what it costs; ranked
    from int16, the walk keeps the nodes in order of that cost."""
    noise = {"a": 4.0, "b": 3.0, "c": 2.0, "d": 0.0}

    def measure(nodes: frozenset[str], ranking: bool) -> SampleErrors:
        missing = [name for name in "abc" if name not in nodes]
        total = 10.0 if len(missing) >= 2 else sum(noise[name] for name in missing)
        return SampleErrors(np.full(2, 100.0), np.full(2, total + 1e-3))

    from_int8 = search_int16_nodes(CANDIDATES, 100, measure, Int16Budget(max_nodes=3))
    assert from_int8.nodes == () and all(gain == 0.0 for _, gain in from_int8.ranking)
    from_int16 = search_int16_nodes(CANDIDATES, 100, measure, Int16Budget(max_nodes=3, ranked_from="int16"))
    assert [name for name, _ in from_int16.ranking] == ["a", "b", "c", "d"]
    assert from_int16.nodes == ("a", "b", "c") and from_int16.stopped == "max_nodes (3) reached"
    assert [round(step.sqnr_db, 2) for step in from_int16.steps] == [10.0, 10.0, round(10 * math.log10(100 / 2.001), 2), 50.0]


def test_output_sqnr():
    reference = [[np.array([3.0, 4.0]), np.array([1, 2])]]  # integer outputs (indices) are not compared
    assert output_sqnr_db(reference, [[np.array([3.0, 4.0]), np.array([0, 0])]]) == math.inf
    assert output_sqnr_db(reference, [[np.array([3.0, 3.0]), np.array([1, 2])]]) == pytest.approx(10 * math.log10(25.0))


def test_logits_are_measured_before_a_final_softmax():
    """A classifier's softmax output is replaced by its input (centred along the softmax axis):
    float reference and quantized model alike."""
    rng = np.random.default_rng(3)
    w = rng.standard_normal((5, 3, 1, 1)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["l"]), helper.make_node("Softmax", ["l"], ["p"], axis=1)]
    proto = model(nodes, [tensor("x", FLOAT, [1, 3, 8, 8])], [tensor("p", FLOAT, [1, 5, 8, 8])], [const("w", w)])
    classifier = LoadedNet(import_onnx(proto, {"x": (1, 3, 8, 8)}).module, name="classifier")
    samples = [{"x": rng.standard_normal((1, 8, 8, 3)).astype(np.float32)} for _ in range(2)]
    quantized = classifier.quantize(samples, default_quantization)
    for module in (quantized.float_reference, quantized.module):
        logits, axes = logits_module(module)
        assert axes == [3]
        outputs = Model(logits, name="logits").execute(samples[0])[0]
        assert outputs.shape == (1, 8, 8, 5)
        expected = np.einsum("nhwc,kc->nhwk", samples[0]["x"], w[:, :, 0, 0])
        assert np.abs(outputs - expected).max() < (0.1 if module is quantized.module else 1e-4) * np.abs(expected).max()
    # the criterion through the API: measured at the logits unless asked otherwise
    at_logits = suggest_int16_nodes(classifier, samples, default_quantization, max_nodes=0)
    at_outputs = suggest_int16_nodes(classifier, samples, default_quantization, max_nodes=0, measured_at="outputs")
    reference = [classifier.execute(s) for s in samples]
    assert at_outputs.baseline_sqnr_db == pytest.approx(output_sqnr_db(reference, [quantized.execute(s) for s in samples]))
    assert at_logits.measured_at == "logits" and at_logits.baseline_sqnr_db != at_outputs.baseline_sqnr_db
