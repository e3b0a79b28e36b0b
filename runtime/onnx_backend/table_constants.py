"""fast mode's int8 tables computed by float32 functions that give exactly the table's bytes.

A `sima.lut` whose table is a recognized float function (`table_functions.py`) runs in the
int8 form as DequantizeLinear -> the function in float32 -> QuantizeLinear (`integer_emulation.
lower_lut`). The table was made in float64 with the integer arithmetic's rounding (half away from
zero); near a rounding tie the float32 pipeline can give the neighbouring byte, and that step
grows through the layers. At lowering time `make_exact` therefore runs the emitted nodes through
onnxruntime itself on every input byte (so the arithmetic is the one that will run), and:

1. keeps them if they give the table's 256 bytes ("as-is");
2. else tries their float32 scalar constants (the scales) a few ulps up / down, then their float
   attributes (HardSigmoid's alpha / beta, where the function is written with them), in a fixed
   order (smallest total ulp distance first), and takes the first set giving all 256 bytes
   ("nudged"): the same nodes, so the same cost per inference;
3. else reads the table exactly (`exact_tables.read_table`: Cast + GatherElements, slower) and
   logs at debug level which table fell back ("fallback").

The probe holds each byte at many positions (every alignment modulo 16 and a short tail), and
the check also runs every byte in tensors of 3 (all scalar tail), so that onnxruntime's
vectorized bodies and scalar tails must all agree (the search itself runs the probe only). Results are cached per
(nodes, constants, table); `OUTCOMES` counts the outcomes of the lowerings (the bench reads it).
"""

from __future__ import annotations

import collections
import itertools
import logging
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

from runtime.onnx_backend.exact_tables import read_table
from runtime.onnx_backend.graph import INT32, IR_VERSION, OPSET, Fragment

LOG = logging.getLogger(__name__)

CONSTANT_ULPS = 8
"""The scalar constants are tried up to this many ulps up and down (each; all combinations) ..."""
CONSTANT_TRIES = 300
"""... or fewer, so that at most this many sets are tried (a pipeline with more than two constants)."""
ATTRIBUTE_ULPS = 3
"""Float attributes are tried up to this many ulps up and down (at most `ATTRIBUTE_TRIES` sets: one
session each), each with the constants up to `ATTRIBUTE_CONSTANT_ULPS` (at most `ATTRIBUTE_CONSTANT_TRIES` sets)."""
ATTRIBUTE_TRIES = 50
ATTRIBUTE_CONSTANT_ULPS = 3
ATTRIBUTE_CONSTANT_TRIES = 30

PROBE_ALIGNMENTS = 16
PROBE_TAIL = 13
SHORT_RUN = 3
ELEMENTWISE = frozenset({
    "DequantizeLinear", "QuantizeLinear", "HardSwish", "HardSigmoid", "Mul", "Add", "Sub", "Sigmoid", "Tanh", "Exp",
    "Gelu", "Erf", "Relu", "Abs", "Neg", "Clip", "LeakyRelu",
})
"""The op types a table's float pipeline may have for the check (elementwise: the probe's shape does not matter)."""

OUTCOMES: collections.Counter = collections.Counter()
"""How the lowered tables came out: "as-is", "nudged", "fallback" (and "unchecked": not an elementwise pipeline)."""


@dataclass(frozen=True)
class TableFix:
    outcome: str  # "as-is", "nudged" or "fallback"
    constants: tuple[tuple[int, float], ...] = ()  # (index among the pipeline's initializers, float32 value)
    attributes: tuple[tuple[int, str, float], ...] = ()  # (node index, attribute name, float32 value)


_CACHE: dict[bytes, TableFix] = {}


def table_bytes(table: np.ndarray) -> np.ndarray:
    """A lut's table by byte b = q + 128 (uint8), as the int8 form carries values."""
    from runtime.integer_arithmetic import lookup

    return (lookup(np.arange(-128, 128).astype(np.int8), table).astype(np.int16) + 128).astype(np.uint8)


def probe() -> np.ndarray:
    """Every byte at every alignment modulo `PROBE_ALIGNMENTS` (rotations of 0..255), then a short tail."""
    values = np.arange(256, dtype=np.uint8)
    rotations = [np.roll(values, shift) for shift in range(PROBE_ALIGNMENTS)]
    return np.concatenate([*rotations, values[:PROBE_TAIL]])


def _ulps(value: np.float32, steps: int) -> np.float32:
    """`value` moved `steps` float32 ulps (towards +inf for steps > 0)."""
    value = np.float32(value)
    direction = np.float32(np.inf if steps > 0 else -np.inf)
    for _ in range(abs(steps)):
        value = np.nextafter(value, direction, dtype=np.float32)
    return value


