"""Property tests of `sima_dialect.shapes` against independent references: NumPy's own
shape rules (on empty arrays, so nothing is computed) and brute-force window counts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.lib.array_utils import normalize_axis_index

from sima_dialect import shapes
from sima_dialect.shapes import ShapeError

small_shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=5)
nonempty_shapes = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5)


def empty(shape) -> np.ndarray:
    """A zero-strided array of `shape`: NumPy computes its shape rules without data."""
    return np.broadcast_to(np.float32(0), tuple(shape))


# --- broadcasting and axes -------------------------------------------------------


@given(st.lists(small_shapes, min_size=1, max_size=3))
def test_broadcast_matches_numpy_on_random_shapes(shape_list):
    try:
        expected = np.broadcast_shapes(*shape_list)
    except ValueError:
        with pytest.raises(ShapeError, match="do not broadcast"):
            shapes.broadcast_shapes(*shape_list)
    else:
        assert shapes.broadcast_shapes(*shape_list) == expected


@given(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=4, max_side=5))
def test_broadcast_matches_numpy_on_broadcastable_shapes(drawn):
    assert shapes.broadcast_shapes(*drawn.input_shapes) == drawn.result_shape


@given(st.integers(-6, 6), st.integers(1, 5))
def test_normalize_axis_matches_numpy(axis, rank):
    try:
        expected = normalize_axis_index(axis, rank)
    except np.exceptions.AxisError:
        with pytest.raises(ShapeError, match=rf"axis {axis} is out of range \[{-rank}, {rank - 1}\] for rank {rank}"):
            shapes.normalize_axis(axis, rank)
    else:
        assert shapes.normalize_axis(axis, rank) == expected


# --- windows: conv2d, pools, conv2d_transpose ----------------------------------------


def sliding_window_count(size: int, kernel: int, stride: int, pad_begin: int, pad_end: int, dilation: int) -> int:
    """How many window positions fit in the padded axis, counted one by one."""
    padded = pad_begin + size + pad_end
    last_tap = dilation * (kernel - 1)
    return sum(1 for start in range(0, padded, stride) if start + last_tap < padded)


window_axis = st.tuples(
    st.integers(1, 12),  # size
    st.integers(1, 5),  # kernel
    st.integers(1, 4),  # stride
    st.integers(0, 4),  # pad begin
    st.integers(0, 4),  # pad end
    st.integers(1, 3),  # dilation
)


@given(window_axis, window_axis, st.integers(1, 3), st.integers(1, 3), st.integers(1, 2))
def test_conv2d_output_matches_sliding_window_count(height, width, groups, in_per_group, out_per_group):
    (h, kh, sh, pt, pb, dh), (w, kw, sw, pl, pr, dw) = height, width
    c_in, c_out = groups * in_per_group, groups * out_per_group
    args = ((2, h, w, c_in), (kh, kw, in_per_group, c_out), (sh, sw), (pt, pl, pb, pr), (dh, dw), groups)
    oh = sliding_window_count(h, kh, sh, pt, pb, dh)
    ow = sliding_window_count(w, kw, sw, pl, pr, dw)
    if oh == 0 or ow == 0:
        with pytest.raises(ShapeError, match="does not fit"):
            shapes.conv2d_output_shape(*args)
    else:
        assert shapes.conv2d_output_shape(*args) == (2, oh, ow, c_out)


def windows_all_see_input(size: int, kernel: int, stride: int, pad_begin: int, dilation: int, count: int) -> bool:
    return all(
        any(0 <= start * stride - pad_begin + tap * dilation < size for tap in range(kernel)) for start in range(count)
    )


@given(window_axis, window_axis)
def test_pool_output_matches_sliding_window_count(height, width):
    (h, kh, sh, pt, pb, dh), (w, kw, sw, pl, pr, dw) = height, width
    args = ((1, h, w, 3), (kh, kw), (sh, sw), (pt, pl, pb, pr), (dh, dw))
    pads_fit = max(pt, pb) < kh and max(pl, pr) < kw
    oh = sliding_window_count(h, kh, sh, pt, pb, dh)
    ow = sliding_window_count(w, kw, sw, pl, pr, dw)
    if not pads_fit:
        with pytest.raises(ShapeError, match="must be smaller than the kernel"):
            shapes.pool_output_shape(*args)
    elif oh == 0 or ow == 0:
        with pytest.raises(ShapeError, match="does not fit"):
            shapes.pool_output_shape(*args)
    elif not (windows_all_see_input(h, kh, sh, pt, dh, oh) and windows_all_see_input(w, kw, sw, pl, dw, ow)):
        with pytest.raises(ShapeError, match="covers only padding"):
            shapes.pool_output_shape(*args)
    else:
        assert shapes.pool_output_shape(*args) == (1, oh, ow, 3)


def test_pool_rejects_a_dilated_window_over_padding_only():
    # width 1, taps at -1 and +1: both in the padding
    with pytest.raises(ShapeError, match=r"width: window 0 \(kernel 2, dilation 2\) covers only padding of the input size 1"):
        shapes.pool_output_shape((1, 1, 1, 4), (1, 2), (1, 1), (0, 1, 0, 1), (1, 2))


def scattered_extent(size: int, kernel: int, stride: int, dilation: int) -> int:
    """Length of the axis a transposed convolution writes to, by scattering every tap."""
    touched = {i * stride + k * dilation for i in range(size) for k in range(kernel)}
    return max(touched) + 1


@given(window_axis, window_axis, st.integers(0, 3), st.integers(0, 3), st.integers(1, 2))
def test_conv2d_transpose_output_matches_scatter_and_inverts_conv2d(height, width, oph, opw, groups):
    (h, kh, sh, pt, pb, dh), (w, kw, sw, pl, pr, dw) = height, width
    assume(oph < max(sh, dh) and opw < max(sw, dw))
    c_in = 2 * groups
    args = ((1, h, w, c_in), (kh, kw, c_in, 3), (sh, sw), (pt, pl, pb, pr), (dh, dw), (oph, opw), groups)
    oh = scattered_extent(h, kh, sh, dh) + oph - pt - pb
    ow = scattered_extent(w, kw, sw, dw) + opw - pl - pr
    if oh <= 0 or ow <= 0:
        with pytest.raises(ShapeError, match="is not positive"):
            shapes.conv2d_transpose_output_shape(*args)
        return
    out = shapes.conv2d_transpose_output_shape(*args)
    assert out == (1, oh, ow, 3 * groups)
    # the adjoint: a conv2d with the same window parameters maps the output back to the input size
    if oph < sh and opw < sw:
        back = shapes.conv2d_output_shape(out, (kh, kw, 3, c_in), (sh, sw), (pt, pl, pb, pr), (dh, dw), groups)
        assert back[1:3] == (h, w)


@pytest.mark.parametrize(
    "strides, pads, dilations, message",
    [
        ((1,), (0, 0, 0, 0), (1, 1), "strides must be 2 positive integers"),
        ((1, 0), (0, 0, 0, 0), (1, 1), "strides must be 2 positive integers"),
        ((1, 1), (0, 0, 0), (1, 1), "pads must be 4 non-negative integers"),
        ((1, 1), (0, -1, 0, 0), (1, 1), "pads must be 4 non-negative integers"),
        ((1, 1), (0, 0, 0, 0), (0, 1), "dilations must be 2 positive integers"),
    ],
)
def test_window_parameters_are_checked(strides, pads, dilations, message):
    with pytest.raises(ShapeError, match=message):
        shapes.conv2d_output_shape((1, 8, 8, 3), (3, 3, 3, 4), strides, pads, dilations, 1)


# --- matrix products ------------------------------------------------------------------


@given(st.lists(st.integers(1, 3), max_size=2), st.lists(st.integers(1, 3), max_size=2), st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.integers(1, 4))
def test_matmul_matches_numpy(batch_a, batch_b, m, k, k_rhs, n):
    lhs, rhs = (*batch_a, m, k), (*batch_b, k_rhs, n)
    try:
        expected = np.matmul(empty(lhs), empty(rhs)).shape
    except ValueError:
        with pytest.raises(ShapeError):
            shapes.matmul_output_shape(lhs, rhs)
    else:
        assert shapes.matmul_output_shape(lhs, rhs) == expected


@given(nonempty_shapes, st.integers(1, 5), st.booleans())
def test_dense_matches_numpy(input_shape, n, features_match):
    k = input_shape[-1] if features_match else input_shape[-1] + 1
    if features_match:
        assert shapes.dense_output_shape(input_shape, (k, n)) == (empty(input_shape) @ empty((k, n))).shape
    else:
        with pytest.raises(ShapeError, match=f"input features {input_shape[-1]} != weight rows {k}"):
            shapes.dense_output_shape(input_shape, (k, n))


# --- data movement -------------------------------------------------------------------------


@given(nonempty_shapes, st.data())
def test_slice_matches_range_length_and_numpy_slicing(shape, data):
    starts, ends, steps, index = [], [], [], []
    for dim in shape:
        step = data.draw(st.integers(-3, 3).filter(bool))
        if step > 0:
            start = data.draw(st.integers(0, dim))
            end = data.draw(st.integers(start, dim))
            index.append(slice(start, end, step))
        else:
            start = data.draw(st.integers(0, dim - 1))
            end = data.draw(st.integers(-1, start))
            # end = -1 means "through index 0"; in Python's slice that is end=None
            index.append(slice(start, None if end == -1 else end, step))
        starts.append(start), ends.append(end), steps.append(step)
    out = shapes.slice_output_shape(shape, starts, ends, steps)
    assert out == tuple(len(range(b, e, s)) for b, e, s in zip(starts, ends, steps))
    assert out == empty(shape)[tuple(index)].shape


@pytest.mark.parametrize(
    "starts, ends, steps, message",
    [
        ((0,), (2, 2), (1, 1), r"one entry per axis \(2\), got 1, 2 and 2"),
        ((0, 0), (2, 2), (1, 0), "step of axis 1 is 0"),
        ((0, 0), (2, 5), (1, 1), "axis 1: need 0 <= start 0 <= end 5 <= size 4"),
        ((3, 0), (2, 2), (1, 1), "axis 0: need 0 <= start 3 <= end 2"),
        ((4, 0), (0, 2), (-1, 1), "axis 0: need -1 <= end 0 <= start 4 < size 4 for a negative step"),
        ((1, 0), (-2, 2), (-1, 1), "axis 0: need -1 <= end -2 <= start 1"),
    ],
)
def test_slice_bounds_are_checked(starts, ends, steps, message):
    with pytest.raises(ShapeError, match=message):
        shapes.slice_output_shape((4, 4), starts, ends, steps)


@given(nonempty_shapes, st.data())
def test_transpose_matches_numpy(shape, data):
    perm = data.draw(st.permutations(range(len(shape))))
    assert shapes.transpose_output_shape(shape, perm) == np.transpose(empty(shape), perm).shape


@given(nonempty_shapes, st.data())
def test_transpose_rejects_non_permutations(shape, data):
    perm = data.draw(st.lists(st.integers(-1, len(shape)), min_size=0, max_size=len(shape) + 1))
    assume(sorted(perm) != list(range(len(shape))))
    with pytest.raises(ShapeError, match="is not a permutation"):
        shapes.transpose_output_shape(shape, perm)


@given(nonempty_shapes, st.data())
def test_pad_matches_numpy(shape, data):
    begins = data.draw(st.lists(st.integers(0, 3), min_size=len(shape), max_size=len(shape)))
    ends = data.draw(st.lists(st.integers(0, 3), min_size=len(shape), max_size=len(shape)))
    expected = np.pad(np.zeros(shape, np.int8), list(zip(begins, ends))).shape
    assert shapes.pad_output_shape(shape, [*begins, *ends]) == expected


def test_pad_rejects_bad_pads():
    with pytest.raises(ShapeError, match=r"pads needs 4 entries \(begins then ends\), got 2"):
        shapes.pad_output_shape((2, 3), (1, 1))
    with pytest.raises(ShapeError, match="pads must be non-negative"):
        shapes.pad_output_shape((2, 3), (0, -1, 0, 0))
    with pytest.raises(ShapeError, match="leaves an empty dimension"):
        shapes.pad_output_shape((0, 3), (0, 0, 0, 0))


@given(nonempty_shapes, st.data(), st.booleans())
def test_reduce_matches_numpy(shape, data, keepdims):
    rank = len(shape)
    axes = data.draw(st.lists(st.integers(-rank, rank - 1), min_size=1, max_size=rank, unique_by=lambda a: a % rank))
    expected = np.sum(empty(shape), axis=tuple(axes), keepdims=keepdims).shape
    assert shapes.reduce_output_shape(shape, axes, keepdims) == expected


def test_reduce_rejects_repeated_missing_and_out_of_range_axes():
    with pytest.raises(ShapeError, match=r"axes \[1, -2\] repeat an axis"):
        shapes.reduce_output_shape((2, 3, 4), (1, -2), False)
    with pytest.raises(ShapeError, match="axes must name at least one axis"):
        shapes.reduce_output_shape((2, 3, 4), (), False)
    with pytest.raises(ShapeError, match="axis 3 is out of range"):
        shapes.reduce_output_shape((2, 3, 4), (3,), True)


@given(nonempty_shapes, small_shapes, st.data())
def test_gather_matches_numpy_take(data_shape, indices_shape, data):
    axis = data.draw(st.integers(-len(data_shape), len(data_shape) - 1))
    expected = np.take(empty(data_shape), np.zeros(indices_shape, np.int64), axis=axis).shape
    assert shapes.gather_output_shape(data_shape, indices_shape, axis) == expected


@given(nonempty_shapes, st.data())
def test_concat_and_split_match_numpy(shape, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    sizes = data.draw(st.lists(st.integers(0, 4), min_size=1, max_size=4))
    pieces = [tuple(s if d == axis % len(shape) else dim for d, dim in enumerate(shape)) for s in sizes]
    joined = shapes.concat_output_shape(pieces, axis)
    assert joined == np.concatenate([np.zeros(p, np.int8) for p in pieces], axis=axis).shape
    expected_pieces = [a.shape for a in np.split(np.zeros(joined, np.int8), np.cumsum(sizes)[:-1], axis=axis)]
    assert shapes.split_output_shapes(joined, sizes, axis) == expected_pieces


def test_concat_and_split_errors():
    with pytest.raises(ShapeError, match="concat needs at least one input"):
        shapes.concat_output_shape([], 0)
    with pytest.raises(ShapeError, match="input 1 has rank 1, expected 2"):
        shapes.concat_output_shape([(2, 3), (3,)], 0)
    with pytest.raises(ShapeError, match="input 1 has size 4 in dimension 1, expected 3"):
        shapes.concat_output_shape([(2, 3), (2, 4)], 0)
    with pytest.raises(ShapeError, match="split needs at least one piece"):
        shapes.split_output_shapes((4,), [], 0)
    with pytest.raises(ShapeError, match=r"piece sizes \[5, -1\] must be non-negative"):
        shapes.split_output_shapes((4,), [5, -1], 0)
    with pytest.raises(ShapeError, match=r"piece sizes \[1, 2\] add up to 3, but axis 0 of the input has size 4"):
        shapes.split_output_shapes((4,), [1, 2], 0)


@given(st.lists(st.integers(0, 5), max_size=5))
def test_element_count_matches_numpy(shape):
    assert shapes.element_count(shape) == int(np.prod(shape, dtype=np.int64))


@settings(max_examples=30)
@given(nonempty_shapes)
def test_identity_shape_rules_return_the_shape_as_a_tuple_of_ints(shape):
    rank = len(shape)
    results = [
        shapes.broadcast_shapes(shape, shape),
        shapes.transpose_output_shape(shape, range(rank)),
        shapes.pad_output_shape(shape, [0] * 2 * rank),
        shapes.slice_output_shape(shape, [0] * rank, list(shape), [1] * rank),
    ]
    for result in results:
        assert isinstance(result, tuple) and all(type(d) is int for d in result)
        assert result == tuple(shape)
