"""`afe demo` end to end (the README's first command), and the example it ships.

The demo runs once with its defaults (histogram MSE calibration on 40 crops,
40 evaluation crops, per-layer analysis): its printed agreement and SQNR are
checked against the model files it wrote, recomputed here.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from afe.apis.model import Model
from afe.cli import main
from runtime.interpreter import Interpreter

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "ppocr_cls"
MODEL_FILE = "ch_ppocr_mobile_v2.0_cls_infer.onnx"


def test_demo_end_to_end(tmp_path, capsys) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    sima, view, report = out / "ppocr_cls.sima", out / "ppocr_cls.sima.json", out / "report.html"
    for file in (sima, view, report):
        assert file.exists() and f"{file}" in printed
    assert "calibrate  40 text-line crops" in printed and "mse (2048 bins)" in printed
    assert re.search(r"nodes +\d+ nodes: MLA \d+ \(.*int8 \d+", printed)
    found = re.search(r"top-1 agreement (\d+)/40 \((\d+\.\d) %\), output SQNR (-?\d+\.\d) dB", printed)
    assert found, printed
    assert re.search(r"accuracy   true orientation: fp32 \d+/40, int8 \d+/40", printed)
    assert re.search(r"time       import [\d.]+ s, quantize [\d.]+ s", printed)

    # the printed numbers are those of the files written: int8 model against its float reference
    model = Model.load(str(sima))
    reference = Interpreter(model.float_reference)
    images = np.load(EXAMPLE / "evaluation.npz")["x"]
    quantized = np.stack([model.execute({"x": image[None]})[0] for image in images]).astype(np.float64)
    floating = np.stack([reference.run({"x": image[None]})[0] for image in images]).astype(np.float64)
    agreeing = int(np.sum(quantized.reshape(40, -1).argmax(1) == floating.reshape(40, -1).argmax(1)))
    sqnr = 10 * math.log10(np.sum(floating**2) / np.sum((quantized - floating) ** 2))
    assert int(found.group(1)) == agreeing
    assert float(found.group(3)) == pytest.approx(sqnr, abs=0.051)

    # the analysis ran before saving: its per-layer errors are in the Netron view
    layers = json.loads(view.read_text())
    assert '"Layer Statistics"' in view.read_text() and layers
    html = report.read_text()
    assert "Per-layer error" in html and html.count("data:image/png;base64,") == 5  # 1 + 4 histograms


# -- the shipped example -------------------------------------------------------------------


def test_the_shipped_model_is_the_packaged_one_with_its_license() -> None:
    shipped = (EXAMPLE / MODEL_FILE).read_bytes()
    notice = (EXAMPLE / "NOTICE").read_text()
    assert hashlib.sha256(shipped).hexdigest() in notice
    assert "Apache License" in (EXAMPLE / "LICENSE").read_text() and "RapidOCR Authors" in (EXAMPLE / "LICENSE").read_text()
    spec = importlib.util.find_spec("rapidocr_onnxruntime")
    assert spec is not None, "rapidocr-onnxruntime (test extra) is not installed"
    packaged = Path(list(spec.submodule_search_locations)[0]) / "models" / MODEL_FILE
    assert packaged.read_bytes() == shipped


def test_the_shipped_inputs_are_what_make_inputs_makes() -> None:
    spec = importlib.util.spec_from_file_location("make_inputs", EXAMPLE / "make_inputs.py")
    make_inputs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_inputs)
    import skimage.data

    page = skimage.data.page()
    rng = np.random.default_rng(make_inputs.SEED)
    middle = page.shape[1] // 2
    for name, columns in (("calibration", (0, middle)), ("evaluation", (middle, page.shape[1]))):
        made = make_inputs.make_set(page, rng, columns)
        with np.load(EXAMPLE / f"{name}.npz") as shipped:
            assert sorted(shipped.files) == ["upside_down", "x"]
            np.testing.assert_array_equal(shipped["x"], made["x"])
            np.testing.assert_array_equal(shipped["upside_down"], made["upside_down"])
            assert shipped["x"].shape == (40, 48, 192, 3) and shipped["x"].dtype == np.float32
            assert shipped["upside_down"].sum() == 20


def test_no_evaluation_crop_is_a_calibration_crop() -> None:
    # make_inputs crops them from the two halves of the page; this catches a set written twice
    calibration = {image.tobytes() for image in np.load(EXAMPLE / "calibration.npz")["x"]}
    for image in np.load(EXAMPLE / "evaluation.npz")["x"]:
        assert image.tobytes() not in calibration and image[::-1, ::-1].tobytes() not in calibration