def _offsets(count: int, reach: int, tries: int) -> list[tuple[int, ...]]:
    """Every offset vector in [-r, r]**count but zero, smallest total distance first (a fixed order),
    r the largest up to `reach` giving at most `tries` vectors."""
    while reach > 0 and (2 * reach + 1) ** count - 1 > tries:
        reach -= 1
    vectors = [v for v in itertools.product(range(-reach, reach + 1), repeat=count) if any(v)]
    return sorted(vectors, key=lambda v: (sum(abs(x) for x in v), max(abs(x) for x in v), tuple(-x for x in v)))


class _Pipeline:
    """The nodes and initializers one table's lowering appended to a fragment, as a standalone model."""

    def __init__(self, f: Fragment, first_node: int, first_initializer: int, source: str, result: str):
        self.nodes = f.nodes[first_node:]
        self.initializers = f.initializers[first_initializer:]
        self.source, self.result = source, result
        read = {name for node in self.nodes for name in node.input}
        self.scalar_constants = [  # float32 scalars the nodes read (a lowering may leave unread ones behind)
            i for i, t in enumerate(self.initializers)
            if t.data_type == onnx.TensorProto.FLOAT and int(np.prod(t.dims)) == 1 and t.name in read
        ]
        self.float_attributes = [
            (j, a.name) for j, node in enumerate(self.nodes) for a in node.attribute if a.type == onnx.AttributeProto.FLOAT
        ]

    def checkable(self) -> bool:
        made = {self.source, *(t.name for t in self.initializers), *(o for n in self.nodes for o in n.output)}
        return (
            all(n.op_type in ELEMENTWISE and n.domain in ("", "ai.onnx") for n in self.nodes)
            and all(i in made for n in self.nodes for i in n.input if i)
            and any(self.result in n.output for n in self.nodes)
        )

    def key(self, expected: np.ndarray) -> bytes:
        """The pipeline's content with its names replaced by their roles (the cache key)."""
        names = {self.source: "x", **{t.name: f"c{i}" for i, t in enumerate(self.initializers)}}
        for j, node in enumerate(self.nodes):
            names.update({o: f"n{j}_{k}" for k, o in enumerate(node.output)})
        parts = [expected.tobytes(), names.get(self.result, "?").encode()]
        for node in self.nodes:
            parts.append(f"{node.op_type}({','.join(names.get(i, i) for i in node.input)})".encode())
            parts.extend(sorted(a.SerializeToString() for a in node.attribute))
        for t in self.initializers:
            parts.append(bytes([t.data_type]) + numpy_helper.to_array(t).tobytes())
        return b"\x00".join(parts)

    def model(self, as_inputs: list[int] = (), attributes: dict[tuple[int, str], float] | None = None) -> onnx.ModelProto:
        """The pipeline as a model from the bytes `source` to `result`, with the scalar constants
        `as_inputs` (indices) as graph inputs instead of initializers, and `attributes` replaced."""
        nodes = []
        for j, node in enumerate(self.nodes):
            node = onnx.NodeProto.FromString(node.SerializeToString())
            for attribute in node.attribute:
                if attributes and (j, attribute.name) in attributes:
                    attribute.f = float(attributes[(j, attribute.name)])
            nodes.append(node)
        inputs = [helper.make_tensor_value_info(self.source, onnx.TensorProto.UINT8, [None])]
        initializers = []
        for i, tensor in enumerate(self.initializers):
            if i in as_inputs:
                inputs.append(helper.make_tensor_value_info(tensor.name, tensor.data_type, list(tensor.dims)))
            else:
                initializers.append(tensor)
        graph = helper.make_graph(
            nodes, "table", inputs, [helper.make_tensor_value_info(self.result, onnx.TensorProto.UINT8, [None])], initializers
        )
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)

    def constant(self, index: int) -> np.float32:
        return np.float32(numpy_helper.to_array(self.initializers[index]).reshape(()))

    def attribute(self, node: int, name: str) -> np.float32:
        return np.float32(next(a.f for a in self.nodes[node].attribute if a.name == name))


def _session(model: onnx.ModelProto):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
    options.log_severity_level = 4
    return onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _agrees(output: np.ndarray, expected: np.ndarray, x: np.ndarray) -> bool:
    """Whether every position of the probe `x` gave the table's byte."""
    return output.shape == x.shape and bool(np.array_equal(output, expected[x]))


