"""A light, mutable view of an ONNX graph for the importer.

The importer does not rewrite `onnx.ModelProto` in place: it reads the graph
into `OnnxGraph` (nodes with decoded attributes, every constant as a NumPy
array whether it came from an initializer or a `Constant` node), and the
pattern recognisers and the converter work on that view.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

# ONNX's default domain has two spellings.
DEFAULT_DOMAINS = ("", "ai.onnx")


class OnnxImportError(ValueError):
    """A model (or an import option) the importer cannot take.

    The message names the node, input or option at fault; `node` is the node's
    display name when one node is to blame.
    """

    def __init__(self, message: str, node: Node | None = None):
        self.node = node
        super().__init__(f"{node.describe()}: {message}" if node is not None else message)


@dataclass(eq=False)
class Node:
    """One ONNX node with its attributes decoded to Python / NumPy values."""

    op_type: str
    name: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)
    domain: str = ""
    # the original proto, for the reference evaluator; None for nodes made by a pattern
    proto: onnx.NodeProto | None = None

    def describe(self) -> str:
        return f"node '{self.name}' ({self.qualified_type})"

    @property
    def qualified_type(self) -> str:
        """The op type, prefixed by its domain unless that is ONNX's default one."""
        return self.op_type if self.domain in DEFAULT_DOMAINS else f"{self.domain}.{self.op_type}"

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    def input(self, index: int) -> str:
        """The name of input `index`, or '' when it is absent (optional inputs)."""
        return self.inputs[index] if index < len(self.inputs) else ""

    def to_proto(self) -> onnx.NodeProto:
        if self.proto is not None:
            return self.proto
        return onnx.helper.make_node(self.op_type, self.inputs, self.outputs, name=self.name, domain=self.domain, **self.attrs)


def decode_attribute(attribute: onnx.AttributeProto) -> Any:
    value = onnx.helper.get_attribute_value(attribute)
    if isinstance(value, onnx.TensorProto):
        return numpy_helper.to_array(value)
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, list) and value and isinstance(value[0], bytes):
        return [v.decode("utf-8") for v in value]
    return value


def node_from_proto(proto: onnx.NodeProto, index: int) -> Node:
    return Node(
        op_type=proto.op_type,
        name=proto.name or f"{proto.op_type}_{index}",
        inputs=list(proto.input),
        outputs=list(proto.output),
        attrs={a.name: decode_attribute(a) for a in proto.attribute},
        domain=proto.domain,
        proto=proto,
    )


@dataclass(frozen=True)
class ValueSpec:
    """The static type of a graph input or output: ONNX shape and NumPy dtype."""

    shape: tuple[int, ...]
    dtype: np.dtype


class OnnxGraph:
    """The nodes, constants, inputs and outputs of a model's main graph."""

    def __init__(
        self,
        nodes: list[Node],
        constants: dict[str, np.ndarray],
        inputs: dict[str, ValueSpec],
        outputs: list[str],
        opset: int,
    ):
        self.nodes = nodes
        self.constants = constants
        self.inputs = inputs
        self.outputs = outputs
        self.opset = opset
        self._fresh = 0

    # -- queries -----------------------------------------------------------

    def producers(self) -> dict[str, Node]:
        return {out: node for node in self.nodes for out in node.outputs if out}

    def consumers(self) -> dict[str, list[Node]]:
        users: dict[str, list[Node]] = {}
        for node in self.nodes:
            for name in node.inputs:
                if name:
                    users.setdefault(name, []).append(node)
        return users

    def constant(self, name: str) -> np.ndarray | None:
        return self.constants.get(name) if name else None

    # -- edits used by the pattern recognisers ------------------------------

    def fresh_name(self, stem: str) -> str:
        """`stem`, or `stem_<n>` if that name is taken by a constant or a node output."""
        taken = self.constants.keys() | {out for node in self.nodes for out in node.outputs} | self.inputs.keys()
        candidate = stem
        while candidate in taken:
            self._fresh += 1
            candidate = f"{stem}_{self._fresh}"
        return candidate

    def add_constant(self, stem: str, array: np.ndarray) -> str:
        name = self.fresh_name(stem)
        self.constants[name] = np.asarray(array)
        return name

    def remove_dead_nodes(self) -> None:
        """Keep only the nodes whose results reach a graph output."""
        needed = set(self.outputs)
        kept: list[Node] = []
        for node in reversed(self.nodes):
            if any(out in needed for out in node.outputs):
                kept.append(node)
                needed.update(name for name in node.inputs if name)
        kept.reverse()
        self.nodes = kept

    def replace_nodes(self, removed: Iterable[Node], added: Sequence[Node], at: Node) -> None:
        """Remove `removed` and put `added` where `at` was (`at` must be removed)."""
        removed_ids = {id(n) for n in removed}
        result: list[Node] = []
        for node in self.nodes:
            if node is at:
                result.extend(added)
            if id(node) not in removed_ids:
                result.append(node)
        self.nodes = result
