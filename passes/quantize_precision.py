"""Per-node activation widths (seed 003's mixed int8 / int16 quantization).

`custom_quantization_configs = {node: {"quantization_precision": QuantizationPrecision.INT_16}}`
asks for a node computed in int16: the tensors it reads and writes are held in
16 bits (the seeds' `.sima.json` then shows `input_int16: true` for it).
`apply_node_precisions` records that width as `bits` on those tensors'
`sima.observe` markers and re-selects their quantization from the statistics
calibration recorded (select-scales' rule), so no data is read again. Where an
int16 node and an int8 node share a tensor, 16 bits win: the int8 node then
reads or writes a wider tensor, which the quantize pass requantizes as needed.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from xdsl.dialects.builtin import IntegerAttr, ModuleOp, i64
from xdsl.ir import SSAValue

from afe.core.configs import QuantizationPrecision
from passes.quantize_values import QuantizeError, is_float_tensor
from passes.select_scales import quantized_type_for
from sima_dialect import ops
from sima_dialect.calibration_ops import ObserveOp


def _ops_by_node(module: ModuleOp) -> dict[str, ops.SimaOp]:
    return {op.node_name: op for op in module.walk() if isinstance(op, ops.SimaOp) and op.node_name is not None}


def _unknown_nodes_error(unknown: list[str], known: list[str]) -> QuantizeError:
    problems = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f"closest: {', '.join(repr(c) for c in close)}" if close else "no similar name"
        problems.append(f"no node named '{name}' ({hint})")
    return QuantizeError(f"quantize: custom_quantization_configs: {'; '.join(problems)}")


def _activations(op: ops.SimaOp) -> list[SSAValue]:
    """The float tensors `op` reads (constants aside) and writes."""
    read = [v for v in op.operands if is_float_tensor(v) and not isinstance(v.owner, ops.ConstantOp)]
    return read + [v for v in op.results if is_float_tensor(v)]


def tensor_widths(module: ModuleOp, precisions: Mapping[str, QuantizationPrecision]) -> dict[SSAValue, int]:
    """The width each tensor of the named nodes gets (16 wins over 8)."""
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
