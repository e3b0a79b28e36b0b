"""A small builder of ONNX graph fragments: nodes, constants and unique names.

One `Fragment` holds the nodes that lower one `sima` op; `program.py` joins
the fragments of a segment into one ONNX model. Names are unique across a
whole program because every fragment draws them from one `NameSource`.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 21  # QuantizeLinear to int16
IR_VERSION = 10

FLOAT32 = TensorProto.FLOAT
FLOAT64 = TensorProto.DOUBLE
INT32 = TensorProto.INT32
INT64 = TensorProto.INT64


def onnx_type(dtype: np.dtype) -> int:
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


class NameSource:
    """Fresh names for values and constants of one program."""

    def __init__(self):
        self._counter = itertools.count()

    def __call__(self, stem: str) -> str:
        return f"{stem}_{next(self._counter)}"


class Fragment:
    """The ONNX nodes and constants that compute one op's results from its operands' names."""

    def __init__(self, names: NameSource, where: str):
        self.names = names
        self.where = where  # the op, for node names (ORT's errors and profiles name them)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.results: list[str] = []  # the names of the op's results, once lowered
        self.nchw_aliases: dict[str, str] = {}  # rank-4 result -> the same values transposed to NCHW, if computed
        self.index_aliases: dict[str, str] = {}  # result -> its table index in NCHW (`exact_float_form`), if computed

    def node(self, op_type: str, inputs: Sequence[str], **attributes) -> str:
        """Append a one-output node; returns its output's name."""
        output = self.names(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [output], name=f"{self.where}/{output}", **attributes))
        return output

    def multi_output_node(self, op_type: str, inputs: Sequence[str], count: int, **attributes) -> list[str]:
        """Append a node with `count` outputs; returns their names."""
        outputs = [self.names(op_type.lower()) for _ in range(count)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outputs, name=f"{self.where}/{outputs[0]}", **attributes))
        return outputs

    def constant(self, value, dtype=None) -> str:
        """An initializer holding `value` (as `dtype`, if given); returns its name."""
        array = np.asarray(value, dtype=dtype)
        name = self.names("const")
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def rename(self, old: str, new: str) -> None:
        """Call value `old` `new` everywhere in the fragment (results take their SSA values' names)."""
        for node in self.nodes:
            for names in (node.input, node.output):
                for i, name in enumerate(names):
                    if name == old:
                        names[i] = new
        if old in self.nchw_aliases:
            self.nchw_aliases[new] = self.nchw_aliases.pop(old)
        if old in self.index_aliases:
            self.index_aliases[new] = self.index_aliases.pop(old)

    def cast(self, value: str, to: int) -> str:
        return self.node("Cast", [value], to=to)

    def transpose(self, value: str, perm: Sequence[int]) -> str:
        return self.node("Transpose", [value], perm=list(perm))


NHWC_TO_NCHW = (0, 3, 1, 2)
NCHW_TO_NHWC = (0, 2, 3, 1)
