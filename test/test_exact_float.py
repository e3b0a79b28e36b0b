"""The table and float paths of `runtime.integer_kernels.exact_float` against the
checked functions of `runtime.integer_arithmetic` they stand in for, and their
fallbacks: where a checked function refuses an input, the table is not built,
and the checked function runs on the real data (raising only if the data
reaches that input)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import runtime.kernels  # noqa: F401  (the registries, before the kernel modules)
from afe.ir.tensor_type import signed_integer_type
from runtime.integer_arithmetic import (
    ArithmeticOverflowError,
    InputRescale,
    TFLiteRequantization,
    add_integers,
    dequantize,
    multiply_integers,
    quantize,
)
from runtime.integer_kernels.exact_float import (
    centered_product,
    quantize_rounding_quotient,
    rescaled_sum,
    tabulate_binary,
    tabulate_unary,
    value_table,
)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
INT8, INT16 = signed_integer_type(8), signed_integer_type(16)


def int_arrays(dtype, shape):
    info = np.iinfo(dtype)
    return hnp.arrays(dtype, shape, elements=st.integers(int(info.min), int(info.max)))


@SETTINGS
@given(st.sampled_from([np.int8, np.int16]), st.floats(1e-4, 10.0), st.integers(-100, 100), st.data())
def test_a_tabulated_function_of_one_value_is_the_function(dtype, step, zero_point, data):
    x = data.draw(int_arrays(dtype, hnp.array_shapes(max_dims=3, max_side=5)))
    kernel = lambda q: dequantize(q, step, zero_point)  # noqa: E731
    table = tabulate_unary(kernel, np.dtype(dtype))
    np.testing.assert_array_equal(table(x), kernel(x))


@SETTINGS
@given(st.integers(1, 127), st.integers(0, 38), st.integers(1, 127), st.integers(0, 38), st.integers(0, 20), st.data())
def test_a_tabulated_int8_add_is_the_checked_add_with_broadcasting(m1, n1, m2, n2, left_shift, data):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4))
    lhs = data.draw(int_arrays(np.int8, shapes.input_shapes[0]))
    rhs = data.draw(int_arrays(np.int8, shapes.input_shapes[1]))
    rescales = InputRescale(3, m1, n1), InputRescale(-7, m2, n2)
    requantization = TFLiteRequantization(np.array(64), np.array(20), 5)

    def checked(a, b):
        return add_integers(a, b, *rescales, left_shift, requantization, INT8)

    try:
        expected = checked(lhs, rhs)
    except ArithmeticOverflowError:
        expected = None
    table = tabulate_binary(checked, np.dtype(np.int8), np.dtype(np.int8))
    if table is None:  # some pair overflows: the kernel keeps the checked function
        with pytest.raises(ArithmeticOverflowError):
            checked(np.arange(-128, 128, dtype=np.int8)[:, None], np.arange(-128, 128, dtype=np.int8)[None, :])
        return
    assert expected is not None  # a table exists only where no pair overflows
    np.testing.assert_array_equal(table(lhs, rhs), expected)


def test_a_pair_that_overflows_keeps_the_checked_function_which_raises_only_on_that_data():
    # (-128) * (-128) << 17 = 2**31 leaves int32 while 10 * 10 << 17 does not
    requantization = TFLiteRequantization(np.array(1), np.array(30), 0)

    def checked(a, b):
        return multiply_integers(a, 0, b, 0, 17, requantization, INT8)

    assert tabulate_binary(checked, np.dtype(np.int8), np.dtype(np.int8)) is None
    assert centered_product(0, 0, np.dtype(np.int8), np.dtype(np.int8), 17, requantization, np.dtype(np.int8)) is None
    small = np.array([10, -10], dtype=np.int8)
    checked(small, small)  # fine on data that stays in range
    with pytest.raises(ArithmeticOverflowError):
        checked(np.array([-128], dtype=np.int8), np.array([-128], dtype=np.int8))


@SETTINGS
@given(
    st.sampled_from([(np.int8, np.int16), (np.int16, np.int8), (np.int16, np.int16)]),
    st.integers(1, 127), st.integers(0, 38), st.integers(1, 127), st.integers(0, 38), st.integers(0, 14),
    st.booleans(), st.data(),
)
def test_int16_adds_from_per_input_tables_are_the_checked_add(dtypes, m1, n1, m2, n2, left_shift, subtract, data):
    lhs_dtype, rhs_dtype = map(np.dtype, dtypes)
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4))
    lhs = data.draw(int_arrays(lhs_dtype, shapes.input_shapes[0]))
    rhs = data.draw(int_arrays(rhs_dtype, shapes.input_shapes[1]))
    lhs_rescale, rhs_rescale = InputRescale(11, m1, n1), InputRescale(-300, m2, n2)
    requantization = TFLiteRequantization(np.array(data.draw(st.integers(1, 127))), np.array(data.draw(st.integers(0, 38))), -3)
    output_dtype = np.dtype(np.int16)
    fast = rescaled_sum(
        value_table(lambda q: lhs_rescale.apply(q, left_shift), lhs_dtype),
        value_table(lambda q: rhs_rescale.apply(q, left_shift), rhs_dtype),
        lhs_dtype, rhs_dtype, requantization, output_dtype, subtract,
    )
    try:
        expected = add_integers(lhs, rhs, lhs_rescale, rhs_rescale, left_shift, requantization, INT16, subtract=subtract)
    except ArithmeticOverflowError:
        return  # then the tables or their bound refuse too (checked below when they do not)
    if fast is not None:
        np.testing.assert_array_equal(fast(lhs, rhs), expected)


@SETTINGS
@given(
    st.sampled_from([(np.int8, np.int16), (np.int16, np.int8), (np.int16, np.int16), (np.int8, np.int8)]),
    st.integers(-128, 127), st.integers(-128, 127), st.integers(0, 2), st.data(),
)
def test_int16_products_in_float64_are_the_checked_product(dtypes, z1, z2, left_shift, data):
    lhs_dtype, rhs_dtype = map(np.dtype, dtypes)
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4))
    lhs = data.draw(int_arrays(lhs_dtype, shapes.input_shapes[0]))
    rhs = data.draw(int_arrays(rhs_dtype, shapes.input_shapes[1]))
    requantization = TFLiteRequantization(np.array(data.draw(st.integers(1, 127))), np.array(data.draw(st.integers(0, 38))), 7)
    fast = centered_product(z1, z2, lhs_dtype, rhs_dtype, left_shift, requantization, np.dtype(np.int16))
    def magnitude(dtype, zero_point):
        info = np.iinfo(dtype)
        return max(abs(int(info.min) - zero_point), abs(int(info.max) - zero_point))

    # refused exactly where the types cannot bound the product << L within int32
    assert (fast is None) == ((magnitude(lhs_dtype, z1) * magnitude(rhs_dtype, z2)) << left_shift > 2**31 - 1)
    if fast is None:
        return
    expected = multiply_integers(lhs, z1, rhs, z2, left_shift, requantization, INT16)
    np.testing.assert_array_equal(fast(lhs, rhs), expected)


@SETTINGS
@given(st.sampled_from([8, 16, 32]), st.floats(1e-6, 1e4), st.data())
def test_quantize_by_the_rounded_quotient_is_the_exact_quantize(bits, step, data):
    zero_point = data.draw(st.integers(-100, 100))
    halves = st.integers(-(2**12), 2**12).map(lambda k: np.float32(k * step / 2))  # at and next to the ties
    near = halves.flatmap(lambda v: st.sampled_from([v, np.nextafter(v, np.float32(np.inf)), np.nextafter(v, np.float32(-np.inf))]))
    x = data.draw(hnp.arrays(np.float32, hnp.array_shapes(min_dims=0, max_dims=2, max_side=8), elements=st.one_of(st.floats(width=32, allow_nan=False), near)))
    output_type = signed_integer_type(bits)
    fast = quantize_rounding_quotient(step, zero_point, output_type, quantize)
    np.testing.assert_array_equal(fast(x), quantize(x, step, zero_point, output_type))


def test_quantize_by_the_rounded_quotient_refuses_nan_as_the_exact_one_does():
    fast = quantize_rounding_quotient(0.5, 0, INT8, quantize)
    with pytest.raises(ArithmeticOverflowError, match="cannot quantize NaN"):
        fast(np.array([1.0, np.nan], dtype=np.float32))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([np.int8, np.int16]), st.integers(-5, 5), st.integers(-300, 300),
    st.sampled_from([(2, 1 << 17), (3, 1 << 17 | 1), (1 << 18,), (5, 7)]), st.booleans(), st.integers(0, 2**32 - 1),
)
def test_int8_tables_read_by_byte_pairs_are_the_function(output_dtype, multiplier, offset, shape, strided, seed):
    """int8 -> int8 / int16 tables are read two values at a time (`paired_table`) on
    large contiguous arrays of even size, one at a time otherwise (odd sizes, strided
    views, small arrays): against the function itself."""
    from runtime.integer_arithmetic import lookup, saturate
    from runtime.integer_kernels.exact_float import paired_table, table_lookup_kernel

    bits = np.dtype(output_dtype).itemsize * 8
    kernel = lambda q: saturate(q.astype(np.int64) * multiplier + offset, signed_integer_type(bits))  # noqa: E731
    x = np.random.default_rng(seed).integers(-128, 128, shape).astype(np.int8)
    if strided:
        x = x[..., ::2]
    tabulated = tabulate_unary(kernel, np.dtype(np.int8))
    assert paired_table(value_table(kernel, np.dtype(np.int8))) is not None
    np.testing.assert_array_equal(tabulated(x), kernel(x))
    table = kernel(np.arange(-128, 128, dtype=np.int8))  # sima.lut's table, indexed by q - min
    np.testing.assert_array_equal(table_lookup_kernel(lookup, np.dtype(np.int8))(x, table), lookup(x, table))


@SETTINGS
@given(st.integers(1, 127), st.integers(8, 38), st.integers(1, 127), st.integers(8, 38), st.booleans(), st.data())
def test_a_tabulated_int8_add_with_a_constant_operand_is_the_checked_add(m1, n1, m2, n2, constant_first, data):
    """One operand a single read-only value (an op's constant): the op is read as
    a function of the other (a row or column of the pair table, by byte pairs)."""
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=4, max_side=5))
    x = data.draw(int_arrays(np.int8, shape))
    constant = np.full((1,) * data.draw(st.integers(0, 5)), data.draw(st.integers(-128, 127)), dtype=np.int8)
    constant.flags.writeable = False
    rescales = InputRescale(3, m1, n1), InputRescale(-7, m2, n2)
    requantization = TFLiteRequantization(np.array(64), np.array(20), 5)

    def checked(a, b):
        return add_integers(a, b, *rescales, 20, requantization, INT8, subtract=True)

    table = tabulate_binary(checked, np.dtype(np.int8), np.dtype(np.int8))
    assert table is not None  # shifts >= 8 keep every pair in range
    lhs, rhs = (constant, x) if constant_first else (x, constant)
    result, expected = table(lhs, rhs), checked(lhs, rhs)
    assert result.shape == expected.shape
    np.testing.assert_array_equal(result, expected)

