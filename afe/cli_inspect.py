"""`afe inspect MODEL`: what a model holds, node by node.

For a quantized model (`.sima`): its inputs, outputs and config, then one row
per node: name, op, target (MLA / APU / CVU), precision, and the quantization
of its output (scale, zero point and the float range that it represents).
For a float model (`.onnx`): the nodes as quantization will name and place
them, the names that --unquantized-node and --int16-node take.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from xdsl.dialects.builtin import ModuleOp, TensorType

from afe.cli_files import load_onnx, load_sima
from afe.cli_output import describe_inputs, nodes_per_target, say
from afe.cli_quantize import add_input_shape_option, input_shapes
from passes.name_nodes import functions_of, named_ops
from sima_dialect.types import QuantizedType


@dataclass(frozen=True)
class OutputQuantization:
    """How a node's output is quantized: real value = scale * (q - zero_point)."""

    bits: int
    scale: float
    zero_point: int

    @property
    def float_range(self) -> tuple[float, float]:
        """The smallest and largest real values the integers represent (the range calibration selected)."""
        low, high = -(2 ** (self.bits - 1)), 2 ** (self.bits - 1) - 1
        return self.scale * (low - self.zero_point), self.scale * (high - self.zero_point)


def output_quantizations(module: ModuleOp) -> dict[str, OutputQuantization]:
    """node name -> the quantization of its first result, for every named node with a quantized output."""
    found = {}
    for function in functions_of(module):
        for op in named_ops(function):
            if op.node_name and op.results and isinstance(op.results[0].type, TensorType):
                element = op.results[0].type.element_type
                if isinstance(element, QuantizedType):
                    found[op.node_name] = OutputQuantization(element.bits, element.scale_value, element.zero_point_value)
    return found


def add_parser(subparsers, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "inspect",
        parents=[common],
        help="list a model's nodes: targets, precision, scales",
        description="List the nodes of a quantized model (.sima): op, target, precision and output quantization; "
        "or of a float model (.onnx): the node names quantization options take.",
    )
    parser.add_argument("model", metavar="MODEL", help="a .sima file, or an .onnx file")
    parser.add_argument("--ir", action="store_true", help="print the sima IR instead of the table (weights elided)")
    add_input_shape_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.model.endswith(".onnx"):
        return _inspect_float(args)
    model = load_sima(args.model)
    if args.ir:
        print(model.ir_text(), end="")
        return 0
    from afe.cli_config import describe_config

    say(f"model      {model.name}{' (arm_only: every op in float on the APU)' if model.arm_only else ''}")
    say(f"inputs     {describe_inputs(model.input_types)}")
    say(f"outputs    {', '.join(model.output_names)}")
    if model.quantization_config is not None:
        say(f"config     {describe_config(model.quantization_config)}")
    say(f"float ref  {'yes (afe analyze can compare against it)' if model.float_reference is not None else 'none'}")
    rows = model.list_nodes()
    say(f"nodes      {nodes_per_target(rows)}")
    say()
    quantizations = output_quantizations(model.module)
    table = [("node", "op", "target", "precision", "scale", "zero point", "range")]
    for row in rows:
        found = quantizations.get(row.name)
        if found is None:
            table.append((row.name, row.kind, row.target, row.precision, "-", "-", "-"))
        else:
            low, high = found.float_range
            table.append((row.name, row.kind, row.target, row.precision, f"{found.scale:.6g}", str(found.zero_point), f"[{low:.4g}, {high:.4g}]"))
    _print_table(table)
    return 0


def _inspect_float(args: argparse.Namespace) -> int:
    net = load_onnx(args.model, input_shapes(args))
    if args.ir:
        print(net.ir_text(), end="")
        return 0
    say(f"model      {args.model} (float; node names as quantization gives them)")
    say(f"inputs     {describe_inputs(net.input_types)}")
    rows = net.list_nodes()
    say(f"nodes      {nodes_per_target(rows)}")
    say()
    _print_table([("node", "op", "target"), *((row.name, row.kind, row.target) for row in rows)])
    return 0


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(cell) for cell in column) for column in zip(*rows)]
    for row in rows:
        say("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
