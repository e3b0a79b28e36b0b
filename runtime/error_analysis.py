"""Per-layer quantization error: a quantized function against the float function
it was quantized from, node by node (seed 003, "Per-Layer Quantization
Statistics"; `Model.analyze_quantization_error` is the API).

    analysis = ErrorAnalysis(quantized_module, float_reference, local_feed=True)
    for sample in samples:
        analysis.add_sample(sample)            # {input name: array}
    analysis.statistics["MLA_0/conv2d_add_0"].value("mae")

Matching. Both functions are named by the same pass, and the quantize pass
keeps a node's name on the op that replaces it (`sima.qconv2d` for a
`sima.conv2d`, or the float op itself when it stays on the APU). The ops it
adds around a node are named `<node>/<suffix>`: the conversions of its
operands (`quantize_in<i>`, `requantize_in<i>`) and of its result
(`dequantize`) have no float counterpart and are not analysed; any other op so
named that reads the node's result (a clamp after a convolution,
`<node>/clamp`) belongs to the node, and its result is the node's output.
Nodes whose float output is not a floating-point tensor (argmax indices,
comparisons) are not compared (their values still feed their readers).

Feeds:
- `local_feed=False` (cumulative): both functions run end to end on the same
  sample; each node's quantized output, dequantized, is compared with the float
  node's output. The error of a node includes that of everything before it.
- `local_feed=True` (this node only): the float function runs on the sample;
  each quantized node is run alone, its inputs being the float values of its
  producers, quantized to the quantization the node reads (a `sima.quantize`,
  as at the model's own boundary); its output, dequantized, is compared with
  the float node's output.

Saturating readers: where every reader of a node's output is constant beyond
an interval (hard_sigmoid outside its linear part, relu, clip:
`passes.saturating_readers.saturation_interval`), both outputs are clipped to that interval before
the comparison. Those values give the readers the same result however they are
represented, so counting their error would rank a difference nothing
downstream can see as a node's error.

Metrics, accumulated over every element of every sample (streaming sums, so
memory does not grow with the number of samples), q the dequantized quantized
output and f the float output (both clipped as above):

    mae  = mean |q - f|
    mse  = mean (q - f)^2
    psnr = 10 log10(peak^2 / mse), peak = max |f| over all the data seen for
           that node; inf when mse == 0 (identical outputs), -inf when the
           float output is all zero and the quantized one is not

One sample's node outputs are held at a time (all of them: the float
function's, and for the cumulative feed the quantized one's too): the
functions run as copies that also return every node's output
(`tapped_interpreter`), on the runtime's bit-exact kernels.

`error_table` turns the statistics into the `QuantizationErrorTable` that
`Model.analyze_quantization_error` returns.

Attribution (which rounding costs the model's output what): `mixed_module`
builds the float function with chosen parts of the quantized one put back:
integer nodes (as the local feed runs them, in place) and rounded tensors
(an activation quantized and dequantized where it is made; `quantized_tensors`
lists them with their quantizations). With every node integer it computes the
quantized function exactly; with nothing, the float one.
`bench/bench_error_attribution.py` measures each unit alone and all but it.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from xdsl.dialects.builtin import DictionaryAttr, FunctionType, ModuleOp, TensorType
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, BlockArgument, Operation, Region, SSAValue
from xdsl.traits import Pure

from passes.name_nodes import precision
from passes.saturating_readers import saturation_interval
from runtime.integer_arithmetic import dequantize
from runtime.interpreter import Interpreter, find_function
from sima_dialect import ops
from sima_dialect.element_types import is_float_type
from sima_dialect.quantized_ops import DequantizeOp, QuantizeOp, RequantizeOp
from sima_dialect.types import QuantizedType

METRICS = ("mae", "mse", "psnr")
"""The error metrics, as seed 003 names them."""

_CONVERSIONS = (QuantizeOp, RequantizeOp, DequantizeOp)


class ErrorAnalysisError(ValueError):
    """The two functions cannot be compared (different inputs, a node that does not match)."""


# -- metrics ----------------------------------------------------------------------------


@dataclass
class ErrorStatistics:
    """Streaming sums of one node's error over every element of every sample."""

    count: int = 0
    absolute_sum: float = 0.0
    square_sum: float = 0.0
    peak: float = 0.0  # max |f| over the float outputs seen

    def add(self, quantized: np.ndarray, reference: np.ndarray) -> None:
        """Add one output: `quantized` (dequantized) against the float `reference`."""
        reference = np.asarray(reference).ravel()
        difference = np.array(quantized, dtype=np.float64).ravel()  # our own copy, worked on in place
        difference -= reference
        self.count += difference.size
        # einsum, not np.dot: BLAS threads are slow on a busy machine for a reduction this small
        self.square_sum += float(np.einsum("i,i->", difference, difference))
        self.absolute_sum += float(np.abs(difference, out=difference).sum())
        if reference.size:
            self.peak = max(self.peak, float(reference.max()), -float(reference.min()))

    def value(self, metric: str) -> float:
        """The error as `metric` ("mae", "mse" or "psnr") measures it (nan before any data)."""
        if metric not in METRICS:
            raise ValueError(f"unknown error metric {metric!r}; the metrics are {', '.join(METRICS)}")
        if self.count == 0:
            return math.nan
        mse = self.square_sum / self.count
        if metric == "mae":
            return self.absolute_sum / self.count
        if metric == "mse":
            return mse
        if mse == 0.0:
            return math.inf
        if self.peak == 0.0:
            return -math.inf  # an all-zero reference against a non-zero output
        return 10.0 * math.log10(self.peak * self.peak / mse)


