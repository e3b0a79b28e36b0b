"""Convolution kernels: conv2d (dense, grouped, depthwise) and conv2d_transpose.

Layouts: activations NHWC; conv2d weights HWIO `[KH, KW, C_in/groups, C_out]`;
conv2d_transpose weights `[KH, KW, C_in, C_out/groups]`.

Speed: dense and grouped convolutions are im2col (a strided view, copied one
band of output rows at a time so the buffer stays cache-sized) times the weight
matrix, one BLAS call per band; a 1x1 unpadded convolution is a single matmul;
a depthwise convolution never builds an im2col buffer: it is one einsum over
the window view, whose inner loop runs over a block of output columns times
the channels (see DEPTHWISE_BLOCK_VALUES).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from runtime.kernels.base import Kernel, PreparedWeight, fused_activation, ints, numpy_dtype, static_shape
from runtime.kernels.windows import output_size, pad_spatial, patches
from sima_dialect import ops

# Size of one im2col band: large enough that BLAS runs at full speed, small
# enough to stay in cache and never to need gigabytes for a large image.
BAND_BYTES = 1 << 21


def _band_rows(out_h: int, out_w: int, row_bytes_per_pixel: int) -> int:
    return max(1, min(out_h, BAND_BYTES // max(1, out_w * row_bytes_per_pixel)))


# A bias is added as a block of it repeated over at least this many values
# (whole output pixels): NumPy's add then runs one long loop per block rather
# than one loop over the channels alone per pixel (short in narrow layers).
BIAS_BLOCK_VALUES = 1024


class _ChannelBias:
    """Adds a per-channel bias, in place, to a fresh NHWC result of width `out_w`."""

    def __init__(self, out_w: int, channels: int, dtype: np.dtype):
        pixels = _column_block(out_w, channels, BIAS_BLOCK_VALUES)
        self._repeated = PreparedWeight(lambda b: np.tile(b.astype(dtype, copy=False), pixels))

    def __call__(self, y: np.ndarray, bias: np.ndarray) -> None:
        repeated = self._repeated(bias)
        if y.flags.c_contiguous and y.size % repeated.size == 0:
            blocks = y.reshape(-1, repeated.size)  # a view, rows of whole blocks
            blocks += repeated
        else:
            y += bias.astype(y.dtype, copy=False)


def build_conv2d(op: ops.Conv2DOp) -> Kernel:
    strides, pads, dilations = ints(op.strides), ints(op.pads), ints(op.dilations)
    groups = op.groups.value.data
    dtype = numpy_dtype(op.output)
    has_bias = op.bias is not None
    output_shape = static_shape(op.output)
    conv = conv2d_kernel(static_shape(op.weight), output_shape, strides, pads, dilations, groups, dtype)
    return _with_bias_and_activation(conv, op, has_bias, output_shape, dtype)


def _with_bias_and_activation(bare: Kernel, op, has_bias: bool, output_shape: Sequence[int], dtype: np.dtype) -> Kernel:
    """`bare` `(x, w) -> y` (a fresh array) followed, in place, by the op's bias and fused
    activation: `(x, w, b) -> y` with a bias, `(x, w) -> y` without."""
    activation = fused_activation(op, dtype)
    if not has_bias and activation is None:
        return bare
    add_bias = _ChannelBias(output_shape[2], output_shape[3], dtype)

    def bias_activation(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        y = bare(x, w)
        if b is not None:
            add_bias(y, b)
        if activation is not None:
            activation(y)
        return y

    if has_bias:
        return bias_activation
    return lambda x, w: bias_activation(x, w)


def conv2d_kernel(
    weight_shape: Sequence[int],
    output_shape: Sequence[int],
    strides: Sequence[int],
    pads: Sequence[int],
    dilations: Sequence[int],
    groups: int,
    dtype: np.dtype,
) -> Kernel:
    """The bare convolution `(x, w) -> y` in `dtype` (no bias, no clamp) for
    this geometry, with the fastest of the schemes below."""
    kh, kw, c_group, c_out = weight_shape
    if groups == 1 and (kh, kw) == (1, 1) and not any(pads):
        return _pointwise(strides, c_out, dtype)
    if groups == 1:
        return _dense(strides, pads, dilations, dtype)
    if c_group == 1:
        return _depthwise(strides, pads, dilations, groups, weight_shape, output_shape[2], dtype)
    return _grouped(strides, pads, dilations, groups, dtype)


def _out_hw(x_shape, kernel, strides, pads, dilations) -> tuple[int, int]:
    _, h, w, _ = x_shape
    return (
        output_size(h, kernel[0], strides[0], pads[0] + pads[2], dilations[0]),
        output_size(w, kernel[1], strides[1], pads[1] + pads[3], dilations[1]),
    )


def _pointwise(strides: Sequence[int], c_out: int, dtype: np.dtype) -> Kernel:
    """1x1, unpadded: subsample, then one [N*OH*OW, C] x [C, C_out] matmul."""
    sh, sw = strides
    matrix = PreparedWeight(lambda w: w.reshape(-1, c_out).astype(dtype, copy=False))

    def pointwise(x: np.ndarray, w: np.ndarray) -> np.ndarray:
        if sh != 1 or sw != 1:
            x = x[:, ::sh, ::sw]
        n, oh, ow, c = x.shape
        return np.matmul(x.reshape(n * oh * ow, c), matrix(w)).reshape(n, oh, ow, c_out)

    return pointwise


def _dense(strides, pads, dilations, dtype: np.dtype) -> Kernel:
    """groups = 1: im2col in bands of output rows, one matmul per band."""
    matrix = PreparedWeight(lambda w: w.reshape(-1, w.shape[3]).astype(dtype, copy=False))

    def dense(x: np.ndarray, w: np.ndarray) -> np.ndarray:
        kh, kw, c, c_out = w.shape
        n = x.shape[0]
        oh, ow = _out_hw(x.shape, (kh, kw), strides, pads, dilations)
        padded = pad_spatial(x, pads)
        weights = matrix(w)
        depth = kh * kw * c
        out = np.empty((n, oh * ow, c_out), dtype=dtype)
        rows = _band_rows(oh, ow, depth * dtype.itemsize)
        for image in range(n):
            for r0 in range(0, oh, rows):
                r1 = min(oh, r0 + rows)
                cols = patches(padded[image], (r0, r1), ow, (kh, kw), strides, dilations)
                np.matmul(cols.reshape((r1 - r0) * ow, depth), weights, out=out[image, r0 * ow : r1 * ow])
        return out.reshape(n, oh, ow, c_out)

    return dense


def _grouped(strides, pads, dilations, groups: int, dtype: np.dtype) -> Kernel:
    """1 < groups < C: im2col per group, one batched matmul per band.

    The padded input is first copied group-major ([N, G, H, W, C/G]), so each
    group's im2col copies runs of KW * C/G values instead of C/G alone."""

    def group_matrices(w: np.ndarray) -> np.ndarray:
        kh, kw, c_group, c_out = w.shape
        per_group = c_out // groups
        stacked = w.reshape(kh, kw, c_group, groups, per_group).transpose(3, 0, 1, 2, 4)
        return np.ascontiguousarray(stacked.reshape(groups, kh * kw * c_group, per_group), dtype=dtype)

    matrices = PreparedWeight(group_matrices)

    def grouped(x: np.ndarray, w: np.ndarray) -> np.ndarray:
        kh, kw, c_group, c_out = w.shape
        n = x.shape[0]
        per_group = c_out // groups
        oh, ow = _out_hw(x.shape, (kh, kw), strides, pads, dilations)
        padded = pad_spatial(x, pads)
        _, hp, wp, _ = padded.shape
        by_group = np.ascontiguousarray(padded.reshape(n, hp, wp, groups, c_group).transpose(0, 3, 1, 2, 4))
        weights = matrices(w)
        depth = kh * kw * c_group
        out = np.empty((n, oh * ow, groups, per_group), dtype=dtype)
        rows = _band_rows(oh, ow, depth * groups * dtype.itemsize)
        for image in range(n):
            for r0 in range(0, oh, rows):
                r1 = min(oh, r0 + rows)
                cols = patches(by_group[image], (r0, r1), ow, (kh, kw), strides, dilations)
                products = np.matmul(cols.reshape(groups, (r1 - r0) * ow, depth), weights)
                out[image, r0 * ow : r1 * ow] = products.transpose(1, 0, 2)
        return out.reshape(n, oh, ow, c_out)

    return grouped


