"""`Model.analyze_quantization_error` (seed 003, "Per-Layer Quantization
Statistics") and its engine, `runtime.error_analysis`, on a small conv chain:
the metrics against NumPy, local and cumulative feeds, the table, the numbers
after save / load, the "Layer Statistics" of the `.sima.json`, and the errors.

The acceptance test on the real cls model is in `test_error_analysis_real.py`.
"""

from __future__ import annotations

import json
import math

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from onnx import helper
from xdsl.parser import Parser

from afe.apis.defines import MinMaxMethod, default_quantization
from afe.apis.errors import ExceptionFuncType, UserFacingException
from afe.apis.loaded_net import LoadedNet, load_model
from afe.apis.model import Model
from afe.ir.tensor_type import ScalarType
from afe.load.importers.general_importer import onnx_source
from afe.serialization import model_file_paths
from onnx_builders import FLOAT, INT64, const, model, tensor
from passes.quantize import quantize_functions
from passes.quantize_values import QuantizeOptions
from runtime.error_analysis import (
    METRICS,
    ErrorAnalysis,
    ErrorAnalysisError,
    ErrorStatistics,
    QuantizationErrorTable,
    match_nodes,
    mixed_module,
    quantized_tensors,
    tapped_interpreter,
)
from runtime.interpreter import Interpreter, find_function
from sima_dialect.context import sima_context

MIN_MAX = default_quantization.with_calibration(MinMaxMethod())
SHAPE = (1, 3, 8, 8)  # NCHW, as the ONNX model takes it


@pytest.fixture(scope="module")
def net(tmp_path_factory) -> LoadedNet:
    """x -> Conv + Relu -> Conv -> MaxPool 2x2 -> y."""
    rng = np.random.default_rng(5)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("MaxPool", ["c2"], ["y"], kernel_shape=[2, 2], strides=[2, 2]),
    ]
    inits = [
        const("w1", rng.standard_normal((4, 3, 3, 3)).astype(np.float32) * 0.5),
        const("b1", rng.standard_normal(4).astype(np.float32) * 0.1),
        const("w2", rng.standard_normal((4, 4, 3, 3)).astype(np.float32) * 0.5),
        const("b2", rng.standard_normal(4).astype(np.float32) * 0.1),
    ]
    proto = model(nodes, [tensor("x", FLOAT, list(SHAPE))], [tensor("y", FLOAT, [1, 4, 4, 4])], inits, 13)
    path = tmp_path_factory.mktemp("chain") / "chain.onnx"
    onnx.save(proto, path)
    return load_model(onnx_source(str(path), {"x": SHAPE}, {"x": ScalarType.float32}))


def samples(count: int, seed: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [{"x": rng.standard_normal((1, 8, 8, 3)).astype(np.float32)} for _ in range(count)]


@pytest.fixture(scope="module")
def quantized(net) -> Model:
    return net.quantize(samples(6, seed=1), MIN_MAX, model_name="chain")


@pytest.fixture(scope="module")
def evaluation() -> list[dict[str, np.ndarray]]:
    return samples(4, seed=2)  # disjoint from the calibration samples


def node_names(model: Model) -> tuple[str, str, str]:
    """The chain's three nodes: first conv (with its relu), second conv, max pool."""
    names = [row.name for row in model.list_nodes() if row.precision.startswith("int") and "/" not in row.name[6:]]
    assert len(names) == 3, names
    return tuple(names)


def numpy_metrics(quantized: list[np.ndarray], reference: list[np.ndarray]) -> dict[str, float]:
    q = np.concatenate([a.ravel() for a in quantized]).astype(np.float64)
    f = np.concatenate([a.ravel() for a in reference]).astype(np.float64)
    mse = float(np.mean((q - f) ** 2))
    return {
        "mae": float(np.mean(np.abs(q - f))),
        "mse": mse,
        "psnr": 10 * math.log10(float(np.max(np.abs(f))) ** 2 / mse),
    }


def round_half_away(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


# -- the metrics -------------------------------------------------------------------------


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        hnp.arrays(np.float32, st.integers(1, 20), elements=st.floats(-100, 100, width=32)), min_size=1, max_size=5
    ),
    st.integers(0, 2**32 - 1),
)
def test_streamed_statistics_equal_numpy_on_all_the_data(references, seed) -> None:
    rng = np.random.default_rng(seed)
    quantized = [(r + rng.normal(0, 0.1, r.shape)).astype(np.float32) for r in references]
    statistics = ErrorStatistics()
    for q, f in zip(quantized, references):
        statistics.add(q, f)
    if np.all(np.concatenate(references) == 0):
        assert statistics.value("psnr") == -math.inf
        return
    expected = numpy_metrics(quantized, references)
    for metric in METRICS:
        assert statistics.value(metric) == pytest.approx(expected[metric], rel=1e-9, abs=1e-12)


