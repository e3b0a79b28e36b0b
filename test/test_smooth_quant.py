"""`smooth-quant`: the float function is unchanged, and after it the activation
and weight ranges of every smoothed input channel obey
max|X'_j| ** alpha == max|W'_j| ** (1 - alpha), which shrinks the activation's
per-channel spread; on random chains, the lit cases and a real transformer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from xdsl.context import Context
from xdsl.utils.exceptions import PassFailedException

from channel_chains import (
    NetBuilder,
    assert_same_function,
    build_chain,
    chain_input_keys,
    chain_specs,
    observe_chain_inputs,
    random_input,
    record_channel_absmax,
    rounding_noise,
    run,
    run_lit_chunks_through,
    within_rounding_noise,
)
from passes.channel_scaling import WEIGHT_LAYERS, ChainScales, dead_channels
from passes.insert_observers import InsertObserversPass
from passes.smooth_quant import SmoothQuantPass, smoothing_factors
from sima_dialect import ops
from sima_dialect.calibration_ops import ObserveOp
from sima_dialect.plain_data import from_attribute

LIT_FILE = Path(__file__).parent / "filecheck" / "passes" / "smooth_quant.mlir"
PRODUCERS = (*WEIGHT_LAYERS, ops.LayerNormOp)


def spread(values: np.ndarray) -> float:
    """Largest over smallest non-zero entry."""
    live = values[values > 0]
    return float(live.max() / live.min()) if live.size else 1.0


def calibrated(spec: dict, samples: int = 4):
    """(module with observed, calibrated chain inputs, calibration inputs, {key: max|X|})."""
    module, first = build_chain(spec)
    rng = np.random.default_rng(spec["seed"] + 1)
    inputs = [first, *(random_input(module, rng) for _ in range(samples - 1))]
    observe_chain_inputs(module, PRODUCERS)
    return module, inputs, record_channel_absmax(module, inputs)


def consumer_ranges(module) -> dict[str, np.ndarray]:
    """Observe key of each chain input -> max|W_j| over the chain's consumers."""
    keyed = chain_input_keys(module, PRODUCERS)
    scales = ChainScales(list(keyed.values()))
    return {key: scales.consumer_ranges(chain) for key, chain in keyed.items()}


@settings(max_examples=60, deadline=None)
@given(chain_specs(layer_norm=True), st.sampled_from((0.0, 0.3, 0.5, 0.8, 1.0)))
def test_smoothing_keeps_the_float_function(spec, alpha) -> None:
    """Equal up to the chain's own float32 rounding noise (measured, as for
    equalization: outlier channels make a fixed relative tolerance meaningless)."""
    module, inputs, _ = calibrated(spec)
    fresh = random_input(module, np.random.default_rng(spec["seed"] + 2))
    samples = (*inputs, fresh)
    before = [run(module, [x]) for x in samples]
    noise = rounding_noise(module, samples, before)
    SmoothQuantPass(alpha=alpha).apply(Context(), module)
    module.verify()
    difference, bound = within_rounding_noise([run(module, [x]) for x in samples], before, noise)
    assert difference <= bound, f"output changed by {difference:.3e}, rounding noise bound {bound:.3e}"


@settings(max_examples=60, deadline=None)
@given(chain_specs(layer_norm=True), st.sampled_from((0.3, 0.5, 0.8)))
def test_smoothed_ranges_meet(spec, alpha) -> None:
    """Recalibrated on the same inputs, every live channel of every smoothed input
    has m'^alpha == w'^(1-alpha): with s = m^alpha / w^(1-alpha), m' = m / s and
    w' = w s. (w is the consumers' range once their own outputs are smoothed:
    the pass goes from the last chain to the first.)"""
    module, inputs, before = calibrated(spec)
    SmoothQuantPass(alpha=alpha).apply(Context(), module)
    kept = {op.key.data: op.stats for op in module.walk() if isinstance(op, ObserveOp) and op.stats is not None}
    after = record_channel_absmax(module, inputs)
    for key, stats in kept.items():  # statistics of rescaled tensors are dropped; the others still hold
        np.testing.assert_allclose(from_attribute(stats.data["channel_absmax"]), after[key], rtol=1e-6)
    weights_after = consumer_ranges(module)
    for key, m in before.items():
        m_new, w_new = after[key], weights_after[key]
        live = ~dead_channels(m) & ~dead_channels(w_new)
        np.testing.assert_allclose(m_new[live] ** alpha, w_new[live] ** (1 - alpha), rtol=1e-4, err_msg=key)


def test_outlier_channels_move_into_the_weights(capsys) -> None:
    """LayerNorm -> dense with three outlier channels (~50x): the activation's
    per-channel max spread shrinks to about the square root (alpha = 0.5)."""
    rng = np.random.default_rng(11)
    gamma = np.ones(16)
    gamma[[2, 7, 13]] = 50.0
    net = NetBuilder((8, 16))
    y = net.dense(net.layer_norm(net.input, gamma, rng.standard_normal(16) * 0.1), rng.uniform(-1, 1, (16, 12)))
    module = net.module(y)
    inputs = [rng.standard_normal((8, 16)).astype(np.float32) for _ in range(4)]
    observe_chain_inputs(module, PRODUCERS)
    (m,) = record_channel_absmax(module, inputs).values()
    (w,) = consumer_ranges(module).values()
    before = [run(module, [x]) for x in inputs]
    SmoothQuantPass().apply(Context(), module)
    (m_new,) = record_channel_absmax(module, inputs).values()
    (w_new,) = consumer_ranges(module).values()
    for x, expected in zip(inputs, before):
        assert_same_function(run(module, [x]), expected)
    with capsys.disabled():
        print(f"\n[smooth-quant] activation channel-max spread {spread(m):.1f} -> {spread(m_new):.1f}, "
              f"weight input-channel spread {spread(w):.1f} -> {spread(w_new):.1f}")
    assert spread(m) > 50 and spread(m_new) < spread(m) / 5
    np.testing.assert_allclose(m_new, w_new, rtol=1e-4)  # alpha = 0.5: the ranges meet at sqrt(m w)


