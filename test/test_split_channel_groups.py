"""Channel groups (`passes/split_channel_groups.py`, `runtime/channel_groups.py`):
a conv -> f -> depthwise -> e* -> conv block split in two channel groups.

- the rewrite preserves the function (hypothesis over the block's sizes, its
  ops, its readers: a conv, or a squeeze-and-excitation block whose gate conv
  takes the new channel order, and the first group), and has the structure
  the docstring says;
- blocks it must leave alone, and the pass's errors;
- the cut (hypothesis: the argmin of the relative-noise sum over every cut;
  dead channels first), and the plans read from calibration statistics;
- on a block whose channels differ 100x in size, the int8 model's output is
  closer to float after the split than before (the reason for the rewrite).
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from onnx import helper
from xdsl.utils.exceptions import PassFailedException

from afe.apis.defines import default_quantization
from afe.apis.loaded_net import load_model
from afe.core.calibration_pipeline import calibrate_module, insert_observers_pass
from afe.core.quantize_pipeline import partitioned_float_module
from afe.ir.tensor_type import ScalarType
from afe.load.importers.general_importer import onnx_source
from onnx_builders import FLOAT, const, model, tensor
from passes.quantize import quantize_module
from passes.split_channel_groups import SplitChannelGroupsPass, group_block, group_blocks
from runtime.calibrate import calibrate
from runtime.channel_groups import best_cut, channel_group_plans, split_module
from runtime.interpreter import Interpreter, find_function
from sima_dialect import ops
from sima_dialect.context import sima_context


def block_net(tmp_path, channels: int, scales, *, function="HardSwish", after=("Relu",), reader="Conv", seed=0,
              extra_reader=False):
    """x (3 channels) -> Conv 3x3 (channels, output c scaled by scales[c]) -> function ->
    depthwise 3x3 -> after* -> reader (Conv 1x1 to 2 channels, or pool + Gemm)."""
    rng = np.random.default_rng(seed)
    scales = np.asarray(scales, dtype=np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["p"], pads=[1, 1, 1, 1]),
        helper.make_node(function, ["p"], ["f"]),
        helper.make_node("Conv", ["f", "wd", "bd"], ["d"], pads=[1, 1, 1, 1], group=channels),
    ]
    last = "d"
    for index, name in enumerate(after):
        nodes.append(helper.make_node(name, [last], [f"e{index}"]))
        last = f"e{index}"
    inits = [
        const("w1", (rng.standard_normal((channels, 3, 3, 3)) * scales[:, None, None, None]).astype(np.float32)),
        const("b1", (rng.standard_normal(channels) * scales * 0.1).astype(np.float32)),
        const("wd", (rng.standard_normal((channels, 1, 3, 3)) / scales[:, None, None, None]).astype(np.float32)),
        const("bd", (rng.standard_normal(channels) * 0.1).astype(np.float32)),
    ]
    if reader == "SE":  # squeeze-and-excitation: the gate's conv makes its channels in the new order
        nodes += [
            helper.make_node("GlobalAveragePool", [last], ["sp"]),
            helper.make_node("Conv", ["sp", "wse1", "bse1"], ["s1"]),
            helper.make_node("Relu", ["s1"], ["sr"]),
            helper.make_node("Conv", ["sr", "wse2", "bse2"], ["s2"]),
            helper.make_node("HardSigmoid", ["s2"], ["g"], alpha=1.0 / 6, beta=0.5),
            helper.make_node("Mul", [last, "g"], ["m"]),
        ]
        inits += [
            const("wse1", rng.standard_normal((2, channels, 1, 1)).astype(np.float32)), const("bse1", np.zeros(2, np.float32)),
            const("wse2", rng.standard_normal((channels, 2, 1, 1)).astype(np.float32)),
            const("bse2", rng.standard_normal(channels).astype(np.float32)),
        ]
        last = "m"
    if reader in ("Conv", "SE"):
        nodes.append(helper.make_node("Conv", [last, "w3", "b3"], ["y"]))
        inits += [const("w3", rng.standard_normal((2, channels, 1, 1)).astype(np.float32)), const("b3", np.zeros(2, np.float32))]
        output = [1, 2, 6, 6]
    else:
        nodes.append(helper.make_node("Add", [last, last], ["y"]))
        output = [1, channels, 6, 6]
    if extra_reader:
        nodes.append(helper.make_node("Relu", ["f"], ["z"]))
    outputs = [tensor("y", FLOAT, output)] + ([tensor("z", FLOAT, [1, channels, 6, 6])] if extra_reader else [])
    proto = model(nodes, [tensor("x", FLOAT, [1, 3, 6, 6])], outputs, inits, 14)
    path = tmp_path / f"block_{channels}_{function}_{'_'.join(after)}_{reader}_{seed}_{extra_reader}.onnx"
    onnx.save(proto, path)
    net = load_model(onnx_source(str(path), {"x": (1, 3, 6, 6)}, {"x": ScalarType.float32}))
    return partitioned_float_module(net.module)


def samples(count: int, seed: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [{"x": rng.standard_normal((1, 6, 6, 3)).astype(np.float32)} for _ in range(count)]


def first_conv(module) -> ops.Conv2DOp:
    return next(op for op in find_function(module).walk() if isinstance(op, ops.Conv2DOp))


@settings(max_examples=10, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])  # each example loads a model
@given(
    st.integers(2, 6), st.integers(0, 2**16), st.sampled_from(["HardSwish", "Relu", "Sigmoid"]),
    st.sampled_from([(), ("Relu",), ("HardSwish", "Relu")]), st.sampled_from(["Conv", "SE"]), st.data(),
)
def test_the_split_computes_the_same_function(tmp_path_factory, channels, seed, function, after, reader, data):
    module = block_net(tmp_path_factory.mktemp("b"), channels, np.exp(np.random.default_rng(seed).uniform(-2, 2, channels)),
                       function=function, after=after, reader=reader, seed=seed)
    first = data.draw(st.lists(st.integers(0, channels - 1), min_size=1, max_size=channels - 1, unique=True))
    producer = first_conv(module).node_name
    split = split_module(module, [(producer, first)])
    split.verify()
    for sample in samples(3, seed=seed):
        np.testing.assert_allclose(Interpreter(split).run(sample)[0], Interpreter(module).run(sample)[0], rtol=1e-4, atol=1e-5)
    function_ops = list(find_function(split).walk())
    convs = [op for op in function_ops if isinstance(op, ops.Conv2DOp)]
    assert len(convs) == (5 if reader == "Conv" else 7)  # two producers, two depthwise, the reader (and the SE convs)
    concat = next(op for op in function_ops if isinstance(op, ops.ConcatOp))
    groups = sorted(value.type.get_shape()[-1] for value in concat.operands)
    assert groups == sorted([len(first), channels - len(first)])
    assert {op.node_name for op in convs[:4]} >= {f"{producer}/group0", f"{producer}/group1"}
    assert all(op.target_name == first_conv(module).target_name for op in function_ops if isinstance(op, ops.SimaOp) and op.node_name)


def test_blocks_it_leaves_alone(tmp_path):
    assert group_blocks(block_net(tmp_path, 3, [1, 1, 1], reader="Add")) == []  # the depthwise output read by an add
    assert group_blocks(block_net(tmp_path, 3, [1, 1, 1], extra_reader=True)) == []  # f's result has two readers
    module = block_net(tmp_path, 3, [1, 1, 1])
    assert len(group_blocks(module)) == 1
    depthwise = [op for op in find_function(module).walk() if isinstance(op, ops.Conv2DOp)][1]
    assert group_block(depthwise) is None  # a depthwise conv does not start a block


def test_the_pass_names_what_is_wrong(tmp_path):
    module = block_net(tmp_path, 3, [1, 1, 1])
    producer = first_conv(module).node_name
    with pytest.raises(PassFailedException, match="no node named 'nope'"):
        SplitChannelGroupsPass(producer="nope", first_group="0").apply(sima_context(), module.clone())
    with pytest.raises(PassFailedException, match="some but not all of the 3 channels"):
        SplitChannelGroupsPass(producer=producer, first_group="0,1,2").apply(sima_context(), module.clone())
    with pytest.raises(PassFailedException, match="some but not all"):
        SplitChannelGroupsPass(producer=producer, first_group="5").apply(sima_context(), module.clone())
    with pytest.raises(PassFailedException, match="channel numbers like"):
        SplitChannelGroupsPass(producer=producer, first_group="a").apply(sima_context(), module.clone())
    depthwise = [op for op in find_function(module).walk() if isinstance(op, ops.Conv2DOp)][1].node_name
    with pytest.raises(PassFailedException, match="does not start a conv -> elementwise -> depthwise"):
        SplitChannelGroupsPass(producer=depthwise, first_group="0").apply(sima_context(), module.clone())


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.just(0.0), st.floats(1e-3, 1e3)), min_size=2, max_size=12))
def test_the_cut_is_the_best_of_all_cuts(ranges):
    ranges = np.array(ranges)
    first, gain = best_cut(ranges)
    live = np.flatnonzero(ranges > 0)
    if live.size < 2:
        assert first == [] and gain == 1.0
        return
    order = live[np.argsort(ranges[live], kind="stable")]
    r = ranges[order]

    def cost(t):
        return sum((r[t - 1] / v) ** 2 for v in r[:t]) + sum((r[-1] / v) ** 2 for v in r[t:])

    whole = sum((r[-1] / v) ** 2 for v in r)
    best = min(cost(t) for t in range(1, r.size))
    assert gain == pytest.approx(whole / best, rel=1e-9)
    assert gain >= 1.0 - 1e-12
    assert set(np.flatnonzero(ranges <= 0)) <= set(first)
    assert 0 < len([c for c in first if ranges[c] > 0]) < live.size


def test_two_clusters_are_cut_apart():
    first, gain = best_cut(np.array([10.0, 0.1, 9.0, 0.12, 11.0, 0.09]))
    assert first == [1, 3, 5] and gain > 50


def _statistics(module, data):
    statistics = module.clone()
    insert_observers_pass(default_quantization.calibration_method).apply(sima_context(), statistics)
    calibrate(statistics, data, progress=False, channel_statistics=True)
    return statistics


def test_channels_of_very_different_size_are_split_and_the_int8_model_gains(tmp_path):
    scales = np.array([20.0, 0.2, 15.0, 0.15, 0.25, 18.0], dtype=np.float32)
    module = block_net(tmp_path, 6, scales, function="HardSwish", after=("Relu",), seed=5)
    calibration, evaluation = samples(16, seed=1), samples(8, seed=2)
    plans = channel_group_plans(_statistics(module, calibration))
    assert plans == [(first_conv(module).node_name, [1, 3, 4])]
    # without statistics there is nothing to choose from
    assert channel_group_plans(module) == []
    split = split_module(module, plans)
    reference = [Interpreter(module).run(s)[0] for s in evaluation]

    def error(float_module):
        quantized = quantize_module(calibrate_module(float_module, calibration, default_quantization, progress=False),
                                    default_quantization)
        interpreter = Interpreter(quantized)
        return sum(float(np.sum((interpreter.run(s)[0] - r) ** 2)) for s, r in zip(evaluation, reference))

    assert error(split) < 0.5 * error(module)


def test_error_analysis_of_a_split_model_against_the_split_float_module(tmp_path):
    """The split float module is the split model's float reference: every node,
    the new ones included, matches one of the same name and channel order."""
    from runtime.error_analysis import ErrorAnalysis

    module = block_net(tmp_path, 6, [20, 0.2, 15, 0.15, 0.25, 18], reader="SE", seed=5)
    split = split_module(module, [(first_conv(module).node_name, [1, 3, 4])])
    quantized = quantize_module(calibrate_module(split, samples(8, seed=1), default_quantization, progress=False),
                                default_quantization)
    for local_feed in (False, True):
        analysis = ErrorAnalysis(quantized, split, local_feed=local_feed)
        for sample in samples(2, seed=3):
            analysis.add_sample(sample)
        names = [node.name for node in analysis.nodes]
        assert f"{first_conv(module).node_name}/group0" in names and any(name.endswith("/concat") for name in names)
        # every node's error is small next to its output (no channel compared with another)
        assert all(statistics.value("psnr") > 15 for statistics in analysis.statistics.values())
