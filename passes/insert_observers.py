"""`insert-observers`: mark every float activation for calibration.

Puts one `sima.observe` after each float tensor the quantizer will hold: every
float argument of the function and every float result of a sima op other than
`sima.constant` (weights are quantized from their values, not observed). Each
marker gets a stable `key` (the producing node's name, or the input's name) and
the calibration method as a dictionary of observer parameters, e.g.

    sima.observe %3 {key = "MLA_0/conv2d_add_relu_0",
                     method = {name = "percentile", num_bins = 1024 : i64, percentile = 99.9 : f64}}

The runtime builds each tensor's observer from that dictionary
(`runtime.observers.OBSERVER_KINDS[name](**params)`), so the IR alone says how
it is calibrated. Running the pass twice adds nothing: tensors that already
have an observer are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import FloatAttr, IntegerAttr, ModuleOp, StringAttr, TensorType, f64, i64
from xdsl.dialects.func import FuncOp
from xdsl.ir import Attribute, Block, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from sima_dialect.calibration_ops import ObserveOp
from sima_dialect.element_types import is_float_type
from sima_dialect.ops import ConstantOp, SimaOp

# Which observer parameters each method takes (the observers' constructor keywords).
METHOD_PARAMETERS: dict[str, tuple[str, ...]] = {
    "min_max": (),
    "moving_average": ("averaging_constant",),
    "mse": ("num_bins",),
    "entropy": ("num_bins",),
    "percentile": ("percentile", "num_bins"),
}

ARGUMENT_NAME_ATTR = "sima.name"


class InsertObserversError(ValueError):
    pass


def method_attribute(
    method: str, num_bins: int = 0, percentile: float = 0.0, averaging_constant: float = 0.0
) -> dict[str, Attribute]:
    """The `method` dictionary of `sima.observe`; zero means "the method's default"."""
    if method not in METHOD_PARAMETERS:
        raise InsertObserversError(
            f"unknown calibration method {method!r}; choose one of {', '.join(METHOD_PARAMETERS)}"
        )
    given = {
        "num_bins": IntegerAttr(num_bins, i64) if num_bins else None,
        "percentile": FloatAttr(percentile, f64) if percentile else None,
        "averaging_constant": FloatAttr(averaging_constant, f64) if averaging_constant else None,
    }
    entries: dict[str, Attribute] = {"name": StringAttr(method)}
    for parameter in METHOD_PARAMETERS[method]:
        if given[parameter] is not None:
            entries[parameter] = given[parameter]
    return entries


def _is_float_tensor(value: SSAValue) -> bool:
    return isinstance(value.type, TensorType) and is_float_type(value.type.element_type)


def _argument_name(function: FuncOp, index: int) -> str:
    if function.arg_attrs is not None and index < len(function.arg_attrs.data):
        name = function.arg_attrs.data[index].data.get(ARGUMENT_NAME_ATTR)
        if isinstance(name, StringAttr):
            return name.data
    return function.args[index].name_hint or f"arg{index}"


class _Keys:
    """Unique, stable observer keys."""

    def __init__(self, taken: set[str]):
        self.taken = taken
        self.counter = 0

    def claim(self, wanted: str | None) -> str:
        if wanted is None:
            while f"t{self.counter}" in self.taken:
                self.counter += 1
            wanted = f"t{self.counter}"
        key, suffix = wanted, 1
        while key in self.taken:
            key = f"{wanted}#{suffix}"
            suffix += 1
        self.taken.add(key)
        return key


def _observed_values(block: Block) -> set[SSAValue]:
    return {op.input for op in block.ops if isinstance(op, ObserveOp)}


@dataclass(frozen=True)
class InsertObserversPass(ModulePass):
    """Put a sima.observe calibration marker on every float activation."""

    name = "insert-observers"

    method: str = "mse"
    """Calibration method: min_max, moving_average, mse, entropy or percentile."""

    num_bins: int = 0
    """Histogram bins (0: the method's default)."""

    percentile: float = 0.0
    """Percentile for the percentile method (0: its default, 99.9)."""

    averaging_constant: float = 0.0
    """Filter coefficient for moving_average (0: its default, 0.01)."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        method = method_attribute(self.method, self.num_bins, self.percentile, self.averaging_constant)
        for function in op.walk():
            if isinstance(function, FuncOp) and function.body.blocks:
                self._observe_function(function, method)

    def _observe_function(self, function: FuncOp, method: dict[str, Attribute]) -> None:
        block = function.body.blocks[0]
        observed = _observed_values(block)
        keys = _Keys({o.key.data for o in block.ops if isinstance(o, ObserveOp)})
        rewriter = Rewriter()

        # Inputs: observers go at the top of the body, in argument order.
        insertion = InsertPoint.at_start(block)
        for index, argument in enumerate(function.args):
            if _is_float_tensor(argument) and argument not in observed:
                marker = ObserveOp(argument, keys.claim(_argument_name(function, index)), method)
                rewriter.insert_op(marker, insertion)
                insertion = InsertPoint.after(marker)

        for producer in list(block.ops):
            if not isinstance(producer, SimaOp) or isinstance(producer, ConstantOp):
                continue
            node = producer.node_name
            multiple = len(producer.results) > 1
            after = producer
            for index, result in enumerate(producer.results):
                if not _is_float_tensor(result) or result in observed:
                    continue
                wanted = None if node is None else (f"{node}:{index}" if multiple else node)
                marker = ObserveOp(result, keys.claim(wanted), method)
                rewriter.insert_op(marker, InsertPoint.after(after))
                after = marker
