"""Scalar (element) types of tensors as the `afe` API names them.

`ScalarType.float32`, `ScalarType.uint8`, ... are what a user passes in an
importer's `dtype_dict` (seed 003) and what the quantizer reports as a tensor's
storage type. Each member knows its NumPy dtype and, for integers, its range.
"""

from __future__ import annotations

import enum

import ml_dtypes
import numpy as np


class ScalarType(enum.Enum):
    """Element type of a tensor."""

    bool = "bool"
    int8 = "int8"
    uint8 = "uint8"
    int16 = "int16"
    uint16 = "uint16"
    int32 = "int32"
    uint32 = "uint32"
    int64 = "int64"
    uint64 = "uint64"
    float16 = "float16"
    bfloat16 = "bfloat16"
    float32 = "float32"
    float64 = "float64"

    def numpy_type(self) -> np.dtype:
        """The NumPy dtype that stores values of this type."""
        if self is ScalarType.bfloat16:
            return np.dtype(ml_dtypes.bfloat16)
        return np.dtype(self.value)

    @classmethod
    def from_numpy(cls, dtype: np.dtype | type) -> ScalarType:
        dtype = np.dtype(dtype)
        if dtype == np.dtype(ml_dtypes.bfloat16):
            return cls.bfloat16
        try:
            return cls(dtype.name)
        except ValueError:
            allowed = ", ".join(t.value for t in cls)
            raise ValueError(f"NumPy dtype {dtype} has no ScalarType; supported: {allowed}") from None

    @property
    def is_integer(self) -> bool:
        return self.numpy_type().kind in "iu"

    @property
    def is_signed_integer(self) -> bool:
        return self.numpy_type().kind == "i"

    @property
    def is_float(self) -> bool:
        return self is ScalarType.bfloat16 or self.numpy_type().kind == "f"

    @property
    def bits(self) -> int:
        if self is ScalarType.bool:
            return 1
        return self.numpy_type().itemsize * 8

    @property
    def min_value(self) -> int:
        """Smallest integer this type holds (integer types only)."""
        return int(np.iinfo(self._integer_dtype()).min)

    @property
    def max_value(self) -> int:
        """Largest integer this type holds (integer types only)."""
        return int(np.iinfo(self._integer_dtype()).max)

    def _integer_dtype(self) -> np.dtype:
        if not self.is_integer:
            raise ValueError(f"{self.value} is not an integer type")
        return self.numpy_type()


def signed_integer_type(bits: int) -> ScalarType:
    """The signed integer ScalarType of `bits` bits (8, 16, 32 or 64)."""
    try:
        return {8: ScalarType.int8, 16: ScalarType.int16, 32: ScalarType.int32, 64: ScalarType.int64}[bits]
    except KeyError:
        raise ValueError(f"no signed integer type of {bits} bits; use 8, 16, 32 or 64") from None