def test_smoothing_factors() -> None:
    np.testing.assert_allclose(smoothing_factors(np.array([16.0, 1.0, 0.0]), np.array([1.0, 4.0, 2.0]), 0.5), [4.0, 0.5, 1.0])
    np.testing.assert_allclose(smoothing_factors(np.array([16.0, 1.0]), np.array([1.0, 4.0]), 1.0), [16.0, 1.0])
    np.testing.assert_allclose(smoothing_factors(np.array([16.0, 1.0]), np.array([1.0, 4.0]), 0.0), [1.0, 0.25])
    np.testing.assert_allclose(smoothing_factors(np.array([16.0, 1e-30]), np.array([1.0, 4.0]), 0.5), [4.0, 1.0])


def small_model():
    net = NetBuilder((2, 3))
    y = net.dense(net.unary(ops.ReluOp, net.dense(net.input, np.ones((3, 4)))), np.ones((4, 2)))
    return net.module(y)


def test_missing_statistics_fail_or_are_skipped() -> None:
    module = small_model()
    message = r"no per-channel statistics for the input of sima.dense \(op 4 in @main\): it has no sima.observe"
    with pytest.raises(PassFailedException, match=message):
        SmoothQuantPass().apply(Context(), module)
    SmoothQuantPass(on_missing_stats="skip").apply(Context(), module)
    names = {op.value.weight_name for op in module.walk() if isinstance(op, ops.ConstantOp)}
    assert names == {"w1", "w2"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"alpha": -0.1}, r"alpha must lie in \[0, 1\], got -0.1"),
        ({"alpha": float("nan")}, r"alpha must lie in \[0, 1\]"),
        ({"on_missing_stats": "ignore"}, "on-missing-stats must be one of error, skip, got 'ignore'"),
    ],
)
def test_bad_options_are_errors(options, message) -> None:
    with pytest.raises(PassFailedException, match=message):
        SmoothQuantPass(**options).apply(Context(), small_model())


def test_options_parse_from_the_pass_spec() -> None:
    from xdsl.passes import PassPipeline

    from passes import get_all_passes

    (smooth,) = PassPipeline.parse_spec(get_all_passes(), "smooth-quant{alpha=0.75 on-missing-stats=skip}").passes
    assert smooth.alpha == 0.75 and smooth.on_missing_stats == "skip"


def test_lit_cases_keep_their_outputs() -> None:
    # The lit statistics are made up, but any positive factors keep the function.
    assert run_lit_chunks_through(LIT_FILE, SmoothQuantPass(), errors=(PassFailedException,)) >= 4


def test_real_transformer_keeps_its_output(capsys) -> None:
    """PP-OCRv4's SVTR recognizer: every chain it has (layer_norm -> dense for qkv
    and the MLP, conv -> relu -> conv) is smoothed after calibrating on a real
    text line; the output, also on a held-out line, moves by no more than the
    model's float32 rounding noise, and the activations' channel-max spread shrinks."""
    from afe.apis.loaded_net import load_model
    from afe.load.importers.general_importer import onnx_source
    from models import REAL_MODELS, real_inputs

    spec = REAL_MODELS["rec"]
    assert spec.path is not None, f"{spec.package} is not installed: pip install -e '.[test]'"
    module = load_model(onnx_source(str(spec.path), {spec.input_name: spec.shape})).module
    images = [image.transpose(0, 2, 3, 1) for image in real_inputs("rec", 2, seed=2)]
    InsertObserversPass(method="min_max").apply(Context(), module)  # the real flow: observe every tensor,
    before_stats = record_channel_absmax(module, images[:1])  # calibrate (the second image is held out),
    keys = list(chain_input_keys(module, PRODUCERS))
    before = [run(module, [image]) for image in images]
    noise = rounding_noise(module, images, before)
    SmoothQuantPass().apply(Context(), module)  # smooth,
    module.verify()
    after_stats = record_channel_absmax(module, images[:1])  # and calibrate again
    after = [run(module, [image]) for image in images]
    difference, bound = within_rounding_noise(after, before, noise)
    ratios = [spread(before_stats[k]) / spread(after_stats[k]) for k in keys]
    norms = [op for op in module.walk() if isinstance(op, ops.LayerNormOp)]
    smoothed_norms = sum(1 for op in norms if op.scale.owner.value.weight_name.endswith(".smooth"))
    with capsys.disabled():
        print(f"\n[smooth-quant] rec: {len(keys)} smoothed inputs ({smoothed_norms} of {len(norms)} layer_norms); max output "
              f"change {difference:.2e} (weight-rounding noise {noise:.2e}); activation channel-max spread / "
              f"{np.median(ratios):.1f} median ({min(ratios):.1f} .. {max(ratios):.1f})")
    assert len(keys) >= 8 and smoothed_norms == len(norms) >= 5
    assert difference <= bound
    assert np.median(ratios) > 2
