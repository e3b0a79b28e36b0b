"""`channel-equalization` (cross-layer equalization): the float function is
unchanged, and the per-channel weight ranges of every equalized pair end up
balanced (r1_c == r2_c), on random conv / dense chains with outlier channels,
on the lit cases and on real models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from xdsl.context import Context

from channel_chains import (
    NetBuilder,
    assert_same_function,
    build_chain,
    chain_specs,
    rounding_noise,
    run,
    run_lit_chunks_through,
    within_rounding_noise,
)
from passes.channel_equalization import ChannelEqualizationPass, equalization_chains, equalizing_factors
from passes.channel_scaling import ChainScales, dead_channels, input_channel_absmax, output_channel_absmax
from runtime.interpreter import Interpreter
from sima_dialect import ops
from sima_dialect.weights import NDArrayAttr

LIT_FILE = Path(__file__).parent / "filecheck" / "passes" / "channel_equalization.mlir"
LIT_FILE_LAYER_NORM = Path(__file__).parent / "filecheck" / "passes" / "channel_equalization_layer_norm.mlir"


def equalize(module) -> None:
    ChannelEqualizationPass().apply(Context(), module)
    module.verify()


# ---------------------------------------------------------------------------
# random chains


def chain_ranges(module) -> list[tuple[np.ndarray, np.ndarray]]:
    """(r1, r2) of every equalization chain: the producer's output-channel ranges
    and the consumers' input-channel ranges."""
    scales = ChainScales(equalization_chains(module))
    return [(scales.producer_ranges(chain), scales.consumer_ranges(chain)) for chain in scales.chains]


def precision(r1: np.ndarray, r2: np.ndarray) -> float:
    """The paper's objective: sum_c (r1_c / max r1) (r2_c / max r2)."""
    return float(np.sum(r1 / r1.max() * r2 / r2.max())) if r1.max() > 0 and r2.max() > 0 else 0.0


def spread(r: np.ndarray) -> float:
    """Largest over smallest non-zero channel range."""
    live = r[r > 0]
    return float(live.max() / live.min()) if live.size else 1.0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chain_specs(layer_norm=True))
def test_equalization_keeps_the_float_function(spec) -> None:
    """Equal up to the chain's own float32 rounding noise: outlier channels spread
    over three decades make the rounding of a rescaled weight show at the output
    well above a fixed relative tolerance, so the bound is measured, not guessed."""
    module, sample = build_chain(spec)
    before = [run(module, [sample])]
    noise = rounding_noise(module, [sample], before)
    equalize(module)
    difference, bound = within_rounding_noise([run(module, [sample])], before, noise)
    assert difference <= bound, f"output changed by {difference:.3e}, rounding noise bound {bound:.3e}"


@settings(max_examples=60, deadline=None)
@given(chain_specs(layer_norm=True))
def test_equalized_ranges_are_balanced(spec) -> None:
    """At the fixed point every pair has r1_c == r2_c on its live channels, or,
    where a dead producer channel pins the consumer's range, r2_c / r1_c is the
    same for every live channel (the tilt of `equalizing_factors`)."""
    module, _ = build_chain(spec)
    equalize(module)
    for r1, r2 in chain_ranges(module):
        dead1, dead2 = dead_channels(r1), dead_channels(r2)
        live = ~dead1 & ~dead2
        ratios = r2[live] / r1[live]
        if not live.any():
            continue
        if (dead1 & ~dead2).any():
            np.testing.assert_allclose(ratios, ratios.max(), rtol=1e-4)
        else:
            np.testing.assert_allclose(ratios, 1.0, rtol=1e-4)


