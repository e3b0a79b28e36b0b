"""What a kernel is, and helpers kernel builders share.

A *kernel builder* takes an op, reads its properties and result types once, and
returns a *kernel*: a function of the operand arrays (in operand order, absent
optional operands left out) that returns the result array (or a sequence of
arrays for a multi-result op, or None for an op without results). Kernels never
write into their operands: operands may be read-only constants or views of the
caller's inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from xdsl.dialects.builtin import DenseArrayBase, TensorType
from xdsl.ir import Attribute, Operation, SSAValue

from sima_dialect.element_types import element_type_to_numpy

Kernel = Callable[..., Any]
KernelBuilder = Callable[[Operation], Kernel]


def stateless(function: Kernel) -> KernelBuilder:
    """A builder for a kernel that needs nothing from its op (e.g. `np.tanh`)."""

    def build(op: Operation) -> Kernel:
        return function

    build.__name__ = f"build_{getattr(function, '__name__', 'kernel')}"
    return build


def ints(attr: DenseArrayBase) -> tuple[int, ...]:
    return tuple(int(v) for v in attr.get_values())


def tensor_type(value: SSAValue | Attribute) -> TensorType:
    value_type = value.type if isinstance(value, SSAValue) else value
    if not isinstance(value_type, TensorType):
        raise TypeError(f"expected a tensor type, got {value_type}")
    return value_type


def static_shape(value: SSAValue) -> tuple[int, ...]:
    """The shape of a tensor value, which kernels that need it require to be static."""
    shape = tuple(tensor_type(value).get_shape())
    if any(d < 0 for d in shape):
        raise ValueError(f"needs a static shape, got {tensor_type(value)}")
    return shape


def numpy_dtype(value: SSAValue) -> np.dtype:
    return element_type_to_numpy(tensor_type(value).element_type)


def scalar(value: float, dtype: np.dtype) -> np.generic:
    """`value` as a scalar of `dtype`, saturated to an integer dtype's range."""
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        value = min(max(value, info.min), info.max)
        return dtype.type(int(value))
    return dtype.type(value)


def fused_activation(op: Operation, dtype: np.dtype) -> Callable[[np.ndarray], np.ndarray] | None:
    """The clamp `act_min` / `act_max` fused into a conv2d, conv2d_transpose or
    dense, as an in-place function of the op's freshly computed result (None
    when the op clamps nothing). It computes exactly what a separate relu or
    clip kernel would, so fusing never changes a float result."""
    low, high = op.activation_bounds()
    if low == -np.inf and high == np.inf:
        return None
    low_value, high_value = scalar(low, dtype), scalar(high, dtype)
    if high == np.inf:
        return lambda y: np.maximum(y, low_value, out=y)
    return lambda y: np.clip(y, low_value, high_value, out=y)


def lowest(dtype: np.dtype) -> np.generic:
    """The value that never wins a max: -inf for floats, the minimum for integers."""
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.integer):
        return dtype.type(np.iinfo(dtype).min)
    if dtype == np.bool_:
        return np.bool_(False)
    return dtype.type(-np.inf)


class PreparedWeight:
    """Remembers `prepare(weight)` for the last weight array seen.

    Weights are constants, so the same array object comes back on every run and
    is prepared (reshaped, transposed, cast) once.
    """

    __slots__ = ("_prepare", "_entry")

    def __init__(self, prepare: Callable[[np.ndarray], Any]):
        self._prepare = prepare
        self._entry: tuple[np.ndarray | None, Any] = (None, None)

    def __call__(self, weight: np.ndarray) -> Any:
        source, value = self._entry  # one tuple, so concurrent runs never pair a weight with another's value
        if weight is not source:
            value = self._prepare(weight)
            self._entry = (weight, value)
        return value


def normalized_axes(axes: Sequence[int], rank: int) -> tuple[int, ...]:
    return tuple(sorted(a % rank for a in axes))