def test_psnr_of_identical_outputs_is_infinite_and_an_unknown_metric_is_refused() -> None:
    statistics = ErrorStatistics()
    statistics.add(np.ones(3, np.float32), np.ones(3, np.float32))
    assert statistics.value("mae") == 0.0 and statistics.value("mse") == 0.0
    assert statistics.value("psnr") == math.inf
    with pytest.raises(ValueError, match="mae, mse, psnr"):
        statistics.value("rmse")


# -- matching and feeds on the chain -------------------------------------------------------------


def test_nodes_match_by_name_and_boundary_ops_are_skipped(quantized) -> None:
    matches = match_nodes(find_function(quantized.module), find_function(quantized.float_reference))
    assert [m.name for m in matches] == list(node_names(quantized))
    assert [m.op_name for m in matches] == ["sima.qconv2d", "sima.qconv2d", "sima.max_pool"]
    listed = {row.name for row in quantized.list_nodes()}
    skipped = listed - {m.name for m in matches}
    assert skipped and all(name.rsplit("/", 1)[-1] in ("quantize_in0", "dequantize") for name in skipped)


# a conv whose clip [-1, 1] is narrower than its calibrated range: the quantize pass
# clamps with a lookup table after it, named "<node>/clamp" (test/filecheck/passes/quantize_conv.mlir)
CLAMPED_CONV = """
func.func @main(%x: tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32> {
  sima.observe %x {key = "x", method = {name = "min_max"}, stats = {kind = "min_max", min = -1.0 : f64, max = 0.9921875 : f64}, quant = !sima.quant<i8, 0.0078125:0>} : tensor<1x2x2x2xf32>
  %w = sima.constant dense<[[[[0.5, -0.25], [1.0, 0.5]]]]> : tensor<1x1x2x2xf32>
  %0 = sima.conv2d %x, %w {strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, groups = 1 : i64, act_min = -1.0 : f32, act_max = 1.0 : f32, node = "MLA_0/conv2d_clip_0", target = "MLA"} : (tensor<1x2x2x2xf32>, tensor<1x1x2x2xf32>) -> tensor<1x2x2x2xf32>
  sima.observe %0 {key = "MLA_0/conv2d_clip_0", method = {name = "min_max"}, stats = {kind = "min_max", min = -2.0 : f64, max = 2.0 : f64}, quant = !sima.quant<i8, 0.01568627450980392:0>} : tensor<1x2x2x2xf32>
  func.return %0 : tensor<1x2x2x2xf32>
}
"""


def test_an_op_the_quantizer_adds_after_a_node_belongs_to_it() -> None:
    calibrated = Parser(sima_context(), CLAMPED_CONV).parse_module()
    quantized = calibrated.clone()
    quantize_functions(quantized, QuantizeOptions())
    node = "MLA_0/conv2d_clip_0"
    (match,) = match_nodes(find_function(quantized), find_function(calibrated))  # observe markers run as no-ops
    assert [op.name for op in match.ops] == ["sima.qconv2d", "sima.lut"]
    assert match.outputs == [match.ops[1].results[0]]
    analysis = ErrorAnalysis(quantized, calibrated, local_feed=True)
    rng = np.random.default_rng(0)
    for _ in range(4):
        analysis.add_sample({"x": rng.uniform(-1, 0.99, (1, 2, 2, 2)).astype(np.float32)})
    # unclamped, the conv reaches 1.5 (the quantized conv alone would too); the node's output is clamped
    assert analysis.statistics[node].peak == 1.0
    assert analysis.statistics[node].value("mae") < 0.01568627450980392


