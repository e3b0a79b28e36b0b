"""The registry of ONNX op converters.

A converter turns one ONNX node into `sima` ops: it receives the
`ImportContext` (whose `node` is the node being converted) and returns one
`Tensor` per node output it produces. Converters live in the
`lowering/onnx_ops_*.py` modules and register themselves here with
`@converter(...)`; `lowering.onnx_importer.SUPPORTED_ONNX_OPS` is the set of
registered op types.

`CONSTANT_OPERANDS[op_type]` lists the inputs an op needs at import time
(shapes, axes, pads, scales): the IR has static shapes, so these must be
constants or computed from shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lowering.onnx_context import ImportContext, Tensor
from lowering.onnx_graph import Node

Converter = Callable[[ImportContext, Node], Sequence[Tensor]]

CONVERTERS: dict[str, Converter] = {}
CONSTANT_OPERANDS: dict[str, tuple[int, ...]] = {}


def converter(*op_types: str, constant_operands: Sequence[int] = ()) -> Callable[[Converter], Converter]:
    def register(function: Converter) -> Converter:
        for op_type in op_types:
            assert op_type not in CONVERTERS, f"two converters for {op_type}"
            CONVERTERS[op_type] = function
            if constant_operands:
                CONSTANT_OPERANDS[op_type] = tuple(constant_operands)
        return function

    return register