@settings(max_examples=60, deadline=None)
@given(chain_specs().filter(lambda spec: len(spec["layers"]) == 2))
def test_pair_precision_reaches_the_optimum(spec) -> None:
    """For one pair the products r1_c r2_c are invariant, so the paper's objective
    sum_c (r1_c / R1) (r2_c / R2) is at most sum_c r1_c r2_c / max_c r1_c r2_c;
    equalization reaches that bound, and the worse spread of the two layers'
    live channel ranges can only shrink."""
    module, _ = build_chain(spec)
    ranges_before = chain_ranges(module)
    equalize(module)
    for (r1, r2), (e1, e2) in zip(ranges_before, chain_ranges(module), strict=True):
        products = r1 * r2
        if products.max() == 0:
            continue
        assert precision(e1, e2) >= precision(r1, r2) * (1 - 1e-6)
        np.testing.assert_allclose(precision(e1, e2), products.sum() / products.max(), rtol=1e-5)
        live = ~dead_channels(r1) & ~dead_channels(r2)
        if live.any() and not (dead_channels(r1) & ~dead_channels(r2)).any():
            assert max(spread(e1[live]), spread(e2[live])) <= max(spread(r1[live]), spread(r2[live])) * (1 + 1e-5)


def test_spread_reduction_on_an_outlier_layer(capsys) -> None:
    """conv (one output channel 100x the rest) -> relu -> conv: both layers end
    with ranges sqrt(r1_c r2_c), so the outlier layer's spread drops ~10x and the
    second layer's rises to the same value (equalization shares the outlier)."""
    rng = np.random.default_rng(7)
    w1 = rng.uniform(-1, 1, (3, 3, 4, 8))
    w1[..., 5] *= 100.0
    w2 = rng.uniform(-1, 1, (1, 1, 8, 6))
    net = NetBuilder((1, 6, 6, 4))
    y = net.conv(net.unary(ops.ReluOp, net.conv(net.input, w1, rng.standard_normal(8), pads=(1, 1, 1, 1))), w2)
    module = net.module(y)
    sample = rng.standard_normal((1, 6, 6, 4)).astype(np.float32)
    before_out = run(module, [sample])
    ((r1, r2),) = chain_ranges(module)
    equalize(module)
    ((e1, e2),) = chain_ranges(module)
    assert_same_function(run(module, [sample]), before_out)
    with capsys.disabled():
        print(
            f"\n[cle] layer-1 channel range spread {spread(r1):.1f} -> {spread(e1):.1f}, "
            f"layer-2 {spread(r2):.1f} -> {spread(e2):.1f}, paper objective {precision(r1, r2):.3f} -> {precision(e1, e2):.3f} (of at most 8)"
        )
    assert spread(e1) < spread(r1) / 5
    assert max(spread(e1), spread(e2)) < max(spread(r1), spread(r2)) / 5
    np.testing.assert_allclose(e1, np.sqrt(r1 * r2), rtol=1e-5)
    np.testing.assert_allclose(e2, np.sqrt(r1 * r2), rtol=1e-5)
    # the outlier's own product r1_5 r2_5 dominates, so the objective can barely rise: it reaches its bound
    np.testing.assert_allclose(precision(e1, e2), np.sum(r1 * r2) / np.max(r1 * r2), rtol=1e-6)


def test_depthwise_between_two_convs_converges_to_one_range() -> None:
    """conv -> relu -> depthwise -> relu -> conv: both pairs share the depthwise
    weights; the sweeps converge to r_conv1 == r_dw == r_conv2 per channel,
    the cube root of their product."""
    rng = np.random.default_rng(3)
    c1 = rng.standard_normal((1, 1, 3, 4)) * [0.01, 1, 10, 100]
    dw = rng.standard_normal((3, 3, 1, 4)) * [5, 0.5, 1, 0.05]
    c2 = rng.standard_normal((1, 1, 4, 2))
    net = NetBuilder((1, 5, 5, 3))
    x = net.unary(ops.ReluOp, net.conv(net.input, c1))
    x = net.unary(ops.ReluOp, net.conv(x, dw, groups=4, pads=(1, 1, 1, 1)))
    module = net.module(net.conv(x, c2))
    product = (
        np.abs(c1).max(axis=(0, 1, 2)) * np.abs(dw).max(axis=(0, 1, 2)) * np.abs(c2).max(axis=(0, 1, 3))
    )
    sample = rng.standard_normal((1, 5, 5, 3)).astype(np.float32)
    before = run(module, [sample])
    equalize(module)
    assert_same_function(run(module, [sample]), before)
    layers = [op for op in module.walk() if isinstance(op, ops.Conv2DOp)]
    weights = [layer.weight.owner.as_array() for layer in layers]
    assert [layer.weight.owner.value.weight_name for layer in layers] == ["w1.cle", "w2.cle", "w3.cle"]
    ranges = [output_channel_absmax(layers[0], weights[0]), output_channel_absmax(layers[1], weights[1]),
              input_channel_absmax(layers[2], weights[2])]
    for r in ranges:
        np.testing.assert_allclose(r, np.cbrt(product), rtol=1e-5)


