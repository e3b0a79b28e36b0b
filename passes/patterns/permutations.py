"""Axis permutations, in the convention of `sima.transpose`.

`transpose(x, perm)` has output dim i = input dim perm[i]. Composition follows:
`transpose(transpose(x, first), second) == transpose(x, compose(first, second))`.
"""

from __future__ import annotations

from collections.abc import Sequence

Perm = tuple[int, ...]


def identity(rank: int) -> Perm:
    return tuple(range(rank))


def is_identity(perm: Sequence[int]) -> bool:
    return all(i == p for i, p in enumerate(perm))


def compose(first: Sequence[int], second: Sequence[int]) -> Perm:
    """The single permutation equal to applying `first`, then `second`."""
    return tuple(first[i] for i in second)


def invert(perm: Sequence[int]) -> Perm:
    inverse = [0] * len(perm)
    for i, p in enumerate(perm):
        inverse[p] = i
    return tuple(inverse)


def permute(values: Sequence, perm: Sequence[int]) -> tuple:
    """Where `transpose(x, perm)` puts x's per-axis values: result[i] = values[perm[i]]."""
    return tuple(values[p] for p in perm)


def is_reshape_like(input_shape: Sequence[int], perm: Sequence[int]) -> bool:
    """True when transposing `input_shape` by `perm` only moves size-1 axes.

    Row-major order of the elements is then unchanged, so the transpose is a
    reshape (a free relabelling of the shape, no data movement).
    """
    moved = [p for p in perm if input_shape[p] != 1]
    return moved == sorted(moved)