# -- matching the quantized function to the float one ------------------------------------------


@dataclass
class NodeMatch:
    """One node of the quantized function and its float counterpart."""

    name: str
    reference: Operation  # the float op of that name
    ops: list[Operation]  # the quantized node: the op of that name, then the ops after it (a clamp)
    outputs: list[SSAValue] = field(default_factory=list)  # what stands for the float op's results

    @property
    def main(self) -> Operation:
        return self.ops[0]

    @property
    def precision(self) -> str:
        """How the quantized node computes: "int8", "int16", "int32", or "float32" if it stayed float."""
        return precision(self.main)

    @property
    def op_name(self) -> str:
        return self.main.name


def _node_name(op: Operation) -> str | None:
    return op.node_name if isinstance(op, ops.SimaOp) else None


def _is_float_tensor(value: SSAValue) -> bool:
    return isinstance(value.type, TensorType) and is_float_type(value.type.element_type)


def _is_quantized_tensor(value: SSAValue) -> bool:
    return isinstance(value.type, TensorType) and isinstance(value.type.element_type, QuantizedType)


def comparable(match: NodeMatch) -> bool:
    """Whether the node's outputs can be compared: float results (the quantized
    node's float or quantized), of the same shapes."""
    results = match.reference.results
    if not results or len(results) != len(match.outputs):
        return False
    for reference, quantized in zip(results, match.outputs):
        if not _is_float_tensor(reference) or not (_is_float_tensor(quantized) or _is_quantized_tensor(quantized)):
            return False
        if reference.type.get_shape() != quantized.type.get_shape():
            return False
    return True


def match_nodes(quantized: FuncOp, reference: FuncOp) -> list[NodeMatch]:
    """The nodes of `quantized` that have a float counterpart of the same name in
    `reference`, in the quantized function's order."""
    reference_ops = {name: op for op in reference.walk() if (name := _node_name(op))}
    matches: dict[str, NodeMatch] = {}
    for op in quantized.walk():
        name = _node_name(op)
        if not name or isinstance(op, ops.ConstantOp):
            continue
        if name in reference_ops and name not in matches:
            matches[name] = NodeMatch(name, reference_ops[name], [op], list(op.results))
            continue
        owner, _, _ = name.rpartition("/")
        match = matches.get(owner)
        # an op made for a node after it, reading its result (a clamp): the node's new output
        if (
            match is not None
            and not isinstance(op, _CONVERSIONS)
            and len(match.outputs) == 1
            and len(op.results) == 1
            and match.outputs[0] in op.operands
        ):
            match.ops.append(op)
            match.outputs = [op.results[0]]
    return list(matches.values())


def _counterpart(value: SSAValue, outputs: Mapping[SSAValue, SSAValue], reference: FuncOp) -> SSAValue | None:
    """The float value of `reference` that `value` (of the quantized function) stands for:
    through quantize / requantize / dequantize back to a node's output or a function input."""
    while True:
        if value in outputs:
            return outputs[value]
        if isinstance(value, BlockArgument):
            return reference.args[value.index] if value.index < len(reference.args) else None
        owner = value.owner
        if not isinstance(owner, _CONVERSIONS):
            return None
        value = owner.operands[0]


