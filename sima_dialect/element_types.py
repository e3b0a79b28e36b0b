"""Element types of `sima` tensors and their NumPy counterparts.

Float tensors are f32 (or bf16, held as `ml_dtypes.bfloat16`); integer tensors
are signless i8/i16/i32 (i64 for indices, i1 for masks), as in MLIR. Quantized
tensors use `!sima.quant` (see `sima_dialect.types`), whose storage is an
integer type.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
from xdsl.dialects.builtin import (
    BFloat16Type,
    Float16Type,
    Float32Type,
    Float64Type,
    IntegerType,
    bf16,
    f16,
    f32,
    f64,
    i1,
    i8,
    i16,
    i32,
    i64,
)
from xdsl.ir import Attribute

_TO_NUMPY: dict[Attribute, np.dtype] = {
    f32: np.dtype(np.float32),
    f64: np.dtype(np.float64),
    f16: np.dtype(np.float16),
    bf16: np.dtype(ml_dtypes.bfloat16),
    i1: np.dtype(np.bool_),
    i8: np.dtype(np.int8),
    i16: np.dtype(np.int16),
    i32: np.dtype(np.int32),
    i64: np.dtype(np.int64),
}
_FROM_NUMPY: dict[np.dtype, Attribute] = {v: k for k, v in _TO_NUMPY.items()}


FLOAT_TYPES = (Float32Type, BFloat16Type, Float16Type, Float64Type)


def element_type_to_numpy(element_type: Attribute) -> np.dtype:
    """The NumPy dtype that stores `element_type` (the storage type if quantized)."""
    storage = getattr(element_type, "storage_type", element_type)
    try:
        return _TO_NUMPY[storage]
    except KeyError:
        raise ValueError(f"no NumPy dtype for element type {element_type}") from None


def numpy_to_element_type(dtype: np.dtype | type) -> Attribute:
    dtype = np.dtype(dtype)
    try:
        return _FROM_NUMPY[dtype]
    except KeyError:
        raise ValueError(f"NumPy dtype {dtype} has no sima element type") from None


def is_float_type(element_type: Attribute) -> bool:
    return isinstance(element_type, FLOAT_TYPES)


def is_integer_type(element_type: Attribute) -> bool:
    return isinstance(element_type, IntegerType)
