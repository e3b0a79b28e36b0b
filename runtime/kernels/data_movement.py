"""Data movement kernels: concat, split, slice, reshape, transpose, pad, expand, gather.

Where NumPy can, these return views (slice, transpose, expand, split), which is
safe because no kernel writes into its operands.
"""

from __future__ import annotations

import itertools

import numpy as np

from runtime.kernels.base import Kernel, ints, numpy_dtype, scalar, static_shape
from sima_dialect import ops


def build_concat(op: ops.ConcatOp) -> Kernel:
    axis = op.axis.value.data
    return lambda *inputs: np.concatenate(inputs, axis=axis)


def build_split(op: ops.SplitOp) -> Kernel:
    axis = op.axis.value.data
    sizes = [static_shape(result)[axis] for result in op.outputs]
    boundaries = list(itertools.accumulate(sizes))[:-1]
    if len(sizes) == 1:  # a single-result op returns its array, not a list of one
        return lambda x: x
    return lambda x: np.split(x, boundaries, axis=axis)


def build_slice(op: ops.SliceOp) -> Kernel:
    # `range` semantics: a negative step's end of -1 means "through index 0"
    index = tuple(
        slice(start, None if end < 0 else end, step)
        for start, end, step in zip(ints(op.starts), ints(op.ends), ints(op.steps))
    )
    return lambda x: x[index]


def build_reshape(op: ops.ReshapeOp) -> Kernel:
    shape = static_shape(op.output)
    return lambda x: x.reshape(shape)


def build_transpose(op: ops.TransposeOp) -> Kernel:
    perm = ints(op.perm)
    return lambda x: x.transpose(perm)


def build_pad(op: ops.PadOp) -> Kernel:
    pads = ints(op.pads)
    rank = len(pads) // 2
    widths = [(pads[axis], pads[axis + rank]) for axis in range(rank)]
    mode = op.mode.data  # ONNX constant / reflect / edge are NumPy's modes of the same names
    if mode == "constant":
        value = scalar(op.value.value.data, numpy_dtype(op.input))
        return lambda x: np.pad(x, widths, mode="constant", constant_values=value)
    return lambda x: np.pad(x, widths, mode=mode)


def build_expand(op: ops.ExpandOp) -> Kernel:
    shape = static_shape(op.output)
    return lambda x: np.broadcast_to(x, shape)


def build_gather(op: ops.GatherOp) -> Kernel:
    axis = op.axis.value.data
    # negative indices count from the end, as in ONNX Gather
    return lambda data, indices: np.take(data, indices, axis=axis)