def _is_constant(value: SSAValue) -> bool:
    """Computed from constants only (weights, tables, and pure ops of them)."""
    owner = value.owner
    if isinstance(owner, ops.ConstantOp):
        return True
    return isinstance(owner, Operation) and owner.has_trait(Pure) and bool(owner.operands) and all(
        _is_constant(operand) for operand in owner.operands
    )


# -- running ------------------------------------------------------------------------------


def _dequantized(array: np.ndarray, value: SSAValue) -> np.ndarray:
    element = value.type.element_type if isinstance(value.type, TensorType) else None
    if isinstance(element, QuantizedType):
        return dequantize(array, element.scale_value, element.zero_point_value)
    return array


def tapped_interpreter(module: ModuleOp, taps: Sequence[SSAValue]) -> tuple[Interpreter, int]:
    """An interpreter of a copy of `module`'s function that also returns `taps`
    (values of the original), and the number of outputs before them."""
    function = find_function(module)
    copy = function.clone()
    mapping: dict[SSAValue, SSAValue] = dict(zip(function.args, copy.args))
    for original, cloned in zip(function.walk(), copy.walk()):
        mapping.update(zip(original.results, cloned.results))
    returned = copy.get_return_op()
    assert returned is not None
    count = len(returned.operands)
    returned.operands = (*returned.operands, *(mapping[value] for value in taps))
    copy.update_function_type()
    if copy.res_attrs is not None:
        copy.res_attrs = type(copy.res_attrs)([*copy.res_attrs.data, *(DictionaryAttr({}) for _ in taps)])
    return Interpreter(ModuleOp([copy])), count




def _node_ops(match: NodeMatch, inputs: list[SSAValue], arguments: list[SSAValue]) -> tuple[list[Operation], list[SSAValue]]:
    """Copies of the quantized node's ops reading `arguments` (float values standing
    for `inputs`), each quantized input through a `sima.quantize` to the quantization
    the node reads; and the copies of the node's outputs."""
    made: list[Operation] = []
    mapping: dict[SSAValue, SSAValue] = {}
    for value, argument in zip(inputs, arguments):
        if isinstance(value.type.element_type, QuantizedType):
            quantize = QuantizeOp(argument, value.type.element_type)
            made.append(quantize)
            mapping[value] = quantize.output
        else:
            mapping[value] = argument
    for op in match.ops:
        for operand in op.operands:
            if operand not in mapping:
                _copy_constant(operand, made, mapping)
        made.append(op.clone(value_mapper=mapping))
    return made, [mapping[value] for value in match.outputs]


def _copy_constant(value: SSAValue, made: list[Operation], mapping: dict[SSAValue, SSAValue]) -> None:
    owner = value.owner
    assert isinstance(owner, Operation)
    for operand in owner.operands:
        if operand not in mapping:
            _copy_constant(operand, made, mapping)
    made.append(owner.clone(value_mapper=mapping))


class _LocalNode:
    """One quantized node run alone on float inputs (the local feed):
    float arguments -> sima.quantize to the quantization the node reads -> the node's ops."""

    def __init__(self, match: NodeMatch, inputs: list[SSAValue], counterparts: list[SSAValue]):
        self.match = match
        self.counterparts = counterparts  # the float value feeding each argument
        block = Block(arg_types=[c.type for c in counterparts])
        made, outputs = _node_ops(match, inputs, list(block.args))
        block.add_ops(made)
        block.add_op(ReturnOp(*outputs))
        function = FuncOp(
            "main", FunctionType.from_lists([c.type for c in counterparts], [v.type for v in match.outputs]), Region(block)
        )
        self.interpreter = Interpreter(ModuleOp([function]))

    def run(self, reference_values: Mapping[SSAValue, np.ndarray]) -> list[np.ndarray]:
        outputs = self.interpreter.run([reference_values[c] for c in self.counterparts])
        return [_dequantized(array, value) for array, value in zip(outputs, self.match.outputs)]