def test_nodes_whose_outputs_are_not_floats_are_not_compared(tmp_path) -> None:
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"]),
        helper.make_node("ArgMax", ["c"], ["y"], axis=1, keepdims=0),
    ]
    weight = np.random.default_rng(1).standard_normal((3, 2, 1, 1)).astype(np.float32)
    proto = model(nodes, [tensor("x", FLOAT, [1, 2, 4, 4])], [tensor("y", INT64, [1, 4, 4])], [const("w", weight)], 13)
    onnx.save(proto, tmp_path / "argmax.onnx")
    loaded = load_model(onnx_source(str(tmp_path / "argmax.onnx"), {"x": (1, 2, 4, 4)}))
    data = [{"x": np.random.default_rng(seed).standard_normal((1, 4, 4, 2)).astype(np.float32)} for seed in range(3)]
    quantized = loaded.quantize(data, MIN_MAX, model_name="argmax")
    kinds = {row.name: row.kind for row in quantized.list_nodes()}
    for local_feed in (True, False):
        table = quantized.analyze_quantization_error(data, "mae", local_feed=local_feed)
        assert [kinds[row.node] for row in table] == ["sima.qconv2d"]  # the argmax's indices are not compared


def test_values_a_saturating_reader_cannot_tell_apart_are_not_counted_as_error(tmp_path) -> None:
    # conv -> hard_sigmoid (alpha 0.2, beta 0.5: constant outside [-2.5, 2.5]): beyond that
    # interval the conv's values give the reader the same result, so the analysis compares
    # the quantized and the float output both clipped to it
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("HardSigmoid", ["c"], ["y"])]
    weight = np.random.default_rng(2).standard_normal((3, 2, 1, 1)).astype(np.float32) * 3
    proto = model(nodes, [tensor("x", FLOAT, [1, 2, 4, 4])], [tensor("y", FLOAT, [1, 3, 4, 4])], [const("w", weight)], 13)
    onnx.save(proto, tmp_path / "hard_sigmoid.onnx")
    loaded = load_model(onnx_source(str(tmp_path / "hard_sigmoid.onnx"), {"x": (1, 2, 4, 4)}))
    data = [{"x": np.random.default_rng(seed).standard_normal((1, 4, 4, 2)).astype(np.float32)} for seed in range(3)]
    quantized = loaded.quantize(data, MIN_MAX, model_name="saturating")
    conv = next(row.name for row in quantized.list_nodes() if row.kind == "sima.qconv2d")
    qconv = next(op for op in find_function(quantized.module).walk() if getattr(op, "node_name", None) == conv)
    fconv = next(op for op in find_function(quantized.float_reference).walk() if getattr(op, "node_name", None) == conv)
    run_q, offset_q = tapped_interpreter(quantized.module, [qconv.output])
    run_f, offset_f = tapped_interpreter(quantized.float_reference, [fconv.output])
    element = qconv.output.type.element_type
    dequantized = [  # float32, as `dequantize` gives
        ((run_q.run(s)[offset_q].astype(np.float64) - element.zero_point_value) * element.scale_value).astype(np.float32)
        for s in data
    ]
    floats = [run_f.run(s)[offset_f] for s in data]
    assert max(float(np.abs(f).max()) for f in floats) > 3.0  # there are values beyond the interval
    clipped = [np.clip(f, -2.5, 2.5) for f in floats]
    table = quantized.analyze_quantization_error(data, "mae", local_feed=False)
    clipped_mae = numpy_metrics([np.clip(q, -2.5, 2.5) for q in dequantized], clipped)["mae"]
    assert table[conv] == pytest.approx(clipped_mae, rel=1e-6)
    assert table[conv] != pytest.approx(numpy_metrics(dequantized, floats)["mae"], rel=1e-3)  # the clip mattered


