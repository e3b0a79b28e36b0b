"""qconv2d, qdense and qmatmul kernels, bit for bit against slow Python-int references.

The references loop over every output element and sum Python ints, following
the formulas of the op docstrings (`sima_dialect.quantized_ops`): padding holds
the input zero point, the int15 algorithm splits int16 inputs into bytes, and
the requantization rounds as documented (sima: half up; tflite: half away).
"""

from __future__ import annotations

import numpy as np
import pytest
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


# ---------------------------------------------------------------------------
# the float paths of the kernels (runtime.integer_kernels.exact_float): their
# choices at the bounds, and the checked path where the bounds prove nothing


def expected_dense(case) -> np.ndarray:
    r = case["requant"]
    weight, bias = case["weight"].tolist(), case["bias"].tolist()
    rows = case["x"].reshape(-1, case["x"].shape[-1]).tolist()
    return np.array([
        [
            reference_requantize(mla_dot(row, [w_row[c] for w_row in weight], case["input_bits"], per_channel(r["intrinsic"], c)) + bias[c], c, r)
            for c in range(len(bias))
        ]
        for row in rows
    ]).reshape(*case["x"].shape[:-1], len(bias))


def run_dense(case) -> np.ndarray:
    r = case["requant"]
    return run_op(
        lambda x, w, b: QDenseOp(x, w, b, requantization_object(r), r["intrinsic"], quant(r["output_bits"], 1.0, r["zero_point"]), relu=r["relu"]),
        [(case["x"], quant(case["input_bits"], 0.5, case["zero_point"]))],
        [case["weight"], case["bias"]],
    )


@st.composite
def long_int8_dense_cases(draw):
    """int8 reductions of about 1024 terms of mostly extreme values: max|x| * L1
    crosses 2**24, where float32 sums stop being exact (the float32 / float64 choice)."""
    k = draw(st.integers(1000, 1100))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    extreme_share = draw(st.sampled_from([1.0, 0.99, 0.9]))  # odd values make inexact float32 sums visible
    x = np.where(rng.random((2, k)) < extreme_share, rng.choice([-128, 127], (2, k)), rng.integers(-128, 128, (2, k)))
    weight = np.where(rng.random((k, 2)) < extreme_share, rng.choice([-127, 127], (k, 2)), rng.integers(-127, 128, (k, 2)))
    weight[:, 0] = np.abs(weight[:, 0]) * np.sign(x[0].astype(np.int64) + 0.5)  # column 0 sums one sign: the largest |P|
    shift = draw(st.integers(0, 31))
    # sima at 32 bits, shift 0 in column 0: every accumulator value shows
    requant = dict(mode="sima", output_bits=32, relu=False, shift=[0, shift], multiplier=None, zero_point=0, intrinsic=[0])
    return dict(x=x.astype(np.int8), weight=weight.astype(np.int8), bias=np.array([0, 3], dtype=np.int32), zero_point=0,
                input_bits=8, requant=requant)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(long_int8_dense_cases())
def test_long_int8_reductions_stay_exact_on_either_side_of_float32s_bound(case):
    np.testing.assert_array_equal(run_dense(case), expected_dense(case))


