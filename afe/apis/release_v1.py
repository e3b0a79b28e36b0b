"""`DataGenerator` (seed 003): per-input arrays of samples, with per-input
transforms applied lazily as samples are read.

    generator = DataGenerator({"input_tensor": images})   # images[i] is sample i
    generator.map({"input_tensor": preprocess})
    samples = convert_data_generator_to_iterable(generator, length_limit=10)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from afe.apis.errors import UserFacingException


class DataGenerator:
    """Samples for a model's inputs: `data[name][i]` is input `name` of sample
    `i`. Every input must hold the same number of samples."""

    def __init__(self, data: Mapping[str, Any]):
        if not isinstance(data, Mapping) or not data:
            raise UserFacingException(
                "DataGenerator: expected a non-empty dict mapping input names to sample arrays, "
                f"got {type(data).__name__}."
            )
        self._sources: dict[str, Any] = {}
        for name, source in data.items():
            if not hasattr(source, "__len__") or not hasattr(source, "__getitem__"):
                raise UserFacingException(
                    f"DataGenerator: input {name!r} must be an array or a sequence of samples, "
                    f"got {type(source).__name__}."
                )
            self._sources[name] = source
        lengths = {name: len(source) for name, source in self._sources.items()}
        if len(set(lengths.values())) > 1:
            listed = ", ".join(f"{name!r}: {n}" for name, n in lengths.items())
            raise UserFacingException(
                f"DataGenerator: inputs hold different numbers of samples ({listed})."
            )
        self._length = next(iter(lengths.values()))
        self._transforms: dict[str, list[Callable[[Any], Any]]] = {name: [] for name in data}

    def map(self, transforms: Mapping[str, Callable[[Any], Any]]) -> "DataGenerator":
        """Apply `transforms[name]` to input `name` of every sample (after any
        earlier transforms). Changes this generator; returns it for chaining."""
        if not isinstance(transforms, Mapping):
            raise UserFacingException(
                f"DataGenerator.map: expected a dict of input name -> function, got "
                f"{type(transforms).__name__}."
            )
        for name, function in transforms.items():
            if name not in self._sources:
                known = ", ".join(repr(n) for n in self._sources)
                raise UserFacingException(
                    f"DataGenerator.map: unknown input {name!r}; the inputs are {known}."
                )
            if not callable(function):
                raise UserFacingException(
                    f"DataGenerator.map: the transform of input {name!r} is not callable."
                )
        for name, function in transforms.items():
            self._transforms[name].append(function)
        return self

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -self._length <= index < self._length:
            raise IndexError(f"sample {index} of a DataGenerator holding {self._length}")
        sample = {}
        for name, source in self._sources.items():
            value = source[index]
            for function in self._transforms[name]:
                try:
                    value = function(value)
                except Exception as exc:
                    raise UserFacingException(
                        f"DataGenerator: the transform of input {name!r} failed on sample "
                        f"{index}: {type(exc).__name__}: {exc}"
                    ) from exc
            sample[name] = value
        return sample

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for index in range(self._length):
            yield self[index]
