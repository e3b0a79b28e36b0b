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

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
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
