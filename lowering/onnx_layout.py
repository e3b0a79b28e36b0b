"""Layouts of imported tensors: which permutation of the ONNX axes the IR stores.

ONNX is channel-first; the accelerator is channel-last. The importer keeps,
for every ONNX value, the IR value and a permutation `perm` with

    stored = onnx_value.transpose(perm)

so a 4-D activation produced by a convolution is stored NHWC (`perm = NHWC`)
while the ONNX graph still talks about NCHW. An op that does not care about
layout (elementwise, or one whose axis can be renumbered) works on the stored
value as it is; an op that does (a convolution wants NHWC, a reshape wants the
ONNX order unless its grouping survives the permutation) asks for the layout it
needs, and only then is a transpose emitted. ONNX `Transpose` itself emits
nothing: it only changes `perm`.
"""

from __future__ import annotations

from collections.abc import Sequence

Perm = tuple[int, ...]

NHWC: Perm = (0, 2, 3, 1)  # NCHW -> NHWC
NCHW_FROM_NHWC: Perm = (0, 3, 1, 2)


def identity(rank: int) -> Perm:
    return tuple(range(rank))


def is_identity(perm: Sequence[int]) -> bool:
    return all(p == i for i, p in enumerate(perm))


def inverse(perm: Sequence[int]) -> Perm:
    result = [0] * len(perm)
    for i, p in enumerate(perm):
        result[p] = i
    return tuple(result)


def permute(values: Sequence, perm: Sequence[int]) -> tuple:
    """`values` (one per ONNX axis) in stored order."""
    return tuple(values[p] for p in perm)


def stored_axis(axis: int, perm: Sequence[int]) -> int:
    """Where ONNX axis `axis` (already non-negative) sits in the stored tensor."""
    return list(perm).index(axis)


def transpose_between(current: Sequence[int], wanted: Sequence[int]) -> Perm:
    """The transpose taking a value stored with `current` to one stored with `wanted`."""
    position = inverse(current)
    return tuple(position[w] for w in wanted)


def moves_only_unit_dims(shape: Sequence[int], perm: Sequence[int]) -> bool:
    """True when transposing `shape` by `perm` keeps the order of its non-1 axes (a reshape)."""
    big = [p for p in perm if shape[p] != 1]
    return big == sorted(big)


def after_transpose(perm: Sequence[int], onnx_perm: Sequence[int]) -> Perm:
    """Layout of `Transpose(x, onnx_perm)` when x is stored with `perm` (no data moves)."""
    position = inverse(onnx_perm)
    return tuple(position[p] for p in perm)


def after_removing_axes(perm: Sequence[int], removed: Sequence[int]) -> Perm:
    """Layout after the ONNX axes `removed` (non-negative) disappear (reduce without keepdims)."""
    gone = set(removed)
    return tuple(p - sum(1 for r in gone if r < p) for p in perm if p not in gone)


def reshape_layout(in_shape: Sequence[int], perm: Sequence[int], out_shape: Sequence[int]) -> Perm | None:
    """A layout for `reshape(x, out_shape)` computed directly on the stored x.

    A reshape splits and merges groups of adjacent axes. If each group of x's
    non-unit axes is stored contiguously and in order, reshaping the stored
    tensor gives the result stored with the layout returned here (groups move
    together, unit axes stay where they are). Otherwise returns None and the
    caller reshapes x in ONNX order.
    """
    rank_out = len(out_shape)
    if is_identity(perm):
        return identity(rank_out)
    in_big = [a for a in range(len(in_shape)) if in_shape[a] != 1]
    out_big = [a for a in range(rank_out) if out_shape[a] != 1]
    groups: list[tuple[list[int], list[int]]] = []
    i = j = 0
    while i < len(in_big) and j < len(out_big):
        group_in, group_out = [in_big[i]], [out_big[j]]
        size_in, size_out = in_shape[in_big[i]], out_shape[out_big[j]]
        i, j = i + 1, j + 1
        while size_in != size_out:
            if size_in < size_out:
                if i == len(in_big):
                    return None
                group_in.append(in_big[i])
                size_in *= in_shape[in_big[i]]
                i += 1
            else:
                if j == len(out_big):
                    return None
                group_out.append(out_big[j])
                size_out *= out_shape[out_big[j]]
                j += 1
        groups.append((group_in, group_out))
    if i != len(in_big) or j != len(out_big):
        return None
    group_of = {axis: g for g, (axes, _) in enumerate(groups) for axis in axes}
    stored_big = [p for p in perm if in_shape[p] != 1]
    order: list[int] = []
    pos = 0
    while pos < len(stored_big):
        g = group_of[stored_big[pos]]
        axes = groups[g][0]
        if stored_big[pos : pos + len(axes)] != axes:
            return None
        order.append(g)
        pos += len(axes)
    new_big_order = iter([a for g in order for a in groups[g][1]])
    return tuple(next(new_big_order) if out_shape[a] != 1 else a for a in range(rank_out))