def test_the_float_type_is_chosen_by_the_weights_column_norms():
    from runtime.integer_kernels.exact_float import GemmBounds

    bias, no_shift = np.zeros(1, np.int64), np.zeros(1, np.int64)
    # 128 * L1 just below and at 2**24
    assert GemmBounds(np.array([2**24 // 128 - 1]), 8, bias, no_shift).exact_float_type(128) is np.float32
    assert GemmBounds(np.array([2**24 // 128]), 8, bias, no_shift).exact_float_type(128) is np.float64
    # a padded input with a zero point runs centered: up to 255 per term
    assert GemmBounds(np.array([2**24 // 255]), 8, bias, no_shift).exact_float_type(255) is np.float32
    assert GemmBounds(np.array([2**24 // 255 + 1]), 8, bias, no_shift).exact_float_type(255) is np.float64
    # int16 inputs: float64 up to 2**53
    assert GemmBounds(np.array([2**37]), 16, bias, np.ones(1, np.int64)).exact_float_type(2**15) is np.float64
    assert GemmBounds(np.array([2**38]), 16, bias, np.ones(1, np.int64)).exact_float_type(2**15) is None


def test_int16_accumulators_past_the_proven_bound_take_the_checked_path_and_stay_exact():
    """int16 input, 2048 weights of 127 per column: L1 = 260096, so the int15
    high-byte product << 7 could leave int32 (the bound proves nothing) and the
    kernel runs the checked arithmetic, which is exact on this small input."""
    from runtime.integer_kernels.exact_float import GemmBounds

    k = 2048
    weight = np.full((k, 2), 127, dtype=np.int8)
    weight[::2, 1] = -127
    assert not GemmBounds(np.abs(weight.astype(np.int64)).sum(axis=0), 16, np.zeros(2), np.array([1, 1])).proves_checks
    x = np.zeros((1, k), dtype=np.int16)
    x[0, :5] = [300, -32768, 77, 32767, -1]
    requant = dict(mode="sima", output_bits=32, relu=False, shift=[0], multiplier=None, zero_point=0, intrinsic=[1])
    case = dict(x=x, weight=weight, bias=np.array([5, -5], dtype=np.int32), zero_point=0, input_bits=16, requant=requant)
    np.testing.assert_array_equal(run_dense(case), expected_dense(case))


@st.composite
def int16_convolutions_of_wide_inputs(draw):
    """int16 inputs over the whole range with 3x3 kernels over 16 channels and a
    padded zero point: the float64 product of x - z, floored per channel."""
    case = draw(conv_cases())
    assume(case["input_bits"] == 16)
    n, h, w, c = case["x"].shape
    x = draw(int_arrays(16, (n, h, w, c)))
    return {**case, "x": x}


@SETTINGS
@given(int16_convolutions_of_wide_inputs())
def test_int16_convolutions_match_the_reference(case):
    r = case["requant"]
    result = run_op(
        lambda x, w, b: QConv2DOp(
            x, w, b, requantization_object(r), r["intrinsic"], quant(r["output_bits"], 0.5, r["zero_point"]),
            strides=case["strides"], pads=case["pads"], dilations=case["dilations"], groups=case["groups"], relu=r["relu"],
        ),
        [(case["x"], quant(16, 0.25, case["zero_point"]))],
        [case["weight"], case["bias"]],
    )
    np.testing.assert_array_equal(result, reference_qconv2d(case))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.integers(258, 400), st.integers(-128, 127), st.integers(-128, 127), st.data())
def test_qmatmul_past_float32s_bound_sums_in_float64(k, za, zb, data):
    """k * 255 * 255 >= 2**24: the product of the centered operands runs in float64."""
    a = data.draw(int_arrays(8, (2, k)))
    b = data.draw(int_arrays(8, (k, 2)))
    multiplier, shift = data.draw(st.integers(1, 127)), data.draw(st.integers(0, 38))
    result = run_op(
        lambda a_, b_: QMatMulOp(a_, b_, quant(16, 0.1, 0), multiplier=multiplier, shift=shift, left_shift=0),
        [(a, quant(8, 0.5, za)), (b, quant(8, 0.25, zb))],
    )
    expected = [
        [tflite_requantize(sum((int(a[i, t]) - za) * (int(b[t, j]) - zb) for t in range(k)), multiplier, shift, 0, 16) for j in range(2)]
        for i in range(2)
    ]
    np.testing.assert_array_equal(result, expected)


@st.composite
def accumulators(draw):
    """Products P and biases B with P + B in int32, a requantization, and the int8 / int16 input kind."""
    channels = draw(st.integers(1, 4))
    r = draw(requantizations(channels, draw(st.sampled_from([8, 16]))))
    magnitude = draw(st.sampled_from([2**8, 2**23, 2**30]))  # small ones also take the float32 path
    products = draw(hnp.arrays(np.int64, (draw(st.integers(1, 6)), channels), elements=st.integers(-magnitude, magnitude)))
    bias = draw(hnp.arrays(np.int64, (channels,), elements=st.integers(-(2**30), 2**30 - 1)))
    return products, bias, r


@SETTINGS
@given(accumulators())
def test_the_float_requantizer_rounds_as_the_checked_requantization(case):
    """FloatRequantizer on G = P * (its weight scale), floored or not, against the
    checked requantization of P + B (and the Python-int reference)."""
    from runtime.integer_kernels.exact_float import FloatRequantizer

    products, bias, r = case
    requantization = requantization_object(r)
    output_dtype = np.dtype(f"int{r['output_bits']}")
    channels = bias.shape[0]
    intrinsic = np.broadcast_to(np.asarray(r["intrinsic"]), (channels,))
    int16 = any(intrinsic)
    requantize = FloatRequantizer(requantization, bias, output_dtype, r["relu"], intrinsic_shift=intrinsic if int16 else None)
    if int16:
        # G = S * 2**-h with S the full sum: P = floor(S / 2**h); a fraction below 2**-h shows the floor
        full = products * 2 ** intrinsic.astype(np.int64) + (products % 2)
        product = full.astype(np.float64) * np.ldexp(1.0, -intrinsic)
        floored = np.floor(product).astype(np.int64)
    else:
        product = products.astype(np.float64) * requantize.weight_scale
        floored = products
    expected = [
        [reference_requantize(int(floored[row, c]) + int(bias[c]), c, r) for c in range(channels)] for row in range(products.shape[0])
    ]
    # (the requantizer consumes its argument: it works in place)
    np.testing.assert_array_equal(requantize(product.copy()), expected)
    if not int16 and requantize.offset32 is not None and np.all(np.abs(products) < 2**24):
        np.testing.assert_array_equal(requantize(product.astype(np.float32)), expected)  # exact float32 products


@pytest.mark.parametrize("output_bits", [8, 16, 32])
@pytest.mark.parametrize("shift", [0, 1, 7, 8, 15, 16, 17, 20, 23, 31])
def test_the_float_requantizer_decides_ties_exactly(shift, output_bits):
    """Accumulators one below, at and one above the ties (m + 1/2) * 2**n of the
    sima shift: a float32 sum with too few bits for the fraction would round
    them across the tie."""
    from runtime.integer_kernels.exact_float import FloatRequantizer

    ties = [(m * 2 + 1) << shift >> 1 for m in (0, 1, 5, -1, -3)] if shift else [0, 3, -2]
    products = np.array([t + d for t in ties for d in (-1, 0, 1) if abs(t + d) < 2**31 - 1], dtype=np.int64)[:, None]
    r = dict(mode="sima", output_bits=output_bits, relu=False, shift=[shift], multiplier=None, zero_point=0, intrinsic=[0])
    requantize = FloatRequantizer(requantization_object(r), np.zeros(1, np.int64), np.dtype(f"int{output_bits}"), False)
    expected = np.array([sima_requantize(int(p), shift, output_bits) for p in products[:, 0]]).reshape(-1, 1)
    scaled = products.astype(np.float64) * requantize.weight_scale
    np.testing.assert_array_equal(requantize(scaled.copy()), expected)
    exact_in_float32 = np.abs(products[:, 0]) < 2**24  # the GEMM's bound for a float32 product
    np.testing.assert_array_equal(requantize(scaled[exact_in_float32].astype(np.float32)), expected[exact_in_float32])


@st.composite
def int15_sums(draw):
    """Full int16 x int8 sums S (with P = floor(S / 2**h) + B in int32), sima shifts
    including 0 and the largest, and an 8- or 16-bit output."""
    channels = draw(st.integers(1, 4))
    output_bits = draw(st.sampled_from([8, 16]))
    shift = draw(st.lists(st.sampled_from([0, 1, 2, 7, 15, 16, 29, 30, 31]), min_size=channels, max_size=channels))
    intrinsic = np.array(draw(st.lists(st.sampled_from([1, 8]), min_size=channels, max_size=channels)), dtype=np.int64)
    bias = np.array(draw(st.lists(st.integers(-(2**29), 2**29), min_size=channels, max_size=channels)), dtype=np.int64)
    rows = draw(st.integers(1, 6))
    # P anywhere in [-2**29, 2**29] or small (near 0 and the int8 / int16 saturation edges)
    values = st.one_of(st.integers(-(2**29), 2**29), st.integers(-(2**17), 2**17))
    products = np.array(draw(st.lists(st.lists(values, min_size=channels, max_size=channels), min_size=rows, max_size=rows)), dtype=np.int64)
    for c in range(channels):  # row 0 at and next to a tie of the rounding: P + B = (k + 1/2) * 2**n (+-1)
        n = shift[c]
        bound = min(300, (1 << max(0, 30 - n)) >> 1)  # P + B stays in int32
        k = draw(st.integers(-bound, bound))
        products[0, c] = ((k * 2 + 1) << n >> 1) - bias[c] + draw(st.integers(-1, 1))
    remainders = np.array(draw(st.lists(st.lists(st.integers(0, 255), min_size=channels, max_size=channels), min_size=rows, max_size=rows)))
    sums = (products << intrinsic) + remainders % (1 << intrinsic)  # floor(S / 2**h) = P
    relu = draw(st.booleans())
    return sums, intrinsic, bias, shift, output_bits, relu


@SETTINGS
@given(int15_sums())
def test_an_int15_floor_merged_into_the_sima_rounding_gives_the_same_integers(case):
    """merge_floor: y = floor((S + B * 2**h + 2**(n+h-1)) / 2**(n+h)) from one float64
    add, against the reference requantization of floor(S / 2**h) + B; where
    `floor_merges` refuses (a shift of 0, or n + h + bits > 53) the floor stays."""
    from runtime.integer_kernels.exact_float import FloatRequantizer, floor_merges

    sums, intrinsic, bias, shift, output_bits, relu = case
    r = dict(mode="sima", output_bits=output_bits, relu=relu, shift=shift, multiplier=None, zero_point=0, intrinsic=intrinsic.tolist())
    requantization = requantization_object(r)
    requantize = FloatRequantizer(requantization, bias, np.dtype(f"int{output_bits}"), relu, intrinsic_shift=intrinsic, merge_floor=True)
    merged = floor_merges(requantization, intrinsic, output_bits)
    assert merged == (min(shift) >= 1 and max(np.array(shift) + intrinsic) + output_bits <= 53)
    assert requantize.floor_product != merged
    floored = sums >> intrinsic
    expected = [
        [reference_requantize(int(floored[row, c]) + int(bias[c]), c, r) for c in range(len(shift))] for row in range(sums.shape[0])
    ]
    product = sums.astype(np.float64) * requantize.weight_scale  # what the GEMM returns (exact: a power of two)
    np.testing.assert_array_equal(requantize(product), expected)
