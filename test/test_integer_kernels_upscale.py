"""sima.qconv2d_transpose, sima.qresize_linear and sima.qprelu, bit for bit
against slow Python-int references written from the arithmetic model
(runtime/integer_arithmetic.py), and the linear resize against the float one.

The transposed-convolution reference is the scatter definition (input pixel
ih reaches output row ih * stride + k * dilation - pad_top through tap k),
not the stuffed convolution the kernel computes; positions no input pixel
reaches through a tap read the input zero point (real 0).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from xdsl.dialects.builtin import StringAttr, TensorType, f32

from integer_references import integers, mla_dot, per_channel, quant, round_half_away, round_half_up, run_op, sat
from passes.quantize_upscale import RESIZE_WEIGHT_BITS
from sima_dialect.ops import COORDINATE_MODES, ResizeOp
from sima_dialect.quantized_ops import QConv2DTransposeOp, QPreluOp, QResizeLinearOp
from sima_dialect.shapes import ShapeError, conv2d_transpose_output_shape
from test_integer_kernels_gemm import int_arrays, reference_requantize, requantization_object, requantizations

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------
# transposed convolution


@st.composite
def conv_transpose_cases(draw):
    input_bits = draw(st.sampled_from([8, 16]))
    c_in, c_out = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    strides = [draw(st.integers(1, 3)) for _ in range(2)]
    dilations = [draw(st.integers(1, 2)) for _ in range(2)]
    pads = [draw(st.integers(0, 2)) for _ in range(4)]
    output_padding = [draw(st.integers(0, max(s, d) - 1)) for s, d in zip(strides, dilations)]
    n, h, w = draw(st.integers(1, 2)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    try:
        shape = conv2d_transpose_output_shape((n, h, w, c_in), (kh, kw, c_in, c_out), strides, pads, dilations, output_padding, 1)
    except ShapeError:
        assume(False)
    return dict(
        x=draw(int_arrays(input_bits, (n, h, w, c_in))),
        weight=draw(int_arrays(8, (kh, kw, c_in, c_out), -127, 127)),
        bias=draw(int_arrays(32, (c_out,), -(2**24), 2**24)),
        zero_point=draw(st.integers(*integers(input_bits))),
        strides=strides, pads=pads, dilations=dilations, output_padding=output_padding, shape=shape,
        input_bits=input_bits, requant=draw(requantizations(c_out, input_bits)),
    )


def reference_conv_transpose(case) -> np.ndarray:
    x, weight, bias = case["x"].tolist(), case["weight"].tolist(), case["bias"].tolist()
    _, h, w, c_in = case["x"].shape
    kh, kw, _, c_out = case["weight"].shape
    (sh, sw), (dh, dw), (top, left, _, _) = case["strides"], case["dilations"], case["pads"]
    n, oh, ow, _ = case["shape"]
    r = case["requant"]

    def source(o: int, k: int, pad: int, stride: int, dilation: int, size: int) -> int | None:
        """The input index reaching output o through tap k, or None."""
        offset = o + pad - k * dilation
        return offset // stride if offset % stride == 0 and 0 <= offset // stride < size else None

    out = np.zeros((n, oh, ow, c_out), dtype=np.int64)
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                for co in range(c_out):
                    xs, ws = [], []
                    for ki in range(kh):
                        for kj in range(kw):
                            row, col = source(i, ki, top, sh, dh, h), source(j, kj, left, sw, dw, w)
                            for ci in range(c_in):
                                xs.append(case["zero_point"] if row is None or col is None else x[b][row][col][ci])
                                ws.append(weight[ki][kj][ci][co])
                    product = mla_dot(xs, ws, case["input_bits"], per_channel(r["intrinsic"], co))
                    out[b, i, j, co] = reference_requantize(product + bias[co], co, r)
    return out


@SETTINGS
@given(conv_transpose_cases())
def test_qconv2d_transpose_matches_the_python_int_reference(case):
    r = case["requant"]
    result = run_conv_transpose(case)
    assert result.dtype == np.dtype(f"int{r['output_bits']}")
    np.testing.assert_array_equal(result, reference_conv_transpose(case))


def run_conv_transpose(case) -> np.ndarray:
    r = case["requant"]

    def build(x, w, b):
        return QConv2DTransposeOp(
            x, w, b, requantization_object(r), r["intrinsic"], quant(r["output_bits"], 0.5, r["zero_point"]),
            strides=case["strides"], pads=case["pads"], dilations=case["dilations"],
            output_padding=case["output_padding"], relu=r["relu"],
        )

    return run_op(build, [(case["x"], quant(case["input_bits"], 0.25, case["zero_point"]))], [case["weight"], case["bias"]])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.integers(-(2**10), 2**10), st.data())  # the stuffed zero points are summed over all 2048 taps
def test_int16_transposed_convolutions_past_the_proven_bound_take_the_checked_path(zero_point, data):
    """1024 input channels of weight +-127: the int15 high-byte product << 7 could
    leave int32, so nothing is proven and the checked contraction runs (the small
    case of the reference above takes the float path): still the reference's integers."""
    from runtime.integer_kernels.exact_float import GemmBounds

    c_in = 1024
    weight = np.full((1, 2, c_in, 2), 127, dtype=np.int8)
    weight[:, :, ::2, 1] = -127
    x = np.full((1, 2, 1, c_in), zero_point, dtype=np.int16)
    x[0, :, 0, :6] = data.draw(int_arrays(16, (2, 6)))  # a few real values, so the sums stay in int32
    strides, pads, intrinsic = [1, 2], [0, 1, 0, 0], 1
    shape = conv2d_transpose_output_shape(x.shape, weight.shape, strides, pads, [1, 1], [0, 0], 1)
    l1 = np.abs(weight.astype(np.int64)).sum(axis=(0, 1, 2))
    assert not GemmBounds(l1, 16, np.zeros(2), np.full(2, intrinsic)).proves_checks
    requant = dict(mode="sima", output_bits=32, relu=False, shift=[3], multiplier=None, zero_point=0, intrinsic=[intrinsic])
    case = dict(x=x, weight=weight, bias=np.array([5, -5], dtype=np.int32), zero_point=zero_point, strides=strides, pads=pads,
                dilations=[1, 1], output_padding=[0, 0], shape=shape, input_bits=16, requant=requant)
    np.testing.assert_array_equal(run_conv_transpose(case), reference_conv_transpose(case))


