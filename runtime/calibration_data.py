"""Reading calibration data: an iterable of `{input_name: array}` samples
(seed 003), read once, each sample checked against the model's inputs, with a
progress bar.

Any iterable works: a list, a generator, `afe.core.utils.length_hinted(...)`,
`afe.core.utils.convert_data_generator_to_iterable(...)`. The progress bar
shows the total when the iterable knows its length (`len` or
`__length_hint__`).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TextIO

import numpy as np
from tqdm import tqdm

from afe.apis.errors import ExceptionFuncType, UserFacingException

InputSpecs = Mapping[str, tuple[tuple[int | None, ...], Any]]


def _numpy_dtype(dtype) -> np.dtype:
    """A dtype given as NumPy dtype, its name, or an `afe` ScalarType."""
    if hasattr(dtype, "numpy_type"):
        return np.dtype(dtype.numpy_type())
    return np.dtype(dtype)


def _shape_matches(shape: tuple[int, ...], expected: tuple[int | None, ...]) -> bool:
    """Equal shapes; a None or negative expected dimension matches any size."""
    return len(shape) == len(expected) and all(
        e is None or e < 0 or s == e for s, e in zip(shape, expected)
    )


def _shape_text(shape) -> str:
    return "(" + ", ".join("?" if d is None or d < 0 else str(d) for d in shape) + ")"


class _SampleChecker:
    """Checks one sample's arrays against the input specs; errors name the
    sample index and the input."""

    def __init__(self, input_specs: InputSpecs, func_type: ExceptionFuncType, what: str):
        if not input_specs:
            raise ValueError("the model has no inputs to calibrate")
        self.specs = {
            name: (tuple(shape), _numpy_dtype(dtype)) for name, (shape, dtype) in input_specs.items()
        }
        self.func_type, self.what = func_type, what

    def error(self, index: int, message: str) -> UserFacingException:
        return UserFacingException(f"{self.what} sample {index}: {message}", self.func_type)

    def check(self, index: int, sample) -> dict[str, np.ndarray]:
        if not isinstance(sample, Mapping):
            raise self.error(
                index,
                f"expected a dict mapping input names to arrays, got {type(sample).__name__}.",
            )
        unknown = [key for key in sample if key not in self.specs]
        if unknown:
            raise self.error(
                index,
                f"unknown input {unknown[0]!r}; the model's inputs are {self._names()}.",
            )
        checked = {}
        for name, (shape, dtype) in self.specs.items():
            if name not in sample:
                raise self.error(index, f"input {name!r} is missing (the model's inputs are {self._names()}).")
            checked[name] = self._check_array(index, name, sample[name], shape, dtype)
        return checked

    def _names(self) -> str:
        return ", ".join(repr(name) for name in self.specs)

    def _check_array(self, index, name, value, shape, dtype) -> np.ndarray:
        try:
            array = np.asarray(value)
        except (ValueError, TypeError) as exc:
            raise self.error(index, f"input {name!r} is not an array ({exc}).") from None
        if array.dtype.kind not in "biuf" or not np.can_cast(array.dtype, dtype, casting="same_kind"):
            raise self.error(
                index, f"input {name!r} has dtype {array.dtype}, which does not convert to {dtype}."
            )
        # A sample may leave out a leading batch dimension of 1.
        if not _shape_matches(array.shape, shape) and len(shape) >= 1 and shape[0] == 1 \
                and _shape_matches(array.shape, shape[1:]):
            array = array[np.newaxis]
        if not _shape_matches(array.shape, shape):
            raise self.error(
                index,
                f"input {name!r} has shape {tuple(array.shape)}, expected {_shape_text(shape)}.",
            )
        if array.dtype.kind == "f":
            finite = np.isfinite(array)
            if not finite.all():
                bad = int(array.size - np.count_nonzero(finite))
                raise self.error(index, f"input {name!r} holds {bad} NaN or Inf value(s).")
        if dtype.kind in "iu" and array.dtype != dtype and array.size:
            info = np.iinfo(dtype)
            if array.min() < info.min or array.max() > info.max:
                raise self.error(
                    index, f"input {name!r} has values outside the range of {dtype}."
                )
        return array.astype(dtype, copy=False)


def iterate_calibration_samples(
    data: Iterable[Mapping[str, Any]],
    input_specs: InputSpecs,
    *,
    func_type: ExceptionFuncType = ExceptionFuncType.LOADED_NET_QUANTIZE,
    what: str = "calibration",
    progress: bool | None = None,
    progress_file: TextIO | None = None,
) -> Iterator[dict[str, np.ndarray]]:
    """Yield each sample of `data` as `{input_name: array}` with every array
    checked against `input_specs` (name -> (shape, dtype)) and converted to
    the input's dtype (a missing leading batch dimension of 1 is added).

    `data` is iterated exactly once. A sample with a missing or unknown input,
    a wrong shape, a dtype that does not convert, or NaN/Inf values, and empty
    data, raise UserFacingException(func_type) naming the sample index and
    the input. `progress=None` shows the bar only on a terminal.
    """
    checker = _SampleChecker(input_specs, func_type, what)
    if isinstance(data, Mapping):
        raise UserFacingException(
            f"{what} data must be an iterable of dicts (one per sample), got a single dict; "
            "wrap it in a list.",
            func_type,
        )
    try:
        samples = iter(data)
    except TypeError:
        raise UserFacingException(
            f"{what} data must be an iterable of dicts, got {type(data).__name__}.", func_type
        ) from None
    total = operator.length_hint(data, 0) or None
    bar = tqdm(
        total=total,
        desc=what.capitalize(),
        unit=" samples",
        disable=None if progress is None else not progress,
        file=progress_file,
    )
    count = 0
    with bar:
        for count, sample in enumerate(samples, start=1):
            yield checker.check(count - 1, sample)
            bar.update(1)
    if count == 0:
        raise UserFacingException(f"{what} data is empty: it yielded no samples.", func_type)
