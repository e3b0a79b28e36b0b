"""sima.qsoftmax: the kernel bit for bit against a slow Python-int reference
written from the arithmetic model (runtime/integer_arithmetic.py, "Softmax"),
the exp table against math.exp, and the accuracy of the whole integer softmax
against the float softmax of the dequantized input."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from integer_references import integers, quant, run_op, tflite_requantize
from runtime.integer_arithmetic import ArithmeticOverflowError, softmax_exp_table, softmax_integers
from sima_dialect.quantized_ops import QSoftmaxOp

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ONE = 2**23  # exp(0) in the table's Q23
Q15 = 2**15  # the probability's unit


def reference_table(step: float, bits: int) -> list[int]:
    """E[d] = round_half_away(exp(-d * step) * 2**23), from math.exp (v + 1/2 is
    exact in float64 for 0 <= v <= 2**23, so floor(v + 1/2) rounds half away)."""
    return [math.floor(math.exp(-d * step) * ONE + 0.5) for d in range(1 << bits)]


def reference_softmax_row(row: list[int], table: list[int], multiplier: int, shift: int, zero_point: int, bits: int) -> list[int]:
    """The model's formulas on Python ints: d = max - q, e = E[d], S = sum e,
    p = floor(e * 2**15 / S + 1/2), y = R(p)."""
    top = max(row)
    exps = [table[top - q] for q in row]
    total = sum(exps)
    probabilities = [math.floor(Fraction(e * Q15, total) + Fraction(1, 2)) for e in exps]
    return [tflite_requantize(p, multiplier, shift, zero_point, bits) for p in probabilities]


@st.composite
def softmax_cases(draw):
    input_bits = draw(st.sampled_from([8, 16]))
    output_bits = draw(st.sampled_from([8, 16]))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=5))
    low, high = integers(input_bits)
    x = draw(hnp.arrays(np.dtype(f"int{input_bits}"), shape, elements=st.integers(low, high)))
    step = draw(st.sampled_from([1e-3, 0.02, 0.1, 0.7]))
    return dict(
        x=x, input_bits=input_bits, output_bits=output_bits, axis=draw(st.integers(-len(shape), len(shape) - 1)), step=step,
        multiplier=draw(st.integers(1, 127)), shift=draw(st.integers(0, 38)), zero_point=draw(st.integers(*integers(output_bits))),
    )


@SETTINGS
@given(softmax_cases())
def test_qsoftmax_matches_the_python_int_reference(case):
    c = case
    table = softmax_exp_table(c["step"], c["input_bits"])
    result = run_op(
        lambda x, t: QSoftmaxOp(x, t, quant(c["output_bits"], 0.5, c["zero_point"]), axis=c["axis"], multiplier=c["multiplier"], shift=c["shift"]),
        [(c["x"], quant(c["input_bits"], c["step"], 3))],
        [table],
    )
    rows = np.moveaxis(c["x"], c["axis"], -1)
    table_list = table.tolist()
    expected = np.array(
        [reference_softmax_row(row, table_list, c["multiplier"], c["shift"], c["zero_point"], c["output_bits"])
         for row in rows.reshape(-1, rows.shape[-1]).tolist()]
    ).reshape(rows.shape)
    assert result.dtype == np.dtype(f"int{c['output_bits']}")
    np.testing.assert_array_equal(result, np.moveaxis(expected, -1, c["axis"]))


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("step", [1e-4, 0.05, 0.3, 2.0])
def test_the_exp_table_is_exp_in_q23(bits, step):
    table = softmax_exp_table(step, bits)
    assert table.dtype == np.int32 and table.shape == (1 << bits,)
    assert table.tolist() == reference_table(step, bits)
    assert table[0] == ONE and np.all(np.diff(table) <= 0)


def test_the_kernel_refuses_a_table_that_is_not_exp_of_zero_first():
    table = softmax_exp_table(0.1, 8)
    table[0] = ONE - 1
    with pytest.raises(ValueError, match="entry 0"):
        softmax_integers(np.zeros((1, 4), np.int8), table, 64, 13, -128, 8)
    too_large = softmax_exp_table(0.1, 8)
    too_large[3] = ONE + 1
    with pytest.raises(ArithmeticOverflowError, match="softmax exp table"):
        softmax_integers(np.zeros((1, 4), np.int8), too_large, 64, 13, -128, 8)


# ---------------------------------------------------------------------------
# accuracy against the float softmax


def float_softmax(x: np.ndarray) -> np.ndarray:
    shifted = np.exp(x - x.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from([(8, 2.0**-8, -128), (16, 2.0**-16, -32768)]),
    st.sampled_from([0.02, 0.05, 0.1, 0.25]),
    st.integers(2, 300),
    st.integers(0, 2**32 - 1),
)
def test_qsoftmax_is_within_two_output_steps_of_the_float_softmax(output, step, length, seed):
    """Error bound (module docstring): the Q15 probability is within 2**-16 plus
    N * 2**-24 of the exact one; with the final rounding and the saturation of
    1.0 at the top of the range, at most 1 step of 2**-8 (int8 output) and 2
    steps of 2**-16 (int16; about 1.003 steps measured at N = 300), against the
    float softmax of the same (dequantized) inputs."""
    output_bits, output_step, zero_point = output
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, (3, length)).astype(np.int8)
    table = softmax_exp_table(step, 8)
    result = run_op(
        lambda v, t: QSoftmaxOp.for_types(v, t, quant(output_bits, output_step, zero_point), axis=-1),
        [(x, quant(8, step, 0))],
        [table],
    )
    exact = float_softmax(x.astype(np.float64) * step)
    error_in_steps = np.abs((result.astype(np.float64) - zero_point) * output_step - exact) / output_step
    assert error_in_steps.max() <= (1.0 if output_bits == 8 else 2.0)
