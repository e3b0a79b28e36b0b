"""The quantize pass's bookkeeping: which quantization each float tensor has, and
how an integer op gets its quantized operands.

`FunctionValues` holds, for one function, the `!sima.quant` each observed float
tensor was calibrated to (read from the `sima.observe` markers) and the
quantized value that replaces each float tensor an integer op now computes.

`OpRewrite` is the rewrite of one float MLA op, built as a transaction: the ops
it creates (integer op, constants, `sima.quantize` / `sima.requantize` of its
operands) are held back, verified, and inserted before the float op only when
the whole rewrite succeeded. A rewrite that fails (`Fallback`: no integer form,
or integers that cannot be planned) leaves the IR untouched, so the op can stay
float on the APU.

Operands: a float tensor that no integer op computes (a function argument, an
APU op's result) is quantized with its observed quantization (`sima.quantize`);
a constant with a quantization chosen from its own values; a quantized tensor
of another quantization than the op needs is requantized (`sima.requantize`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from xdsl.dialects.builtin import IntegerType, StringAttr, TensorType
from xdsl.ir import Operation, SSAValue
from xdsl.utils.exceptions import VerifyException

from afe.ir.defines import NodeReporter, Quantization, quantization_from_range
from passes.mla_support import supports_bits
from sima_dialect import ops
from sima_dialect.calibration_ops import ObserveOp
from sima_dialect.element_types import is_float_type
from sima_dialect.quantized_ops import QuantizeOp, RequantizeOp
from sima_dialect.types import QuantizedType

MLA_TARGET = "MLA"
APU_TARGET = "APU"
REQUANT_MODES = ("sima", "tflite")


class QuantizeError(ValueError):
    """The IR cannot be quantized as asked (missing calibration, bad option): a user error."""


class Fallback(Exception):
    """An MLA op the pass cannot turn into integer ops: it stays float on the APU."""


@dataclass(frozen=True)
class QuantizeOptions:
    """What the pass's options mean once checked (see `QuantizePass`)."""

    requant_mode: str = "sima"
    per_channel: bool = True
    asymmetric: bool = True
    int32_outputs: frozenset[str] = frozenset()


# ---------------------------------------------------------------------------
# quantized types


def element_of(value: SSAValue) -> QuantizedType:
    element = value.type.element_type if isinstance(value.type, TensorType) else None
    if not isinstance(element, QuantizedType):
        raise TypeError(f"expected a quantized tensor, got {value.type}")
    return element


def is_float_tensor(value: SSAValue) -> bool:
    return isinstance(value.type, TensorType) and is_float_type(value.type.element_type)


def quantized_tensor(value: SSAValue, element: QuantizedType) -> TensorType:
    """The type of `value` (a tensor) with `element` as its element type."""
    return TensorType(element, list(ops.shape_of(value)))


def to_quantization(element: QuantizedType) -> Quantization:
    """The afe `Quantization` (scale = quanta per real unit) of a `!sima.quant` (step)."""
    return Quantization.from_step(element.scale_value, element.zero_point_value, element.bits)


def from_quantization(quantization: Quantization) -> QuantizedType:
    return QuantizedType(IntegerType(quantization.bits), quantization.step, quantization.zero_point)


def calibrated_range(element: QuantizedType, asymmetric: bool) -> tuple[float, float]:
    """The real range a quantization was selected for: the whole integer range
    (asymmetric) or the symmetric one, [-(2^(b-1) - 1), 2^(b-1) - 1] (`quantization_from_range`).

    `quantization_from_range` of this range gives `element` back, so the planner,
    which recomputes the output quantization from a range, keeps the calibrated one.
    """
    top = (1 << (element.bits - 1)) - 1
    bottom = -top - 1 if asymmetric else -top
    step, zero_point = element.scale_value, element.zero_point_value
    return (bottom - zero_point) * step, (top - zero_point) * step