def _node_inputs(
    match: NodeMatch, outputs: Mapping[SSAValue, SSAValue], reference: FuncOp
) -> tuple[list[SSAValue], list[SSAValue]]:
    """The non-constant inputs of the quantized node and the float value of
    `reference` each stands for (`outputs`: quantized node output -> float one)."""
    inside = {result for op in match.ops for result in op.results}
    inputs: list[SSAValue] = []
    for op in match.ops:
        for operand in op.operands:
            if operand not in inside and operand not in inputs and not _is_constant(operand):
                inputs.append(operand)
    counterparts = []
    for value in inputs:
        counterpart = _counterpart(value, outputs, reference)
        # a quantized input is fed its float counterpart quantized; any other input its counterpart as is
        if counterpart is None or not (
            _is_float_tensor(counterpart) if _is_quantized_tensor(value) else counterpart.type == value.type
        ):
            producer = value.owner
            what = _node_name(producer) or getattr(producer, "name", "a function input")
            raise ErrorAnalysisError(
                f"node '{match.name}': its input from {what} has no float counterpart in the float reference, "
                "so the node cannot be fed the float network's values"
            )
        if counterpart.type.get_shape() != value.type.get_shape():
            raise ErrorAnalysisError(
                f"node '{match.name}': an input has shape {value.type.get_shape()} but its float counterpart "
                f"{counterpart.type.get_shape()}"
            )
        counterparts.append(counterpart)
    return inputs, counterparts


def _local_node(match: NodeMatch, outputs: Mapping[SSAValue, SSAValue], reference: FuncOp) -> _LocalNode:
    return _LocalNode(match, *_node_inputs(match, outputs, reference))


# -- the analysis --------------------------------------------------------------------------


class ErrorAnalysis:
    """The per-node error of `quantized` (a module whose @main is quantized)
    against `reference` (the float module it came from, same node names),
    accumulated sample by sample (`add_sample`)."""

    def __init__(self, quantized: ModuleOp, reference: ModuleOp, *, local_feed: bool):
        self.local_feed = local_feed
        quantized_function, reference_function = find_function(quantized), find_function(reference)
        matches = match_nodes(quantized_function, reference_function)
        self.nodes = [match for match in matches if comparable(match)]  # the analysed nodes, in graph order
        if not self.nodes:
            raise ErrorAnalysisError("no node of the quantized model matches a node of its float reference by name")
        self.statistics: dict[str, ErrorStatistics] = {match.name: ErrorStatistics() for match in self.nodes}
        # float outputs whose readers all saturate: compared within the interval they tell apart
        self._saturating: dict[SSAValue, tuple[float, float]] = {}
        for match in self.nodes:
            for value in match.reference.results:
                interval = saturation_interval(value)
                if any(math.isfinite(end) for end in interval):
                    self._saturating[value] = interval
        reference_taps = [value for match in self.nodes for value in match.reference.results]
        self._locals: list[_LocalNode] = []
        if local_feed:
            # the float value each quantized node output stands for
            outputs = {q: f for match in matches for q, f in zip(match.outputs, match.reference.results)}
            self._locals = [_local_node(match, outputs, reference_function) for match in self.nodes]
            tapped = set(reference_taps)
            for node in self._locals:
                for value in node.counterparts:
                    if value not in tapped:
                        reference_taps.append(value)
                        tapped.add(value)
        self._reference_taps = reference_taps
        self._reference, self._reference_offset = tapped_interpreter(reference, reference_taps)
        self._quantized = None
        if not local_feed:
            self._quantized_taps = [value for match in self.nodes for value in match.outputs]
            self._quantized, self._quantized_offset = tapped_interpreter(quantized, self._quantized_taps)

    @property
    def input_names(self) -> list[str]:
        """The inputs `add_sample` takes: those of the float reference (the quantized
        function must have the same)."""
        return list(self._reference.input_names)

    def add_sample(self, inputs: Mapping[str, np.ndarray]) -> None:
        """Run one sample ({input name: array}, as the float reference takes it) and add its errors."""
        produced = self._reference.run(inputs)[self._reference_offset :]
        reference_values = dict(zip(self._reference_taps, produced))
        if self.local_feed:
            for node in self._locals:
                self._add(node.match, node.run(reference_values), reference_values)
            return
        assert self._quantized is not None
        produced = self._quantized.run(inputs)[self._quantized_offset :]
        quantized_values = dict(zip(self._quantized_taps, produced))
        for match in self.nodes:
            outputs = [_dequantized(quantized_values[value], value) for value in match.outputs]
            self._add(match, outputs, reference_values)

    def _add(self, match: NodeMatch, outputs: list[np.ndarray], reference_values: Mapping[SSAValue, np.ndarray]) -> None:
        statistics = self.statistics[match.name]
        for output, reference in zip(outputs, match.reference.results):
            values = reference_values[reference]
            if reference in self._saturating:  # both sides: a node left in float is still exact
                interval = self._saturating[reference]
                output, values = np.clip(output, *interval), np.clip(values, *interval)
            statistics.add(output, values)


