"""Quantization gives the same integers whatever the BLAS thread count.

A float32 product summed by another split of BLAS threads rounds differently in its last
bits; range candidates within those bits of each other then swap, and the quantized
integers followed the machine's core count (on this 2-core machine every real model's
int8 integers differed between one and two BLAS threads). Every float run that feeds a
quantization decision therefore runs on one BLAS thread (`runtime.interpreter.one_blas_thread`):
calibration (and channel groups' reading), range refinement, weight rounding /
compensation, bias correction, the int16 suggestion's measurements.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import onnx
import pytest
from onnx import helper
from threadpoolctl import ThreadpoolController, threadpool_limits

from afe.apis.defines import default_quantization
from afe.apis.loaded_net import load_model
from afe.apis.mixed_precision import suggest_int16_nodes
from afe.ir.defines import BiasCorrectionType
from afe.ir.tensor_type import ScalarType
from afe.load.importers.general_importer import onnx_source
from models import load_real_net, nhwc_samples
from onnx_builders import FLOAT, const, model, tensor
from runtime import interpreter, layer_walk
from runtime.interpreter import find_function, one_blas_thread
from sima_dialect import ops

SHAPE = (1, 4, 8, 8)


def _blas_threads() -> int:
    return max(lib["num_threads"] for lib in ThreadpoolController().select(user_api="blas").info())


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    """x -> Conv 3x3 -> HardSwish -> depthwise 3x3 -> Conv 1x1 -> y (a channel-group block)."""
    rng = np.random.default_rng(5)
    scale = np.array([6.0, 2.0, 0.2, 0.05], dtype=np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("HardSwish", ["c1"], ["h1"]),
        helper.make_node("Conv", ["h1", "wd", "bd"], ["d"], pads=[1, 1, 1, 1], group=4),
        helper.make_node("Conv", ["d", "w2", "b2"], ["y"]),
    ]
    inits = [
        const("w1", (rng.standard_normal((4, 4, 3, 3)) * scale[:, None, None, None]).astype(np.float32)),
        const("b1", (rng.standard_normal(4) * 0.1).astype(np.float32)),
        const("wd", (rng.standard_normal((4, 1, 3, 3)) / scale[:, None, None, None] * 0.3).astype(np.float32)),
        const("bd", np.zeros(4, np.float32)),
        const("w2", (rng.standard_normal((3, 4, 1, 1)) * 0.5).astype(np.float32)),
        const("b2", np.zeros(3, np.float32)),
    ]
    proto = model(nodes, [tensor("x", FLOAT, list(SHAPE))], [tensor("y", FLOAT, [1, 3, 8, 8])], inits, 14)
    path = tmp_path_factory.mktemp("determinism") / "net.onnx"
    onnx.save(proto, path)
    return load_model(onnx_source(str(path), {"x": SHAPE}, {"x": ScalarType.float32}))


def _samples(count: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(3)
    return [{"x": rng.standard_normal((1, 8, 8, 4)).astype(np.float32)} for _ in range(count)]


@pytest.fixture
def threads_seen(monkeypatch):
    """The BLAS thread counts in force at every float run (an interpreter's run, a layer walk)."""
    seen: list[int] = []
    run, walk = interpreter.Interpreter.run, layer_walk.walk_layers

    def recording_run(self, *args, **kwargs):
        seen.append(_blas_threads())
        return run(self, *args, **kwargs)

    def recording_walk(*args, **kwargs):
        seen.append(_blas_threads())
        return walk(*args, **kwargs)

    monkeypatch.setattr(interpreter.Interpreter, "run", recording_run)
    for module in ("runtime.range_refinement", "runtime.bias_correction", "runtime.weight_rounding"):
        monkeypatch.setattr(f"{module}.walk_layers", recording_walk)
    return seen


CONFIGS = {
    "default": default_quantization,
    "bias correction": default_quantization.with_bias_correction(BiasCorrectionType.REGULAR),
    "range refinement": default_quantization.with_range_refinement(),
    "compensation": default_quantization.with_activation_compensation(),
    "channel groups": default_quantization.with_channel_groups(),
}


@pytest.mark.parametrize("name", CONFIGS)
def test_every_float_run_of_quantize_is_on_one_blas_thread(net, threads_seen, name):
    with threadpool_limits(limits=2, user_api="blas"):
        assert _blas_threads() == 2
        net.quantize(_samples(8), CONFIGS[name], model_name="net")
        assert _blas_threads() == 2, "the cap must end with the quantization"
    assert threads_seen and set(threads_seen) == {1}, threads_seen


def test_the_int16_suggestion_measures_on_one_blas_thread(net, threads_seen):
    with threadpool_limits(limits=2, user_api="blas"):
        suggest_int16_nodes(net, _samples(8), default_quantization, max_nodes=1)
    assert threads_seen and set(threads_seen) == {1}, threads_seen


def test_one_blas_thread_restores_the_pool_after_an_error():
    with threadpool_limits(limits=2, user_api="blas"):
        with pytest.raises(RuntimeError), one_blas_thread():
            assert _blas_threads() == 1
            raise RuntimeError("inside")
        assert _blas_threads() == 2


def _constants(quantized_model) -> list[np.ndarray]:
    return [op.as_array() for op in find_function(quantized_model.module).walk() if isinstance(op, ops.ConstantOp)]


def test_a_real_model_quantizes_to_the_same_integers_on_one_and_two_blas_threads():
    # cls's int8 integers on these 32 inputs differed between one and two threads before the cap
    loaded = load_real_net("cls")
    data = nhwc_samples("cls", 32, seed=1)
    results = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="blas"):
            quantized = loaded.quantize(data, dataclasses.replace(default_quantization), model_name="cls")
        results.append(_constants(quantized))
    assert len(results[0]) == len(results[1])
    for one, two in zip(*results):
        np.testing.assert_array_equal(one, two)