# ---------------------------------------------------------------------------
# linear resize


def reference_taps(in_size: int, out_size: int, mode: str, weight_bits: int) -> list[tuple[int, int, int]]:
    """(low, high, w_high) per output position, from the exact coordinate (Fraction)."""
    taps = []
    for x in range(out_size):
        if mode in ("half_pixel", "pytorch_half_pixel"):
            c = Fraction(0) if mode == "pytorch_half_pixel" and out_size == 1 else (x + Fraction(1, 2)) * in_size / out_size - Fraction(1, 2)
        elif mode == "align_corners":
            c = Fraction(0) if out_size == 1 else Fraction(x * (in_size - 1), out_size - 1)
        else:
            c = Fraction(x * in_size, out_size)
        c = min(max(c, Fraction(0)), Fraction(in_size - 1))
        low = math.floor(c)
        taps.append((low, min(low + 1, in_size - 1), round_half_up((c - low) * 2**weight_bits)))
    return taps


def reference_resize(x: np.ndarray, out_hw, mode: str, weight_bits: int) -> np.ndarray:
    n, h, w, c = x.shape
    rows, cols = reference_taps(h, out_hw[0], mode, weight_bits), reference_taps(w, out_hw[1], mode, weight_bits)
    one = 2**weight_bits
    values = x.tolist()
    out = np.zeros((n, *out_hw, c), dtype=np.int64)
    for b in range(n):
        for i, (r0, r1, wr) in enumerate(rows):
            for j, (c0, c1, wc) in enumerate(cols):
                for k in range(c):
                    t0 = round_half_up(Fraction((one - wr) * values[b][r0][c0][k] + wr * values[b][r1][c0][k], one))
                    t1 = round_half_up(Fraction((one - wr) * values[b][r0][c1][k] + wr * values[b][r1][c1][k], one))
                    out[b, i, j, k] = round_half_up(Fraction((one - wc) * t0 + wc * t1, one))
    return out


@st.composite
def resize_cases(draw):
    bits = draw(st.sampled_from([8, 16]))
    n, h, w, c = draw(st.integers(1, 2)), draw(st.integers(1, 5)), draw(st.integers(1, 5)), draw(st.integers(1, 2))
    return dict(
        x=draw(int_arrays(bits, (n, h, w, c))), bits=bits,
        out_hw=(draw(st.integers(1, 9)), draw(st.integers(1, 9))),
        mode=draw(st.sampled_from(COORDINATE_MODES)),
        weight_bits=draw(st.integers(0, 23 if bits == 8 else 15)),
    )


