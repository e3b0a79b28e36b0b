"""One-value constants of elementwise ops given the rank of the tensor they broadcast against.

onnxruntime's CPU Mul / Add / Sub / Div run a tensor whose last dimension is 1 against a
one-value constant of lower rank ([] or [1]) one element at a time: det's probability map,
[1, 320, 320, 1] times a [1] constant, 1.27 ms, the same with the constant shaped [1, 1, 1, 1]
24 us (one thread, measured 2026-11-24; [1, 1, 320, 320] or a flat tensor: 24 us either way).
fast mode's emulations write their scales as [1] constants (`graph.Fragment.constant`), so
`rank_matched_constants` reshapes each one-value initializer of those ops to [1] * the other
operand's rank (from ONNX shape inference) before the session is built: the same values, the
same broadcast result. det's fast mode: two such Muls (its sigmoid table's scale and the output's
dequantize), 2.5 ms of 27.9 profiled.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

BROADCASTING = frozenset({"Add", "Sub", "Mul", "Div"})


def _ranks(model: onnx.ModelProto) -> dict[str, int]:
    """The rank of every value ONNX shape inference finds one for."""
    inferred = onnx.shape_inference.infer_shapes(model)
    graph = inferred.graph
    return {
        value.name: len(value.type.tensor_type.shape.dim)
        for value in (*graph.input, *graph.value_info, *graph.output)
        if value.type.HasField("tensor_type") and value.type.tensor_type.HasField("shape")
    }


def rank_matched_constants(model: onnx.ModelProto) -> onnx.ModelProto:
    """`model` (changed in place and returned) with every one-value initializer read by an Add /
    Sub / Mul / Div against a tensor of higher known rank replaced by its [1] * rank copy."""
    graph = model.graph
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    candidates = [
        node for node in graph.node
        if node.op_type in BROADCASTING and node.domain in ("", "ai.onnx") and len(node.input) == 2
        and any(name in initializers and int(np.prod(initializers[name].dims)) == 1 for name in node.input)
    ]
    if not candidates:
        return model
    ranks = _ranks(model)
    reshaped: dict[tuple[str, int], str] = {}
    for node in candidates:
        for index, name in enumerate(node.input):
            other = node.input[1 - index]
            tensor = initializers.get(name)
            if tensor is None or int(np.prod(tensor.dims)) != 1 or other in initializers:
                continue
            rank = ranks.get(other)
            if rank is None or rank <= len(tensor.dims):
                continue
            if (name, rank) not in reshaped:
                copy = numpy_helper.from_array(numpy_helper.to_array(tensor).reshape((1,) * rank), f"{name}_rank{rank}")
                graph.initializer.append(copy)
                reshaped[(name, rank)] = copy.name
            node.input[index] = reshaped[(name, rank)]
    read = {name for node in graph.node for name in node.input} | {value.name for value in graph.output}
    kept = [tensor for tensor in graph.initializer if tensor.name in read]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return model


__all__ = ["BROADCASTING", "rank_matched_constants"]
