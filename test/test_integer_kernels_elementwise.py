"""qadd, qsub, qmul, lut, qavg_pool and qglobal_avg_pool kernels, bit for bit
against slow Python-int references written from the op docstrings."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from integer_references import integers, quant, round_half_away, run_op, tflite_requantize
from sima_dialect.quantized_ops import LutOp, QAddOp, QAvgPoolOp, QGlobalAvgPoolOp, QMulOp, QSubOp

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def int_arrays(bits: int, shape):
    return hnp.arrays({8: np.int8, 16: np.int16}[bits], shape, elements=st.integers(*integers(bits)))


def centered_extremes(bits: int, zero_point: int) -> tuple[int, int]:
    low, high = integers(bits)
    return low - zero_point, high - zero_point


def broadcast_pairs(a: np.ndarray, b: np.ndarray):
    """Every output element's (a, b) pair, as Python ints, in row-major order."""
    a_full, b_full = np.broadcast_arrays(a, b)
    return list(zip(a_full.ravel().tolist(), b_full.ravel().tolist()))


# ---------------------------------------------------------------------------
# add / sub


@st.composite
def add_cases(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3))
    bits = [draw(st.sampled_from([8, 16])) for _ in range(2)]
    zero_points = [draw(st.integers(*integers(b))) for b in bits]
    left_shift = draw(st.integers(0, 22))
    rescales = [(draw(st.integers(1, 127)), draw(st.integers(0, 38))) for _ in range(2)]
    subtract = draw(st.booleans())
    # the model's invariant (the verifier checks it): every intermediate fits int32
    worst = []
    for b, z, (m, n) in zip(bits, zero_points, rescales):
        low, high = centered_extremes(b, z)
        assume(INT32_MIN <= low << left_shift and high << left_shift <= INT32_MAX)
        worst.append([round_half_away(Fraction((v << left_shift) * m, 2**n)) for v in (low, high)])
    (a_low, a_high), (b_low, b_high) = worst
    if subtract:
        assume(INT32_MIN <= a_low - b_high and a_high - b_low <= INT32_MAX)
    else:
        assume(INT32_MIN <= a_low + b_low and a_high + b_high <= INT32_MAX)
    output_bits = draw(st.sampled_from([8, 16]))
    return dict(
        a=draw(int_arrays(bits[0], shapes.input_shapes[0])),
        b=draw(int_arrays(bits[1], shapes.input_shapes[1])),
        bits=bits, zero_points=zero_points, left_shift=left_shift, rescales=rescales, subtract=subtract,
        output_bits=output_bits, multiplier=draw(st.integers(1, 127)), shift=draw(st.integers(0, 38)),
        zero_point=draw(st.integers(*integers(output_bits))),
    )


@SETTINGS
@given(add_cases())
def test_qadd_and_qsub_match_the_python_int_reference(case):
    c = case
    op_class = QSubOp if c["subtract"] else QAddOp
    (lm, ls), (rm, rs) = c["rescales"]
    result = run_op(
        lambda a, b: op_class(
            a, b, quant(c["output_bits"], 0.5, c["zero_point"]),
            lhs_multiplier=lm, lhs_shift=ls, rhs_multiplier=rm, rhs_shift=rs,
            multiplier=c["multiplier"], shift=c["shift"], left_shift=c["left_shift"],
        ),
        [(c["a"], quant(c["bits"][0], 0.1, c["zero_points"][0])), (c["b"], quant(c["bits"][1], 0.2, c["zero_points"][1]))],
    )

    def rescaled(q, zero_point, multiplier, shift):
        return round_half_away(Fraction(((q - zero_point) << c["left_shift"]) * multiplier, 2**shift))

    expected = []
    for a, b in broadcast_pairs(c["a"], c["b"]):
        t_a = rescaled(a, c["zero_points"][0], lm, ls)
        t_b = rescaled(b, c["zero_points"][1], rm, rs)
        total = t_a - t_b if c["subtract"] else t_a + t_b
        expected.append(tflite_requantize(total, c["multiplier"], c["shift"], c["zero_point"], c["output_bits"]))
    assert result.shape == np.broadcast_shapes(c["a"].shape, c["b"].shape)
    np.testing.assert_array_equal(result.ravel(), expected)


# ---------------------------------------------------------------------------
# mul


@st.composite
def mul_cases(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3))
    bits = [draw(st.sampled_from([8, 16])) for _ in range(2)]
    zero_points = [draw(st.integers(*integers(b))) for b in bits]
    left_shift = draw(st.integers(0, 16))
    corners = [x * y for x in centered_extremes(bits[0], zero_points[0]) for y in centered_extremes(bits[1], zero_points[1])]
    assume(INT32_MIN <= min(corners) << left_shift and max(corners) << left_shift <= INT32_MAX)
    output_bits = draw(st.sampled_from([8, 16]))
    return dict(
        a=draw(int_arrays(bits[0], shapes.input_shapes[0])),
        b=draw(int_arrays(bits[1], shapes.input_shapes[1])),
        bits=bits, zero_points=zero_points, left_shift=left_shift, output_bits=output_bits,
        multiplier=draw(st.integers(1, 127)), shift=draw(st.integers(0, 38)),
        zero_point=draw(st.integers(*integers(output_bits))),
    )


@SETTINGS
@given(mul_cases())
def test_qmul_matches_the_python_int_reference(case):
    c = case
    result = run_op(
        lambda a, b: QMulOp(a, b, quant(c["output_bits"], 0.5, c["zero_point"]), multiplier=c["multiplier"], shift=c["shift"], left_shift=c["left_shift"]),
        [(c["a"], quant(c["bits"][0], 0.1, c["zero_points"][0])), (c["b"], quant(c["bits"][1], 0.2, c["zero_points"][1]))],
    )
    za, zb = c["zero_points"]
    expected = [
        tflite_requantize(((a - za) * (b - zb)) << c["left_shift"], c["multiplier"], c["shift"], c["zero_point"], c["output_bits"])
        for a, b in broadcast_pairs(c["a"], c["b"])
    ]
    np.testing.assert_array_equal(result.ravel(), expected)


