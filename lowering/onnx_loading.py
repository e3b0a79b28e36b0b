"""Reading an ONNX file into an `OnnxGraph`: checks, input shapes, shape inference.

Everything a user can get wrong before conversion starts is caught here, with
a message naming the file, input or opset at fault: a missing, truncated or
non-ONNX file; a model the ONNX checker rejects; an opset outside 11..21; a
`shape_dict` that misses an input, names an unknown one, or contradicts a
static dimension; a dtype that differs from the model's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import numpy_helper

from lowering.onnx_graph import DEFAULT_DOMAINS, OnnxGraph, OnnxImportError, ValueSpec, node_from_proto

# element types the sima dialect has (signless integers, as MLIR)
SUPPORTED_DTYPES = ("float32", "float64", "float16", "bfloat16", "int8", "int16", "int32", "int64", "bool")

MIN_OPSET = 11
# the newest opset the installed onnx package defines (its node tests use opsets up to it)
MAX_OPSET = onnx.defs.onnx_opset_version()


def load_model_proto(model: str | os.PathLike | bytes | onnx.ModelProto) -> onnx.ModelProto:
    """Read and check a model; external-data files are read from the model's folder."""
    if isinstance(model, onnx.ModelProto):
        proto = model
        _check(proto, None)
        return proto
    if isinstance(model, bytes):
        proto = _parse_bytes(model, "the given bytes")
        _check(proto, None)
        return proto
    path = Path(model)
    if not path.is_file():
        raise OnnxImportError(f"model file '{path}' does not exist")
    proto = _parse_bytes(path.read_bytes(), f"'{path}'")
    try:
        onnx.external_data_helper.load_external_data_for_model(proto, str(path.parent))
    except (OSError, ValueError) as error:
        raise OnnxImportError(f"cannot read the external data of '{path}': {error}") from None
    _check(proto, path)
    return proto


def _parse_bytes(data: bytes, what: str) -> onnx.ModelProto:
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except (DecodeError, RuntimeWarning, ValueError) as error:
        raise OnnxImportError(f"{what} is not a valid ONNX model (truncated or not an ONNX file): {error}") from None
    # Protobuf accepts many byte strings that are not models (it skips unknown
    # fields), so a parse that finds no graph is not a model either.
    if proto.ir_version == 0 or not proto.HasField("graph") or not proto.opset_import:
        raise OnnxImportError(f"{what} is not an ONNX model (no IR version, graph or opset found)")
    return proto


def _check(proto: onnx.ModelProto, path: Path | None) -> None:
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as error:
        where = f"'{path}'" if path else "the model"
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise OnnxImportError(f"the ONNX checker rejects {where}: {first_line}") from None


def default_opset(proto: onnx.ModelProto) -> int:
    versions = [o.version for o in proto.opset_import if o.domain in DEFAULT_DOMAINS]
    if not versions:
        raise OnnxImportError("the model imports no version of the default ONNX opset")
    version = versions[0]
    if not MIN_OPSET <= version <= MAX_OPSET:
        raise OnnxImportError(
            f"the model uses ONNX opset {version}; opsets {MIN_OPSET} through {MAX_OPSET} are supported "
            f"(onnx.version_converter can convert the model)"
        )
    return version


def onnx_dtype_to_numpy(elem_type: int, what: str) -> np.dtype:
    try:
        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type))
    except (KeyError, TypeError, ValueError):
        raise OnnxImportError(f"{what} has ONNX element type {elem_type}, which has no NumPy dtype") from None


def _declared_dims(value_info: onnx.ValueInfoProto) -> list[int | str | None] | None:
    tensor_type = value_info.type.tensor_type
    if not tensor_type.HasField("shape"):
        return None
    dims: list[int | str | None] = []
    for dim in tensor_type.shape.dim:
        if dim.HasField("dim_value") and dim.dim_value > 0:
            dims.append(dim.dim_value)
        elif dim.HasField("dim_param"):
            dims.append(dim.dim_param)
        else:
            dims.append("?")
    return dims