def with_bits(element: QuantizedType, bits: int, asymmetric: bool) -> QuantizedType:
    """A quantization of the same real range with another integer width."""
    if element.bits == bits:
        return element
    low, high = calibrated_range(element, asymmetric)
    return from_quantization(quantization_from_range(low, high, bits, asymmetric))


def constant_quantization(array: np.ndarray, bits: int, asymmetric: bool) -> QuantizedType:
    """The quantization of a constant tensor: its own range, widened to contain 0."""
    array = np.asarray(array, dtype=np.float64)
    if array.size == 0 or not np.all(np.isfinite(array)):
        raise Fallback("a constant operand is empty or not finite")
    return from_quantization(quantization_from_range(float(array.min()), float(array.max()), bits, asymmetric))


def constant_array(value: SSAValue) -> np.ndarray | None:
    """The values of a `sima.constant` (None if `value` is computed, or its weights were elided)."""
    owner = value.owner
    if not isinstance(owner, ops.ConstantOp):
        return None
    try:
        return np.asarray(owner.as_array())
    except ValueError:  # an elided #sima.ndarray has no data
        return None


def weight_name(value: SSAValue, default: str) -> str:
    """The name of a `#sima.ndarray` constant, or `default`."""
    owner = value.owner
    if isinstance(owner, ops.ConstantOp) and hasattr(owner.value, "weight_name"):
        return owner.value.weight_name
    return default


# ---------------------------------------------------------------------------
# one function


def take_observed_quantizations(block_ops: Sequence[Operation]) -> dict[SSAValue, QuantizedType | None]:
    """The `quant` each observed value was calibrated to (None: observed, not yet
    quantized); the `sima.observe` markers are erased, their job done."""
    observed: dict[SSAValue, QuantizedType | None] = {}
    for op in block_ops:
        if isinstance(op, ObserveOp):
            if observed.get(op.input) is None:
                observed[op.input] = op.quant
            op.detach()
            op.erase()
    return observed


@dataclass
class FunctionValues:
    """The quantized state of one function while the pass rewrites it."""

    observed: dict[SSAValue, QuantizedType | None]
    # float value -> the quantized value the integer op that replaces its producer computes
    replacement: dict[SSAValue, SSAValue] = field(default_factory=dict)
    # (float value, quantization) -> a quantize / requantize already made for it
    derived: dict[tuple[SSAValue, QuantizedType], SSAValue] = field(default_factory=dict)


def node_suffix(node: str | None, suffix: str) -> StringAttr | None:
    """The name of an op made for node `node`: `<node>/<suffix>` (None for a nameless node)."""
    return StringAttr(f"{node}/{suffix}") if node else None