# -- mixed functions: which quantization costs what -------------------------------------------


def quantized_tensors(quantized: ModuleOp, reference: ModuleOp) -> dict[str, QuantizedType]:
    """The activation tensors the quantized function rounds, by name, and the
    quantization each has there: every analysed node's output that is quantized
    (named after the node), and every function input that is quantized at the
    model's boundary (named after the input; left out if its readers quantize it
    differently)."""
    quantized_function, reference_function = find_function(quantized), find_function(reference)
    tensors: dict[str, QuantizedType] = {}
    for argument, name in zip(quantized_function.args, _argument_names(quantized_function)):
        types = {use.operation.output.type.element_type for use in argument.uses if isinstance(use.operation, QuantizeOp)}
        if len(types) == 1:
            tensors[name] = types.pop()
    for match in match_nodes(quantized_function, reference_function):
        if comparable(match) and len(match.outputs) == 1 and _is_quantized_tensor(match.outputs[0]):
            tensors[match.name] = match.outputs[0].type.element_type
    return tensors


def _argument_names(function: FuncOp) -> list[str]:
    names = []
    for index in range(len(function.args)):
        attributes = function.arg_attrs.data[index].data if function.arg_attrs is not None else {}
        name = attributes.get("sima.name")
        names.append(name.data if name is not None else f"input{index}")
    return names


def mixed_module(
    quantized: ModuleOp,
    reference: ModuleOp,
    *,
    integer_nodes: Collection[str] = (),
    rounded_tensors: Collection[str] = (),
) -> ModuleOp:
    """The float function of `reference` with some of the quantized function's
    rounding put back, to measure what each costs (error attribution):

    - each node of `integer_nodes` runs as the quantized function runs it (its
      integer ops, weights, tables and requantization), its inputs quantized
      to what it reads and its outputs dequantized: the node as `local_feed`
      analyses it, in place;
    - each tensor of `rounded_tensors` (names as `quantized_tensors` gives
      them) is rounded to its quantization where it is made (sima.quantize then
      sima.dequantize: its grid and its range, the rest of the network float).

    Every other node computes in float. All analysed nodes in `integer_nodes`
    compute what the quantized function computes (the inputs of a node are
    the dequantized outputs of its integer producers, which quantize back to
    the same integers). Unknown names raise ErrorAnalysisError."""
    quantized_function, reference_function = find_function(quantized), find_function(reference)
    matches = [match for match in match_nodes(quantized_function, reference_function) if comparable(match)]
    tensors = quantized_tensors(quantized, reference)
    by_name = {match.name: match for match in matches}
    for names, known, what in ((integer_nodes, by_name, "node"), (rounded_tensors, tensors, "tensor")):
        unknown = sorted(set(names) - set(known))
        if unknown:
            raise ErrorAnalysisError(
                f"no quantized {what} named {', '.join(map(repr, unknown))}; "
                f"the {what}s are {', '.join(sorted(known))}"
            )
    copy = reference.clone()
    copy_function = find_function(copy)
    # the value of the copy that stands for each value of the reference (moves as rounding is put in)
    current: dict[SSAValue, SSAValue] = dict(zip(reference_function.args, copy_function.args))
    copies: dict[Operation, Operation] = {}
    for original, cloned in zip(reference_function.walk(), copy_function.walk()):
        copies[original] = cloned
        current.update(zip(original.results, cloned.results))
    outputs = {q: f for match in matches for q, f in zip(match.outputs, match.reference.results)}

    def rebind(value: SSAValue, replacement: SSAValue, made: list[Operation]) -> None:
        """Readers of the copy's stand-in for `value` read `replacement` instead (but the ops in `made`)."""
        old = current[value]
        inside = set(made)
        for use in list(old.uses):
            if use.operation not in inside:
                use.operation.operands[use.index] = replacement
        current[value] = replacement

    def round_tensor(value: SSAValue, element: QuantizedType, after: Operation | None) -> None:
        made: list[Operation] = [QuantizeOp(current[value], element)]
        made.append(DequantizeOp(made[0].results[0]))
        block = copy_function.body.block
        if after is None:
            block.insert_ops_before(made, block.first_op)
        else:
            block.insert_ops_after(made, after)
        rebind(value, made[-1].results[0], made)

    for argument, name in zip(reference_function.args, _argument_names(reference_function)):
        if name in rounded_tensors and name in tensors:
            round_tensor(argument, tensors[name], None)
    for match in matches:
        anchor = copies[match.reference]
        if match.name in integer_nodes:
            inputs, counterparts = _node_inputs(match, outputs, reference_function)
            made, results = _node_ops(match, inputs, [current[c] for c in counterparts])
            stand_ins = [DequantizeOp(r) if _is_quantized_tensor(r) else None for r in results]
            made += [d for d in stand_ins if d is not None]
            anchor.parent_block().insert_ops_before(made, anchor)
            for value, result, stand_in in zip(match.reference.results, results, stand_ins):
                rebind(value, stand_in.results[0] if stand_in is not None else result, made)
            last = made[-1]
        else:
            last = current[match.reference.results[0]].owner if match.reference.results else anchor
        if match.name in rounded_tensors:
            round_tensor(match.reference.results[0], tensors[match.name], last)
    return copy