# ---------------------------------------------------------------------------
# lookup tables


@SETTINGS
@given(
    st.sampled_from([8, 16]),
    st.sampled_from([8, 16]),
    hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
    st.integers(0, 2**32 - 1),
)
def test_lut_indexes_the_table_by_q_minus_the_type_minimum(input_bits, output_bits, shape, seed):
    rng = np.random.default_rng(seed)
    low, high = integers(input_bits)
    out_low, out_high = integers(output_bits)
    x = rng.integers(low, high + 1, shape).astype(f"int{input_bits}")
    x.flat[0] = low  # the first and last entries are always read
    x.flat[-1] = high
    table = rng.integers(out_low, out_high + 1, 1 << input_bits).astype(f"int{output_bits}")
    result = run_op(lambda v, t: LutOp(v, t, quant(output_bits, 0.5, 1)), [(x, quant(input_bits, 0.25, -2))], [table])
    expected = [int(table[q - low]) for q in x.ravel().tolist()]
    assert result.dtype == table.dtype
    np.testing.assert_array_equal(result.ravel(), expected)


# ---------------------------------------------------------------------------
# average pools


@st.composite
def avg_pool_cases(draw):
    bits = draw(st.sampled_from([8, 16]))
    kernel = [draw(st.integers(1, 3)) for _ in range(2)]
    strides = [draw(st.integers(1, 2)) for _ in range(2)]
    pads = [draw(st.integers(0, kernel[i % 2] - 1)) for i in range(4)]
    h, w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    assume(h + pads[0] + pads[2] >= kernel[0] and w + pads[1] + pads[3] >= kernel[1])
    count_include_pad = draw(st.booleans())
    area = kernel[0] * kernel[1]
    varying = not count_include_pad and any(pads)
    entries = area if varying or draw(st.booleans()) else 1
    output_bits = draw(st.sampled_from([8, 16]))
    return dict(
        x=draw(int_arrays(bits, (draw(st.integers(1, 2)), h, w, draw(st.integers(1, 3))))),
        bits=bits, zero_point=draw(st.integers(*integers(bits))), kernel=kernel, strides=strides, pads=pads,
        count_include_pad=count_include_pad,
        multiplier=draw(st.lists(st.integers(1, 127), min_size=entries, max_size=entries)),
        shift=draw(st.lists(st.integers(0, 38), min_size=entries, max_size=entries)),
        output_bits=output_bits, out_zero_point=draw(st.integers(*integers(output_bits))),
    )


@SETTINGS
@given(avg_pool_cases())
def test_qavg_pool_matches_the_python_int_reference(case):
    c = case
    result = run_op(
        lambda x: QAvgPoolOp(
            x, quant(c["output_bits"], 0.5, c["out_zero_point"]), kernel=c["kernel"], strides=c["strides"],
            pads=c["pads"], count_include_pad=c["count_include_pad"], multiplier=c["multiplier"], shift=c["shift"],
        ),
        [(c["x"], quant(c["bits"], 0.25, c["zero_point"]))],
    )
    x = c["x"].tolist()
    n, h, w, channels = c["x"].shape
    (kh, kw), (sh, sw), (top, left, bottom, right) = c["kernel"], c["strides"], c["pads"]
    oh, ow = (h + top + bottom - kh) // sh + 1, (w + left + right - kw) // sw + 1
    expected = np.zeros((n, oh, ow, channels), dtype=np.int64)
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                for ch in range(channels):
                    taps = [
                        x[b][r][col][ch] - c["zero_point"]
                        for r in range(i * sh - top, i * sh - top + kh)
                        for col in range(j * sw - left, j * sw - left + kw)
                        if 0 <= r < h and 0 <= col < w
                    ]
                    divisor = kh * kw if c["count_include_pad"] or not any(c["pads"]) else len(taps)
                    entry = divisor - 1 if len(c["multiplier"]) > 1 else 0
                    expected[b, i, j, ch] = tflite_requantize(
                        sum(taps), c["multiplier"][entry], c["shift"][entry], c["out_zero_point"], c["output_bits"]
                    )
    np.testing.assert_array_equal(result, expected)


@SETTINGS
@given(
    st.sampled_from([8, 16]),
    st.sampled_from([8, 16]),
    st.tuples(st.integers(1, 2), st.integers(1, 6), st.integers(1, 6), st.integers(1, 3)),
    st.integers(1, 127),
    st.integers(0, 38),
    st.data(),
)
def test_qglobal_avg_pool_matches_the_python_int_reference(bits, output_bits, shape, multiplier, shift, data):
    x = data.draw(int_arrays(bits, shape))
    zero_point = data.draw(st.integers(*integers(bits)))
    out_zero_point = data.draw(st.integers(*integers(output_bits)))
    result = run_op(
        lambda v: QGlobalAvgPoolOp(v, quant(output_bits, 0.5, out_zero_point), multiplier=multiplier, shift=shift),
        [(x, quant(bits, 0.25, zero_point))],
    )
    n, h, w, channels = shape
    values = x.tolist()
    expected = [
        [tflite_requantize(sum(values[b][i][j][ch] - zero_point for i in range(h) for j in range(w)), multiplier, shift, out_zero_point, output_bits)
         for ch in range(channels)]
        for b in range(n)
    ]
    np.testing.assert_array_equal(result.reshape(n, channels), expected)