@SETTINGS
@given(resize_cases())
def test_qresize_linear_matches_the_python_int_reference(case):
    c = case
    element = quant(c["bits"], 0.1, 3)
    result = run_op(
        lambda x: QResizeLinearOp(x, c["out_hw"], coordinate_mode=c["mode"], weight_bits=c["weight_bits"]), [(c["x"], element)]
    )
    assert result.dtype == c["x"].dtype
    np.testing.assert_array_equal(result, reference_resize(c["x"], c["out_hw"], c["mode"], c["weight_bits"]))


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from([8, 16]),
    st.sampled_from(COORDINATE_MODES),
    st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 13), st.integers(1, 13)),
    st.integers(0, 2**32 - 1),
)
def test_qresize_linear_is_close_to_the_float_resize(bits, mode, sizes, seed):
    """Against the runtime's float linear resize (sima.resize) of the same values,
    with the pass's Q15 weights. A weight is within 2**-16 of the exact one, so
    a blend of two neighbours moves by at most (max q - min q) * 2**-16 before
    its rounding (1/2 step); the column blend carries the row blend's error:
    at most 2 * (1/2 + 255 * 2**-16) ~ 1.008 steps for int8 (1.0 measured) and
    2 * (1/2 + 65535 * 2**-16) ~ 3 steps for int16 (1.5 measured), plus the
    float kernel's float32 coordinates (~1e-7 relative)."""
    h, w, out_h, out_w = sizes
    rng = np.random.default_rng(seed)
    low, high = integers(bits)
    x = rng.integers(low, high + 1, (1, h, w, 2)).astype(f"int{bits}")
    result = run_op(
        lambda v: QResizeLinearOp(v, (out_h, out_w), coordinate_mode=mode, weight_bits=RESIZE_WEIGHT_BITS), [(x, quant(bits, 1.0, 0))]
    )
    floating = run_op(
        lambda v: ResizeOp.create(
            operands=[v], result_types=[TensorType(f32, [1, out_h, out_w, 2])],
            properties={"mode": StringAttr("linear"), "coordinate_mode": StringAttr(mode), "nearest_mode": StringAttr("floor")},
        ),
        [(x.astype(np.float32), f32)],
    )
    low_high = float(high - low)
    bound = 2 * (0.5 + low_high * 2.0**-16) + 1e-3
    assert np.abs(result - floating.astype(np.float64)).max() <= bound


# ---------------------------------------------------------------------------
# per-channel prelu


@st.composite
def prelu_cases(draw):
    bits, output_bits = draw(st.sampled_from([8, 16])), draw(st.sampled_from([8, 16]))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
    count = shape[-1] if draw(st.booleans()) else 1
    return dict(
        x=draw(int_arrays(bits, shape)), bits=bits, output_bits=output_bits,
        zero_point=draw(st.integers(*integers(bits))), out_zero_point=draw(st.integers(*integers(output_bits))),
        multiplier=draw(st.integers(1, 127)), shift=draw(st.integers(0, 38)),
        neg_multiplier=draw(st.lists(st.integers(-127, 127), min_size=count, max_size=count)),
        neg_shift=draw(st.lists(st.integers(0, 38), min_size=count, max_size=count)),
    )


@SETTINGS
@given(prelu_cases())
def test_qprelu_matches_the_python_int_reference(case):
    c = case
    result = run_op(
        lambda x: QPreluOp(
            x, quant(c["output_bits"], 0.5, c["out_zero_point"]), multiplier=c["multiplier"], shift=c["shift"],
            neg_multiplier=c["neg_multiplier"], neg_shift=c["neg_shift"],
        ),
        [(c["x"], quant(c["bits"], 0.1, c["zero_point"]))],
    )
    channels = c["x"].shape[-1]
    expected = []
    for index, q in enumerate(c["x"].ravel().tolist()):
        centered, channel = q - c["zero_point"], index % channels
        if centered >= 0:
            m, n = c["multiplier"], c["shift"]
        else:
            m, n = per_channel(c["neg_multiplier"], channel), per_channel(c["neg_shift"], channel)
        expected.append(sat(round_half_away(Fraction(centered * m, 2**n)) + c["out_zero_point"], c["output_bits"]))
    assert result.dtype == np.dtype(f"int{c['output_bits']}")
    np.testing.assert_array_equal(result.ravel(), expected)
