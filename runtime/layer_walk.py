"""Run a (quantized) function op by op over several samples at once, stopping
before chosen ops so that a data step can change their constants on the
inputs the ops before them actually produced.

    outputs = walk_layers(module, samples, stops, before)

`before(op, inputs, constants)` is called just before each op of `stops`
runs: `inputs` holds, per sample, the op's first operand as computed so far,
and `constants` maps every constant value of the function (weights, biases,
whatever constant subgraphs fold to) to its array; assigning to it changes
what `op` and every later reader of that constant see. Ops whose operands are
all constant run once; every other op runs once per sample. An operand is
dropped after its last reader ran, so at most the live activations of every
sample are held at once.

`layer_stops` is the same walk as a generator, for callers that advance two
walks side by side. (`runtime.bias_correction.run_layer_by_layer` and the
sequential and compensating modes of `runtime.weight_rounding` are its users.)
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Generator, Mapping, Sequence
from typing import Any

import numpy as np
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation, SSAValue
from xdsl.traits import Pure

from runtime.interpreter import Interpreter, find_function
from runtime.kernels import KERNELS

BeforeLayer = Callable[[Operation, list[np.ndarray], dict[SSAValue, np.ndarray]], None]
"""(op about to run, its first operand per sample, the function's constants) -> None."""


def walk_layers(
    module: ModuleOp, samples: Sequence[Mapping[str, Any]], stops: Collection[Operation], before: BeforeLayer
) -> list[list[np.ndarray]]:
    """Run `module`'s function over `samples` ({input name: array}, already
    checked), calling `before` ahead of every op in `stops`; each sample's outputs."""
    walk = layer_stops(module, samples, stops)
    try:
        while True:
            before(*next(walk))
    except StopIteration as finished:
        return finished.value


def layer_stops(
    module: ModuleOp, samples: Sequence[Mapping[str, Any]], stops: Collection[Operation]
) -> Generator[tuple[Operation, list[np.ndarray], dict[SSAValue, np.ndarray]], None, list[list[np.ndarray]]]:
    """`walk_layers` as a generator: yields (op, inputs, constants) ahead of every
    op in `stops` and runs the op when resumed (so two walks, e.g. of a float and a
    quantized module, can advance side by side); returns each sample's outputs."""
    function = find_function(module)
    names = Interpreter(module).input_names
    body = list(function.body.block.ops)
    last_use: dict[SSAValue, int] = {}
    for index, op in enumerate(body):
        for operand in op.operands:
            last_use[operand] = index
    constants: dict[SSAValue, np.ndarray] = {}
    values: dict[SSAValue, list[np.ndarray]] = {
        argument: [np.asarray(sample[name]) for sample in samples] for argument, name in zip(function.args, names)
    }
    with np.errstate(all="ignore"):
        for index, op in enumerate(body[:-1]):
            if op.has_trait(Pure) and all(operand in constants for operand in op.operands):
                produced = KERNELS[type(op)](op)(*[constants[operand] for operand in op.operands])
                for result, value in zip(op.results, produced if len(op.results) > 1 else [produced]):
                    constants[result] = np.asarray(value)
                continue
            if op in stops:
                yield op, values[op.operands[0]], constants
            kernel = KERNELS[type(op)](op)
            per_sample = [
                kernel(*[constants[v] if v in constants else values[v][i] for v in op.operands]) for i in range(len(samples))
            ]
            for position, result in enumerate(op.results):
                values[result] = [np.asarray(p if len(op.results) == 1 else p[position]) for p in per_sample]
            for operand in op.operands:
                if last_use.get(operand) == index:
                    values.pop(operand, None)
    returned = body[-1].operands
    return [[constants[v] if v in constants else values[v][i] for v in returned] for i in range(len(samples))]


__all__ = ["BeforeLayer", "layer_stops", "walk_layers"]
