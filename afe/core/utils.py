"""Iterables of samples for calibration and execution (seed 003's example
imports `length_hinted` and `convert_data_generator_to_iterable` from here)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from afe.apis.errors import UserFacingException

T = TypeVar("T")


class LengthHintedIterable(Iterable[T]):
    """An iterable that also states how many items it holds (for progress
    bars); iterating it iterates the wrapped iterable."""

    def __init__(self, length: int, iterable: Iterable[T]):
        self.length = length
        self.iterable = iterable

    def __iter__(self) -> Iterator[T]:
        return iter(self.iterable)

    def __len__(self) -> int:
        return self.length

    def __length_hint__(self) -> int:
        return self.length


def length_hinted(length: int, iterable: Iterable[T]) -> LengthHintedIterable[T]:
    """`iterable`, declared to hold `length` items (it is not truncated)."""
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise UserFacingException(f"length_hinted: length must be an integer >= 0, got {length!r}.")
    try:
        iter(iterable)
    except TypeError:
        raise UserFacingException(
            f"length_hinted: expected an iterable, got {type(iterable).__name__}."
        ) from None
    return LengthHintedIterable(length, iterable)


class _DataGeneratorIterable(Iterable[dict[str, Any]]):
    """The samples of a DataGenerator, at most `limit` of them; iterable
    again and again."""

    def __init__(self, generator, limit: int | None):
        self.generator, self.limit = generator, limit

    def __len__(self) -> int:
        size = len(self.generator)
        return size if self.limit is None else min(size, self.limit)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return itertools.islice(iter(self.generator), len(self))


def convert_data_generator_to_iterable(data_generator, length_limit: int | None = None):
    """The samples of `data_generator` (an `afe.apis.release_v1.DataGenerator`)
    as an iterable of `{input_name: array}` dicts, the first `length_limit`
    of them when a limit is given."""
    if length_limit is not None and (
        isinstance(length_limit, bool) or not isinstance(length_limit, int) or length_limit < 0
    ):
        raise UserFacingException(
            f"convert_data_generator_to_iterable: length_limit must be an integer >= 0 or None, "
            f"got {length_limit!r}."
        )
    if not hasattr(data_generator, "__len__") or not hasattr(data_generator, "__iter__"):
        raise UserFacingException(
            "convert_data_generator_to_iterable: expected a DataGenerator, "
            f"got {type(data_generator).__name__}."
        )
    return _DataGeneratorIterable(data_generator, length_limit)
