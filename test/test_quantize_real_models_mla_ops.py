"""The real models with softmax (cls, rec), layer norm (rec) and transposed
convolutions (det) quantize with those ops as integer ops on the MLA (no
float fallback, no APU warning for them), run bit-exact (and identically after
save / load), and lose no accuracy against leaving those nodes float (the
previous behaviour).

Min / max calibration on 2 real samples, one other sample to evaluate: the
point is the integer ops, not the calibration. det (dynamic H, W) runs at
160x160, its real 320x320 inputs averaged over 2x2 pixels, to keep the test short.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from afe.apis.defines import MinMaxMethod, default_quantization
from afe.apis.loaded_net import load_model
from afe.apis.model import Model
from afe.load.importers.general_importer import onnx_source
from models import REAL_MODELS, real_inputs
from sima_dialect import ops
from sima_dialect import quantized_ops as q

MIN_MAX = default_quantization.with_calibration(MinMaxMethod())
INTEGER_FORM = {ops.SoftmaxOp: q.QSoftmaxOp, ops.LayerNormOp: q.QLayerNormOp, ops.Conv2DTransposeOp: q.QConv2DTransposeOp}
# the float ops each model has (checked below, so a changed importer shows up here)
EXPECTED = {"cls": {ops.SoftmaxOp: 1}, "rec": {ops.SoftmaxOp: 3, ops.LayerNormOp: 5}, "det": {ops.Conv2DTransposeOp: 2}}


SHAPES = {"det": (1, 3, 160, 160)}


def samples(name: str, count: int, seed: int) -> list[dict[str, np.ndarray]]:
    spec = REAL_MODELS[name]
    images = [x.transpose(0, 2, 3, 1) for x in real_inputs(name, count, seed=seed)]
    if name in SHAPES:
        _, _, h, w = SHAPES[name]
        images = [x.reshape(1, h, x.shape[1] // h, w, x.shape[2] // w, 3).mean(axis=(2, 4)) for x in images]
    return [{spec.input_name: np.ascontiguousarray(x, dtype=np.float32)} for x in images]


def sqnr_db(reference: np.ndarray, approximation: np.ndarray) -> float:
    reference = reference.astype(np.float64)
    return float(10 * np.log10(np.sum(reference**2) / np.sum((reference - approximation) ** 2)))


def count_ops(module, types) -> dict[type, int]:
    counts = {t: 0 for t in types}
    for op in module.walk():
        if type(op) in counts:
            counts[type(op)] += 1
    return counts


@pytest.mark.parametrize("name", ["cls", "rec", "det"])
def test_the_model_quantizes_these_ops_on_the_mla_and_keeps_its_accuracy(name, caplog, tmp_path):
    spec = REAL_MODELS[name]
    assert spec.path is not None, f"{spec.package} is not installed: pip install -e '.[test]'"
    net = load_model(onnx_source(str(spec.path), {spec.input_name: SHAPES.get(name, spec.shape)}))
    float_ops = count_ops(net.module, INTEGER_FORM)
    assert {t: n for t, n in float_ops.items() if n} == EXPECTED[name]
    calibration, (sample,) = samples(name, 2, seed=1), samples(name, 1, seed=2)
    with caplog.at_level(logging.WARNING):
        model = net.quantize(calibration, MIN_MAX)
    left_float = [r.getMessage() for r in caplog.records if "not quantized" in r.getMessage()]
    assert not [m for m in left_float if any(k in m for k in ("softmax", "layer_norm", "conv2d_transpose"))], left_float
    integer_ops = count_ops(model.module, INTEGER_FORM.values())
    assert all(integer_ops[INTEGER_FORM[t]] == n for t, n in float_ops.items()), integer_ops
    assert not any(count_ops(model.module, INTEGER_FORM).values())  # no float form left

    reference = net.execute(sample)[0]
    quantized = model.execute(sample)[0]
    model.save(name, str(tmp_path))  # the new ops' i16 / i32 constants and properties survive save / load
    np.testing.assert_array_equal(Model.load(name, str(tmp_path)).execute(sample)[0], quantized)
    nodes = {row.name for row in net.list_nodes() if row.kind in {t.name for t in INTEGER_FORM}}
    fallback = net.quantize(calibration, MIN_MAX.with_unquantized_nodes(nodes)).execute(sample)[0]
    # the integer ops add at most 1 dB of noise over the float fallback (measured: see the report)
    assert sqnr_db(reference, quantized) >= sqnr_db(reference, fallback) - 1.0
