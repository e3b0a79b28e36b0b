"""Chains of elementwise integer ops, run as one table lookup.

Each op of a chain computes every element of its result from the element at
the same position of one int8 / int16 operand, its other operands being
constants with one value (a lut's table, the scalar of a qadd / qsub / qmul,
the constants of a requantize or dequantize). A chain of such ops, each
result read only by the next op, is then a function of one int8 / int16
value: the interpreter runs the chain's own kernels once, at compile time, on
every value of the input type, and replaces the chain by one lookup in that
table (`exact_float.lookup_by_bit_pattern`, by byte pairs for int8). The
integers are those of the kernels by construction.

PP-LCNet's affine blocks (hard_swish lut -> qmul by a scale -> qadd of a bias,
in PP-OCR det and rec) become one lookup instead of three.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from xdsl.dialects.builtin import TensorType
from xdsl.ir import Operation

from runtime.integer_arithmetic import ArithmeticOverflowError
from runtime.integer_kernels.exact_float import _all_values, _by_bit_pattern, lookup_by_bit_pattern, paired_table, unsigned_view
from sima_dialect import quantized_ops as q
from sima_dialect.element_types import element_type_to_numpy

# ops that are elementwise in their one non-constant operand (given constants of one value)
ELEMENTWISE_OPS = (q.LutOp, q.QAddOp, q.QSubOp, q.QMulOp, q.RequantizeOp, q.DequantizeOp)
_TABLE_TYPES = (np.dtype(np.int8), np.dtype(np.int16))

# (op, kernel, operand slots, result slots, where): a step of the interpreter's plan as it compiles it
Step = tuple[Operation, Any, tuple[int, ...], tuple[int, ...], str]


def _static_shape(value) -> tuple[int, ...] | None:
    if not isinstance(value.type, TensorType):
        return None
    shape = tuple(value.type.get_shape())
    return None if any(d < 0 for d in shape) else shape


def _storage_dtype(value) -> np.dtype | None:
    element = value.type.element_type if isinstance(value.type, TensorType) else None
    if isinstance(element, q.QuantizedType):
        return np.dtype(q.storage_type(element).numpy_type())
    try:
        return element_type_to_numpy(element)
    except ValueError:  # no NumPy dtype: not a table's type
        return None


def varying_operand(op: Operation, constant: Sequence[bool]) -> int | None:
    """The index of the operand whose same-position element alone gives each
    element of `op`'s result (an int8 / int16 operand of the result's shape),
    the others being constants of one value; None if `op` is not such an op."""
    if not isinstance(op, ELEMENTWISE_OPS) or len(op.results) != 1:
        return None
    varying = [i for i, is_constant in enumerate(constant) if not is_constant]
    if len(varying) != 1:
        return None
    index = varying[0]
    value = op.operands[index]
    shape = _static_shape(value)
    if shape is None or shape != _static_shape(op.results[0]) or _storage_dtype(value) not in _TABLE_TYPES:
        return None
    if isinstance(op, q.LutOp):
        return index if index == 0 else None
    others = [operand for i, operand in enumerate(op.operands) if i != index]
    if any(_static_shape(other) is None or int(np.prod(_static_shape(other))) != 1 for other in others):
        return None
    return index


def _chain_table(chain: Sequence[tuple[Step, int]], constants: Mapping[int, np.ndarray], dtype: np.dtype) -> np.ndarray | None:
    """The chain's kernels applied to every value of `dtype` (in bit-pattern order), or None
    where a kernel refuses a value (then the chain's ops run one by one, on the real data)."""
    values = _by_bit_pattern(_all_values(dtype))
    values.flags.writeable = False
    try:
        with np.errstate(all="ignore"):
            for (_, kernel, operands, _, _), index in chain:
                arguments = [values if i == index else constants[slot] for i, slot in enumerate(operands)]
                values = np.asarray(kernel(*arguments)).reshape(-1)
    except ArithmeticOverflowError:
        return None
    if values.shape != (1 << (8 * dtype.itemsize),):
        return None
    values = np.ascontiguousarray(values)
    values.flags.writeable = False
    return values


def table_kernel(table: np.ndarray, dtype: np.dtype) -> Callable[[np.ndarray], np.ndarray]:
    """`table[bit pattern of q]` for q of `dtype`."""
    unsigned = unsigned_view(dtype)
    pairs = paired_table(table) if dtype == np.dtype(np.int8) else None

    def chain_lookup(q: np.ndarray) -> np.ndarray:
        return lookup_by_bit_pattern(table, pairs, q, unsigned)

    return chain_lookup


@dataclass(frozen=True)
class Chain:
    """Elementwise ops run as one table: `positions` in the plan (in order), the slot of
    the first op's varying operand, the table over every value of its `dtype` (by bit pattern)."""

    positions: tuple[int, ...]
    source: int
    dtype: np.dtype
    table: np.ndarray
    where: str


def elementwise_chains(steps: Sequence[Step], constants: Mapping[int, np.ndarray], keep: set[int]) -> list[Chain]:
    """The chains of two or more elementwise ops (`varying_operand`) of `steps` whose
    intermediate results are read only by the next op of the chain (and are not in
    `keep`, e.g. the function's outputs), with their tables made by their own kernels."""
    readers: dict[int, int] = {}
    for _, _, operands, _, _ in steps:
        for slot in operands:
            readers[slot] = readers.get(slot, 0) + 1
    chains: list[list[tuple[int, int]]] = []  # (step index, varying operand index), in order
    open_chain: dict[int, int] = {}  # result slot -> index in `chains` of the chain it ends
    for position, (op, _, operands, results, _) in enumerate(steps):
        index = varying_operand(op, [slot in constants for slot in operands])
        if index is None:
            continue
        source = operands[index]
        chain = open_chain.pop(source, None)
        if chain is not None and readers.get(source) == 1 and source not in keep:
            chains[chain].append((position, index))
        else:
            chain = len(chains)
            chains.append([(position, index)])
        open_chain[results[0]] = chain
    found = []
    for chain in chains:
        if len(chain) < 2:
            continue
        members = [(steps[position], index) for position, index in chain]
        (first_op, _, first_operands, _, _), first_index = members[0]
        dtype = _storage_dtype(first_op.operands[first_index])
        table = _chain_table(members, constants, dtype)
        last_op = members[-1][0][0]
        if table is None or table.dtype != _storage_dtype(last_op.results[0]):
            continue
        where = " -> ".join(step[4] for step, _ in members)
        found.append(Chain(tuple(position for position, _ in chain), first_operands[first_index], dtype, table, where))
    return found


def fuse_elementwise_chains(steps: list[Step], constants: Mapping[int, np.ndarray], keep: set[int]) -> list[Step]:
    """`steps` with each chain of `elementwise_chains` replaced by one table lookup,
    placed where the chain's last op was."""
    replaced: dict[int, Step | None] = {}
    for chain in elementwise_chains(steps, constants, keep):
        for position in chain.positions[:-1]:
            replaced[position] = None
        last_op, _, _, last_results, _ = steps[chain.positions[-1]]
        replaced[chain.positions[-1]] = (last_op, table_kernel(chain.table, chain.dtype), (chain.source,), last_results, chain.where)
    fused = []
    for position, step in enumerate(steps):
        step = replaced.get(position, step)
        if step is not None:
            fused.append(step)
    return fused
