"""Test support for the runtime tests: one-op `sima` functions built from arrays,
and one-node ONNX models run by onnxruntime (NHWC <-> NCHW handled by callers)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from xdsl.dialects.builtin import ArrayAttr, BoolAttr, DictionaryAttr, ModuleOp, StringAttr, TensorType
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Attribute, Block, Region

from runtime.interpreter import Interpreter
from sima_dialect import ops
from sima_dialect.element_types import numpy_to_element_type


@dataclass
class Weight:
    """An operand that becomes a `sima.constant` instead of a function argument."""

    array: np.ndarray


def tensor_of(shape: Sequence[int], dtype: Any = np.float32) -> TensorType:
    return TensorType(numpy_to_element_type(np.dtype(dtype)), list(shape))


def attribute(value: Any) -> Attribute:
    """Plain Python property values as the attributes the ops expect."""
    if isinstance(value, Attribute):
        return value
    if isinstance(value, bool):
        return BoolAttr.from_bool(value)
    if isinstance(value, int):
        return ops.int_attr(value)
    if isinstance(value, float):
        return ops.float_attr(value)
    if isinstance(value, str):
        return StringAttr(value)
    return ops.int_array(list(value))


def one_op_module(op_class, operands: Sequence[Any], results: Sequence[Any], **properties: Any) -> tuple[ModuleOp, list[np.ndarray]]:
    """A verified module whose @main applies `op_class` once.

    `operands` follows the op's operand definitions: an array (a function
    argument), a `Weight` (a constant), None (an absent optional operand) or a
    list of those (a variadic operand). `results` likewise holds (shape, dtype)
    pairs or lists of them. Returns the module and the arrays to feed it.
    """
    leaves = [leaf for item in operands for leaf in (item if isinstance(item, list) else [item]) if leaf is not None]
    feeds = [leaf for leaf in leaves if not isinstance(leaf, Weight)]
    block = Block(arg_types=[tensor_of(a.shape, a.dtype) for a in feeds])
    args = iter(block.args)

    def value_of(leaf):
        if leaf is None:
            return None
        if isinstance(leaf, Weight):
            constant = ops.ConstantOp.from_array(f"w{len(block.ops)}", leaf.array)
            block.add_op(constant)
            return constant.output
        return next(args)

    operand_values = [[value_of(l) for l in item] if isinstance(item, list) else value_of(item) for item in operands]
    result_types = [[tensor_of(*r) for r in item] if isinstance(item, list) else tensor_of(*item) for item in results]
    op = op_class.build(
        operands=operand_values,
        result_types=result_types,
        properties={k: attribute(v) for k, v in properties.items()},
    )
    block.add_op(op)
    block.add_op(ReturnOp(*op.results))
    function = FuncOp(
        "main",
        ([a.type for a in block.args], [r.type for r in op.results]),
        Region(block),
        arg_attrs=ArrayAttr([DictionaryAttr({"sima.name": StringAttr(f"in{i}")}) for i in range(len(feeds))]),
    )
    module = ModuleOp([function])
    module.verify()
    return module, feeds


def run_op(op_class, operands: Sequence[Any], results: Sequence[Any] | None = None, **properties: Any) -> list[np.ndarray]:
    """Run one op on arrays; `results` defaults to the first operand's shape and dtype."""
    if results is None:
        first = operands[0]
        results = [(first.shape, first.dtype)]
    module, feeds = one_op_module(op_class, operands, results, **properties)
    return Interpreter(module).run(feeds)


def run_onnx_node(
    op_type: str,
    inputs: dict[str, np.ndarray],
    outputs: Sequence[str],
    initializers: dict[str, np.ndarray] | None = None,
    opset: int = 21,
    node_inputs: Sequence[str] | None = None,
    **attributes: Any,
) -> list[np.ndarray]:
    """Run a single ONNX node with onnxruntime; `inputs` are graph inputs, `initializers`
    constants, `node_inputs` the node's input names when not all of them in that order
    ("" for an omitted optional input)."""
    import onnxruntime
    from onnx import helper, numpy_helper

    initializers = initializers or {}
    if node_inputs is None:
        node_inputs = [*inputs, *initializers]
    node = helper.make_node(op_type, list(node_inputs), list(outputs), **attributes)
    graph = helper.make_graph(
        [node],
        "one_node",
        [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape) for n, a in inputs.items()],
        [helper.make_empty_tensor_value_info(n) for n in outputs],
        [numpy_helper.from_array(a, n) for n, a in initializers.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(list(outputs), inputs)


def to_nchw(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def to_nhwc(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))
