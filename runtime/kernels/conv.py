"""Convolution kernels: conv2d (dense, grouped, depthwise) and conv2d_transpose.

Layouts: activations NHWC; conv2d weights HWIO `[KH, KW, C_in/groups, C_out]`;
conv2d_transpose weights `[KH, KW, C_in, C_out/groups]`.

Speed: dense and grouped convolutions are im2col (a strided view, copied one
band of output rows at a time so the buffer stays cache-sized) times the weight
matrix, one BLAS call per band; a 1x1 unpadded convolution is a single matmul;
a depthwise convolution never builds an im2col buffer: it is one einsum over
the window view, or (few channels) a loop over the KH*KW taps with
multiply-adds over the whole tensor.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from runtime.kernels.base import Kernel, PreparedWeight, fused_activation, ints, numpy_dtype, static_shape
from runtime.kernels.windows import output_size, pad_spatial, patches, taps
from sima_dialect import ops

# Size of one im2col band: large enough that BLAS runs at full speed, small
# enough to stay in cache and never to need gigabytes for a large image.
BAND_BYTES = 1 << 21


def _band_rows(out_h: int, out_w: int, row_bytes_per_pixel: int) -> int:
    return max(1, min(out_h, BAND_BYTES // max(1, out_w * row_bytes_per_pixel)))


def build_conv2d(op: ops.Conv2DOp) -> Kernel:
    strides, pads, dilations = ints(op.strides), ints(op.pads), ints(op.dilations)
    groups = op.groups.value.data
    kh, kw, c_group, c_out = static_shape(op.weight)
    dtype = numpy_dtype(op.output)
    has_bias = op.bias is not None
    if groups == 1 and (kh, kw) == (1, 1) and not any(pads):
        conv = _pointwise(strides, c_out, dtype)
    elif groups == 1:
        conv = _dense(strides, pads, dilations, dtype)
    elif c_group == 1:
        conv = _depthwise(strides, pads, dilations, groups, static_shape(op.output)[2], dtype)
    else:
        conv = _grouped(strides, pads, dilations, groups, dtype)
    activation = fused_activation(op, dtype)
    if not has_bias and activation is None:
        return conv
    prepared_bias = PreparedWeight(lambda b: b.astype(dtype, copy=False))

    def conv_bias_activation(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
        y = conv(x, w)  # a fresh array: the bias and clamp go in place
        if b is not None:
            y += prepared_bias(b)
        if activation is not None:
            activation(y)
        return y

    if has_bias:
        return conv_bias_activation
    return lambda x, w: conv_bias_activation(x, w)


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


# From this many channels on, a depthwise convolution is one einsum over the
# window view (inner loops over C, no temporaries); below it, its inner loops
# are too short and the per-tap multiply-adds (inner loops over OW * C) win.
# Measured on 3x3 and 5x5 MobileNet layers (bench/bench_kernels.py).
DEPTHWISE_EINSUM_MIN_CHANNELS = 64


def _depthwise(strides, pads, dilations, groups: int, out_w: int, dtype: np.dtype) -> Kernel:
    """groups = C (one input channel per group, C_out = C * multiplier)."""
    if groups >= DEPTHWISE_EINSUM_MIN_CHANNELS:
        return _depthwise_einsum(strides, pads, dilations, groups, dtype)
    return _depthwise_taps(strides, pads, dilations, groups, out_w, dtype)


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


def _depthwise_taps(strides, pads, dilations, groups: int, out_w: int, dtype: np.dtype) -> Kernel:
    """A multiply-add over the whole tensor per kernel tap."""

    def tap_weights(w: np.ndarray) -> np.ndarray:
        kh, kw, _, c_out = w.shape
        # output channel c * multiplier + j reads input channel c
        weights = w.reshape(kh, kw, groups, c_out // groups).astype(dtype, copy=False)
        if c_out == groups:
            # repeated along OW, so a tap's multiply runs over (OW, C) as one contiguous loop
            return np.ascontiguousarray(np.broadcast_to(weights[:, :, None, :, 0], (kh, kw, out_w, groups)))
        return weights

    prepared = PreparedWeight(tap_weights)

    def depthwise(x: np.ndarray, w: np.ndarray) -> np.ndarray:
        kh, kw, _, c_out = w.shape
        n, _, _, c = x.shape
        multiplier = c_out // c
        oh, ow = _out_hw(x.shape, (kh, kw), strides, pads, dilations)
        weights = prepared(w)
        out = np.empty((n, oh, ow, c) if multiplier == 1 else (n, oh, ow, c, multiplier), dtype=dtype)
        product = np.empty_like(out)
        for i, j, pixels in taps(pad_spatial(x, pads), (kh, kw), (oh, ow), strides, dilations):
            if multiplier != 1:
                pixels = pixels[..., None]
            if i == 0 and j == 0:
                np.multiply(pixels, weights[i, j], out=out)
            else:
                np.multiply(pixels, weights[i, j], out=product)
                out += product
        return out.reshape(n, oh, ow, c_out)

    return depthwise


def build_conv2d_transpose(op: ops.Conv2DTransposeOp) -> Kernel:
    """Each input pixel, times the weights of tap (kh, kw), lands on output pixel
    (ih * sh + kh * dh - pad_top, iw * sw + kw * dw - pad_left).

    A matmul gives every pixel's contribution through every tap. The
    output is accumulated as sh * sw phases (rows r with r % sh = a, columns
    with c % sw = b): within a phase the taps land at unit stride, so each tap
    is one contiguous add; the phases are then interleaved into the output."""
    strides, pads, dilations = ints(op.strides), ints(op.pads), ints(op.dilations)
    groups = op.groups.value.data
    dtype = numpy_dtype(op.output)
    _, oh, ow, c_out = static_shape(op.output)
    prepared_bias = PreparedWeight(lambda b: b.astype(dtype, copy=False))
    activation = fused_activation(op, dtype)

    def tap_matrices(w: np.ndarray) -> np.ndarray:
        kh, kw, c_in, per_group = w.shape
        if groups == 1:
            # [C_in, KH*KW*C_out]: all taps in one matmul
            return np.ascontiguousarray(w.transpose(2, 0, 1, 3).reshape(c_in, kh * kw * per_group), dtype=dtype)
        # [KH, KW, G, C_in/G, C_out/G]: per tap and group, input channels -> output channels
        return np.ascontiguousarray(w.reshape(kh, kw, groups, c_in // groups, per_group), dtype=dtype)

    matrices = PreparedWeight(tap_matrices)

    def conv_transpose(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None = None) -> np.ndarray:
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
        if bias is not None:
            out += prepared_bias(bias)
        if activation is not None:
            activation(out)
        return out

    if op.bias is not None:
        return conv_transpose
    return lambda x, w: conv_transpose(x, w)
