"""Layout-free ops between onnxruntime's blocked (NCHWc) convolutions, without the reorders around them.

    session, blocked = blocked_session(onnxruntime, model, options_factory)   # blocked: the edit is used

onnxruntime (level ALL) runs convolutions in its blocked NCHWc layout and moves
every tensor that an op it does not know in that layout reads back to NCHW
(ReorderOutput) and, for the next convolution, into NCHWc again (ReorderInput):
two passes over the tensor per op run. Measured: the bit-exact sessions' table
reads (Cast, GatherElements: 63 reorders on orientation int8, ~15% of its time);
fast mode's float emulation, where every MLA tensor is rounded (QuantizeLinear,
DequantizeLinear, HardSigmoid, Mul by a scalar: 94 reorders on cls, about a third
of its elementwise time). Those ops compute each element from the element at the
same place, so they give the same values in any layout: here the optimized model
onnxruntime writes (`SessionOptions.optimized_model_filepath`) is edited so that
they read and write the blocked tensors, the reorders between them removed, and
it is run with no further optimization.

An op runs blocked (`keep_blocked`, one fixed point over the graph) when it is
layout-free by `tensor_operands` (its kind, its other operands constants of the
right form), its tensor operands are all blocked (a ReorderOutput's input, or a
blocked op's result), and only blocked ops and ReorderInputs read its result:

- an op with several tensor operands (a residual add) only when they all have its
  result's shape and come from tensors of one NCHW shape (onnx's shape inference
  on the model before onnxruntime optimized it, carried through the ops):
  broadcasting (a gate times a tensor) is not elementwise in the blocked layout;
- Reshape (to a constant shape: the flattening around a table read) only when the
  tensors it comes from fill whole blocks (else the blocked tensor holds more
  elements), and a reshaped value goes back to the convolutions only in its NCHW shape.

The channels a block pads hold 0 after a convolution, and the ops may make them
non-zero (HardSigmoid(0) = 1/2) where ReorderInput would have padded 0: only blocked
ops read them, per channel (the next convolution with zero filter weights there, a
pool whose padded channels the last ReorderOutput drops), so no real channel changes.
The edited session is checked against the plain one on random inputs when built
(bit for bit, `blocked_session`); any failure keeps the plain session.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile

import numpy as np
import onnx
from onnx import helper

logger = logging.getLogger(__name__)

NCHWC_DOMAIN = "com.microsoft.nchwc"

UNARY = frozenset({"Cast", "Round", "Floor", "Ceil", "Clip", "Relu", "HardSigmoid", "Sigmoid", "Tanh", "LeakyRelu", "Abs", "Sign",
                   "Neg", "QuantizeLinear", "DequantizeLinear"})
"""Ops computing each element of their result from the same element of their first input (other inputs scalar constants)."""
BINARY = frozenset({"Mul", "Add", "Sub"})
"""Elementwise ops of several operands, each a scalar constant or a tensor of the result's shape."""
LAYOUT_FREE = UNARY | BINARY | {"GatherElements", "Reshape"}
"""Also GatherElements reading a constant 1-D table at its indices, and Reshape to a constant shape."""


def _attribute(node: onnx.NodeProto, name: str, default=None):
    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return default


def _is_reorder(node: onnx.NodeProto | None, op_type: str) -> bool:
    return node is not None and node.domain == NCHWC_DOMAIN and node.op_type == op_type and not _attribute(node, "channels_last", 0)


def tensor_shapes(model: onnx.ModelProto) -> dict[str, tuple]:
    """The static shapes onnx's shape inference finds for `model`'s values (by name)."""
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {}
    for value in (*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output):
        dims = value.type.tensor_type.shape.dim
        if value.type.tensor_type.HasField("shape") and all(d.HasField("dim_value") for d in dims):
            shapes[value.name] = tuple(d.dim_value for d in dims)
    return shapes