class OpRewrite:
    """The rewrite of one float MLA op into integer ops, as a transaction."""

    def __init__(self, values: FunctionValues, op: ops.SimaOp, options: QuantizeOptions):
        self.values = values
        self.op = op
        self.options = options
        self.node = op.node_name
        self.reporter = NodeReporter(self.node or op.name)
        self.widths = (8, 16) if supports_bits(op, 16) else (8,)
        self.pending: list[Operation] = []
        self._derived: dict[tuple[SSAValue, QuantizedType], SSAValue] = {}

    # -- quantizations

    def describe(self) -> str:
        return f"{self.op.name} '{self.node}'" if self.node else self.op.name

    def observed(self, value: SSAValue, what: str) -> QuantizedType:
        """The calibrated quantization of a float tensor; a QuantizeError if it has none."""
        element = self.values.observed.get(value)
        if element is None:
            state = "is observed but has no quantization" if value in self.values.observed else "is not observed"
            raise QuantizeError(
                f"quantize: {self.describe()}: its {what} {state}; run calibration and select-scales first"
            )
        return element

    def fit(self, element: QuantizedType) -> QuantizedType:
        """`element`, narrowed to 8 bits if the MLA does not run this op at its width."""
        if element.bits in self.widths:
            return element
        return with_bits(element, max(self.widths), self.options.asymmetric)

    def output_quantization(self, index: int = 0) -> QuantizedType:
        """The calibrated quantization of the op's result `index`, at a width the op runs at."""
        return self.fit(self.observed(self.op.results[index], "result" if index == 0 else f"result {index}"))

    # -- operands

    def operand_quantization(self, value: SSAValue, constant_bits: int | None = None) -> QuantizedType:
        """The quantization `operand(value)` gives: that of the integer op computing
        `value` if the op runs at its width, else the calibrated one (narrowed to a
        width the op runs at). A constant without an observed quantization is
        quantized over its own range, to `constant_bits` (default: the op's widest width)."""
        home = self.values.replacement.get(value)
        if home is not None and element_of(home).bits in self.widths:
            return element_of(home)
        array = constant_array(value) if home is None and self.values.observed.get(value) is None else None
        if array is not None:
            return constant_quantization(array, constant_bits or max(self.widths), self.options.asymmetric)
        return self.fit(self.observed(value, f"operand {self._operand_index(value)}"))

    def operand(self, value: SSAValue, want: QuantizedType | None = None, constant_bits: int | None = None) -> SSAValue:
        """`value` as a quantized tensor of quantization `want` (default: `operand_quantization`),
        quantized or requantized as needed."""
        if want is None:
            want = self.operand_quantization(value, constant_bits)
        home = self.values.replacement.get(value)
        if home is not None and element_of(home) == want:
            return home
        key = (value, want)
        cached = self.values.derived.get(key) or self._derived.get(key)
        if cached is not None:
            return cached
        index = self._operand_index(value)
        if home is None:
            if not is_float_tensor(value):
                raise Fallback(f"operand {index} is not a float tensor ({value.type})")
            made: Operation = QuantizeOp(value, want)
            name = node_suffix(self.node, f"quantize_in{index}")
        else:
            made = RequantizeOp.for_types(home, want)
            name = node_suffix(self.node, f"requantize_in{index}")
        self.add(made, name)
        self._derived[key] = made.results[0]
        return made.results[0]

    def _operand_index(self, value: SSAValue) -> int:
        for index, operand in enumerate(self.op.operands):
            if operand is value:
                return index
        return -1

    def constant_operand(self, value: SSAValue, what: str) -> np.ndarray:
        """The values of a constant operand (weights, bias); Fallback if it is computed."""
        array = constant_array(value)
        if array is None:
            raise Fallback(f"its {what} is not a constant with known values")
        return array

    # -- building

    def add(self, op: Operation, node: StringAttr | None = None, target: str = MLA_TARGET) -> Operation:
        """Hold `op` for insertion before the float op (in the order added)."""
        if node is not None and "node" not in op.properties:
            op.properties["node"] = node
        if target and "target" in type(op).get_irdl_definition().properties:
            op.properties["target"] = StringAttr(target)
        self.pending.append(op)
        return op

    def add_main(self, op: Operation) -> Operation:
        """Hold the op that replaces the float op: it takes the float op's node name."""
        return self.add(op, StringAttr(self.node) if self.node else None)

    def constant(self, name: str, array: np.ndarray) -> SSAValue:
        made = ops.ConstantOp.from_array(name, array)
        self.pending.append(made)
        return made.output

    def commit(self, results: Sequence[SSAValue]) -> None:
        """Verify the new ops, insert them before the float op, and record `results`
        (one per float result) as what replaces the float op's results."""
        if len(results) != len(self.op.results):
            raise AssertionError(f"{self.describe()}: {len(results)} replacements for {len(self.op.results)} results")
        for made in self.pending:
            try:
                made.verify()
            except VerifyException as error:
                raise Fallback(f"its integer form does not verify: {error}") from None
        block = self.op.parent_block()
        assert block is not None
        for made in self.pending:
            block.insert_op_before(made, self.op)
        self.values.derived.update(self._derived)
        for old, new in zip(self.op.results, results):
            self.values.replacement[old] = new
        self.pending = []

    def abort(self) -> None:
        """Drop every op made so far: the IR is as before the rewrite."""
        for made in reversed(self.pending):
            made.erase(safe_erase=False)
        self.pending = []
        self._derived = {}