def runtime_inputs(proto: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    """The graph inputs that are not initializers (IR < 4 lists initializers as inputs too)."""
    initializer_names = {init.name for init in proto.graph.initializer}
    return [value for value in proto.graph.input if value.name not in initializer_names]


def resolve_input_specs(
    proto: onnx.ModelProto,
    shape_dict: Mapping[str, Sequence[int]],
    dtype_dict: Mapping[str, Any] | None,
    dtype_of: Any = None,
) -> dict[str, ValueSpec]:
    """Each runtime input's static shape (from `shape_dict`) and dtype.

    `shape_dict` must give every input, in the model's own (ONNX, NCHW) layout.
    `dtype_dict` may omit an input (its declared type is used); `dtype_of`
    turns a user's dtype value into a NumPy dtype.
    """
    inputs = runtime_inputs(proto)
    names = [value.name for value in inputs]
    if not isinstance(shape_dict, Mapping):
        raise OnnxImportError(f"shape_dict must be a dict from input name to shape, got {type(shape_dict).__name__}")
    unknown = [name for name in shape_dict if name not in names]
    if unknown:
        raise OnnxImportError(f"shape_dict names {', '.join(repr(n) for n in unknown)}, which the model does not have as inputs; its inputs are {names}")
    missing = [name for name in names if name not in shape_dict]
    if missing:
        declared = {v.name: _declared_dims(v) for v in inputs}
        raise OnnxImportError(
            "shape_dict has no entry for input "
            + ", ".join(f"'{name}' (declared shape {declared[name]})" for name in missing)
            + "; give every input's shape in the model's layout"
        )
    dtype_dict = dtype_dict or {}
    unknown = [name for name in dtype_dict if name not in names]
    if unknown:
        raise OnnxImportError(f"dtype_dict names {', '.join(repr(n) for n in unknown)}, which the model does not have as inputs; its inputs are {names}")
    specs: dict[str, ValueSpec] = {}
    for value in inputs:
        if value.type.WhichOneof("value") != "tensor_type":
            raise OnnxImportError(f"input '{value.name}' is a {value.type.WhichOneof('value')}; only tensor inputs are supported")
        shape = _check_shape(value, shape_dict[value.name])
        declared_dtype = onnx_dtype_to_numpy(value.type.tensor_type.elem_type, f"input '{value.name}'")
        dtype = declared_dtype
        if value.name in dtype_dict:
            dtype = dtype_of(dtype_dict[value.name]) if dtype_of else np.dtype(dtype_dict[value.name])
            if dtype != declared_dtype:
                raise OnnxImportError(
                    f"dtype_dict gives input '{value.name}' the type {dtype}, but the model declares {declared_dtype}"
                )
        if dtype.name not in SUPPORTED_DTYPES:
            raise OnnxImportError(f"input '{value.name}' has element type {dtype}; supported types are {', '.join(SUPPORTED_DTYPES)}")
        specs[value.name] = ValueSpec(shape, dtype)
    return specs


def _check_shape(value: onnx.ValueInfoProto, given: Any) -> tuple[int, ...]:
    try:
        shape = tuple(int(d) for d in given)
        if any(int(d) != d for d in given):
            raise ValueError
    except (TypeError, ValueError):
        raise OnnxImportError(f"shape_dict entry for input '{value.name}' must be a sequence of integers, got {given!r}") from None
    if any(d < 0 for d in shape):
        raise OnnxImportError(f"shape_dict gives input '{value.name}' the shape {list(shape)}; dimensions cannot be negative")
    declared = _declared_dims(value)
    if declared is not None:
        if len(declared) != len(shape):
            raise OnnxImportError(
                f"shape_dict gives input '{value.name}' the rank-{len(shape)} shape {list(shape)}, "
                f"but the model declares rank {len(declared)}: {declared}"
            )
        for axis, (dim, want) in enumerate(zip(shape, declared)):
            if isinstance(want, int) and dim != want:
                raise OnnxImportError(
                    f"shape_dict gives input '{value.name}' the shape {list(shape)}, but the model fixes "
                    f"dimension {axis} to {want} (declared shape {declared})"
                )
    return shape


def infer_shapes(graph: OnnxGraph) -> dict[str, tuple[int, ...]]:
    """ONNX's shape inference on the graph with its fixed input shapes.

    Returns the fully static shapes it found (value name -> shape) for the
    pattern recognisers and constant folding; the converter also checks its
    own result shapes against them. Large constants are handed over as typed
    inputs rather than initializers (inference needs only their shapes), small
    ones as initializers (a shape or scales tensor's values matter). A graph
    whose shapes contradict each other fails here with ONNX's message.
    """
    helper = onnx.helper
    inputs = [helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(spec.dtype), spec.shape) for name, spec in graph.inputs.items()]
    initializers = []
    for name, value in graph.constants.items():
        if value.size <= SMALL_CONSTANT:
            initializers.append(numpy_helper.from_array(np.asarray(value), name))
        else:
            inputs.append(helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(value.dtype), value.shape))
    outputs = [helper.make_empty_tensor_value_info(name) for name in graph.outputs]
    model = helper.make_model(
        helper.make_graph([node.to_proto() for node in graph.nodes], "main", inputs, outputs, initializers),
        opset_imports=[helper.make_opsetid("", graph.opset)],
    )
    model.ir_version = onnx.IR_VERSION
    try:
        inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
    except onnx.shape_inference.InferenceError as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else "inference error"
        raise OnnxImportError(f"ONNX shape inference rejects the model with these input shapes: {message}") from None
    shapes: dict[str, tuple[int, ...]] = {name: spec.shape for name, spec in graph.inputs.items()}
    shapes.update((name, tuple(value.shape)) for name, value in graph.constants.items())
    for value in list(inferred.graph.value_info) + list(inferred.graph.output):
        dims = _declared_dims(value)
        if dims is not None and all(isinstance(d, int) for d in dims):
            shapes[value.name] = tuple(dims)  # type: ignore[arg-type]
    return shapes


