"""Whole real models (MODELS.md) through `load_model` / `LoadedNet.execute`, against onnxruntime.

Each model ships in a pip package of the `test` extra and is fed real images
from scikit-image (text lines of a scanned page, photos), preprocessed as its
own pipeline does. Acceptance: max |ours - onnxruntime| <= 1e-4 * max |onnxruntime|
for every output of every input.
"""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest

from afe.apis.loaded_net import LoadedNet, load_model
from afe.ir.tensor_type import ScalarType
from afe.load.importers.general_importer import onnx_source
from models import REAL_MODELS, real_inputs, true_classes

INPUTS_PER_MODEL = {"cls": 4, "det": 2, "rec": 3, "orientation": 3}
TOLERANCE = 1e-4  # of the largest magnitude of onnxruntime's output


def _model_path(name: str) -> str:
    path = REAL_MODELS[name].path
    assert path is not None, f"{REAL_MODELS[name].package} is not installed: pip install -e '.[test]'"
    return str(path)


@pytest.fixture(scope="module", params=sorted(REAL_MODELS))
def real_model(request) -> tuple[str, LoadedNet, onnxruntime.InferenceSession]:
    name = request.param
    spec = REAL_MODELS[name]
    path = _model_path(name)
    net = load_model(onnx_source(path, {spec.input_name: spec.shape}, {spec.input_name: ScalarType.float32}))
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    return name, net, session


def test_real_model_matches_onnxruntime(real_model) -> None:
    name, net, session = real_model
    spec = REAL_MODELS[name]
    for index, image in enumerate(real_inputs(name, INPUTS_PER_MODEL[name], seed=1)):
        expected = session.run(None, {spec.input_name: image})
        outputs = net.execute({spec.input_name: image.transpose(0, 2, 3, 1)})
        assert len(outputs) == len(expected)
        for got, want in zip(outputs, expected):
            want = want.transpose(0, 2, 3, 1) if want.ndim == 4 else want  # 4-D outputs are NHWC
            assert got.shape == want.shape and got.dtype == want.dtype
            error = float(np.abs(got - want).max())
            scale = float(np.abs(want).max())
            assert error <= TOLERANCE * scale, f"{name} input {index}: max error {error:.3g} > {TOLERANCE} x {scale:.3g}"


def test_real_model_predictions_are_meaningful(real_model) -> None:
    """The inputs are real: the classifiers are confident on some, the detector finds text."""
    name, net, _ = real_model
    spec = REAL_MODELS[name]
    images = real_inputs(name, INPUTS_PER_MODEL[name], seed=1)
    outputs = [net.execute({spec.input_name: image.transpose(0, 2, 3, 1)})[0] for image in images]
    if name == "det":
        assert max(float((out > 0.3).mean()) for out in outputs) > 0.01  # text pixels found
    elif name == "rec":
        assert any(int((out[0].argmax(-1) != 0).sum()) >= 5 for out in outputs)  # characters read
    else:
        assert max(float(out.max()) for out in outputs) > 0.5


@pytest.mark.parametrize("name, mirrored", [("cls", lambda t: 1 - t), ("orientation", lambda t: (4 - t) % 4)])
def test_true_classes_are_what_the_classifiers_see(name: str, mirrored) -> None:
    """`true_classes` (the benches' top-1 against the truth) names the class the fp32 model
    gives most inputs: cls upside down or not, orientation the document's clockwise turn;
    the mirrored convention (cls the other class, orientation counter-clockwise) scores lower."""
    spec = REAL_MODELS[name]
    session = onnxruntime.InferenceSession(_model_path(name), providers=["CPUExecutionProvider"])
    predicted = np.array([int(np.argmax(session.run(None, {spec.input_name: x})[0])) for x in real_inputs(name, 40, seed=5)])
    truth = true_classes(name, 40, seed=5)
    right, mirror = float(np.mean(predicted == truth)), float(np.mean(predicted == mirrored(truth)))
    assert right >= 0.6 and right >= mirror + 0.1, (right, mirror)


def test_true_classes_refuse_models_without_classes() -> None:
    with pytest.raises(ValueError, match="det is not a classifier"):
        true_classes("det", 1)


@pytest.mark.parametrize("name", ["cls", "det", "orientation"])
def test_plain_cnn_body_has_no_transposes(name: str) -> None:
    """NCHW convolutional nets import into NHWC without a single transpose."""
    spec = REAL_MODELS[name]
    net = load_model(onnx_source(_model_path(name), {spec.input_name: spec.shape}))
    text = net.ir_text()
    assert "sima.transpose" not in text
    assert text.count("sima.conv2d") >= 30


def test_real_model_ir_shows_recognised_patterns() -> None:
    """BatchNorm is folded, HardSwish / LayerNorm written out by the exporter become one op."""
    spec = REAL_MODELS["rec"]
    text = load_model(onnx_source(_model_path("rec"), {spec.input_name: spec.shape})).ir_text()
    assert text.count("sima.layer_norm") == 5
    assert text.count("sima.hard_swish") == 28
    assert "batch_norm" not in text.replace("batch_norm_", "")  # no unfused batchnorm op remains