def tensor_operands(node: onnx.NodeProto, constants: dict[str, onnx.TensorProto]) -> list[str] | None:
    """The inputs of `node` that run blocked when it does, or None when it is not layout-free."""
    if node.domain not in ("", "ai.onnx") or node.op_type not in LAYOUT_FREE or len(node.output) != 1:
        return None
    scalar = lambda name: not name or (name in constants and math.prod(constants[name].dims) == 1)  # noqa: E731
    if node.op_type == "GatherElements":  # a table read: constant 1-D data, the indices run blocked
        table = constants.get(node.input[0])
        ok = len(node.input) == 2 and table is not None and len(table.dims) == 1 and node.input[1] not in constants
        return [node.input[1]] if ok else None
    if node.op_type == "Reshape":
        ok = len(node.input) == 2 and node.input[1] in constants and node.input[0] not in constants
        return [node.input[0]] if ok else None
    if node.op_type in UNARY:
        ok = node.input[0] not in constants and all(scalar(name) for name in node.input[1:])
        return [node.input[0]] if ok else None
    operands = [name for name in node.input if not scalar(name)]  # BINARY
    return operands if operands and not any(name in constants for name in operands) else None


def _reshaped(node: onnx.NodeProto, source: tuple | None, constants) -> tuple | None:
    """The shape Reshape `node` gives a value of shape `source` (None where unknown)."""
    target = [int(d) for d in onnx.numpy_helper.to_array(constants[node.input[1]])]
    if source is None or _attribute(node, "allowzero", 0) and 0 in target:
        return None
    target = [source[i] if d == 0 else d for i, d in enumerate(target)]
    if target.count(-1) == 1:
        rest = math.prod(d for d in target if d != -1)
        target[target.index(-1)] = math.prod(source) // rest if rest else -1
    return tuple(target) if math.prod(target) == math.prod(source) and min(target, default=0) >= 0 else None


def _block_multiple(graph: onnx.GraphProto, constants) -> int:
    """A multiple of onnxruntime's channel block: the gcd of its NCHWc convolutions' padded output channels
    (0: no convolution). A channel count it divides fills whole blocks."""
    padded = [constants[node.input[1]].dims[0] for node in graph.node
              if node.domain == NCHWC_DOMAIN and node.op_type == "Conv" and node.input[1] in constants]
    return math.gcd(*padded) if padded else 0


def keep_blocked(model: onnx.ModelProto, shapes: dict[str, tuple] | None = None) -> int:
    """Edit onnxruntime's optimized `model` in place (module doc); returns how many reorders went.

    `shapes`: NCHW shapes of the model before onnxruntime optimized it (`tensor_shapes`), for the
    ops with several tensor operands and the Reshapes; without them those stay in NCHW."""
    graph = model.graph
    constants = {tensor.name: tensor for tensor in graph.initializer}
    producer = {name: node for node in graph.node for name in node.output}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    outputs = {value.name for value in graph.output}
    block = _block_multiple(graph, constants)
    operands_of = {id(node): tensor_operands(node, constants) for node in graph.node}
    blocked = {node.output[0]: node for node in graph.node if operands_of[id(node)]}  # candidates, by result name

    def from_reorder(name):
        return _is_reorder(producer.get(name), "ReorderOutput")

    changed = True
    while changed:
        # per blocked value (graph order is topological): its shape, the NCHW shape of the blocked tensor
        # whose elements it holds (None: unknown or several), whether it fills whole blocks, whether reshaped
        shape, origin, whole, reshaped = dict(shapes or {}), {}, {}, {}
        for node in graph.node:
            if _is_reorder(node, "ReorderOutput"):
                name = node.output[0]
                origin[name], reshaped[name] = shape.get(name), False
                whole[name] = bool(block) and _attribute(node, "channels", 0) % block == 0
            elif node.output and node.output[0] in blocked:
                name, operands = node.output[0], operands_of[id(node)]
                found = {origin.get(o) for o in operands}
                origin[name] = found.pop() if len(found) == 1 else None
                whole[name] = all(whole.get(o, False) for o in operands)
                reshaped[name] = node.op_type == "Reshape" or any(reshaped.get(o, True) for o in operands)
                if node.op_type == "Reshape":
                    shape[name] = _reshaped(node, shape.get(operands[0]), constants)
                elif name not in shape:  # elementwise: the operands' one shape (onnxruntime's own nodes too)
                    found = {shape.get(o) for o in operands}
                    shape[name] = found.pop() if len(found) == 1 else None
        changed = False
        for name, node in list(blocked.items()):
            operands = operands_of[id(node)]
            sources_blocked = all(o in blocked or from_reorder(o) for o in operands)
            one_shape = len(operands) == 1 or (
                shape.get(name) is not None and all(shape.get(o) == shape[name] for o in operands)
                and origin.get(name) is not None)
            fits = node.op_type != "Reshape" or whole.get(operands[0], False)
            back_in_shape = not reshaped.get(name, True) or (shape.get(name) is not None and shape.get(name) == origin.get(name))
            read_blocked = name not in outputs and all(
                reader.output[0] in blocked or (_is_reorder(reader, "ReorderInput") and back_in_shape)
                for reader in consumers.get(name, []))
            if not (sources_blocked and one_shape and fits and read_blocked):
                del blocked[name]
                changed = True
    reorders_in = [node for node in graph.node
                   if _is_reorder(node, "ReorderInput") and (node.input[0] in blocked or from_reorder(node.input[0]))]
    if not reorders_in:
        return 0
    for node in blocked.values():  # read the blocked tensors themselves
        for index, name in enumerate(node.input):
            if from_reorder(name):
                node.input[index] = producer[name].input[0]
                consumers[name] = [c for c in consumers[name] if c is not node]
    removed = []
    for reorder_in in reorders_in:  # the blocked value needs no reorder
        source = reorder_in.input[0]
        if from_reorder(source):  # a ReorderOutput read straight back: its blocked input
            consumers[source] = [c for c in consumers[source] if c is not reorder_in]
            source = producer[source].input[0]
        for reader in consumers.get(reorder_in.output[0], []):
            for index, name in enumerate(reader.input):
                if name == reorder_in.output[0]:
                    reader.input[index] = source
        removed.append(reorder_in)
    for node in graph.node:
        if _is_reorder(node, "ReorderOutput") and not consumers.get(node.output[0]) and node.output[0] not in outputs:
            removed.append(node)
    for node in removed:
        graph.node.remove(node)
    return len(removed)