def test_cumulative_error_of_the_output_node_is_that_of_the_model_outputs(net, quantized, evaluation) -> None:
    *_, pool = node_names(quantized)
    quantized_outputs = [quantized.execute(s)[0] for s in evaluation]
    float_outputs = [net.execute(s)[0] for s in evaluation]
    expected = numpy_metrics(quantized_outputs, float_outputs)
    for metric in METRICS:
        table = quantized.analyze_quantization_error(evaluation, metric, local_feed=False)
        assert table.sample_count == len(evaluation)
        assert table[pool] == pytest.approx(expected[metric], rel=1e-9)
        assert expected["mae"] > 0  # the quantization does change the output


def test_local_feed_of_the_max_pool_is_the_quantization_of_its_float_output(net, quantized, evaluation) -> None:
    # max pool commutes with (monotonic) quantization, so fed the float conv output
    # quantized to its input's quantization, its error is that of quantizing the float output
    *_, pool = node_names(quantized)
    pool_op = next(op for op in find_function(quantized.module).walk() if getattr(op, "node_name", None) == pool)
    element = pool_op.operands[0].type.element_type
    step, zero_point = element.scale_value, element.zero_point_value
    float_outputs = [net.execute(s)[0] for s in evaluation]
    integers = [np.clip(round_half_away(f.astype(np.float64) / step) + zero_point, -128, 127) for f in float_outputs]
    dequantized = [((q - zero_point) * step).astype(np.float32) for q in integers]  # dequantize gives float32
    expected = numpy_metrics(dequantized, float_outputs)
    for metric in METRICS:
        table = quantized.analyze_quantization_error(evaluation, metric, local_feed=True)
        assert table[pool] == pytest.approx(expected[metric], rel=1e-9)


def test_local_and_cumulative_agree_at_the_first_node_and_accumulate_downstream(quantized, evaluation) -> None:
    first, second, pool = node_names(quantized)
    for metric in METRICS:
        local = quantized.analyze_quantization_error(evaluation, metric, local_feed=True)
        cumulative = quantized.analyze_quantization_error(evaluation, metric, local_feed=False)
        assert local[first] == cumulative[first]  # both quantize the same input the same way
        worse = (lambda c, l: c <= l) if metric == "psnr" else (lambda c, l: c >= l)
        for node in (second, pool):
            assert worse(cumulative[node], local[node]), (metric, node, cumulative[node], local[node])
        assert cumulative[second] != local[second]


def test_the_table_is_in_graph_order_and_prints(quantized, evaluation) -> None:
    table = quantized.analyze_quantization_error(evaluation, "mse", local_feed=True)
    assert isinstance(table, QuantizationErrorTable)
    assert [row.node for row in table] == list(node_names(quantized))
    assert [row.precision for row in table] == ["int8", "int8", "int8"]
    assert table.errors() == {row.node: row.error_value for row in table}
    assert table.worst(1)[0].error_value == max(row.error_value for row in table)
    text = str(table)
    assert "mse" in text and "local feed" in text and "4 samples" in text
    for row in table:
        assert row.node in text and f"{row.error_value:.6g}" in text
    with pytest.raises(KeyError, match="no analysed node named 'nope'"):
        table["nope"]


# -- storage, save and load -------------------------------------------------------------------


def test_saved_json_holds_layer_statistics_and_a_loaded_model_gives_the_same_numbers(quantized, evaluation, tmp_path) -> None:
    table = quantized.analyze_quantization_error(evaluation, "mae", local_feed=True)
    quantized.save("chain", str(tmp_path))
    sima, view = model_file_paths("chain", str(tmp_path))
    layers = {layer["name"]: layer["config"] for layer in json.load(open(view))["config"]["layers"]}
    for row in table:
        assert layers[row.node]["Layer Statistics"] == {
            "metric": "mae",
            "error_value": row.error_value,
            "__decode_key__": "LayerStats",
        }
    assert sum("Layer Statistics" in config for config in layers.values()) == len(table)

    loaded = Model.load("chain", str(tmp_path))
    assert loaded.layer_stats == quantized.layer_stats  # kept in the .sima's metadata
    for local_feed in (True, False):
        for metric in METRICS:
            again = loaded.analyze_quantization_error(evaluation, metric, local_feed=local_feed)
            original = quantized.analyze_quantization_error(evaluation, metric, local_feed=local_feed)
            assert again.rows == original.rows


