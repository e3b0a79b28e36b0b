"""Make the shipped inputs of the example: real printed text lines, as the cls model takes them.

Run once (the output is checked in; `afe demo` never runs this):

    python examples/ppocr_cls/make_inputs.py

Each input is a crop of one printed line of scikit-image's page scan
(`skimage.data.page()`, a photo of a textbook page), preprocessed the way
rapidocr's own `TextClassifier.resize_norm_img` does: resized to height 48
keeping its aspect ratio (at most 192 wide), the resized pixels kept as uint8
(as `cv2.resize` of a uint8 image returns them), scaled to [-1, 1], and padded
with zeros on the right to 48x192. Half of the crops are turned upside down,
which is what the model detects (its classes: 0 = upright, 1 = turned 180°).

Calibration crops come from the left half of the page and evaluation crops
from the right half, so the two sets share no pixel. Arrays are NHWC float32,
as `afe` takes 4-D inputs:

    calibration.npz   x: [40, 48, 192, 3] float32, upside_down: [40] bool
    evaluation.npz    x: [40, 48, 192, 3] float32, upside_down: [40] bool

`x` is the model's input name; `upside_down` is the true orientation (a label,
not a model input; `afe` ignores arrays that are not inputs).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import skimage.data
from skimage.transform import resize

HEIGHT, WIDTH = 48, 192
COUNT = 40  # per set
SEED = 2024
# rows (top, bottom) of the printed lines of skimage.data.page(), read off its row profile
PAGE_LINES = [(8, 38), (46, 68), (63, 85), (80, 102), (97, 119), (113, 136), (168, 191)]


def text_line_crop(page: np.ndarray, rng: np.random.Generator, columns: tuple[int, int]) -> np.ndarray:
    """One crop of a printed line, between `columns` (left, right) of the page, 2 to 8 times as wide as high."""
    top, bottom = PAGE_LINES[int(rng.integers(0, len(PAGE_LINES)))]
    top = max(0, top + int(rng.integers(-2, 3)))
    height = bottom - top
    span = columns[1] - columns[0]
    width = int(rng.integers(2 * height, min(8 * height, span) + 1))
    left = columns[0] + int(rng.integers(0, span - width + 1))
    return page[top:bottom, left : left + width]


def preprocess(crop: np.ndarray) -> np.ndarray:
    """rapidocr's TextClassifier.resize_norm_img for a grey crop, returned HWC float32."""
    height, width = crop.shape
    resized_width = min(WIDTH, math.ceil(HEIGHT * width / height))
    resized = resize(crop, (HEIGHT, resized_width), order=1, preserve_range=True, anti_aliasing=False)
    pixels = np.clip(np.rint(resized), 0, 255).astype(np.uint8)  # cv2.resize keeps uint8
    rgb = np.repeat(pixels[:, :, None], 3, axis=2).astype(np.float32)
    padded = np.zeros((HEIGHT, WIDTH, 3), np.float32)
    padded[:, :resized_width] = (rgb / 255.0 - 0.5) / 0.5
    return padded


def make_set(page: np.ndarray, rng: np.random.Generator, columns: tuple[int, int]) -> dict[str, np.ndarray]:
    images, upside_down = [], []
    for index in range(COUNT):
        crop = text_line_crop(page, rng, columns)
        flipped = index % 2 == 1
        if flipped:
            crop = crop[::-1, ::-1]
        images.append(preprocess(np.ascontiguousarray(crop)))
        upside_down.append(flipped)
    order = rng.permutation(COUNT)
    return {"x": np.stack(images)[order], "upside_down": np.array(upside_down)[order]}


def main() -> None:
    page = skimage.data.page()
    middle = page.shape[1] // 2
    rng = np.random.default_rng(SEED)
    here = Path(__file__).parent
    for name, columns in (("calibration", (0, middle)), ("evaluation", (middle, page.shape[1]))):
        path = here / f"{name}.npz"
        np.savez_compressed(path, **make_set(page, rng, columns))
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
