"""Small constructors for the ops the passes create: each computes its result type."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, TensorType
from xdsl.ir import Attribute, SSAValue

from sima_dialect.element_types import is_float_type, numpy_to_element_type
from sima_dialect.ops import ConstantOp, ReshapeOp, TransposeOp, int_array, shape_of
from sima_dialect.weights import ElidedWeightsError, NDArrayAttr
from passes.patterns.permutations import permute


def tensor_type(element_type: Attribute, shape: Sequence[int]) -> TensorType:
    return TensorType(element_type, tuple(int(d) for d in shape))


def with_shape(value: SSAValue, shape: Sequence[int]) -> TensorType:
    """`value`'s tensor type with another shape."""
    assert isinstance(value.type, TensorType)
    return tensor_type(value.type.element_type, shape)


def transpose(value: SSAValue, perm: Sequence[int]) -> TransposeOp:
    return TransposeOp(
        operands=[value],
        properties={"perm": int_array(perm)},
        result_types=[with_shape(value, permute(shape_of(value), perm))],
    )


def reshape(value: SSAValue, shape: Sequence[int]) -> ReshapeOp:
    return ReshapeOp(operands=[value], result_types=[with_shape(value, shape)])


def constant_array(op: ConstantOp) -> np.ndarray | None:
    """The constant's data, or None when it was elided from the textual IR."""
    try:
        return op.as_array()
    except ElidedWeightsError:
        return None


def derived_constant(source: ConstantOp, array: np.ndarray, suffix: str) -> ConstantOp:
    """A constant holding `array`, computed from `source`.

    A named weight gives a weight named `<name>.<suffix>` (so the origin of a
    folded weight stays visible); a `dense<...>` literal gives a `dense<...>`.
    """
    if isinstance(source.value, NDArrayAttr):
        return ConstantOp(NDArrayAttr.from_array(f"{source.value.weight_name}.{suffix}", array))
    element_type = numpy_to_element_type(array.dtype)
    convert: Callable = float if is_float_type(element_type) else int
    values = [convert(v) for v in array.ravel().tolist()]
    return ConstantOp(DenseIntOrFPElementsAttr.from_list(tensor_type(element_type, array.shape), values))
