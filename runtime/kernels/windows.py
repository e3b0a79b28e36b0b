"""Sliding windows over NHWC tensors, shared by convolution and pooling.

A window op visits, for each output pixel (oh, ow), the input pixels
(oh * sh + kh * dh - pad_top, ow * sw + kw * dw - pad_left). After padding the
input explicitly, both ways of walking that set are views: `taps` gives, tap
by tap, the pixels one kernel tap (kh, kw) meets for every output pixel (for
loops over the taps), and `patches` gives every tap of every output pixel of a
band of output rows (for im2col).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided


def pad_spatial(x: np.ndarray, pads: Sequence[int], value: float | np.generic = 0, *, fill_rows: bool = True) -> np.ndarray:
    """`x` [N, H, W, C] padded by `pads` = [top, left, bottom, right] with `value`.

    `fill_rows=False` leaves the top and bottom padding rows unwritten, for a
    caller that never reads them (a window op that skips the kernel rows that
    meet only padding)."""
    top, left, bottom, right = pads
    if not (top or left or bottom or right):
        return x
    n, h, w, c = x.shape
    padded = np.empty((n, h + top + bottom, w + left + right, c), dtype=x.dtype)
    # each element written once: the border strips, then the interior
    if fill_rows:
        padded[:, :top] = value
        padded[:, top + h :] = value
    padded[:, top : top + h, :left] = value
    padded[:, top : top + h, left + w :] = value
    padded[:, top : top + h, left : left + w] = x
    return padded


def output_size(size: int, kernel: int, stride: int, pad_total: int, dilation: int) -> int:
    return (size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


def taps(
    padded: np.ndarray,
    kernel: tuple[int, int],
    out_hw: tuple[int, int],
    strides: Sequence[int],
    dilations: Sequence[int],
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Every kernel tap (kh, kw) with the [N, OH, OW, C] view of the input
    pixels it meets, laid out so that each view's (OW, C) block is one
    contiguous run.

    With a column stride sw > 1 the columns are first split into sw phases
    (columns p, p + sw, ...), each copied once; a tap then reads consecutive
    columns of one phase. NumPy fuses such (OW, C) blocks into one long inner
    loop, where a strided view would loop over C alone.
    """
    (oh, ow), (sh, sw), (dh, dw) = out_hw, strides, dilations
    phases: dict[int, np.ndarray] = {}
    for i in range(kernel[0]):
        rows = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
        for j in range(kernel[1]):
            column = j * dw
            phase, start = column % sw, column // sw
            if phase not in phases:
                phases[phase] = padded if sw == 1 else np.ascontiguousarray(padded[:, :, phase::sw])
            yield i, j, phases[phase][:, rows, start : start + ow]


def patches(
    image: np.ndarray,
    rows: tuple[int, int],
    out_w: int,
    kernel: tuple[int, int],
    strides: Sequence[int],
    dilations: Sequence[int],
) -> np.ndarray:
    """Windows of output rows [r0, r1) of padded images [..., H, W, C], as a
    read-only [..., r1 - r0, OW, KH, KW, C] view (im2col before its copy)."""
    r0, r1 = rows
    (kh, kw), (sh, sw), (dh, dw) = kernel, strides, dilations
    *s_lead, s_h, s_w, s_c = image.strides
    start = image[..., r0 * sh :, :, :]
    return as_strided(
        start,
        shape=(*image.shape[:-3], r1 - r0, out_w, kh, kw, image.shape[-1]),
        strides=(*s_lead, s_h * sh, s_w * sw, s_h * dh, s_w * dw, s_c),
        writeable=False,
    )
