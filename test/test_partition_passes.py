"""fuse-activations, partition and name-nodes as Python APIs: fusion keeps the float
function bit for bit (hypothesis, run by the interpreter), the support table agrees
with the dialect, errors name what is wrong, and `LoadedNet.list_nodes` shows the
names. The IR-level behaviour of each pass is in test/filecheck/passes/."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from afe.apis.loaded_net import LoadedNet, format_node_table
from passes.fuse_activations import FuseActivationsPass
from passes.mla_support import MLA_SUPPORT, mla_support, supports_bits
from passes.name_nodes import NodeRow, node_rows
from passes.partition import PartitionError, PartitionPass, partition_and_name
from runtime.interpreter import Interpreter
from sima_dialect import ops
from sima_dialect.context import parse_module, sima_context

CONV = (
    "sima.conv2d %x, %w, %b {{strides = array<i64: {s}, {s}>, pads = array<i64: 1, 0, 1, 1>, "
    "dilations = array<i64: 1, 1>, groups = 1 : i64}} : "
    "(tensor<1x5x6x3xf32>, tensor<3x2x3x4xf32>, tensor<4xf32>) -> tensor<1x{oh}x{ow}x4xf32>"
)
CONV_TRANSPOSE = (
    "sima.conv2d_transpose %x, %w, %b {{strides = array<i64: {s}, {s}>, pads = array<i64: 1, 0, 1, 1>, "
    "dilations = array<i64: 1, 1>, output_padding = array<i64: 0, 0>, groups = 1 : i64}} : "
    "(tensor<1x5x6x3xf32>, tensor<3x2x3x4xf32>, tensor<4xf32>) -> tensor<1x{oh}x{ow}x4xf32>"
)
DENSE = "sima.dense %x, %w, %b : (tensor<2x5x6x3xf32>, tensor<3x4xf32>, tensor<4xf32>) -> tensor<2x5x6x4xf32>"


def _producer(kind: str, stride: int) -> tuple[str, tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """(op text, x shape, w shape, result shape) of one fusable producer."""
    if kind == "conv2d":
        oh, ow = (5 + 2 - 3) // stride + 1, (6 + 1 - 2) // stride + 1
        return CONV.format(s=stride, oh=oh, ow=ow), (1, 5, 6, 3), (3, 2, 3, 4), (1, oh, ow, 4)
    if kind == "conv2d_transpose":
        oh, ow = (5 - 1) * stride + 3 - 2, (6 - 1) * stride + 2 - 1
        return CONV_TRANSPOSE.format(s=stride, oh=oh, ow=ow), (1, 5, 6, 3), (3, 2, 3, 4), (1, oh, ow, 4)
    return DENSE, (2, 5, 6, 3), (3, 4), (2, 5, 6, 4)


def _f32(value: float) -> str:
    """An f32 literal: hex for infinities, else 9 significant digits (exact for float32)."""
    if np.isinf(value):
        return "0x7F800000" if value > 0 else "0xFF800000"
    return f"{value:.9e}"


def _activation(low: float | None, high: float | None, shape: tuple[int, ...]) -> str:
    tensor = f"tensor<{'x'.join(map(str, shape))}xf32>"
    if high is None and low == 0.0:
        return f"sima.relu %0 : {tensor}"
    return f"sima.clip %0 {{min = {_f32(low)} : f32, max = {_f32(high)} : f32}} : {tensor}"


def _module_text(kind: str, stride: int, low: float | None, high: float | None, second_use: bool) -> tuple[str, dict]:
    producer, x_shape, w_shape, out_shape = _producer(kind, stride)
    tensor = f"tensor<{'x'.join(map(str, out_shape))}xf32>"
    x_type = f"tensor<{'x'.join(map(str, x_shape))}xf32>"
    w_type = f"tensor<{'x'.join(map(str, w_shape))}xf32>"
    results = f"({tensor}, {tensor})" if second_use else tensor
    returned = f"%1, %0 : {tensor}, {tensor}" if second_use else f"%1 : {tensor}"
    text = f"""
    func.func @main(%x: {x_type}, %w: {w_type}, %b: tensor<4xf32>) -> {results} {{
      %0 = {producer}
      %1 = {_activation(low, high, out_shape)}
      func.return {returned}
    }}"""
    return text, {"x": x_shape, "w": w_shape}


def _run(module, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    return Interpreter(module).run(feeds)


def _fused(text: str):
    module = parse_module(text)
    FuseActivationsPass().apply(sima_context(), module)
    module.verify()
    return module


bounds = st.one_of(
    st.just((0.0, None)),  # relu
    st.tuples(st.floats(-2, 2, width=32), st.floats(-2, 2, width=32)).map(sorted).map(tuple),
    st.tuples(st.just(float("-inf")), st.floats(-1, 1, width=32)),
    st.tuples(st.floats(-1, 1, width=32), st.just(float("inf"))),
)


@settings(max_examples=40, deadline=None)
@given(
    kind=st.sampled_from(["conv2d", "conv2d_transpose", "dense"]),
    stride=st.integers(1, 2),
    low_high=bounds,
    seed=st.integers(0, 2**32 - 1),
)
def test_fusion_keeps_the_float_function_bit_for_bit(kind, stride, low_high, seed) -> None:
    low, high = low_high
    text, shapes = _module_text(kind, stride, low, high, second_use=False)
    rng = np.random.default_rng(seed)
    feeds = {
        "x": rng.normal(size=shapes["x"]).astype(np.float32),
        "w": rng.normal(size=shapes["w"]).astype(np.float32),
        "b": rng.normal(size=4).astype(np.float32),
    }
    before = _run(parse_module(text), feeds)
    fused = _fused(text)
    [op] = [op for op in fused.walk() if isinstance(op, ops.FusedActivationOp)]
    assert not any(isinstance(o, ops.ReluOp | ops.ClipOp) for o in fused.walk()), "the activation was not fused"
    assert op.activation_bounds() == (low, float("inf") if high is None else high)
    after = _run(fused, feeds)
    np.testing.assert_array_equal(after[0], before[0])


def test_activation_with_a_second_user_is_not_fused() -> None:
    text, shapes = _module_text("conv2d", 1, 0.0, 6.0, second_use=True)
    fused = _fused(text)
    assert any(isinstance(o, ops.ClipOp) for o in fused.walk())
    rng = np.random.default_rng(0)
    feeds = {"x": rng.normal(size=shapes["x"]).astype(np.float32), "w": rng.normal(size=shapes["w"]).astype(np.float32),
             "b": rng.normal(size=4).astype(np.float32)}
    clipped, raw = _run(fused, feeds)
    assert raw.min() < 0.0 <= clipped.min(), "the unclamped output must survive"


def test_fused_clamp_propagates_nan_as_the_separate_activation_does() -> None:
    text, shapes = _module_text("dense", 1, -0.5, 0.5, second_use=False)
    feeds = {"x": np.full(shapes["x"], np.nan, np.float32), "w": np.ones(shapes["w"], np.float32),
             "b": np.zeros(4, np.float32)}
    np.testing.assert_array_equal(_run(_fused(text), feeds)[0], _run(parse_module(text), feeds)[0])


# -- the support table --------------------------------------------------------------


def test_support_table_names_only_dialect_ops_and_never_constants() -> None:
    assert set(MLA_SUPPORT) <= set(ops.ALL_OPS)
    assert ops.ConstantOp not in MLA_SUPPORT


def _single_op(text: str) -> ops.SimaOp:
    module = parse_module(text)
    [op] = [o for o in module.walk() if isinstance(o, ops.SimaOp) and not isinstance(o, ops.ConstantOp)]
    return op


@pytest.mark.parametrize(
    ("body", "int8", "int16"),
    [
        ("%0 = sima.relu %x : tensor<1x4xf32>", True, False),  # ReluOperator: 8-bit only
        ("%0 = sima.sigmoid %x : tensor<1x4xf32>", True, True),  # a lookup table in both widths
        ("%0 = sima.log %x : tensor<1x4xf32>", False, False),  # not finite everywhere: APU
        ("%0 = sima.transpose %x {perm = array<i64: 1, 0>} : (tensor<1x4xf32>) -> tensor<4x1xf32>", True, False),
        ("%0 = sima.concat %x, %x {axis = 1 : i64} : (tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<1x8xf32>", True, True),
        ("%0 = sima.concat %x, %x {axis = 0 : i64} : (tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<2x4xf32>", True, False),
        ("%0 = sima.matmul %x, %y : (tensor<1x4xf32>, tensor<4x2xf32>) -> tensor<1x2xf32>", True, False),
        ("%0 = sima.dense %x, %y : (tensor<1x4xf32>, tensor<4x2xf32>) -> tensor<1x2xf32>", True, True),
        ("%0 = sima.div %x, %x : (tensor<1x4xf32>, tensor<1x4xf32>) -> tensor<1x4xf32>", False, False),
        ("%0 = sima.argmax %x {axis = 1 : i64, keepdims = false} : (tensor<1x4xf32>) -> tensor<1xi64>", True, False),
        ("%0 = sima.add %i, %i : (tensor<3xi64>, tensor<3xi64>) -> tensor<3xi64>", False, False),
    ],
)
def test_supports_bits_follows_the_seed_table(body: str, int8: bool, int16: bool) -> None:
    text = f"""func.func @f(%x: tensor<1x4xf32>, %y: tensor<4x2xf32>, %i: tensor<3xi64>) {{
      {body}
      func.return
    }}"""
    op = _single_op(text)
    assert (supports_bits(op, 8), supports_bits(op, 16)) == (int8, int16)
    assert (mla_support(op) is not None) == int8
    assert not supports_bits(op, 32)


# -- partition and names from Python --------------------------------------------------

SMALL_NET = """
func.func @main(%x: tensor<1x4x4x3xf32> {sima.name = "image"}) -> tensor<1x4x4x8xf32> {
  %mean = sima.constant dense<0.5> : tensor<3xf32>
  %w = sima.constant dense<0.1> : tensor<3x3x3x8xf32>
  %b = sima.constant dense<0.2> : tensor<8xf32>
  %0 = sima.sub %x, %mean : (tensor<1x4x4x3xf32>, tensor<3xf32>) -> tensor<1x4x4x3xf32>
  %1 = sima.conv2d %0, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64} : (tensor<1x4x4x3xf32>, tensor<3x3x3x8xf32>, tensor<8xf32>) -> tensor<1x4x4x8xf32>
  %2 = sima.relu %1 : tensor<1x4x4x8xf32>
  %3 = sima.sqrt %2 : tensor<1x4x4x8xf32>
  %4 = sima.max_pool %3 {kernel = array<i64: 2, 2>, strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 1, 1>, dilations = array<i64: 1, 1>} : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>
  func.return %4 : tensor<1x4x4x8xf32>
}
"""

SMALL_NET_NAMES = ["CVU_0/sub_0", "MLA_0/conv2d_add_relu_1", "APU_0/sqrt_2", "MLA_1/max_pool2d_3"]


def test_partition_and_name_runs_the_front_of_the_flow() -> None:
    module = parse_module(SMALL_NET)
    partition_and_name(module)
    module.verify()
    rows = list(node_rows(module))
    assert [r.name for r in rows] == SMALL_NET_NAMES
    assert [r.target for r in rows] == ["CVU", "MLA", "APU", "MLA"]
    assert {r.precision for r in rows} == {"float32"}


def test_default_node_names_of_the_config_force_nothing() -> None:
    from afe.apis.defines import default_quantization

    module = parse_module(SMALL_NET)
    partition_and_name(module, default_quantization.node_names | {""})  # the seed prints the default as {''}
    assert [r.name for r in node_rows(module)] == SMALL_NET_NAMES


def test_unknown_unquantized_node_suggests_the_closest_names() -> None:
    module = parse_module(SMALL_NET)
    with pytest.raises(PartitionError) as raised:
        partition_and_name(module, ["MLA_0/max_pool2d_3", "MLA_1/max_pool2d_3"])
    message = str(raised.value)
    assert "no node named 'MLA_0/max_pool2d_3' (closest: 'MLA_1/max_pool2d_3'" in message
    assert "MLA_1/max_pool2d_3'" in message and message.count("no node named") == 1


def test_unquantized_nodes_go_to_the_apu_and_keep_their_index() -> None:
    module = parse_module(SMALL_NET)
    partition_and_name(module, ["MLA_1/max_pool2d_3"])
    assert [r.name for r in node_rows(module)][-1] == "APU_0/max_pool2d_3"


def test_partition_option_round_trips_through_the_pass_spec() -> None:
    from xdsl.passes import PassPipeline

    from passes import get_all_passes

    pipeline = PassPipeline.parse_spec(get_all_passes(), 'partition{unquantized-nodes="MLA_0/a_1,APU_0/b_2"}')
    [partition] = pipeline.passes
    assert isinstance(partition, PartitionPass) and partition.unquantized_nodes == "MLA_0/a_1,APU_0/b_2"


def test_loaded_net_lists_and_prints_nodes(capsys) -> None:
    net = LoadedNet(parse_module(SMALL_NET), name="small")
    rows = net.list_nodes()
    assert rows[1] == NodeRow("MLA_0/conv2d_add_relu_1", "sima.conv2d", "MLA", "float32")
    assert [r.name for r in rows] == SMALL_NET_NAMES
    # listing leaves the net's own IR (and so its execution) untouched
    assert "target" not in net.ir_text() and "sima.relu" in net.ir_text()
    net.print_nodes()
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split() == ["node", "op", "target", "precision"]
    assert printed[2].split() == ["MLA_0/conv2d_add_relu_1", "sima.conv2d", "MLA", "float32"]
    assert len(printed) == 1 + len(rows)
    assert format_node_table(rows).splitlines() == printed


def test_every_lit_function_computes_the_same_after_the_three_passes() -> None:
    """Every runnable function of the pass lit tests, through fuse-activations,
    partition and name-nodes, gives bit-identical outputs (a FileCheck line
    cannot enshrine a fusion that changes the function)."""
    from test_passes_lit_cases import chunks, runnable

    ran = fused = 0
    for name, text in chunks():
        found = runnable(text)
        if found is None:
            continue
        module, interpreter, inputs = found
        expected = interpreter.run(inputs)
        activations = sum(isinstance(op, ops.ReluOp | ops.ClipOp) for op in module.walk())
        partition_and_name(module)
        module.verify()
        fused += activations - sum(isinstance(op, ops.ReluOp | ops.ClipOp) for op in module.walk())
        for got, want in zip(Interpreter(module).run(inputs), expected, strict=True):
            np.testing.assert_array_equal(got, want, err_msg=name)
        ran += 1
    assert ran >= 30 and fused >= 5, (ran, fused)
