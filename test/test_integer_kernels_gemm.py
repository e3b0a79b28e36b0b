"""qconv2d, qdense and qmatmul kernels, bit for bit against slow Python-int references.

The references loop over every output element and sum Python ints, following
the formulas of the op docstrings (`sima_dialect.quantized_ops`): padding holds
the input zero point, the int15 algorithm splits int16 inputs into bytes, and
the requantization rounds as documented (sima: half up; tflite: half away).
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from integer_references import (
    integers,
    mla_dot,
    per_channel,
    quant,
    run_op,
    sima_requantize,
    tflite_requantize,
)
from runtime.integer_arithmetic import ArithFoldedRequantization, TFLiteRequantization
from sima_dialect.quantized_ops import QConv2DOp, QDenseOp, QMatMulOp

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def int_arrays(bits: int, shape, low: int | None = None, high: int | None = None):
    lo, hi = integers(bits)
    dtype = {8: np.int8, 16: np.int16, 32: np.int32}[bits]
    return hnp.arrays(dtype, shape, elements=st.integers(lo if low is None else low, hi if high is None else high))


@st.composite
def requantizations(draw, channels: int, input_bits: int):
    """Requantization constants as an op carries them (per tensor or per channel)."""
    count = channels if draw(st.booleans()) else 1
    mode = draw(st.sampled_from(["sima", "tflite"]))
    output_bits = draw(st.sampled_from([8, 16, 32] if mode == "sima" else [8, 16]))
    relu = draw(st.booleans())
    if mode == "sima":
        shift = draw(st.lists(st.integers(0, 31), min_size=count, max_size=count))
        multiplier = None
        zero_point = 0 if relu else draw(st.integers(*integers(output_bits)))
    else:
        shift = draw(st.lists(st.integers(0, 38), min_size=count, max_size=count))
        multiplier = draw(st.lists(st.integers(1, 127), min_size=count, max_size=count))
        zero_point = draw(st.integers(*integers(output_bits)))
    if input_bits == 8:
        intrinsic = [0]
    else:
        h_count = channels if draw(st.booleans()) else 1
        intrinsic = draw(st.lists(st.sampled_from([1, 8]), min_size=h_count, max_size=h_count))
    return dict(mode=mode, output_bits=output_bits, relu=relu, shift=shift, multiplier=multiplier,
                zero_point=zero_point, intrinsic=intrinsic)


def requantization_object(r):
    if r["mode"] == "sima":
        return ArithFoldedRequantization(np.array(r["shift"]))
    return TFLiteRequantization(np.array(r["multiplier"]), np.array(r["shift"]), r["zero_point"])


def reference_requantize(accumulator: int, channel: int, r) -> int:
    shift = per_channel(r["shift"], channel)
    if r["mode"] == "sima":
        return sima_requantize(accumulator, shift, r["output_bits"], r["relu"])
    multiplier = per_channel(r["multiplier"], channel)
    return tflite_requantize(accumulator, multiplier, shift, r["zero_point"], r["output_bits"], r["relu"])


def output_size(size, kernel, stride, pad_total, dilation):
    return (size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


@st.composite
def conv_cases(draw):
    input_bits = draw(st.sampled_from([8, 16]))
    kind = draw(st.sampled_from(["dense", "grouped", "depthwise"]))
    if kind == "dense":
        groups, c_group, c_out = 1, draw(st.integers(1, 3)), draw(st.integers(1, 4))
    elif kind == "grouped":
        groups, c_group = draw(st.integers(2, 3)), draw(st.integers(1, 2))
        c_out = groups * draw(st.integers(1, 2))
    else:
        groups, c_group = draw(st.integers(1, 4)), 1
        c_out = groups * draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    strides = [draw(st.integers(1, 2)) for _ in range(2)]
    dilations = [draw(st.integers(1, 2)) for _ in range(2)]
    pads = [draw(st.integers(0, 2)) for _ in range(4)]
    n, h, w = draw(st.integers(1, 2)), draw(st.integers(1, 5)), draw(st.integers(1, 5))
    assume(output_size(h, kh, strides[0], pads[0] + pads[2], dilations[0]) >= 1)
    assume(output_size(w, kw, strides[1], pads[1] + pads[3], dilations[1]) >= 1)
    x = draw(int_arrays(input_bits, (n, h, w, groups * c_group)))
    weight = draw(int_arrays(8, (kh, kw, c_group, c_out), -127, 127))
    bias = draw(int_arrays(32, (c_out,), -(2**24), 2**24))
    zero_point = draw(st.integers(*integers(input_bits)))
    requant = draw(requantizations(c_out, input_bits))
    return dict(x=x, weight=weight, bias=bias, zero_point=zero_point, strides=strides, pads=pads,
                dilations=dilations, groups=groups, input_bits=input_bits, requant=requant)


def reference_qconv2d(case) -> np.ndarray:
    x, weight, bias = case["x"].tolist(), case["weight"].tolist(), case["bias"].tolist()
    n, h, w, _ = case["x"].shape
    kh, kw, c_group, c_out = case["weight"].shape
    (sh, sw), (dh, dw), (top, left, bottom, right) = case["strides"], case["dilations"], case["pads"]
    oh, ow = output_size(h, kh, sh, top + bottom, dh), output_size(w, kw, sw, left + right, dw)
    per_group = c_out // case["groups"]
    r = case["requant"]
    out = np.zeros((n, oh, ow, c_out), dtype=np.int64)
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                for co in range(c_out):
                    group = co // per_group
                    xs, ws = [], []
                    for ki in range(kh):
                        for kj in range(kw):
                            row, col = i * sh + ki * dh - top, j * sw + kj * dw - left
                            for ci in range(c_group):
                                inside = 0 <= row < h and 0 <= col < w
                                xs.append(x[b][row][col][group * c_group + ci] if inside else case["zero_point"])
                                ws.append(weight[ki][kj][ci][co])
                    product = mla_dot(xs, ws, case["input_bits"], per_channel(r["intrinsic"], co))
                    out[b, i, j, co] = reference_requantize(product + bias[co], co, r)
    return out


@SETTINGS
@given(conv_cases())
def test_qconv2d_matches_the_python_int_reference(case):
    r = case["requant"]

    def build(x, w, b):
        return QConv2DOp(
            x, w, b, requantization_object(r), r["intrinsic"], quant(r["output_bits"], 0.5, r["zero_point"]),
            strides=case["strides"], pads=case["pads"], dilations=case["dilations"], groups=case["groups"],
            relu=r["relu"],
        )

    result = run_op(build, [(case["x"], quant(case["input_bits"], 0.25, case["zero_point"]))], [case["weight"], case["bias"]])
    expected = reference_qconv2d(case)
    assert result.dtype == np.dtype(f"int{r['output_bits']}")
    np.testing.assert_array_equal(result, expected)


@st.composite
def dense_cases(draw):
    input_bits = draw(st.sampled_from([8, 16]))
    leading = draw(st.lists(st.integers(1, 3), min_size=1, max_size=2))
    k, n = draw(st.integers(1, 8)), draw(st.integers(1, 4))
    return dict(
        x=draw(int_arrays(input_bits, (*leading, k))),
        weight=draw(int_arrays(8, (k, n), -127, 127)),
        bias=draw(int_arrays(32, (n,), -(2**24), 2**24)),
        zero_point=draw(st.integers(*integers(input_bits))),
        input_bits=input_bits,
        requant=draw(requantizations(n, input_bits)),
    )


@SETTINGS
@given(dense_cases())
def test_qdense_matches_the_python_int_reference(case):
    r = case["requant"]
    result = run_op(
        lambda x, w, b: QDenseOp(x, w, b, requantization_object(r), r["intrinsic"], quant(r["output_bits"], 1.0, r["zero_point"]), relu=r["relu"]),
        [(case["x"], quant(case["input_bits"], 0.5, case["zero_point"]))],
        [case["weight"], case["bias"]],
    )
    weight, bias = case["weight"].tolist(), case["bias"].tolist()
    rows = case["x"].reshape(-1, case["x"].shape[-1]).tolist()
    expected = [
        [
            reference_requantize(mla_dot(row, [w_row[c] for w_row in weight], case["input_bits"], per_channel(r["intrinsic"], c)) + bias[c], c, r)
            for c in range(len(bias))
        ]
        for row in rows
    ]
    np.testing.assert_array_equal(result, np.array(expected).reshape(result.shape))


@st.composite
def matmul_cases(draw):
    batch = draw(st.lists(st.integers(1, 2), max_size=1))
    m, k, n = draw(st.integers(1, 3)), draw(st.integers(1, 5)), draw(st.integers(1, 3))
    za, zb = draw(st.integers(-128, 127)), draw(st.integers(-128, 127))
    # the verifier's worst case: k * max |(a - za)(b - zb)| << L within int32
    corner = max(abs(x * y) for x in (-128 - za, 127 - za) for y in (-128 - zb, 127 - zb))
    left_shift = draw(st.integers(0, 12))
    assume((k * corner) << left_shift <= 2**31 - 1)
    output_bits = draw(st.sampled_from([8, 16]))
    return dict(
        a=draw(int_arrays(8, (*batch, m, k))),
        b=draw(int_arrays(8, (*batch, k, n))),
        za=za, zb=zb, left_shift=left_shift, output_bits=output_bits,
        multiplier=draw(st.integers(1, 127)), shift=draw(st.integers(0, 38)),
        zero_point=draw(st.integers(*integers(output_bits))),
    )


@SETTINGS
@given(matmul_cases())
def test_qmatmul_matches_the_python_int_reference(case):
    c = case
    result = run_op(
        lambda a, b: QMatMulOp(a, b, quant(c["output_bits"], 0.1, c["zero_point"]), multiplier=c["multiplier"], shift=c["shift"], left_shift=c["left_shift"]),
        [(c["a"], quant(8, 0.5, c["za"])), (c["b"], quant(8, 0.25, c["zb"]))],
    )
    a = c["a"].reshape(-1, *c["a"].shape[-2:]).tolist()
    b = c["b"].reshape(-1, *c["b"].shape[-2:]).tolist()
    expected = [
        [
            [
                tflite_requantize(
                    sum((a[i][row][k] - c["za"]) * (b[i][k][col] - c["zb"]) for k in range(len(b[i]))) << c["left_shift"],
                    c["multiplier"], c["shift"], c["zero_point"], c["output_bits"],
                )
                for col in range(len(b[i][0]))
            ]
            for row in range(len(a[i]))
        ]
        for i in range(len(a))
    ]
    np.testing.assert_array_equal(result, np.array(expected).reshape(result.shape))