INPUT_TYPES = {
    **{f"tensor({name})": np.dtype(name) for name in ("int8", "uint8", "int16", "uint16", "int32", "int64")},
    "tensor(float)": np.dtype(np.float32),
    "tensor(double)": np.dtype(np.float64),
}


def _random_feeds(session, seed: int = 0) -> dict[str, np.ndarray] | None:
    """Random values of every input's type (integers over their whole range, floats of a few
    units: a quantize's input), or None for another type or a dynamic shape."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for value in session.get_inputs():
        dtype = INPUT_TYPES.get(value.type)
        if dtype is None or any(not isinstance(d, int) for d in value.shape):
            return None
        if dtype.kind == "f":
            feeds[value.name] = (rng.standard_normal(value.shape) * 4).astype(dtype)
            continue
        info = np.iinfo(dtype)
        feeds[value.name] = rng.integers(int(info.min), int(info.max) + 1, value.shape).astype(dtype)
    return feeds


def blocked_session(ort, model: onnx.ModelProto, options_factory):
    """(session, blocked): `model`'s session with its layout-free ops kept in the blocked layout
    (blocked True), or the plain session (nothing to keep blocked, an edit onnxruntime refuses, or
    outputs that differ from the plain session's on random inputs). `options_factory()` gives fresh
    SessionOptions (its optimization level is set here); the plain session's errors reach the caller."""
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "optimized.onnx")
        options = options_factory()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.optimized_model_filepath = path
        options.log_severity_level = 4  # its warning that the saved graph fits this machine only: it is used here only
        plain = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        optimized = onnx.load(path)
    try:
        shapes = tensor_shapes(model)
    except Exception:  # no shapes: ops with one blocked operand only, no Reshape
        shapes = {}
    try:
        if keep_blocked(optimized, shapes) == 0:
            return plain, False
        options = options_factory()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # optimized already, for this machine
        blocked = ort.InferenceSession(optimized.SerializeToString(), options, providers=["CPUExecutionProvider"])
        feeds = _random_feeds(plain)
        if feeds is None:
            return plain, False
        for expected, produced in zip(plain.run(None, feeds), blocked.run(None, feeds), strict=True):
            if expected.dtype != produced.dtype or expected.shape != produced.shape or not np.array_equal(expected, produced, equal_nan=True):
                logger.debug("blocked layout not used: its outputs differ from the plain session's")
                return plain, False
    except Exception as error:  # a graph this edit does not understand, or onnxruntime refused it: the plain session runs
        logger.debug("blocked layout not used: %s", error)
        return plain, False
    return blocked, True


__all__ = ["BINARY", "LAYOUT_FREE", "NCHWC_DOMAIN", "UNARY", "blocked_session", "keep_blocked", "tensor_operands", "tensor_shapes"]
