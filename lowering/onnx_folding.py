"""Constant folding at import: which nodes are known at import time, and their values.

Exporters compute shapes inside the graph (`Shape -> Gather -> Unsqueeze ->
Concat -> Reshape`, attention-mask arithmetic on constants, `Cast` of literal
fills). With every input shape fixed by `shape_dict`, all of that is known at
import time: a value is *static* when it is a constant, the result of
`Shape`/`Size`, or the result of a node whose inputs are all static. Static
nodes are evaluated with ONNX's own reference implementation
(`onnx.reference.ReferenceEvaluator`), so any ONNX op may appear in such a
subgraph; only nodes that compute on run-time data need a converter.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx.reference import ReferenceEvaluator

from lowering.onnx_graph import DEFAULT_DOMAINS, Node, OnnxGraph, OnnxImportError

# Ops whose result depends only on the (static) shape of their input.
SHAPE_OPS = frozenset({"Shape", "Size"})


def static_value_names(graph: OnnxGraph) -> set[str]:
    """Names of every value computable at import time (nodes in topological order)."""
    static = set(graph.constants)
    for node in graph.nodes:
        inputs = [name for name in node.inputs if name]
        if (node.op_type in SHAPE_OPS and node.domain in DEFAULT_DOMAINS) or (
            inputs and all(name in static for name in inputs) and not _has_subgraph(node)
        ):
            static.update(out for out in node.outputs if out)
    return static


def _has_subgraph(node: Node) -> bool:
    return any(isinstance(v, onnx.GraphProto) or (isinstance(v, list) and v and isinstance(v[0], onnx.GraphProto)) for v in node.attrs.values())


def is_static_node(node: Node, static: set[str]) -> bool:
    return all(out in static for out in node.outputs if out)


def shape_query(node: Node, shape: tuple[int, ...]) -> np.ndarray:
    """The value of a Shape (with its start / end) or Size node whose input has `shape`."""
    if node.op_type == "Size":
        return np.asarray(int(np.prod(shape, dtype=np.int64)), dtype=np.int64)
    rank = len(shape)
    start, end = int(node.attr("start", 0)), node.attr("end")
    start = min(max(start + rank if start < 0 else start, 0), rank)
    end = rank if end is None else int(end)
    end = min(max(end + rank if end < 0 else end, 0), rank)
    return np.asarray(shape[start:end], dtype=np.int64)


def fold_constants(graph: OnnxGraph, shapes: dict[str, tuple[int, ...]]) -> int:
    """Evaluate, in order, every node computable now; their results become constants.

    Returns the number of nodes folded. A Shape of a value whose shape ONNX's
    inference did not find stays (the converter folds it from the IR's shapes).
    """
    folded = 0
    kept: list[Node] = []
    for node in graph.nodes:
        inputs = [name for name in node.inputs if name]
        if node.op_type in SHAPE_OPS and node.domain in DEFAULT_DOMAINS:
            shape = shapes.get(node.inputs[0])
            if shape is None:
                kept.append(node)
                continue
            graph.constants[node.outputs[0]] = shape_query(node, shape)
        elif inputs and all(name in graph.constants for name in inputs) and not _has_subgraph(node):
            values = evaluate_node(node, [graph.constant(name) for name in node.inputs], graph.opset)
            for name, value in zip([n for n in node.outputs if n], values):
                graph.constants[name] = value
        else:
            kept.append(node)
            continue
        folded += 1
    graph.nodes = kept
    return folded


def evaluate_node(node: Node, inputs: list[np.ndarray | None], opset: int) -> list[np.ndarray]:
    """Run one node on constant inputs with ONNX's reference implementation."""
    feeds = {name: value for name, value in zip(node.inputs, inputs) if name and value is not None}
    graph_inputs = [
        onnx.helper.make_tensor_value_info(name, onnx.helper.np_dtype_to_tensor_dtype(value.dtype), value.shape)
        for name, value in feeds.items()
    ]
    outputs = [onnx.helper.make_empty_tensor_value_info(name) for name in node.outputs if name]
    graph = onnx.helper.make_graph([node.to_proto()], "fold", graph_inputs, outputs)
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)])
    try:
        with np.errstate(all="ignore"):  # folding may legitimately make inf / nan (log of 0)
            results = ReferenceEvaluator(model).run(None, feeds)
    except Exception as error:  # the reference implementation raises many kinds
        raise OnnxImportError(f"cannot evaluate this node on its constant inputs: {type(error).__name__}: {error}", node) from None
    return [np.asarray(r) for r in results]
