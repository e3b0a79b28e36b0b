"""ONNX -> `sima` import.

    module = import_onnx("model.onnx", shape_dict={"x": (1, 3, 224, 224)})

The result is a `builtin.module` holding `func.func @main`, whose arguments
are the model's inputs and whose results are its outputs, each carrying its
ONNX name as the `sima.name` argument / result attribute. 4-D inputs and
outputs are NHWC (the accelerator's layout); `shape_dict` gives shapes in the
model's own (NCHW) layout.

The steps, each in its own module:

1. `onnx_loading`: read and check the file, fix the input shapes, run ONNX
   shape inference (its shapes are checked against ours after each node);
2. `check_supported`: one error naming every unsupported op and its nodes,
   before any other work (nodes computable at import time need no converter);
3. `onnx_patterns`: fold BatchNorm into convolutions, recognise decomposed
   LayerNorm / GELU / HardSwish / SiLU;
4. conversion: nodes in order, constants folded (`onnx_folding`), others
   through the converters of `onnx_ops_*` with layout tracking (`onnx_layout`);
5. the `cancel-transposes` and `sima-canonicalize` passes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import onnx
from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, ModuleOp, StringAttr
from xdsl.ir import Block, Region

# the converter modules register themselves in CONVERTERS on import
from lowering import onnx_ops_elementwise, onnx_ops_nn, onnx_ops_reduce, onnx_ops_tensor  # noqa: F401
from lowering import onnx_layout as layout
from lowering.onnx_context import ImportContext, Tensor, sanitize_name, tensor_type
from lowering.onnx_converters import CONSTANT_OPERANDS, CONVERTERS
from lowering.onnx_folding import SHAPE_OPS, evaluate_node, fold_constants, is_static_node, static_value_names
from lowering.onnx_graph import OnnxGraph, OnnxImportError
from lowering.onnx_loading import graph_from_proto, infer_shapes, load_model_proto, resolve_input_specs
from lowering.onnx_patterns import apply_recognisers
from sima_dialect.context import sima_context

# Every ONNX op type (default domain) the importer converts. Any op may also
# appear in a subgraph that is computable at import time (shape arithmetic):
# such nodes are evaluated by ONNX's reference implementation instead.
SUPPORTED_ONNX_OPS: frozenset[str] = frozenset({"Constant"} | {op for op in CONVERTERS if "." not in op})

# Passes run on every imported module, in order.
IMPORT_PIPELINE = ("cancel-transposes", "sima-canonicalize")

NAME_ATTR = "sima.name"


@dataclass
class ImportResult:
    """The imported module and what the import found out on the way."""

    module: ModuleOp
    input_names: list[str]
    output_names: list[str]
    opset: int
    recognised: dict[str, int] = field(default_factory=dict)


def import_onnx(
    model: str | os.PathLike | bytes | onnx.ModelProto,
    shape_dict: Mapping[str, Sequence[int]],
    dtype_dict: Mapping[str, Any] | None = None,
    *,
    dtype_of: Any = None,
    run_pipeline: bool = True,
) -> ImportResult:
    """Import an ONNX model into a verified `sima` module (raises OnnxImportError)."""
    proto = load_model_proto(model)
    graph = graph_from_proto(proto)
    graph.remove_dead_nodes()
    check_supported(graph)
    graph.inputs = resolve_input_specs(proto, shape_dict, dtype_dict, dtype_of)
    # shape inference and constant folding feed each other: a folded Shape ->
    # Concat -> Reshape chain gives inference the shapes after the Reshape
    inferred = infer_shapes(graph)
    while fold_constants(graph, inferred):
        inferred = infer_shapes(graph)
    recognised = apply_recognisers(graph, inferred)
    module = convert_graph(graph, inferred)
    if run_pipeline:
        run_passes(module, IMPORT_PIPELINE)
    return ImportResult(module, list(graph.inputs), list(graph.outputs), graph.opset, recognised)


def check_supported(graph: OnnxGraph) -> None:
    """Fail once, listing every op type that has no converter and the nodes using it."""
    static = static_value_names(graph)
    missing: dict[str, list[str]] = {}
    for node in graph.nodes:
        if is_static_node(node, static) and node.op_type not in SHAPE_OPS:
            continue
        if node.qualified_type not in SUPPORTED_ONNX_OPS:
            missing.setdefault(node.qualified_type, []).append(node.name)
    if missing:
        listing = "; ".join(
            f"{op} (node{'s' if len(names) > 1 else ''} {', '.join(repr(n) for n in names[:5])}{', ...' if len(names) > 5 else ''})"
            for op, names in sorted(missing.items())
        )
        raise OnnxImportError(
            f"the model uses {len(missing)} unsupported ONNX op type{'s' if len(missing) > 1 else ''}: {listing}. "
            f"Supported op types are listed in lowering.onnx_importer.SUPPORTED_ONNX_OPS"
        )


def api_layout(rank: int) -> layout.Perm:
    """The layout of a model input or output at the API: NHWC for 4-D, ONNX order otherwise."""
    return layout.NHWC if rank == 4 else layout.identity(rank)


def convert_graph(graph: OnnxGraph, inferred: dict[str, tuple[int, ...]]) -> ModuleOp:
    """Build `func.func @main` from the graph's nodes (after the recognisers)."""
    arg_types = []
    for name, spec in graph.inputs.items():
        perm = api_layout(len(spec.shape))
        arg_types.append(tensor_type(layout.permute(spec.shape, perm), spec.dtype))
    block = Block(arg_types=arg_types)
    ctx = ImportContext(graph, block)
    for arg, (name, spec) in zip(block.args, graph.inputs.items()):
        ctx.check_dtype(spec.dtype, f"input '{name}'")
        arg.name_hint = sanitize_name(name)
        ctx.tensors[name] = Tensor(spec.shape, spec.dtype, arg, api_layout(len(spec.shape)))

    for node in graph.nodes:
        ctx.node = node
        results = convert_node(ctx, node)
        for index, (name, tensor) in enumerate(zip(node.outputs, results)):
            if not name:
                continue
            expected = inferred.get(name)
            if expected is not None and tuple(expected) != tuple(tensor.shape):
                raise ctx.error(
                    f"internal error: output {index} ('{name}') was imported with shape {list(tensor.shape)}, "
                    f"but ONNX shape inference gives {list(expected)}"
                )
            ctx.tensors[name] = tensor
        produced = {name for name in node.outputs[: len(results)]}
        needed = [name for name in node.outputs if name and name not in produced]
        if needed:
            raise ctx.error(f"output{'s' if len(needed) > 1 else ''} {', '.join(repr(n) for n in needed)} cannot be imported")
    ctx.node = None

    returned, result_types = [], []
    for name in graph.outputs:
        tensor = ctx.tensor(name)
        perm = api_layout(tensor.rank)
        ctx.check_dtype(tensor.dtype, f"output '{name}'")
        value = ctx.operand(tensor, perm)
        returned.append(value)
        result_types.append(value.type)
    block.add_op(func.ReturnOp(*returned))
    main = func.FuncOp(
        "main",
        (arg_types, result_types),
        Region(block),
        arg_attrs=ArrayAttr([DictionaryAttr({NAME_ATTR: StringAttr(n)}) for n in graph.inputs]),
        res_attrs=ArrayAttr([DictionaryAttr({NAME_ATTR: StringAttr(n)}) for n in graph.outputs]),
    )
    module = ModuleOp([main])
    module.verify()
    return module


