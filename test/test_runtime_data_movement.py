"""Data movement kernels against explicit index loops and onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from runtime_ir import Weight, run_onnx_node, run_op

from sima_dialect import ops, shapes


def arange(*shape, dtype=np.float32):
    return np.arange(np.prod(shape), dtype=dtype).reshape(shape)


def test_concat_along_channels_matches_loops_and_onnxruntime():
    a, b, c = arange(1, 2, 2, 1), arange(1, 2, 2, 3) + 100, arange(1, 2, 2, 2) + 200
    (got,) = run_op(ops.ConcatOp, [[a, Weight(b), c]], [((1, 2, 2, 6), np.float32)], axis=-1)
    for h in range(2):
        for w in range(2):
            assert got[0, h, w].tolist() == [*a[0, h, w], *b[0, h, w], *c[0, h, w]]
    np.testing.assert_array_equal(got, run_onnx_node("Concat", {"a": a, "b": b, "c": c}, ["y"], axis=-1)[0])


def test_split_gives_each_piece():
    x = arange(2, 7, 3)
    pieces = run_op(ops.SplitOp, [x], [[((2, 2, 3), np.float32), ((2, 4, 3), np.float32), ((2, 1, 3), np.float32)]], axis=1)
    assert [p.shape for p in pieces] == [(2, 2, 3), (2, 4, 3), (2, 1, 3)]
    np.testing.assert_array_equal(pieces[0], x[:, 0:2])
    np.testing.assert_array_equal(pieces[1], x[:, 2:6])
    np.testing.assert_array_equal(pieces[2], x[:, 6:7])
    split = np.array([2, 4, 1], dtype=np.int64)
    onnx_pieces = run_onnx_node("Split", {"x": x}, ["p0", "p1", "p2"], {"split": split}, axis=1)
    for got, expected in zip(pieces, onnx_pieces):
        np.testing.assert_array_equal(got, expected)


def test_split_into_one_piece_is_the_input():
    x = arange(2, 3)
    (got,) = run_op(ops.SplitOp, [x], [[((2, 3), np.float32)]], axis=0)
    np.testing.assert_array_equal(got, x)


@pytest.mark.parametrize(
    "starts,ends,steps",
    [((0, 1, 0), (2, 5, 3), (1, 2, 1)), ((1, 4, 2), (-1, -1, -1), (-1, -2, -1)), ((0, 3, 0), (2, 0, 3), (1, -1, 2))],
)
def test_slice_has_range_semantics(starts, ends, steps):
    x = arange(2, 5, 3)
    out_shape = shapes.slice_output_shape(x.shape, starts, ends, steps)
    (got,) = run_op(ops.SliceOp, [x], [(out_shape, np.float32)], starts=starts, ends=ends, steps=steps)
    ranges = [list(range(b, e, s)) for b, e, s in zip(starts, ends, steps)]
    reference = np.array([[[x[i, j, k] for k in ranges[2]] for j in ranges[1]] for i in ranges[0]]).reshape(out_shape)
    np.testing.assert_array_equal(got, reference)
    # ONNX clamps ends; -1 with a negative step is "before index 0" = INT_MIN there
    onnx_ends = np.array([e if e >= 0 else np.iinfo(np.int64).min for e in ends], np.int64)
    inits = {"starts": np.array(starts, np.int64), "ends": onnx_ends, "axes": np.arange(3, dtype=np.int64), "steps": np.array(steps, np.int64)}
    np.testing.assert_array_equal(got, run_onnx_node("Slice", {"x": x}, ["y"], inits)[0])


def test_reshape_is_row_major():
    x = arange(2, 3, 4)
    (got,) = run_op(ops.ReshapeOp, [x], [((4, 6), np.float32)])
    flat = [x[i, j, k] for i in range(2) for j in range(3) for k in range(4)]
    assert got.reshape(-1).tolist() == flat and got.shape == (4, 6)


def test_transpose_nhwc_to_nchw():
    x = arange(2, 3, 4, 5)
    (got,) = run_op(ops.TransposeOp, [x], [((2, 5, 3, 4), np.float32)], perm=(0, 3, 1, 2))
    for index in np.ndindex(2, 5, 3, 4):
        n, c, h, w = index
        assert got[index] == x[n, h, w, c]
    np.testing.assert_array_equal(got, run_onnx_node("Transpose", {"x": x}, ["y"], perm=[0, 3, 1, 2])[0])


def pad_reference(x, pads, mode, value):
    """Index arithmetic per output element: where each output element comes from."""
    out_shape = shapes.pad_output_shape(x.shape, pads)
    out = np.empty(out_shape, dtype=x.dtype)
    for index in np.ndindex(*out_shape):
        source = []
        for axis, i in enumerate(index):
            j, size = i - pads[axis], x.shape[axis]
            if mode == "edge":
                j = min(max(j, 0), size - 1)
            elif mode == "reflect":
                while not 0 <= j < size:
                    j = -j if j < 0 else 2 * (size - 1) - j
            source.append(j)
        inside = all(0 <= j < x.shape[a] for a, j in enumerate(source))
        out[index] = x[tuple(source)] if inside else value
    return out


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge"])
def test_pad_modes_match_index_loops_and_onnxruntime(mode):
    x = arange(1, 3, 4, 2) - 5
    pads = (0, 2, 1, 0, 0, 1, 3, 1)
    out_shape = shapes.pad_output_shape(x.shape, pads)
    (got,) = run_op(ops.PadOp, [x], [(out_shape, np.float32)], pads=pads, mode=mode, value=-1.5)
    np.testing.assert_array_equal(got, pad_reference(x, pads, mode, -1.5))
    inits = {"pads": np.array(pads, np.int64)}
    if mode == "constant":
        inits["value"] = np.array(-1.5, np.float32)
    np.testing.assert_array_equal(got, run_onnx_node("Pad", {"x": x}, ["y"], inits, mode=mode)[0])


def test_expand_broadcasts_and_output_is_writable():
    x = arange(3, 1)
    (got,) = run_op(ops.ExpandOp, [x], [((2, 3, 4), np.float32)])
    for index in np.ndindex(2, 3, 4):
        assert got[index] == x[index[1], 0]
    got[0, 0, 0] = 42  # the caller owns its outputs, even when the kernel returned a broadcast view
    np.testing.assert_array_equal(got[1], np.repeat(x, 4, axis=1))
    shape = np.array([2, 3, 4], np.int64)
    np.testing.assert_array_equal(got[1:], run_onnx_node("Expand", {"x": x}, ["y"], {"shape": shape})[0][1:])


@pytest.mark.parametrize("axis", [0, 1])
def test_gather_with_negative_indices_matches_loops_and_onnxruntime(axis):
    data = arange(5, 3)
    indices = np.array([[0, -1], [2, 1]], dtype=np.int64) if axis == 0 else np.array([2, -3, 0], dtype=np.int32)
    out_shape = shapes.gather_output_shape(data.shape, indices.shape, axis)
    (got,) = run_op(ops.GatherOp, [Weight(data), indices], [(out_shape, np.float32)], axis=axis)
    for index in np.ndindex(*out_shape):
        if axis == 0:
            i = indices[index[0], index[1]]
            expected = data[i % 5, index[2]]
        else:
            expected = data[index[0], indices[index[1]] % 3]
        assert got[index] == expected
    np.testing.assert_array_equal(got, run_onnx_node("Gather", {"d": data, "i": indices}, ["y"], axis=axis)[0])