# constants up to this many elements go to shape inference by value
SMALL_CONSTANT = 64


def graph_from_proto(proto: onnx.ModelProto, specs: Mapping[str, ValueSpec] | None = None) -> OnnxGraph:
    """Read the main graph: constants from initializers and `Constant` nodes.

    `specs` gives the run-time inputs' static types (`resolve_input_specs`);
    they may also be set on the graph afterwards.
    """
    graph = proto.graph
    constants: dict[str, np.ndarray] = {}
    for init in graph.initializer:
        constants[init.name] = numpy_helper.to_array(init)
    for sparse in graph.sparse_initializer:
        raise OnnxImportError(f"sparse initializer '{sparse.values.name}' is not supported")
    nodes = []
    for index, proto_node in enumerate(graph.node):
        node = node_from_proto(proto_node, index)
        if node.op_type == "Constant" and node.domain in DEFAULT_DOMAINS:
            constants[node.outputs[0]] = _constant_value(node)
            continue
        nodes.append(node)
    outputs = [value.name for value in graph.output]
    return OnnxGraph(nodes, constants, dict(specs or {}), outputs, default_opset(proto))


def _constant_value(node) -> np.ndarray:
    for key in ("value", "value_float", "value_int", "value_floats", "value_ints"):
        if key in node.attrs:
            value = node.attrs[key]
            if key == "value":
                return np.asarray(value)
            dtype = np.float32 if "float" in key else np.int64
            return np.asarray(value, dtype=dtype)
    raise OnnxImportError(f"only tensor, float and int values are supported, got attributes {sorted(node.attrs)}", node)