# -- the result --------------------------------------------------------------------------


class LayerError(NamedTuple):
    """One row of a `QuantizationErrorTable`."""

    node: str
    op: str  # the quantized node's op, e.g. "sima.qconv2d"
    precision: str  # "int8", "int16", "int32"; "float32" for a node left in float
    error_value: float


@dataclass(frozen=True)
class QuantizationErrorTable:
    """The error of every analysed node, in graph order, as one metric measures it.

    Iterating gives `LayerError` rows; `table["MLA_0/conv2d_add_0"]` the error
    of a node; `str(table)` a text table."""

    metric: str
    local_feed: bool
    sample_count: int
    rows: tuple[LayerError, ...]

    def __iter__(self) -> Iterator[LayerError]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, node: str) -> float:
        for row in self.rows:
            if row.node == node:
                return row.error_value
        raise KeyError(f"no analysed node named {node!r}")

    def errors(self) -> dict[str, float]:
        """Node name -> error value."""
        return {row.node: row.error_value for row in self.rows}

    def worst(self, count: int = 1, *, quantized_only: bool = True) -> list[LayerError]:
        """The `count` rows with the largest error (smallest PSNR), quantized nodes
        only unless `quantized_only` is False."""
        rows = [row for row in self.rows if not quantized_only or row.precision.startswith("int")]
        sign = -1.0 if self.metric == "psnr" else 1.0  # a lower PSNR is a larger error
        return sorted(rows, key=lambda row: (not math.isnan(row.error_value), sign * row.error_value), reverse=True)[:count]

    def __str__(self) -> str:
        feed = "local feed: each node fed the float network's values" if self.local_feed else "cumulative: both networks end to end"
        header = ("node", "op", "precision", self.metric)
        lines = [(row.node, row.op, row.precision, f"{row.error_value:.6g}") for row in self.rows]
        widths = [max(len(line[i]) for line in (header, *lines)) for i in range(3)]
        text = [f"Quantization error ({self.metric}, {feed}; {self.sample_count} samples)"]
        for line in (header, *lines):
            text.append("  ".join(cell.ljust(width) for cell, width in zip(line[:3], widths)) + "  " + line[3])
        return "\n".join(text) + "\n"


def error_table(analysis: ErrorAnalysis, metric: str, sample_count: int) -> QuantizationErrorTable:
    rows = tuple(
        LayerError(match.name, match.op_name, match.precision, analysis.statistics[match.name].value(metric))
        for match in analysis.nodes
    )
    return QuantizationErrorTable(metric, analysis.local_feed, sample_count, rows)


__all__ = [
    "METRICS",
    "ErrorAnalysis",
    "ErrorAnalysisError",
    "ErrorStatistics",
    "LayerError",
    "NodeMatch",
    "QuantizationErrorTable",
    "comparable",
    "error_table",
    "match_nodes",
    "mixed_module",
    "quantized_tensors",
    "tapped_interpreter",
]