def _gives_table(session, pipeline: _Pipeline, expected: np.ndarray) -> bool:
    """Whether `session` gives the table's byte for every byte: on the probe, and on tensors of
    `SHORT_RUN` bytes each (every byte in a kernel's scalar tail, shorter than any vector)."""
    x = probe()
    runs = [x, *np.array_split(np.arange(256, dtype=np.uint8), 256 // SHORT_RUN)]
    return all(_agrees(session.run([pipeline.result], {pipeline.source: run})[0], expected, run) for run in runs)


def _search(pipeline: _Pipeline, expected: np.ndarray, x: np.ndarray) -> TableFix | None:
    """The first nudge (constants, then attributes with constants) whose pipeline gives every byte."""
    indices = pipeline.scalar_constants
    base = [pipeline.constant(i) for i in indices]
    shapes = [tuple(pipeline.initializers[i].dims) for i in indices]
    names = [pipeline.initializers[i].name for i in indices]

    def first_over_constants(session, reach: int, tries: int, with_zero: bool, attributes=()) -> tuple[tuple[int, float], ...] | None:
        """The first constants (with `attributes`) giving the probe's bytes and confirmed on every byte."""
        offsets = ([(0,) * len(indices)] if with_zero else []) + _offsets(len(indices), reach, tries)
        for offset in offsets:
            values = [np.full(shape, _ulps(b, k), np.float32) for b, k, shape in zip(base, offset, shapes)]
            output = session.run([pipeline.result], {pipeline.source: x, **dict(zip(names, values))})[0]
            if _agrees(output, expected, x):
                found = tuple((i, float(v.reshape(-1)[0])) for i, v in zip(indices, values))
                if confirmed(found, attributes):
                    return found
        return None

    def confirmed(constants, attributes) -> bool:
        """The nudged pipeline as it will run (constants as initializers) gives every byte too."""
        model = pipeline.model(attributes={(j, name): value for j, name, value in attributes})
        for tensor in model.graph.initializer:
            for i, value in constants:
                if tensor.name == pipeline.initializers[i].name:
                    tensor.CopyFrom(numpy_helper.from_array(np.full(tuple(tensor.dims), value, np.float32), tensor.name))
        return _gives_table(_session(model), pipeline, expected)

    if indices:
        found = first_over_constants(_session(pipeline.model(as_inputs=indices)), CONSTANT_ULPS, CONSTANT_TRIES, with_zero=False)
        if found is not None:
            return TableFix("nudged", constants=found)
    if pipeline.float_attributes:
        base_attributes = [pipeline.attribute(j, name) for j, name in pipeline.float_attributes]
        for offset in _offsets(len(base_attributes), ATTRIBUTE_ULPS, ATTRIBUTE_TRIES):
            attributes = tuple((j, name, float(_ulps(b, k))) for (j, name), b, k in zip(pipeline.float_attributes, base_attributes, offset))
            session = _session(pipeline.model(as_inputs=indices, attributes={(j, n): v for j, n, v in attributes}))
            if indices:
                found = first_over_constants(session, ATTRIBUTE_CONSTANT_ULPS, ATTRIBUTE_CONSTANT_TRIES, True, attributes)
            elif _agrees(session.run([pipeline.result], {pipeline.source: x})[0], expected, x) and confirmed((), attributes):
                found = ()
            else:
                found = None
            if found is not None:
                return TableFix("nudged", constants=found, attributes=attributes)
    return None


def _fix(pipeline: _Pipeline, expected: np.ndarray) -> TableFix:
    if _gives_table(_session(pipeline.model()), pipeline, expected):
        return TableFix("as-is")
    return _search(pipeline, expected, probe()) or TableFix("fallback")


def make_exact(f: Fragment, first_node: int, first_initializer: int, source: str, result: str, table: np.ndarray,
               shape: tuple[int, ...] | None, where: str = "") -> str:
    """The name of the table's bytes: `result` (the float pipeline f appended since `first_node` /
    `first_initializer`, reading the bytes `source`), its constants nudged if that makes it give
    exactly `table`'s bytes on every input, else a read of the table (the pipeline removed)."""
    pipeline = _Pipeline(f, first_node, first_initializer, source, result)
    if not pipeline.checkable():
        OUTCOMES["unchecked"] += 1
        return result
    expected = table_bytes(table)
    key = pipeline.key(expected)
    fix = _CACHE.get(key)
    if fix is None:
        fix = _CACHE.setdefault(key, _fix(pipeline, expected))
    OUTCOMES[fix.outcome] += 1
    if fix.outcome == "as-is":
        return result
    if fix.outcome == "nudged":
        for i, value in fix.constants:
            tensor = pipeline.initializers[i]
            tensor.CopyFrom(numpy_helper.from_array(np.full(tuple(tensor.dims), value, np.float32), tensor.name))
        for j, name, value in fix.attributes:
            next(a for a in pipeline.nodes[j].attribute if a.name == name).f = value
        LOG.debug("table %s: float32 constants nudged to give its bytes exactly", where)
        return result
    LOG.debug("table %s: no nearby float32 constants give its bytes; read exactly (GatherElements)", where)
    del f.nodes[first_node:]
    del f.initializers[first_initializer:]
    return read_table(f, expected, f.cast(source, INT32), shape)


__all__ = ["OUTCOMES", "TableFix", "make_exact", "probe", "table_bytes"]
