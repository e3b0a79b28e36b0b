"""Default int8 accuracy on the real classifiers: top-1 agreement with fp32; and
the readers' saturation intervals (`passes.saturating_readers.saturation_interval`,
which error analysis relies on: a reader must really be constant outside it).

Each classifier is quantized once per module (default_quantization: Hist-MSE
calibration, per-channel int8 weights) on real inputs, and its predictions are
compared with the float model's on evaluation inputs drawn with another seed
(`bench/bench_quantization_accuracy.py` measures the full table on larger sets,
with onnxruntime's quantize_static next to it).
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from models import REAL_MODELS, real_inputs
from runtime_ir import one_op_module

from passes.saturating_readers import reader_interval
from runtime.interpreter import Interpreter
from sima_dialect import ops

# -- readers' saturation intervals ---------------------------------------------------------------

READERS = [
    (ops.ReluOp, {}),
    (ops.HardSwishOp, {}),
    (ops.ClipOp, {"min": -1.5, "max": 2.0}),
    (ops.HardSigmoidOp, {"alpha": 0.2, "beta": 0.5}),
    (ops.HardSigmoidOp, {"alpha": -0.3, "beta": 0.4}),
]


@pytest.mark.parametrize(("op_class", "properties"), READERS, ids=lambda v: getattr(v, "name", str(v)))
@given(values=st.lists(st.floats(-1e4, 1e4, width=32), min_size=1, max_size=16))
@settings(max_examples=40, deadline=None)
def test_a_reader_is_constant_outside_its_interval(op_class, properties, values):
    """f(x) == f(clip(x, interval)): values beyond the interval give the reader the same result."""
    x = np.array(values, dtype=np.float32)
    module, _ = one_op_module(op_class, [x], [(x.shape, x.dtype)], **properties)
    (op,) = [o for o in module.walk() if isinstance(o, op_class)]
    low, high = reader_interval(op)
    assert low <= high and (math.isfinite(low) or math.isfinite(high))
    clipped = np.clip(x, np.float32(low) if math.isfinite(low) else None, np.float32(high) if math.isfinite(high) else None)
    interpreter = Interpreter(module)
    (exact,) = interpreter.run([x])
    (from_clipped,) = interpreter.run([clipped.astype(np.float32)])
    # float32 rounding of the interval's ends (0.2 is not exact) moves f by one ulp at most
    np.testing.assert_allclose(from_clipped, exact, rtol=0, atol=1e-6)


def test_other_readers_need_every_value():
    x = np.zeros(4, dtype=np.float32)
    for op_class in (ops.SigmoidOp, ops.AbsOp, ops.NegOp):
        module, _ = one_op_module(op_class, [x], [(x.shape, x.dtype)])
        (op,) = [o for o in module.walk() if isinstance(o, op_class)]
        assert reader_interval(op) == (-math.inf, math.inf)

# -- default int8 on the real classifiers -----------------------------------------------------------

CALIBRATION_SAMPLES = 16
EVALUATION_SAMPLES = 50
# Measured top-1 agreement of default int8 with fp32 on these inputs (see the
# report of bench/bench_quantization_accuracy.py for larger sets); the bounds
# sit one sample below (measured: cls 49/50, orientation 40/50 on the rotated
# document crops of test/models.py, since select-scales chooses the ranges of
# tensors read by saturating ops for the values those readers see; before:
# 48/50 and 33/50), so a change that costs accuracy fails. Not yet the 98% of
# issue #5: orientation's fp32 model is itself unsure on many of these inputs.
MINIMUM_AGREEMENT = {"cls": 0.96, "orientation": 0.78}


def _load(name: str):
    from afe.apis.loaded_net import load_model
    from afe.load.importers.general_importer import onnx_source

    spec = REAL_MODELS[name]
    assert spec.path is not None, f"{spec.package} is not installed: pip install -e '.[test]'"
    return load_model(onnx_source(str(spec.path), {spec.input_name: spec.shape}))


def _nhwc(name: str, count: int, seed: int) -> list[dict[str, np.ndarray]]:
    input_name = REAL_MODELS[name].input_name
    return [{input_name: np.ascontiguousarray(x.transpose(0, 2, 3, 1))} for x in real_inputs(name, count, seed=seed)]


@pytest.fixture(scope="module", params=sorted(MINIMUM_AGREEMENT))
def predictions(request):
    """(fp32, default int8) outputs of one classifier on its evaluation inputs."""
    from afe.apis.defines import default_quantization

    name = request.param
    net = _load(name)
    model = net.quantize(_nhwc(name, CALIBRATION_SAMPLES, seed=1), default_quantization, log_level=logging.ERROR)
    evaluation = _nhwc(name, EVALUATION_SAMPLES, seed=2)
    reference = np.concatenate([net.execute(sample)[0] for sample in evaluation])
    # fast mode, for time: bit-exact on int8 GEMMs with reductions below 2**24 / (128 * 127)
    # terms, one rounding off on longer ones (runtime/fast_kernels.py), far below a top-1 change
    quantized = np.concatenate([model.execute(sample, fast_mode=True)[0] for sample in evaluation])
    return name, reference, quantized


def test_default_int8_top1_agreement_with_fp32(predictions):
    name, reference, quantized = predictions
    agreement = float(np.mean(np.argmax(reference, axis=-1) == np.argmax(quantized, axis=-1)))
    assert agreement >= MINIMUM_AGREEMENT[name], f"{name}: top-1 agreement {agreement:.2%}"