def test_grouped_consumer_slices_match_numpy() -> None:
    """The input channel c of a grouped conv is read by weight[:, :, c % (C/g), outputs of group c // (C/g)]."""
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((3, 3, 2, 6))  # C_in = 6, groups = 3, 2 outputs per group
    net = NetBuilder((1, 4, 4, 6))
    op = net.conv(net.input, weight, groups=3, pads=(1, 1, 1, 1)).owner
    expected = [np.abs(weight[:, :, c % 2, (c // 2) * 2 : (c // 2) * 2 + 2]).max() for c in range(6)]
    np.testing.assert_allclose(input_channel_absmax(op, weight), expected)


def test_equalizing_factors_with_dead_channels() -> None:
    # live channels 0 and 3 balance; a dead producer channel (1) and an ignored one (2, small) keep s = 1
    factors = equalizing_factors(np.array([4.0, 0.0, 1.0, 3.0]), np.array([1.0, 2.0, 0.0, 3.0]))
    np.testing.assert_array_equal(factors, [2.0, 1.0, 1.0, 1.0])
    # the dead channel's consumer range 100 pins R2: channel 0 is already optimal (R1 R2 = 100 = M^2)
    np.testing.assert_allclose(equalizing_factors(np.array([1.0, 0.0]), np.array([100.0, 100.0])), [1.0, 1.0])
    # an ignored channel (consumer range 0) larger than the balanced range shrinks to it
    np.testing.assert_allclose(equalizing_factors(np.array([4.0, 8.0]), np.array([1.0, 0.0])), [2.0, 4.0])
    # denormal-size channels count as dead
    np.testing.assert_allclose(equalizing_factors(np.array([1.0, 1e-30]), np.array([4.0, 1.0])), [0.5, 1.0])


def test_original_weights_are_not_modified() -> None:
    rng = np.random.default_rng(1)
    net = NetBuilder((2, 3))
    y = net.dense(net.unary(ops.ReluOp, net.dense(net.input, rng.standard_normal((3, 4)) * [1, 10, 100, 0.1])),
                  rng.standard_normal((4, 2)))
    module = net.module(y)
    originals = {op.value.weight_name: op.as_array() for op in module.walk() if isinstance(op, ops.ConstantOp)}
    copies = {name: array.copy() for name, array in originals.items()}
    equalize(module)
    for name, array in originals.items():
        assert not array.flags.writeable
        np.testing.assert_array_equal(array, copies[name])
    assert {op.value.weight_name for op in module.walk() if isinstance(op, ops.ConstantOp)} == {"w1.cle", "w2.cle"}


def test_a_second_run_changes_nothing() -> None:
    spec = {"kind": "dense", "seed": 5, "layers": [
        {"in": 3, "out": 4, "grouping": "full", "kernel": 1, "bias": True, "dead": False, "after": "relu"},
        {"in": 4, "out": 2, "grouping": "full", "kernel": 1, "bias": True, "dead": False, "after": "none"},
    ]}
    module, _ = build_chain(spec)
    equalize(module)
    names = sorted(op.value.weight_name for op in module.walk() if isinstance(op, ops.ConstantOp))
    equalize(module)
    assert sorted(op.value.weight_name for op in module.walk() if isinstance(op, ops.ConstantOp)) == names


def test_bad_iterations_option_is_an_error() -> None:
    from xdsl.utils.exceptions import PassFailedException

    module, _ = build_chain({"kind": "dense", "seed": 0, "layers": [
        {"in": 2, "out": 2, "grouping": "full", "kernel": 1, "bias": False, "dead": False, "after": "relu"}] * 2})
    with pytest.raises(PassFailedException, match="iterations must be a positive integer, got 0"):
        ChannelEqualizationPass(iterations=0).apply(Context(), module)


# ---------------------------------------------------------------------------
# the lit cases compute the same after the pass


def test_lit_cases_keep_their_outputs() -> None:
    assert run_lit_chunks_through(LIT_FILE, ChannelEqualizationPass()) >= 14
    assert run_lit_chunks_through(LIT_FILE_LAYER_NORM, ChannelEqualizationPass()) == 4


# ---------------------------------------------------------------------------
# real models


# chains each real model has at least: cls's relu blocks and SE convs, det's SE
# convs and conv -> depthwise pairs, rec's (SVTR) layer_norm -> dense / conv
MIN_CHAINS = {"cls": 10, "det": 10, "rec": 8}


@pytest.mark.parametrize("name", ["cls", "det", "rec"])
def test_real_model_output_is_unchanged(name: str, capsys) -> None:
    """The equalized model differs from the original by no more than the model's
    own float32 rounding noise (twice what rounding every weight by one step
    does, plus a few ulps of the output)."""
    from afe.apis.loaded_net import load_model
    from afe.load.importers.general_importer import onnx_source
    from models import REAL_MODELS, real_inputs

    spec = REAL_MODELS[name]
    assert spec.path is not None, f"{spec.package} is not installed: pip install -e '.[test]'"
    module = load_model(onnx_source(str(spec.path), {spec.input_name: spec.shape})).module
    images = [image.transpose(0, 2, 3, 1) for image in real_inputs(name, 2, seed=4)]
    before = [Interpreter(module).run([image]) for image in images]
    noise = rounding_noise(module, images, before)
    ranges = chain_ranges(module)
    equalize(module)
    equalized = chain_ranges(module)
    after = [Interpreter(module).run([image]) for image in images]
    difference, bound = within_rounding_noise(after, before, noise)
    renamed = sum(
        1 for op in module.walk()
        if isinstance(op, ops.ConstantOp) and isinstance(op.value, NDArrayAttr) and op.value.weight_name.endswith(".cle")
    )
    gain = [precision(e1, e2) / precision(r1, r2) for (r1, r2), (e1, e2) in zip(ranges, equalized) if precision(r1, r2) > 0]
    with capsys.disabled():
        print(f"\n[cle] {name}: {len(ranges)} pairs, {renamed} new weights; max output change {difference:.2e} "
              f"(weight-rounding noise {noise:.2e}); "
              f"pair objective x{np.median(gain):.2f} median, x{min(gain):.2f} .. x{max(gain):.2f}")
    assert len(ranges) >= MIN_CHAINS[name] and renamed >= len(ranges)
    assert difference <= bound


def test_layer_norm_over_two_axes_is_a_producer() -> None:
    """A layer_norm normalising over the last two axes (scale and bias [W, C])
    divides every scale / bias entry of channel c by s_c: its range is
    max_w |scale[w, c]| + max_w |bias[w, c]|, and the float function stays."""
    rng = np.random.default_rng(11)
    scale = rng.standard_normal((3, 4)) * [0.1, 1, 10, 3]
    bias = rng.standard_normal((3, 4))
    weight = rng.standard_normal((4, 5)) * np.array([[5], [0.2], [1], [30]])
    net = NetBuilder((2, 3, 4))
    norm = ops.LayerNormOp.build(
        operands=[net.input, net.constant(scale), net.constant(bias)],
        properties={"axis": ops.int_attr(-2), "epsilon": ops.float_attr(1e-5)},
        result_types=[net.input.type],
    )
    module = net.module(net.dense(net._add(norm), weight))
    ((r1, r2),) = chain_ranges(module)
    np.testing.assert_allclose(r1, np.abs(scale).max(axis=0) + np.abs(bias).max(axis=0), rtol=1e-6)
    np.testing.assert_allclose(r2, np.abs(weight).max(axis=1), rtol=1e-6)
    sample = rng.standard_normal((2, 3, 4)).astype(np.float32)
    before = run(module, [sample])
    equalize(module)
    assert_same_function(run(module, [sample]), before)
    ((e1, e2),) = chain_ranges(module)
    np.testing.assert_allclose(e1, np.sqrt(r1 * r2), rtol=1e-5)
    np.testing.assert_allclose(e2, np.sqrt(r1 * r2), rtol=1e-5)