# A depthwise convolution (multiplier 1) is one einsum per column phase whose
# inner loop runs over at least this many values: the weights are repeated
# along a block of output columns, so the loop covers (columns x channels),
# contiguous in the windows, the weights and the output alike, instead of the
# channels alone (a short loop in narrow layers). Longer blocks run no faster
# inside a whole model, where the repeated weights must come from memory:
# measured on the real MobileNet-style models (8 to 512 channels).
DEPTHWISE_BLOCK_VALUES = 1024


def _depthwise(strides, pads, dilations, groups: int, weight_shape: Sequence[int], out_w: int, dtype: np.dtype) -> Kernel:
    """groups = C (one input channel per group, C_out = C * multiplier)."""
    kh, kw, _, c_out = weight_shape
    if c_out == groups:
        return _depthwise_columns(strides, pads, dilations, (kh, kw), groups, out_w, dtype)
    return _depthwise_einsum(strides, pads, dilations, groups, dtype)


def _depthwise_einsum(strides, pads, dilations, groups: int, dtype: np.dtype) -> Kernel:
    """out[n, h, w, c, m] = sum over taps (i, j) of window[n, h, w, i, j, c] * w[i, j, c, m]."""
    prepared = PreparedWeight(
        lambda w: w.reshape(w.shape[0], w.shape[1], groups, w.shape[3] // groups).astype(dtype, copy=False)
    )

    def depthwise(x: np.ndarray, w: np.ndarray) -> np.ndarray:
        kh, kw, _, c_out = w.shape
        n = x.shape[0]
        oh, ow = _out_hw(x.shape, (kh, kw), strides, pads, dilations)
        windows = patches(pad_spatial(x, pads), (0, oh), ow, (kh, kw), strides, dilations)
        out = np.einsum("nhwijc,ijcm->nhwcm", windows, prepared(w))
        return out.reshape(n, oh, ow, c_out)

    return depthwise


def _column_block(out_w: int, channels: int, values: int) -> int:
    """The fewest output columns, a divisor of OW, that hold `values` values."""
    wanted = max(1, min(out_w, -(-values // max(1, channels))))
    return next(b for b in range(wanted, out_w + 1) if out_w % b == 0) if out_w else 1


def _column_phases(kw: int, sw: int, dw: int) -> list[tuple[int, list[int], int, int]]:
    """The kernel columns grouped by the phase of the input columns they read.

    Tap column j of output column o reads padded column o * sw + j * dw, which
    is column o + (j * dw) // sw of phase (j * dw) % sw (the padded columns p,
    p + sw, ...). Each phase is (p, its taps j, the first tap's column offset,
    the offset step between its consecutive taps): within a phase the offsets
    grow by a constant step, so its windows are one strided view."""
    by_phase: dict[int, list[int]] = {}
    for j in range(kw):
        by_phase.setdefault(j * dw % sw, []).append(j)
    phases = []
    for phase, columns in by_phase.items():
        offsets = [j * dw // sw for j in columns]
        step = offsets[1] - offsets[0] if len(offsets) > 1 else 1
        phases.append((phase, columns, offsets[0], step))
    return phases


# What one more einsum call costs, in multiply-adds of a depthwise einsum
# (about 20 µs at 4 multiply-adds per ns, measured on the real models' layers).
EINSUM_CALL_MULTIPLY_ADDS = 80_000


def _row_groups(
    height: int, out_h: int, kh: int, sh: int, dh: int, top: int, row_multiply_adds: int
) -> tuple[tuple[int, int, int, int], ...]:
    """Output rows [h0, h1) grouped by the kernel rows [i0, i1) that meet the
    image rather than its padding, where skipping the others pays for the
    extra einsum calls; else one group of every row and kernel row.

    Padding contributes only zeros. On maps a few rows high (a 5x5 kernel on
    2 or 3 rows) most kernel rows meet only padding. `row_multiply_adds` is
    the work of one output row through one kernel row."""
    groups = _rows_by_kernel_rows(height, out_h, kh, sh, dh, top)
    skipped = sum((h1 - h0) * (kh - (i1 - i0)) for h0, h1, i0, i1 in groups) * row_multiply_adds
    if skipped <= (len(groups) - 1) * EINSUM_CALL_MULTIPLY_ADDS:
        return ((0, out_h, 0, kh),)
    return groups


@functools.lru_cache(maxsize=256)
def _rows_by_kernel_rows(height: int, out_h: int, kh: int, sh: int, dh: int, top: int) -> tuple[tuple[int, int, int, int], ...]:
    groups: list[tuple[int, int, int, int]] = []
    for h in range(out_h):
        first = h * sh - top  # the input row kernel row 0 meets
        i0 = min(kh, max(0, -(first // dh)))
        i1 = max(i0, min(kh, (height - 1 - first) // dh + 1))
        if groups and groups[-1][1] == h and groups[-1][2:] == (i0, i1):
            groups[-1] = (groups[-1][0], h + 1, i0, i1)
        else:
            groups.append((h, h + 1, i0, i1))
    return tuple(groups)


def _padded_column_phase(
    x: np.ndarray, pads: Sequence[int], phase: int, stride: int, dtype: np.dtype, fill_rows: bool = True
) -> np.ndarray:
    """`pad_spatial(x, pads)[:, :, phase::stride]` (zero padding), contiguous, in
    one copy of the input columns it holds rather than two (the top and bottom
    padding rows left unwritten unless `fill_rows`, as `pad_spatial`)."""
    top, left, bottom, right = pads
    n, h, w, c = x.shape
    columns = len(range(phase, w + left + right, stride))
    out = np.empty((n, h + top + bottom, columns, c), dtype=dtype)
    # column q holds padded column q * stride + phase, input column q * stride + phase - left
    first = max(0, -((phase - left) // stride))
    last = max(first, min(columns, (w - 1 + left - phase) // stride + 1))
    if fill_rows:
        out[:, :top] = 0
        out[:, top + h :] = 0
    out[:, top : top + h, :first] = 0
    out[:, top : top + h, last:] = 0
    start = first * stride + phase - left
    out[:, top : top + h, first:last] = x[:, :, start : start + (last - first - 1) * stride + 1 : stride]
    return out


def _depthwise_columns(strides, pads, dilations, kernel: tuple[int, int], channels: int, out_w: int, dtype: np.dtype) -> Kernel:
    """Multiplier 1: out[n, h, b, (w, c)] = sum over taps of window * repeated
    weights, one einsum over [N, OH, OW / B, KH, taps, B * C] windows per column
    phase (one phase unless the column stride is > 1) and group of output rows
    (see `_row_groups`), B output columns a block."""
    (sh, sw), (dh, dw) = strides, dilations
    kh, kw = kernel
    block = _column_block(out_w, channels, DEPTHWISE_BLOCK_VALUES)
    phases = _column_phases(kw, sw, dw)

    def repeated_weights(w: np.ndarray) -> list[np.ndarray]:
        taps = w.reshape(kh, kw, channels)
        return [
            np.ascontiguousarray(
                np.broadcast_to(taps[:, columns, None, :], (kh, len(columns), block, channels)), dtype=dtype
            ).reshape(kh, len(columns), block * channels)
            for _, columns, _, _ in phases
        ]

    prepared = PreparedWeight(repeated_weights)

    def depthwise(x: np.ndarray, w: np.ndarray) -> np.ndarray:
        n = x.shape[0]
        oh, ow = _out_hw(x.shape, kernel, strides, pads, dilations)
        row_groups = _row_groups(x.shape[1], oh, kh, sh, dh, pads[0], kw * ow * channels)
        # split groups read only kernel rows that meet the image: the padding rows are never read
        fill_rows = row_groups == ((0, oh, 0, kh),)
        if sw == 1:
            images = [np.ascontiguousarray(pad_spatial(x, pads, fill_rows=fill_rows), dtype=dtype)]
        else:
            images = [_padded_column_phase(x, pads, phase, sw, dtype, fill_rows) for phase, _, _, _ in phases]
        blocks = ow // block
        out = np.empty((n, oh, ow, channels), dtype=dtype)
        flat = out.reshape(n, oh, blocks, block * channels)
        weights = prepared(w)
        for h0, h1, i0, i1 in row_groups:
            rows = flat[:, h0:h1]
            if i0 == i1:  # windows wholly in the padding
                rows[...] = 0
                continue
            for index, ((_, columns, offset, step), image, phase_weights) in enumerate(zip(phases, images, weights)):
                _, hp, wp, _ = image.shape
                # C-contiguous strides, whatever NumPy recorded for dimensions of size 1
                s_c = image.itemsize
                s_w, s_h = channels * s_c, wp * channels * s_c
                windows = np.ndarray(  # a strided view like as_strided's, without its few µs of Python
                    (n, h1 - h0, blocks, i1 - i0, len(columns), block * channels),
                    image.dtype,
                    image,
                    (h0 * sh + i0 * dh) * s_h + offset * s_w,
                    (hp * s_h, s_h * sh, s_w * block, s_h * dh, s_w * step, s_c),
                )
                windows.flags.writeable = False
                if index == 0:
                    np.einsum("nhbijx,ijx->nhbx", windows, phase_weights[i0:i1], out=rows)
                else:
                    rows += np.einsum("nhbijx,ijx->nhbx", windows, phase_weights[i0:i1])
        return out

    return depthwise


def build_conv2d_transpose(op: ops.Conv2DTransposeOp) -> Kernel:
    strides, pads, dilations = ints(op.strides), ints(op.pads), ints(op.dilations)
    dtype = numpy_dtype(op.output)
    output_shape = static_shape(op.output)
    conv_transpose = conv2d_transpose_kernel(output_shape, strides, pads, dilations, op.groups.value.data, dtype)
    return _with_bias_and_activation(conv_transpose, op, op.bias is not None, output_shape, dtype)


def conv2d_transpose_kernel(
    output_shape: Sequence[int],
    strides: Sequence[int],
    pads: Sequence[int],
    dilations: Sequence[int],
    groups: int,
    dtype: np.dtype,
) -> Kernel:
    """The bare transposed convolution `(x, w) -> y` in `dtype` (no bias, no clamp).

    Each input pixel, times the weights of tap (kh, kw), lands on output pixel
    (ih * sh + kh * dh - pad_top, iw * sw + kw * dw - pad_left).

    A matmul gives every pixel's contribution through every tap. The
    output is accumulated as sh * sw phases (rows r with r % sh = a, columns
    with c % sw = b): within a phase the taps land at unit stride, so each tap
    is one contiguous add; the phases are then interleaved into the output."""
    _, oh, ow, c_out = output_shape

    def tap_matrices(w: np.ndarray) -> np.ndarray:
        kh, kw, c_in, per_group = w.shape
        if groups == 1:
            # [C_in, KH*KW*C_out]: all taps in one matmul
            return np.ascontiguousarray(w.transpose(2, 0, 1, 3).reshape(c_in, kh * kw * per_group), dtype=dtype)
        # [KH, KW, G, C_in/G, C_out/G]: per tap and group, input channels -> output channels
        return np.ascontiguousarray(w.reshape(kh, kw, groups, c_in // groups, per_group), dtype=dtype)

    matrices = PreparedWeight(tap_matrices)

    def conv_transpose(x: np.ndarray, w: np.ndarray) -> np.ndarray:
        kh, kw, c_in, per_group = w.shape
        n, h, wd, _ = x.shape
        (sh, sw), (dh, dw) = strides, dilations
        weights = matrices(w)
        pixels = x.reshape(n * h * wd, c_in)
        if groups == 1:
            all_taps = np.matmul(pixels, weights).reshape(n, h, wd, kh, kw, c_out)
        else:
            pixels = np.ascontiguousarray(pixels.reshape(-1, groups, c_in // groups).transpose(1, 0, 2))

        def through_tap(i: int, j: int) -> np.ndarray:
            """Every input pixel's contribution through tap (i, j): [N, H, W, C_out]."""
            if groups == 1:
                return all_taps[:, :, :, i, j]
            by_group = np.matmul(pixels, weights[i, j])  # [G, pixels, C_out/G]
            return by_group.transpose(1, 0, 2).reshape(n, h, wd, c_out)

        # the uncropped output, as phases [a, b, N, rows / sh, cols / sw, C]
        full_h = max((h - 1) * sh + (kh - 1) * dh + 1, pads[0] + oh)
        full_w = max((wd - 1) * sw + (kw - 1) * dw + 1, pads[1] + ow)
        phases = np.zeros((sh, sw, n, -(-full_h // sh), -(-full_w // sw), c_out), dtype=dtype)
        for i in range(kh):
            row_phase, row_shift = (i * dh) % sh, (i * dh) // sh
            for j in range(kw):
                col_phase, col_shift = (j * dw) % sw, (j * dw) // sw
                phases[row_phase, col_phase, :, row_shift : row_shift + h, col_shift : col_shift + wd] += through_tap(i, j)
        # output pixel (r, c) is uncropped pixel (r + pad_top, c + pad_left)
        out = np.empty((n, oh, ow, c_out), dtype=dtype)
        for row_phase in range(sh):
            first_row = (row_phase - pads[0]) % sh
            rows = len(range(first_row, oh, sh))
            row_start = (first_row + pads[0]) // sh
            for col_phase in range(sw):
                first_col = (col_phase - pads[1]) % sw
                cols = len(range(first_col, ow, sw))
                col_start = (first_col + pads[1]) // sw
                if rows and cols:
                    phase = phases[row_phase, col_phase, :, row_start : row_start + rows, col_start : col_start + cols]
                    out[:, first_row::sh, first_col::sw] = phase
        return out

    return conv_transpose
