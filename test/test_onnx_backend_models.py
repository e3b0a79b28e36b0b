"""The onnxruntime backend on the real models: bit-exact `Model.execute` gives the
same integers as the NumPy interpreter (SIMA_RUNTIME=numpy), int8 (all four
models) and int16 (cls, det; int16 products also with the opt-in lowering); fast
mode (the float emulation, not bit-exact) runs as one onnxruntime session with
no op left to NumPy, close to bit-exact (`MIN_FAST_SQNR_DB`).

default_quantization on 2 real samples; det and rec at the smaller shapes of
test_save_load_real.py, so each model takes seconds.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from afe.apis.defines import default_quantization, int16_quantization
from afe.apis.model import Model
from models import load_real_net, nhwc_samples
from runtime.onnx_backend import RUNTIME_VARIABLE, chosen_backend, executor_for
from runtime.onnx_backend.program import OnnxProgram

import onnxruntime  # noqa: E402, F401  a core dependency: these tests fail, not skip, without it

SHAPES = {
    "cls": (1, 3, 48, 192),
    "det": (1, 3, 96, 96),
    "rec": (1, 3, 48, 96),
    "orientation": (1, 3, 224, 224),
}
CASES = [(name, "int8") for name in sorted(SHAPES)] + [("cls", "int16"), ("det", "int16")]
CONFIGS = {"int8": default_quantization, "int16": int16_quantization}


@pytest.fixture(scope="module", params=CASES, ids=[f"{n}-{b}" for n, b in CASES])
def quantized(request):
    name, bits = request.param
    net = load_real_net(name, SHAPES[name])
    model = net.quantize(nhwc_samples(name, 2, seed=0, shape=SHAPES[name]), CONFIGS[bits], model_name=f"{name}_{bits}")
    return name, bits, model, nhwc_samples(name, 1, seed=100, shape=SHAPES[name])[0]


TABLE_OPS = ("sima.lut ", "sima.requantize ", "sima.qadd ", "sima.qsub ", "sima.qmul ")

MIN_FAST_SQNR_DB = 25.0
"""Output SQNR of fast mode against bit-exact, all cases, one sample each. Measured
when written: cls int8 and orientation int8 identical (inf), rec int8 34.2 dB, det int8
32.9 dB (a table rounding one step off near a tie grows through its 60 layers), cls
int16 142 dB, det int16 51 dB."""


def test_fast_mode_is_one_onnxruntime_session_close_to_bit_exact(quantized, monkeypatch, caplog):
    name, bits, model, sample = quantized
    monkeypatch.delenv(RUNTIME_VARIABLE, raising=False)
    caplog.set_level(logging.INFO, logger="runtime.onnx_backend")
    fast = model.execute(sample, fast_mode=True)
    program = model._executor(True)
    assert isinstance(program, OnnxProgram) and program.segment_count() == 1 and program.numpy_ops() == [], caplog.text
    for approximate, exact in zip(fast, Model(model.module, name="exact").execute(sample)):  # NumPy, uncached
        assert approximate.dtype == exact.dtype and approximate.shape == exact.shape
        exact = exact.astype(np.float64)
        noise = float(((approximate - exact) ** 2).sum())
        sqnr = np.inf if noise == 0 else 10 * np.log10(float((exact**2).sum()) / noise)
        assert sqnr >= MIN_FAST_SQNR_DB, f"{name} {bits}: fast mode {sqnr:.1f} dB from bit-exact"


def test_execute_matches_the_numpy_interpreter(quantized, monkeypatch, caplog):
    name, bits, model, sample = quantized
    monkeypatch.setenv(RUNTIME_VARIABLE, "onnxruntime")
    caplog.set_level(logging.DEBUG, logger="runtime.onnx_backend")  # why an op runs in NumPy
    for fast_mode in (False,):  # fast mode is the float emulation: the test above
        ours = model.execute(sample, fast_mode)
        program = model._executor(fast_mode)
        assert isinstance(program, OnnxProgram)
        # the comparison is not NumPy against itself: every convolution ran in onnxruntime
        # (int16: in float32 where `_int15_float32_plan`'s bounds hold, else float64)
        assert not [op for op in program.numpy_ops() if op.startswith("sima.qconv2d ")], caplog.text
        # table ops (GatherElements, fused chains) run inside the sessions too
        assert not [op for op in program.numpy_ops() if op.startswith(TABLE_OPS)], caplog.text
        assert program.lowered_ops()
        monkeypatch.setenv(RUNTIME_VARIABLE, "numpy")
        reference_model = Model(model.module, name="numpy")
        reference = reference_model.execute(sample, fast_mode)
        assert not isinstance(reference_model._executor(fast_mode), OnnxProgram)
        monkeypatch.setenv(RUNTIME_VARIABLE, "onnxruntime")
        assert len(ours) == len(reference)
        for a, b in zip(ours, reference):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b, err_msg=f"{name} {bits}, fast_mode={fast_mode}")
    if bits == "int16":
        # tables in NumPy, int16 qmul in float64 (opt-in): the same integers
        interpreter = model._interpreter(False)
        program = OnnxProgram(interpreter, threads=1, tables_in_onnx=False, int16_ops=True)
        assert not [op for op in program.numpy_ops() if op.startswith("sima.qconv2d ")], program.numpy_ops()
        for a, b in zip(program.run(sample), interpreter.run(sample)):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b, err_msg=f"{name} {bits}, int16 products in onnxruntime")


def test_the_default_bit_exact_executor(quantized, monkeypatch):
    """Without SIMA_RUNTIME: onnxruntime where every convolution lowers (int8; int16 where
    the float32 int15 bounds hold), else (convolutions in NumPy would cut the graph at
    each one) the NumPy interpreter."""
    name, bits, model, sample = quantized
    monkeypatch.delenv(RUNTIME_VARIABLE, raising=False)
    fresh = Model(model.module, name="default")
    outputs = fresh.execute(sample)
    executor = fresh._executor(False)
    if bits == "int8":
        assert isinstance(executor, OnnxProgram) and executor.runs_its_products()
        assert executor.segment_count() <= 10, executor.numpy_ops()
    elif isinstance(executor, OnnxProgram):
        assert executor.runs_its_products()
    else:
        assert executor is fresh._interpreter(False)
        assert not OnnxProgram(executor, threads=1).runs_its_products()
    monkeypatch.setenv(RUNTIME_VARIABLE, "numpy")
    reference = Model(model.module, name="reference").execute(sample)
    assert len(outputs) == len(reference)
    for a, b in zip(outputs, reference):
        np.testing.assert_array_equal(a, b, err_msg=f"{name} {bits}, default executor")


def test_sessions_are_built_once_per_model_and_mode(quantized, monkeypatch):
    _, _, model, sample = quantized
    monkeypatch.setenv(RUNTIME_VARIABLE, "onnxruntime")
    model.execute(sample)
    program = model._executor(False)
    model.execute(sample)
    assert model._executor(False) is program


def test_the_backend_choice(monkeypatch):
    monkeypatch.setenv(RUNTIME_VARIABLE, "numpy")
    assert chosen_backend() == "numpy"
    assert chosen_backend("onnxruntime") == "onnxruntime"
    monkeypatch.setenv(RUNTIME_VARIABLE, "tensorrt")
    with pytest.raises(ValueError, match="SIMA_RUNTIME must be one of onnxruntime, numpy, got 'tensorrt'"):
        chosen_backend()
    monkeypatch.delenv(RUNTIME_VARIABLE)
    assert chosen_backend() == "onnxruntime"  # the default (bit-exact: where its convolutions lower, see below)
    assert chosen_backend(default="numpy") == "numpy"
    sentinel = object()
    assert executor_for(sentinel, backend="numpy") is sentinel
