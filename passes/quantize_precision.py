"""Per-node activation widths (seed 003's mixed int8 / int16 quantization).

`custom_quantization_configs = {node: {"quantization_precision": QuantizationPrecision.INT_16}}`
asks for a node computed in int16: the tensors it reads and writes are held in
16 bits (the seeds' `.sima.json` then shows `input_int16: true` for it).
`apply_node_precisions` records that width as `bits` on those tensors'
`sima.observe` markers and re-selects their quantization from the statistics
calibration recorded (select-scales' rule), so no data is read again. Where an
int16 node and an int8 node share a tensor, 16 bits win: the int8 node then
reads or writes a wider tensor, which the quantize pass requantizes as needed.

Ops that only move values (reshape, transpose, slice, pad, max_pool, ...: the
quantize pass gives their result their input's quantization) would hand an
int16 node the 8 bits of the tensor they read. So the 16 bits are carried back
through such ops, when the MLA runs them at 16 bits, to the op that computes
the values; if that op runs only at 8 bits, the int16 node reads 8-bit values
and a warning names both nodes.

`node-precisions` is the same step as a pass, for `sima-opt`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, i64
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass

from afe.core.configs import QuantizationPrecision
from afe.ir.defines import NodeReporter
from passes.mla_support import supports_bits
from passes.name_nodes import unknown_names_message
from passes.partition import parse_node_names
from passes.quantize_movement import passes_quantization_through
from passes.quantize_values import MLA_TARGET, QuantizeError, is_float_tensor
from passes.select_scales import quantized_type_for
from sima_dialect import ops
from sima_dialect.calibration_ops import ObserveOp

WIDE_BITS = QuantizationPrecision.INT_16.bits


def _ops_by_node(module: ModuleOp) -> dict[str, ops.SimaOp]:
    return {op.node_name: op for op in module.walk() if isinstance(op, ops.SimaOp) and op.node_name is not None}


def _unknown_nodes_error(unknown: list[str], known: list[str]) -> QuantizeError:
    return QuantizeError(f"quantize: custom_quantization_configs: {unknown_names_message(unknown, known)}")


def _reads(op: ops.SimaOp) -> list[SSAValue]:
    """The float tensors `op` reads, constants aside."""
    return [v for v in op.operands if is_float_tensor(v) and not isinstance(v.owner, ops.ConstantOp)]


def _activations(op: ops.SimaOp) -> list[SSAValue]:
    """The float tensors `op` reads (constants aside) and writes."""
    return _reads(op) + [v for v in op.results if is_float_tensor(v)]


def _on_mla(op: Operation | None) -> bool:
    return isinstance(op, ops.SimaOp) and op.target_name == MLA_TARGET


def _describe(op: ops.SimaOp) -> str:
    return f"'{op.node_name}' ({op.name})" if op.node_name else op.name


def _carry_wide_back(read: SSAValue, reader: ops.SimaOp, widths: dict[SSAValue, int]) -> None:
    """Widen the tensors from `read` back through value-moving MLA ops to the op
    computing the values, when that op can write 16 bits; else warn that `reader`
    reads 8-bit values. A float producer (an APU op, a function argument) is
    quantized straight to 16 bits."""
    chain: list[SSAValue] = []
    producer = read.owner
    while _on_mla(producer) and passes_quantization_through(producer) and supports_bits(producer, WIDE_BITS):
        chain.append(producer.operands[0])
        producer = producer.operands[0].owner
    if _on_mla(producer) and not supports_bits(producer, WIDE_BITS):
        NodeReporter(reader.node_name or reader.name).warn(
            f"INT_16 asked, but it reads 8-bit values: its input comes from {_describe(producer)}, "
            "which the MLA runs only at 8 bits"
        )
        return
    for value in chain:
        widths[value] = WIDE_BITS


def tensor_widths(module: ModuleOp, precisions: Mapping[str, QuantizationPrecision]) -> dict[SSAValue, int]:
    """The width each tensor of the named nodes gets (16 wins over 8), with 16
    bits carried back to where the values of an int16 node's inputs are computed."""
    by_node = _ops_by_node(module)
    unknown = sorted(name for name in precisions if name not in by_node)
    if unknown:
        raise _unknown_nodes_error(unknown, sorted(by_node))
    widths: dict[SSAValue, int] = {}
    for name, precision in sorted(precisions.items()):
        if precision is QuantizationPrecision.BFLOAT_16:
            raise QuantizeError(f"quantize: node '{name}': bfloat16 precision is not supported yet")
        for value in _activations(by_node[name]):
            widths[value] = max(widths.get(value, 0), precision.bits)
    for name, precision in sorted(precisions.items()):
        node = by_node[name]
        if precision.bits != WIDE_BITS:
            continue
        if _on_mla(node) and not supports_bits(node, WIDE_BITS):
            NodeReporter(name).warn(f"{precision.name} ignored: the MLA runs {node.name} only at 8 bits")
            continue
        for value in _reads(node):
            _carry_wide_back(value, node, widths)
    return widths


def apply_node_precisions(module: ModuleOp, precisions: Mapping[str, QuantizationPrecision], asymmetric: bool) -> None:
    """Give the tensors of the named nodes their widths and re-select their quantizations."""
    if not precisions:
        return
    widths = tensor_widths(module, precisions)
    for observe in module.walk():
        if isinstance(observe, ObserveOp) and observe.input in widths:
            bits = widths[observe.input]
            observe.properties["bits"] = IntegerAttr(bits, i64)
            observe.properties["quant"] = quantized_type_for(observe, bits, asymmetric)


@dataclass(frozen=True)
class NodePrecisionsPass(ModulePass):
    """Give the named nodes int16 or int8 activations (re-selects the calibrated quantizations)."""

    name = "node-precisions"

    int16_nodes: str = ""
    """Comma-separated node names computed with 16-bit activations."""

    int8_nodes: str = ""
    """Comma-separated node names computed with 8-bit activations."""

    asymmetric: bool = True
    """Whether activations are asymmetric (must match select-scales)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        int16 = parse_node_names(self.int16_nodes)
        int8 = parse_node_names(self.int8_nodes)
        both = sorted(set(int16) & set(int8))
        if both:
            raise QuantizeError(f"node-precisions: {', '.join(repr(n) for n in both)} in both int16-nodes and int8-nodes")
        precisions = {name: QuantizationPrecision.INT_8 for name in int8}
        precisions.update({name: QuantizationPrecision.INT_16 for name in int16})
        apply_node_precisions(op, precisions, self.asymmetric)
