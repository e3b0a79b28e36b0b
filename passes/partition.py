"""`partition`: give every sima op the compute unit it runs on, `target = "MLA" | "APU" | "CVU"`.

Rules, applied to each function in order (every run recomputes every target,
so the pass can be rerun with other options):

1. MLA: the op is in the 8/16-bit support table (`passes.mla_support`, from
   seed 003) and its tensors are float. Only these ops are quantized.
2. APU: everything else runs in float on the application processor.
3. CVU: an input pre-processing chain. Starting at a function argument, the
   chain takes the argument's only user, then that op's only user, and so on,
   while each op is elementwise affine in the chain value with a constant
   (`x + c`, `c + x`, `x - c`, `c - x`, `x * c`, `c * x`, `x / c`, where `c` is
   a `sima.constant` that does not enlarge the tensor), or, as the first
   step, a `sima.cast` of the argument (e.g. uint8 pixels to float). The chain
   goes to the CVU only if it ends where the MLA starts: an MLA op reads its
   result. Normalisation `(x - mean) / std` before the first convolution is
   the typical case.
4. Forced APU: the ops named in the `unquantized-nodes` option
   (`QuantizationParams.with_unquantized_nodes`). Users take these names from
   a run without the option, so a name is looked up among the names
   `name-nodes` would give with the targets of rules 1-3 (and among the ops'
   current `node` names). Forcing an op to APU splits its region, so after
   `name-nodes` the other ops' region prefixes may change; their indices do
   not. A name that matches no op is an error that lists the closest names.

`sima.constant` ops get no target. `partition_and_name` runs the front of the
quantization flow: fuse-activations, partition, name-nodes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.dialects.func import FuncOp
from xdsl.ir import BlockArgument, Operation, SSAValue
from xdsl.passes import ModulePass

from passes.fuse_activations import FuseActivationsPass
from passes.mla_support import mla_support
from passes.name_nodes import NameNodesPass, functions_of, named_ops, node_names, unknown_names_message
from sima_dialect import ops
from sima_dialect.context import sima_context
from sima_dialect.element_types import is_float_type

MLA, APU, CVU = ops.TARGETS


class PartitionError(ValueError):
    pass


def _is_constant(value: SSAValue) -> bool:
    return isinstance(value.owner, ops.ConstantOp)


def _affine_step(op: Operation, value: SSAValue) -> bool:
    """Whether `op` computes an affine function of `value` with a constant, elementwise."""
    if not isinstance(op, ops.AddOp | ops.SubOp | ops.MulOp | ops.DivOp):
        return False
    if op.lhs is value:
        other = op.rhs
    elif op.rhs is value and not isinstance(op, ops.DivOp):  # c / x is not affine
        other = op.lhs
    else:
        return False
    return _is_constant(other) and ops.shape_of(op.output) == ops.shape_of(value)


def _preprocessing_chain(argument: BlockArgument) -> list[ops.SimaOp]:
    chain: list[ops.SimaOp] = []
    value: SSAValue = argument
    while (user := value.get_user_of_unique_use()) is not None:
        first_cast = not chain and isinstance(user, ops.CastOp) and is_float_type(ops.element_type_of(user.output))
        if not (first_cast or _affine_step(user, value)):
            break
        chain.append(user)
        value = user.results[0]
    return chain


def default_targets(function: FuncOp) -> dict[ops.SimaOp, str]:
    """The target rules 1-3 give each named op of `function`."""
    targets = {op: MLA if mla_support(op) is not None else APU for op in named_ops(function)}
    for argument in function.args:
        chain = _preprocessing_chain(argument)
        if not chain:
            continue
        readers = [use.operation for use in chain[-1].results[0].uses]
        if any(targets.get(reader) == MLA for reader in readers):  # type: ignore[arg-type]
            for op in chain:
                targets[op] = CVU
    return targets


def parse_node_names(text: str) -> list[str]:
    """The comma-separated node names of the `unquantized-nodes` option."""
    return [name.strip() for name in text.split(",") if name.strip()]


def _unknown_names_error(unknown: list[str], known: Iterable[str]) -> PartitionError:
    return PartitionError(f"partition: unquantized-nodes: {unknown_names_message(unknown, known)}")


@dataclass(frozen=True)
class PartitionPass(ModulePass):
    """Give every sima op a target: MLA (the seeds' 8/16-bit table), CVU (input pre-processing) or APU (float)."""

    name = "partition"

    unquantized_nodes: str = ""
    """Comma-separated node names forced to run in float on the APU."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        functions = functions_of(op)
        targets: dict[ops.SimaOp, str] = {}
        for function in functions:
            targets.update(default_targets(function))
        forced = parse_node_names(self.unquantized_nodes)
        if forced:
            self._force_to_apu(forced, functions, targets)
        for named, target in targets.items():
            named.properties["target"] = StringAttr(target)

    @staticmethod
    def _force_to_apu(forced: list[str], functions: list[FuncOp], targets: dict[ops.SimaOp, str]) -> None:
        by_name: dict[str, ops.SimaOp] = {}
        for named, name in node_names(functions, targets.__getitem__).items():
            by_name[name] = named
            if named.node_name is not None:
                by_name.setdefault(named.node_name, named)
        unknown = [name for name in forced if name not in by_name]
        if unknown:
            raise _unknown_names_error(unknown, by_name)
        for name in forced:
            targets[by_name[name]] = APU


def partition_and_name(module: ModuleOp, unquantized_nodes: Iterable[str] = ()) -> None:
    """Run the front of the quantization flow on `module` in place:
    fuse-activations, partition (forcing `unquantized_nodes`, e.g.
    `QuantizationParams.node_names`, to APU), name-nodes."""
    ctx = sima_context()
    FuseActivationsPass().apply(ctx, module)
    PartitionPass(unquantized_nodes=",".join(sorted(unquantized_nodes))).apply(ctx, module)
    NameNodesPass().apply(ctx, module)
