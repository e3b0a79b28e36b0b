"""Table ops inside the onnxruntime session, exact by construction.

A function of one int8 / int16 value (lut, requantize, dequantize, a fused
chain of them: `runtime.integer_kernels.chains`) or of two int8 values
(qadd, qsub, qmul) is a table made by the op's own NumPy kernel over every
input value, so its ONNX form only has to READ the table right. It reads it
with GatherElements on the flattened input: onnxruntime's Gather copies
element by element (~16 ns each, measured), its GatherElements on a 1-D
table runs at NumPy's `take` speed (measured: 200k int8 values 0.35 ms,
`take` 0.30 ms, Gather 3.5 ms), so the tables no longer cut the graph into
one onnxruntime session per convolution.

Indices are the input values themselves, cast to int32: GatherElements takes
a negative index -k as entry size - k, so a table laid out by the values'
unsigned bit patterns (`exact_float.value_table`'s order) is read at
x's bit pattern. Two int8 values: index a * 256 + b in [-32896, 32639],
65536 consecutive integers, read from a table laid out by (a * 256 + b) mod 65536.
"""

from __future__ import annotations

import numpy as np

from runtime.kernels import KERNELS  # first: it completes runtime.integer_kernels' import cycle
from runtime.integer_arithmetic import ArithmeticOverflowError, lookup
from runtime.integer_kernels.exact_float import value_table
from runtime.onnx_backend.graph import INT32, Fragment
from sima_dialect.element_types import element_type_to_numpy

INT8, INT16 = np.dtype(np.int8), np.dtype(np.int16)
SMALL_INTEGERS = (INT8, INT16)
PAIR_TABLE_SIZE = 1 << 16


class TableNotLowerable(Exception):
    """The op has no table form here (the reason says why)."""


def _dtype(value) -> np.dtype:
    return np.dtype(element_type_to_numpy(value.type.element_type))


def read_table(f: Fragment, table: np.ndarray, index: str, shape: tuple[int, ...] | None = None) -> str:
    """table[index] for an int32 tensor `index` of any shape (negative: from the end);
    `shape`, index's static shape if known (saves a Shape node)."""
    flat = f.node("Reshape", [index, f.constant([-1], np.int64)])
    read = f.node("GatherElements", [f.constant(np.ascontiguousarray(table)), flat], axis=0)
    return f.node("Reshape", [read, f.node("Shape", [index]) if shape is None else f.constant(list(shape), np.int64)])


def read_by_value(f: Fragment, table_by_pattern: np.ndarray, x: str, shape: tuple[int, ...] | None = None) -> str:
    """table[bit pattern of x] for an int8 / int16 tensor x (of static `shape`, if known)."""
    return read_table(f, table_by_pattern, f.cast(x, INT32), shape)


def unary_table(op, dtype: np.dtype) -> np.ndarray:
    """The table of a requantize / dequantize over every `dtype` value, by bit pattern, made by its kernel."""
    if dtype not in SMALL_INTEGERS:
        raise TableNotLowerable(f"its input is {dtype}, tables take int8 / int16")
    table = value_table(KERNELS[type(op)](op), dtype)
    if table is None:
        raise TableNotLowerable("its kernel refuses some input value (the model's overflow check)")
    return table


def lut_table(dtype: np.dtype, table: np.ndarray) -> np.ndarray:
    """A lut's table by bit pattern, read through the checked `lookup` (which refuses a wrong size)."""
    if dtype not in SMALL_INTEGERS:
        raise TableNotLowerable(f"its input is {dtype}")
    info = np.iinfo(dtype)
    values = np.arange(int(info.min), int(info.max) + 1, dtype=np.int64).astype(dtype)
    try:
        by_value = lookup(values, table)
    except (TypeError, ValueError) as error:
        raise TableNotLowerable(str(error)) from None
    half = by_value.shape[0] // 2
    return np.concatenate([by_value[half:], by_value[:half]])


def pair_table(op) -> np.ndarray:
    """qadd / qsub / qmul of two int8 operands over every pair (a, b), at (a * 256 + b) mod 65536."""
    values = np.arange(-128, 128, dtype=np.int64)
    try:
        with np.errstate(all="ignore"):
            pairs = np.asarray(KERNELS[type(op)](op)(values.astype(np.int8)[:, None], values.astype(np.int8)[None, :]))
    except ArithmeticOverflowError:
        raise TableNotLowerable("its kernel refuses some input pair (the model's overflow check)") from None
    if pairs.shape != (256, 256):
        raise TableNotLowerable(f"its kernel gave a {pairs.shape} table")
    table = np.empty(PAIR_TABLE_SIZE, dtype=pairs.dtype)
    table[(values[:, None] * 256 + values[None, :]) % PAIR_TABLE_SIZE] = pairs
    return table


def read_pair(f: Fragment, table: np.ndarray, lhs: str, rhs: str, shape: tuple[int, ...] | None = None) -> str:
    """table[(a * 256 + b) mod 65536] for int8 tensors a, b (broadcast as the op broadcasts, to `shape`)."""
    a, b = f.cast(lhs, INT32), f.cast(rhs, INT32)
    return read_table(f, table, f.node("Add", [f.node("Mul", [a, f.constant(256, np.int32)]), b]), shape)


__all__ = ["TableNotLowerable", "lut_table", "pair_table", "read_by_value", "read_pair", "read_table", "unary_table"]