def test_a_new_analysis_replaces_the_stored_statistics_and_infinite_psnr_is_saved(quantized, evaluation, tmp_path) -> None:
    quantized.analyze_quantization_error(evaluation, "mae", local_feed=False)
    table = quantized.analyze_quantization_error(evaluation, "psnr", local_feed=False)
    assert {stats.metric for stats in quantized.layer_stats.values()} == {"psnr"}
    assert {name: stats.error_value for name, stats in quantized.layer_stats.items()} == table.errors()
    # a PSNR of identical outputs is inf, which strict JSON holds as a string
    first = table.rows[0].node
    quantized.layer_stats[first] = type(quantized.layer_stats[first])("psnr", math.inf)
    quantized.save("inf", str(tmp_path))
    view = model_file_paths("inf", str(tmp_path))[1]
    layers = {layer["name"]: layer["config"] for layer in json.load(open(view))["config"]["layers"]}
    assert layers[first]["Layer Statistics"]["error_value"] == "inf"
    assert Model.load("inf", str(tmp_path)).layer_stats[first].error_value == math.inf


# -- errors -------------------------------------------------------------------------------


def analysis_error(model: Model, data, metric="mae", **kwargs) -> UserFacingException:
    kwargs.setdefault("local_feed", True)
    with pytest.raises(UserFacingException) as caught:
        model.analyze_quantization_error(data, metric, **kwargs)
    assert caught.value.func_type is ExceptionFuncType.QUANTIZATION_ERROR_ANALYSIS
    assert caught.value.__cause__ is None
    return caught.value


def test_an_unknown_metric_lists_the_valid_ones(quantized, evaluation) -> None:
    message = str(analysis_error(quantized, evaluation, metric="rmse"))
    assert "'rmse'" in message and "'mae', 'mse', 'psnr'" in message
    assert quantized.analyze_quantization_error(evaluation, "MAE", local_feed=True).metric == "mae"


def test_local_feed_must_be_a_bool(quantized, evaluation) -> None:
    assert "local_feed must be True or False" in str(analysis_error(quantized, evaluation, local_feed="yes"))


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"y": np.zeros((1, 8, 8, 3), np.float32)}, "error analysis sample 1: unknown input 'y'"),
        ({"x": np.zeros((1, 3, 8, 8), np.float32)}, "error analysis sample 1: input 'x' has shape (1, 3, 8, 8), expected (1, 8, 8, 3)"),
        ({"x": np.full((1, 8, 8, 3), np.nan, np.float32)}, "error analysis sample 1: input 'x' holds 192 NaN"),
        ("x", "error analysis sample 1: expected a dict"),
    ],
)
def test_a_bad_sample_is_named_with_its_index_and_input(quantized, evaluation, bad, message) -> None:
    assert message in str(analysis_error(quantized, [evaluation[0], bad]))


def test_empty_data_is_refused(quantized) -> None:
    assert "error analysis data is empty" in str(analysis_error(quantized, []))


def test_a_model_without_float_reference_or_made_arm_only_has_nothing_to_compare(net, quantized, evaluation) -> None:
    bare = Model(quantized.module, name="bare")
    message = str(analysis_error(bare, evaluation))
    assert "no float reference" in message and "@float_reference" in message
    arm = net.quantize(samples(1, seed=1), MIN_MAX, arm_only=True, model_name="arm")
    message = str(analysis_error(arm, evaluation))
    assert "arm_only=True" in message and "nothing is quantized" in message


# -- mixed functions: the quantized model's rounding put back one unit at a time -------------------------


def _mixed_outputs(quantized: Model, samples, **units) -> list[np.ndarray]:
    interpreter = Interpreter(mixed_module(quantized.module, quantized.float_reference, **units))
    return [interpreter.run(s)[0] for s in samples]


