"""Plain Python data <-> builtin attributes, for statistics carried in the IR.

Calibration statistics (`runtime.observers` `to_dict()`) are numbers, lists of
numbers, booleans, None and nested dicts; they travel in `sima.observe` as a
`DictionaryAttr`:

    int -> i64 IntegerAttr      float -> f64 FloatAttr     bool -> i1 (true/false)
    None -> none                str -> string              dict -> dictionary
    list of ints -> array<i64: ...>                 other lists -> [v0, v1, ...]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from xdsl.dialects.builtin import (
    ArrayAttr,
    BoolAttr,
    BytesAttr,
    DenseArrayBase,
    DictionaryAttr,
    FloatAttr,
    IntegerAttr,
    IntegerType,
    NoneAttr,
    NoneType,
    StringAttr,
    f64,
    i1,
    i64,
)
from xdsl.ir import Attribute


def to_attribute(value: Any) -> Attribute:
    if value is None:
        return NoneAttr()
    if isinstance(value, bool | np.bool_):
        return BoolAttr.from_bool(bool(value))
    if isinstance(value, int | np.integer):
        return IntegerAttr(int(value), i64)
    if isinstance(value, float | np.floating):
        return FloatAttr(float(value), f64)
    if isinstance(value, str):
        return StringAttr(value)
    if isinstance(value, Mapping):
        return DictionaryAttr({str(k): to_attribute(v) for k, v in value.items()})
    if isinstance(value, list | tuple | np.ndarray):
        items = list(np.asarray(value).ravel()) if isinstance(value, np.ndarray) else list(value)
        # One check per element type, not per element: histograms hold thousands of counts.
        kinds = set(map(type, items))
        if all(issubclass(k, int | np.integer) and not issubclass(k, bool | np.bool_) for k in kinds):
            return _dense_array(i64, np.asarray(items, dtype="<i8"))
        # Floats go element by element (`[1.5 : f64, ...]`): xDSL 0.74 prints some
        # f64 values of an array<f64: ...> in hex, which its parser then refuses.
        return ArrayAttr([to_attribute(v) for v in items])
    raise TypeError(f"cannot carry a {type(value).__name__} in an IR attribute")


def _dense_array(element_type: IntegerType, values: np.ndarray) -> DenseArrayBase:
    # Straight from the bytes: `DenseArrayBase.from_list` normalises element by
    # element, which costs seconds for a model's worth of 2048-bin histograms.
    return DenseArrayBase(element_type, BytesAttr(values.tobytes()))


def from_attribute(attr: Attribute) -> Any:
    if isinstance(attr, NoneAttr | NoneType):  # `none` parses back as the builtin none type
        return None
    if isinstance(attr, IntegerAttr):
        if attr.type == i1 or (isinstance(attr.type, IntegerType) and attr.type.width.data == 1):
            return bool(attr.value.data)
        return int(attr.value.data)
    if isinstance(attr, FloatAttr):
        return float(attr.value.data)
    if isinstance(attr, StringAttr):
        return attr.data
    if isinstance(attr, DictionaryAttr):
        return {k: from_attribute(v) for k, v in attr.data.items()}
    if isinstance(attr, DenseArrayBase):
        return list(attr.get_values())
    if isinstance(attr, ArrayAttr):
        return [from_attribute(v) for v in attr.data]
    raise TypeError(f"attribute {attr} holds no plain data")