def convert_node(ctx: ImportContext, node) -> list[Tensor]:
    """Fold a node computable at import time, or convert it to sima ops."""
    key = node.qualified_type
    inputs = [ctx.tensor(name) if name else None for name in node.inputs]
    present = [t for t in inputs if t is not None]
    if key not in SHAPE_OPS and present and all(t.const is not None for t in present):
        values = evaluate_node(node, [t.const if t is not None else None for t in inputs], ctx.opset)
        return [Tensor.constant(v, name) for v, name in zip(values, [n for n in node.outputs if n])]
    converter = CONVERTERS.get(key)
    if converter is None:  # check_supported lets only static nodes through without a converter
        raise ctx.error("has no converter and its inputs are not all known at import time")
    for index in CONSTANT_OPERANDS.get(key, ()):
        if index < len(inputs) and inputs[index] is not None and inputs[index].const is None:  # type: ignore[union-attr]
            raise ctx.error(f"input {index} ('{node.inputs[index]}') must be known at import time (a constant or computed from shapes)")
    for name, tensor in zip(node.inputs, inputs):
        if tensor is not None:
            ctx.check_dtype(tensor.dtype, f"input '{name}'")
    return list(converter(ctx, node))


def run_passes(module: ModuleOp, names: Sequence[str]) -> list[str]:
    """Apply the registered passes among `names`, in order; returns those applied."""
    from passes import get_all_passes

    registry = get_all_passes()
    context: Context = sima_context()
    applied = []
    for name in names:
        if name in registry:
            registry[name]()().apply(context, module)
            applied.append(name)
    module.verify()
    return applied


__all__ = [
    "SUPPORTED_ONNX_OPS",
    "IMPORT_PIPELINE",
    "ImportResult",
    "OnnxImportError",
    "import_onnx",
    "check_supported",
    "api_layout",
]
