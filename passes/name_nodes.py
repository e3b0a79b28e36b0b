"""`name-nodes`: give every op its stable user-facing name, `node = "MLA_0/conv2d_add_relu_0"`.

The names are the ones users write in `with_custom_quantization_configs` and
`with_unquantized_nodes` (seed 003), so they follow the seeds' style:

    <REGION>/<kind>_<index>        MLA_0/conv2d_add_relu_0, MLA_0/max_pool2d_1, APU_0/div_7

- a *region* is a maximal run of consecutive ops (in block order, constants
  skipped) with the same `target`; regions are numbered per target in order of
  appearance: MLA_0, APU_0, MLA_1, ... (so `partition` must run first);
- *kind* describes the op as the seeds do: `conv2d` (no bias), `conv2d_add`
  (with bias), `conv2d_add_relu` / `conv2d_add_clip` (with a fused clamp:
  relu when it is [0, inf), clip otherwise), the same for `conv2d_transpose`
  and `dense`; pools are `max_pool2d`, `avg_pool2d`, `global_avg_pool2d`,
  `global_max_pool2d`; reductions and comparisons name their kind
  (`reduce_mean`, `compare_gt`); any other op is its name (`add`, `concat`);
- *index* counts the named ops of the whole module in order, from 0.

`sima.constant` ops get no name. Names depend only on the IR, so the same
model through the same passes always gets the same names. A name set before
(the importer's or the user's) is replaced; it is kept as the discardable
attribute `onnx_name`, so a name can be mapped back to the source model.
Running the pass again renames nothing that changed and records no names of
its own as `onnx_name`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr, TensorType
from xdsl.dialects.func import FuncOp
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass

from sima_dialect import ops
from sima_dialect.element_types import element_type_to_numpy, is_float_type
from sima_dialect.types import QuantizedType

SOURCE_NAME_ATTR = "onnx_name"
"""The discardable attribute keeping the name an op had before `name-nodes` ran."""

# A name this pass gives: recognised so that a rerun does not record it as a source name.
_OWN_NAME = re.compile(r"^(MLA|APU|CVU)_\d+/\w+_\d+$")

_KINDS: dict[type[ops.SimaOp], str] = {
    ops.MaxPoolOp: "max_pool2d",
    ops.AvgPoolOp: "avg_pool2d",
    ops.GlobalAvgPoolOp: "global_avg_pool2d",
    ops.GlobalMaxPoolOp: "global_max_pool2d",
}


class NameNodesError(ValueError):
    pass


def describe(op: Operation) -> str:
    """How messages name an op that has no node name yet: its name and first result."""
    if op.results and op.results[0].name_hint:
        return f"{op.name} (result %{op.results[0].name_hint})"
    return op.name


def node_kind(op: ops.SimaOp) -> str:
    """The seed-style kind of `op`: `conv2d_add_relu`, `max_pool2d`, `add`..."""
    if isinstance(op, ops.FusedActivationOp):
        kind = op.name.removeprefix("sima.")
        if op.bias is not None:
            kind += "_add"
        low, high = op.activation_bounds()
        if (low, high) == (0.0, float("inf")):
            kind += "_relu"
        elif (low, high) != (float("-inf"), float("inf")):
            kind += "_clip"
        return kind
    if type(op) in _KINDS:
        return _KINDS[type(op)]
    if isinstance(op, ops.ReduceOp | ops.CompareOp):
        return f"{op.name.removeprefix('sima.')}_{op.kind.data}"
    return op.name.removeprefix("sima.")


def functions_of(module: ModuleOp) -> list[FuncOp]:
    return [f for f in module.walk() if isinstance(f, FuncOp) and f.body.blocks]


def named_ops(function: FuncOp) -> list[ops.SimaOp]:
    """The ops of `function` that get a target and a name: every sima op but constants, in block order."""
    return [
        op
        for block in function.body.blocks
        for op in block.ops
        if isinstance(op, ops.SimaOp) and not isinstance(op, ops.ConstantOp)
    ]


def node_names(functions: Sequence[FuncOp], target_of: Callable[[ops.SimaOp], str]) -> dict[ops.SimaOp, str]:
    """The name of every named op of `functions`, given each op's target.

    Indices and region numbers run on across functions, so names are unique in
    the module; a region never spans two functions.
    """
    names: dict[ops.SimaOp, str] = {}
    regions_seen: dict[str, int] = {}
    index = 0
    for function in functions:
        region = None
        previous_target = None
        for op in named_ops(function):
            target = target_of(op)
            if target != previous_target:
                number = regions_seen.get(target, 0)
                regions_seen[target] = number + 1
                region = f"{target}_{number}"
                previous_target = target
            names[op] = f"{region}/{node_kind(op)}_{index}"
            index += 1
    return names


def _assigned_target(op: ops.SimaOp) -> str:
    if op.target is None:
        raise NameNodesError(f"name-nodes: {describe(op)} has no target; run the partition pass first")
    return op.target.data


@dataclass(frozen=True)
class NameNodesPass(ModulePass):
    """Name every op after its region, kind and position (MLA_0/conv2d_add_relu_0)."""

    name = "name-nodes"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for named, name in node_names(functions_of(op), _assigned_target).items():
            previous = named.node_name
            if previous is not None and previous != name and not _OWN_NAME.match(previous):
                named.attributes.setdefault(SOURCE_NAME_ATTR, StringAttr(previous))
            named.properties["node"] = StringAttr(name)


# -- listing ----------------------------------------------------------------------


class NodeRow(NamedTuple):
    """One named op as `LoadedNet.list_nodes` shows it."""

    name: str
    kind: str  # the sima op, e.g. "sima.conv2d"
    target: str
    precision: str  # "float32" before quantization, "int8" / "int16" / "int32" for quantized ops


def _precision_of(value: SSAValue) -> str | None:
    if not isinstance(value.type, TensorType):
        return None
    element = value.type.element_type
    if isinstance(element, QuantizedType):
        return f"int{element.bits}"
    if is_float_type(element):
        return str(element_type_to_numpy(element))
    return None


def precision(op: Operation) -> str:
    """The number format `op` computes in: that of its first float or quantized
    result, else operand (argmax computes on its input); else its result's dtype."""
    for value in (*op.results, *op.operands):
        if (found := _precision_of(value)) is not None:
            return found
    for value in op.results:
        if isinstance(value.type, TensorType):
            return str(element_type_to_numpy(value.type.element_type))
    return "none"


def node_rows(module: ModuleOp) -> Iterator[NodeRow]:
    """(name, op, target, precision) of every named op of `module`, in order."""
    for function in functions_of(module):
        for op in named_ops(function):
            yield NodeRow(op.node_name or "", op.name, op.target_name or "", precision(op))


def closest_names_hint(name: str, known: Iterable[str], none: str = "no similar name") -> str:
    """'closest: ...' with up to three known names like `name` (a typo's likely
    intent), or `none` when nothing is close."""
    close = difflib.get_close_matches(name, sorted(set(known)), n=3, cutoff=0.5)
    return f"closest: {', '.join(repr(c) for c in close)}" if close else none


def unknown_names_message(unknown: Iterable[str], known: Iterable[str], none: str = "no similar name") -> str:
    """One clause per unknown node name, each with the closest known names."""
    known = sorted(set(known))
    return "; ".join(f"no node named '{name}' ({closest_names_hint(name, known, none)})" for name in unknown)
