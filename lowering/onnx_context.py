"""The state of one ONNX -> sima import: imported tensors, their layouts, the IR block.

Converters (`lowering/onnx_ops_*.py`) read their node's inputs as `Tensor`s,
ask for IR operands in the layout they need (`operand`), emit `sima` ops with
`emit` (each op is verified as it is built, so a bad attribute is reported
against the ONNX node that carried it) and return one `Tensor` per output.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from xdsl.dialects.builtin import (
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    TensorType,
    f32,
    i64,
)
from xdsl.ir import Attribute, Block, SSAValue
from xdsl.irdl import IRDLOperation
from xdsl.utils.exceptions import VerifyException

from lowering import onnx_layout as layout
from lowering.onnx_graph import Node, OnnxGraph, OnnxImportError
from lowering.onnx_loading import SUPPORTED_DTYPES
from sima_dialect import ops, shapes
from sima_dialect.element_types import element_type_to_numpy, numpy_to_element_type
from sima_dialect.weights import NDArrayAttr


@dataclass(eq=False)
class Tensor:
    """One ONNX value during import.

    `shape` and `dtype` are ONNX's view. A run-time value lives in the IR as
    `value`, stored as `onnx_value.transpose(perm)`; a value known at import
    time is `const` (in ONNX layout) and becomes a `sima.constant` only where
    an op uses it.
    """

    shape: tuple[int, ...]
    dtype: np.dtype
    value: SSAValue | None = None
    perm: layout.Perm = ()
    const: np.ndarray | None = None
    name: str = ""

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def is_constant(self) -> bool:
        return self.const is not None

    @property
    def stored_shape(self) -> tuple[int, ...]:
        return layout.permute(self.shape, self.perm)

    @staticmethod
    def constant(array: np.ndarray, name: str = "") -> Tensor:
        array = np.asarray(array)
        return Tensor(tuple(array.shape), array.dtype, const=array, perm=layout.identity(array.ndim), name=name)


def tensor_type(shape: Sequence[int], dtype: np.dtype) -> TensorType:
    return TensorType(numpy_to_element_type(dtype), list(shape))


def sanitize_name(name: str) -> str | None:
    """An ONNX value name as an xDSL name hint (letters, digits, _ $ . -)."""
    cleaned = re.sub(r"[^\w$.-]", "_", name)
    if not cleaned:
        return None
    if cleaned[0].isdigit():
        cleaned = "v" + cleaned
    return cleaned


def _property(value: Any) -> Attribute:
    if isinstance(value, Attribute):
        return value
    if isinstance(value, bool | np.bool_):
        return IntegerAttr.from_bool(bool(value))
    if isinstance(value, int | np.integer):
        return IntegerAttr(int(value), i64)
    if isinstance(value, float | np.floating):
        return FloatAttr(float(value), f32)
    if isinstance(value, str):
        return StringAttr(value)
    if isinstance(value, tuple | list):
        return DenseArrayBase.from_list(i64, [int(v) for v in value])
    raise TypeError(f"no property for {value!r}")


class ImportContext:
    """Builds the body of `func.func @main` from an `OnnxGraph`."""

    def __init__(self, graph: OnnxGraph, block: Block):
        self.graph = graph
        self.opset = graph.opset
        self.block = block
        self.tensors: dict[str, Tensor] = {}
        self.node: Node | None = None
        # (id(tensor), perm) -> (tensor, value); holding the tensor keeps its id unique
        self._layouts: dict[tuple[int, layout.Perm], tuple[Tensor, SSAValue]] = {}
        # (id(tensor), rank) -> (tensor, the tensor with leading unit axes up to rank)
        self._extended: dict[tuple[int, int], tuple[Tensor, Tensor]] = {}

    # -- errors and the current node ------------------------------------------------

    def error(self, message: str) -> OnnxImportError:
        return OnnxImportError(message, self.node)

    def check_dtype(self, dtype: np.dtype, what: str) -> None:
        if np.dtype(dtype).kind == "O" or np.dtype(dtype).name not in SUPPORTED_DTYPES:
            raise self.error(f"{what} has element type {np.dtype(dtype)}; supported types are {', '.join(SUPPORTED_DTYPES)}")

    # -- reading the node's inputs --------------------------------------------------

    def tensor(self, name: str) -> Tensor:
        if name in self.tensors:
            return self.tensors[name]
        if name in self.graph.constants:
            tensor = Tensor.constant(self.graph.constants[name], name)
            self.tensors[name] = tensor
            return tensor
        raise self.error(f"input '{name}' is not produced by any node, initializer or graph input")

    def input(self, index: int) -> Tensor:
        assert self.node is not None
        name = self.node.input(index)
        if not name:
            raise self.error(f"input {index} is required")
        return self.tensor(name)

    def optional_input(self, index: int) -> Tensor | None:
        assert self.node is not None
        name = self.node.input(index)
        return self.tensor(name) if name else None

    def constant_input(self, index: int, what: str) -> np.ndarray | None:
        """The value of an optional input that must be known at import time."""
        tensor = self.optional_input(index)
        if tensor is None:
            return None
        if tensor.const is None:
            raise self.error(f"input {index} ({what}) must be known at import time (a constant or computed from shapes)")
        return tensor.const

    # -- IR construction ------------------------------------------------------------

    def emit(self, op: IRDLOperation, hint: str | None = None) -> IRDLOperation:
        self.block.add_op(op)
        try:
            op.verify()
        except VerifyException as error:
            raise self.error(f"the imported {op.name} is invalid: {error}") from None
        if hint and op.results:
            op.results[0].name_hint = sanitize_name(hint)
        return op

    def op(
        self,
        op_class: type[IRDLOperation],
        operands: Sequence[SSAValue | None],
        shape: Sequence[int],
        dtype: np.dtype,
        hint: str | None = None,
        **properties: Any,
    ) -> SSAValue:
        """Emit `op_class` with one result of stored `shape` and `dtype`; returns the result."""
        self.check_dtype(dtype, "the result")
        # `create` skips the op classes' convenience constructors; absent optional operands are left out
        op = op_class.create(
            operands=[v for v in operands if v is not None],
            result_types=[tensor_type(shape, dtype)],
            properties={k: _property(v) for k, v in properties.items() if v is not None},
        )
        return self.emit(op, hint).results[0]

    def constant_value(self, array: np.ndarray, name: str = "") -> SSAValue:
        """A new `sima.constant` holding `array`."""
        array = np.asarray(array)
        self.check_dtype(array.dtype, f"constant '{name}'" if name else "a constant")
        result_type = tensor_type(array.shape, array.dtype)
        if array.size == 1 and array.dtype in (np.float32, np.int64, np.int32) and np.all(np.isfinite(array)):
            values = [float(v) for v in array.flat] if array.dtype == np.float32 else [int(v) for v in array.flat]
            attr: Attribute = DenseIntOrFPElementsAttr.from_list(result_type, values)
        else:
            attr = NDArrayAttr.from_array(name or "const", array)
        return self.emit(ops.ConstantOp(attr)).results[0]

    # -- layouts --------------------------------------------------------------------

    def operand(self, tensor: Tensor, perm: Sequence[int] | None = None) -> SSAValue:
        """The IR value of `tensor` stored with `perm` (ONNX order when None)."""
        perm = layout.identity(tensor.rank) if perm is None else tuple(perm)
        key = (id(tensor), perm)
        if key in self._layouts:
            return self._layouts[key][1]
        if tensor.const is not None:
            array = tensor.const if layout.is_identity(perm) else np.ascontiguousarray(np.transpose(tensor.const, perm))
            value = self.constant_value(array, tensor.name)
        else:
            assert tensor.value is not None
            if tensor.perm == perm:
                return tensor.value
            move = layout.transpose_between(tensor.perm, perm)
            shape = layout.permute(tensor.shape, perm)
            if layout.moves_only_unit_dims(tensor.stored_shape, move):
                value = self.op(ops.ReshapeOp, [tensor.value], shape, tensor.dtype)
            else:
                value = self.op(ops.TransposeOp, [tensor.value], shape, tensor.dtype, perm=move)
        self._layouts[key] = (tensor, value)
        return value

    def broadcast_operand(self, tensor: Tensor, rank: int, perm: Sequence[int]) -> SSAValue:
        """`tensor` as an operand of a broadcasting op of `rank` whose result is stored with `perm`.

        A lower-rank operand is first given leading unit axes (ONNX broadcasting
        aligns trailing axes), then laid out like the result.
        """
        if tensor.rank < rank:
            key = (id(tensor), rank)
            if key not in self._extended:
                self._extended[key] = (tensor, self.reshape(tensor, (1,) * (rank - tensor.rank) + tensor.shape))
            tensor = self._extended[key][1]
        return self.operand(tensor, perm)

    def reshape(self, tensor: Tensor, shape: Sequence[int], hint: str | None = None) -> Tensor:
        """`tensor` reshaped (row-major, ONNX order) to `shape`, keeping its layout when it can."""
        shape = tuple(int(d) for d in shape)
        if shapes.element_count(shape) != shapes.element_count(tensor.shape):
            raise self.error(f"cannot reshape {list(tensor.shape)} ({shapes.element_count(tensor.shape)} elements) to {list(shape)}")
        if tensor.const is not None:
            return Tensor.constant(tensor.const.reshape(shape), tensor.name)
        new_perm = layout.reshape_layout(tensor.shape, tensor.perm, shape)
        source = tensor.value
        if new_perm is None:
            source = self.operand(tensor)
            new_perm = layout.identity(len(shape))
        stored = layout.permute(shape, new_perm)
        assert source is not None
        value = source if tuple(source.type.get_shape()) == stored else self.op(ops.ReshapeOp, [source], stored, tensor.dtype, hint)
        return Tensor(shape, tensor.dtype, value, new_perm)

    def transpose(self, tensor: Tensor, onnx_perm: Sequence[int]) -> Tensor:
        """ONNX Transpose: only the layout changes; no op is emitted."""
        shape = tuple(tensor.shape[p] for p in onnx_perm)
        if tensor.const is not None:
            return Tensor.constant(np.transpose(tensor.const, onnx_perm), tensor.name)
        return Tensor(shape, tensor.dtype, tensor.value, layout.after_transpose(tensor.perm, onnx_perm))

    def result(self, value: SSAValue, shape: Sequence[int], perm: Sequence[int] | None = None) -> Tensor:
        """Wrap an IR value holding an ONNX value of `shape` stored with `perm`."""
        perm = layout.identity(len(shape)) if perm is None else tuple(perm)
        dtype = element_type_to_numpy(value.type.element_type)
        assert tuple(value.type.get_shape()) == layout.permute(shape, perm), (value.type, shape, perm)
        return Tensor(tuple(shape), dtype, value, perm)