def test_the_quantized_tensors_are_the_input_and_each_node_output_with_their_quantizations(quantized) -> None:
    tensors = quantized_tensors(quantized.module, quantized.float_reference)
    assert list(tensors) == ["x", *node_names(quantized)]
    function = find_function(quantized.module)
    (quantize_input,) = [use.operation for use in function.args[0].uses]
    assert tensors["x"] == quantize_input.output.type.element_type
    for match in match_nodes(function, find_function(quantized.float_reference)):
        assert tensors[match.name] == match.outputs[0].type.element_type


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hnp.arrays(np.float32, (1, 8, 8, 3), elements=st.floats(-4, 4, width=32)))
def test_every_node_integer_is_the_quantized_model_bit_for_bit(quantized, x) -> None:
    (mixed,) = _mixed_outputs(quantized, [{"x": x}], integer_nodes=node_names(quantized))
    np.testing.assert_array_equal(mixed, quantized.execute({"x": x})[0])


def test_nothing_quantized_is_the_float_model(net, quantized, evaluation) -> None:
    for mixed, sample in zip(_mixed_outputs(quantized, evaluation), evaluation):
        np.testing.assert_array_equal(mixed, net.execute(sample)[0])


def test_a_rounded_tensor_is_its_float_value_quantized_and_dequantized(net, quantized, evaluation) -> None:
    element = quantized_tensors(quantized.module, quantized.float_reference)["x"]
    step, zero_point = element.scale_value, element.zero_point_value
    rounded_inputs = [
        {"x": ((np.clip(round_half_away(s["x"].astype(np.float64) / step) + zero_point, -128, 127) - zero_point) * step).astype(np.float32)}
        for s in evaluation
    ]
    mixed = _mixed_outputs(quantized, evaluation, rounded_tensors=["x"])
    for got, sample in zip(mixed, rounded_inputs):
        np.testing.assert_allclose(got, net.execute(sample)[0], rtol=0, atol=1e-6)
    # rounding the last node's output: the float output quantized, as the local feed of the pool measures it
    *_, pool = node_names(quantized)
    element = quantized_tensors(quantized.module, quantized.float_reference)[pool]
    step, zero_point = element.scale_value, element.zero_point_value
    for got, sample in zip(_mixed_outputs(quantized, evaluation, rounded_tensors=[pool]), evaluation):
        f = net.execute(sample)[0].astype(np.float64)
        expected = ((np.clip(round_half_away(f / step) + zero_point, -128, 127) - zero_point) * step).astype(np.float32)
        np.testing.assert_array_equal(got, expected)


def test_one_integer_node_is_its_local_feed_in_place(quantized, evaluation) -> None:
    first, *_ = node_names(quantized)
    analysis = ErrorAnalysis(quantized.module, quantized.float_reference, local_feed=True)
    local = next(node for node in analysis._locals if node.match.name == first)
    reference, offset = tapped_interpreter(quantized.float_reference, local.counterparts)
    # the first conv alone integer, the rest float: its output is what the local feed computes
    match = local.match
    mixed = mixed_module(quantized.module, quantized.float_reference, integer_nodes=[first])
    (conv,) = [op for op in find_function(mixed).walk() if getattr(op, "node_name", None) == first and op.name == match.op_name]
    dequantized = next(use.operation for use in conv.results[0].uses)
    run, index = tapped_interpreter(mixed, [dequantized.results[0]])
    for sample in evaluation:
        values = dict(zip(local.counterparts, reference.run(sample)[offset:]))
        (expected,) = local.run(values)
        np.testing.assert_array_equal(run.run(sample)[index], expected)


def test_unknown_units_are_named_with_the_known_ones(quantized) -> None:
    with pytest.raises(ErrorAnalysisError, match=r"no quantized node named 'MLA_0/nope'.*the nodes are MLA_0/"):
        mixed_module(quantized.module, quantized.float_reference, integer_nodes=["MLA_0/nope"])
    with pytest.raises(ErrorAnalysisError, match=r"no quantized tensor named 'y'; the tensors are MLA_0/.*, x"):
        mixed_module(quantized.module, quantized.float_reference, rounded_tensors=["y"])
