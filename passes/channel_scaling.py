"""Per-channel rescaling between a weight layer and the layers that read its
output: the machinery channel equalization and SmoothQuant share.

A *scaling chain* is

    producer -> t0 -> op1 -> t1 -> ... -> opk -> tk -> consumer(s)

Dividing channel c (the last axis) of every t_i by s_c > 0 and multiplying the
consumers' weights for input channel c by s_c leaves every consumer's output,
and so the whole function, unchanged when:

- the producer can absorb the division: a conv2d (any groups; weight
  `[..., c]` and bias `[c]` divided by s_c), a dense (weight `[:, c]`, bias
  `[c]`), or, where the caller allows it, a layer_norm (scale and bias along
  the last axis; the normalised value itself does not change);
- each op_i keeps channel c of its input at channel c of its output and
  commutes with a positive per-channel scaling, f(x / s) == f(x) / s:
  - positively homogeneous activations: relu, leaky_relu, prelu (the chain
    value is the input, not the slope), and clip whose bounds are each 0 or
    infinite (a clip to [0, inf) is a relu). relu6, clip [0, 6], is NOT
    homogeneous: clip(x / s, 0, 6) == clip(x, 0, 6 s) / s needs a bound per
    channel that a scalar clip cannot hold, so a chain through it is left
    alone. hard_swish, hard_sigmoid, sigmoid, tanh, silu, gelu, softmax, exp
    ... are not homogeneous either;
  - linear per-channel ops: neg, max_pool, avg_pool, global_avg_pool,
    global_max_pool, resize (NHWC: channels stay last), pad that leaves the
    channel axis alone (and pads with 0 in constant mode), a reshape that keeps
    the last dimension (row-major, so every element keeps its channel index);
  - an elementwise op with a `sima.constant`, whose result has the chain
    value's shape (the constant does not broadcast the value up): mul and div
    (x / c, not c / x) commute as they are; add and sub (either side) do once
    the constant is divided by s too (this covers a bias written as a separate
    add);
- every t_i but the last has exactly one user, op_{i+1} (using it once), and
  every user of tk is a consumer reading it as its input: a conv2d (any
  groups: input channel c meets weight `[:, :, c % (C/g), outputs of group
  c // (C/g)]`) or a dense (weight row c). Several consumers (q, k and v of an
  attention block) share one scale.

`sima.observe` markers are not users: they do not change the value. The
statistics they carry describe the unscaled tensor, so a rewrite drops their
`stats` and `quant` (calibrate again after it).

Weights are read from `sima.constant` ops (never written: the arrays are
read-only); a rewrite builds new constants named `<weight>.<suffix>` and leaves
the old ones to dead-code elimination (erased here when unused). Weights elided
from the textual IR cannot be read, and their layers are never producers or
consumers.
"""

from __future__ import annotations

import math

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from xdsl.ir import Operation, SSAValue
from xdsl.rewriter import InsertPoint, Rewriter

from passes.patterns import builders
from sima_dialect.calibration_ops import ObserveOp
from sima_dialect.ops import (
    AddOp,
    AvgPoolOp,
    ClipOp,
    ConstantOp,
    Conv2DOp,
    DenseOp,
    DivOp,
    GlobalAvgPoolOp,
    GlobalMaxPoolOp,
    LayerNormOp,
    LeakyReluOp,
    MaxPoolOp,
    MulOp,
    NegOp,
    PadOp,
    PreluOp,
    ReluOp,
    ReshapeOp,
    ResizeOp,
    SubOp,
    TransposeOp,
    shape_of,
)

WEIGHT_LAYERS = (Conv2DOp, DenseOp)
"""Ops with a weight matrix: the producers and consumers of channel equalization."""

DEAD = float(np.finfo(np.float32).eps)
"""A channel whose range is at most this fraction of its layer's largest is dead."""

NO_CHANGE = 1e-6
"""A chain whose every factor is within this of 1 is left as it is: rewriting it
would only add rounding."""

# Ops whose output channel c depends only on input channel c, and scales with it.
_COMMUTING_OPS = (ReluOp, LeakyReluOp, NegOp, MaxPoolOp, AvgPoolOp, GlobalAvgPoolOp, GlobalMaxPoolOp, ResizeOp)


def describe(op: Operation) -> str:
    """How messages name an op: its node name, else its result's name, else its
    place in its function."""
    node = op.properties.get("node")
    if node is not None and hasattr(node, "data"):
        return f"{op.name} '{node.data}'"
    if op.results and op.results[0].name_hint:
        return f"{op.name} %{op.results[0].name_hint}"
    block = op.parent_block()
    function = op.parent_op()
    where = f" in @{function.sym_name.data}" if hasattr(function, "sym_name") else ""
    index = next((i for i, other in enumerate(block.ops) if other is op), None) if block is not None else None
    return op.name if index is None else f"{op.name} (op {index}{where})"


# ---------------------------------------------------------------------------
# reading weights


def _float_constant(value: SSAValue | None) -> tuple[ConstantOp, np.ndarray] | None:
    """The constant `value` is, with its (float) data; None if it is anything else."""
    if value is None or not isinstance(value.owner, ConstantOp):
        return None
    array = builders.constant_array(value.owner)
    if array is None or array.dtype.kind != "f":
        return None
    return value.owner, array


def _weight_layer_arrays(op: Operation) -> dict[int, np.ndarray] | None:
    """Operand index -> array of a conv2d / dense / layer_norm's weight, bias
    (and scale); None unless all of them are readable float constants."""
    if isinstance(op, WEIGHT_LAYERS):
        named = {1: op.weight, 2: op.bias}
    elif isinstance(op, LayerNormOp):
        named = {1: op.scale, 2: op.bias}
    else:
        return None
    arrays = {}
    for index, value in named.items():
        if value is None:
            continue
        found = _float_constant(value)
        if found is None:
            return None
        arrays[index] = found[1]
    return arrays


def output_channel_absmax(op: Operation, weight: np.ndarray) -> np.ndarray:
    """max |w| over the weights of each output channel of a conv2d ([..., C_out]) or dense ([K, N])."""
    return np.abs(weight).reshape(-1, weight.shape[-1]).max(axis=0)


def _conv_input_layout(op: Conv2DOp, weight: np.ndarray) -> tuple[int, int, int]:
    """(groups, input channels per group, output channels per group) of a conv2d."""
    groups = op.groups.value.data
    return groups, weight.shape[2], weight.shape[3] // groups


def input_channel_absmax(op: Operation, weight: np.ndarray) -> np.ndarray:
    """max |w| over the weights that read each input channel of a conv2d or dense."""
    if isinstance(op, DenseOp):
        return np.abs(weight).max(axis=1)
    groups, per_group_in, per_group_out = _conv_input_layout(op, weight)
    per_pair = np.abs(weight).max(axis=(0, 1)).reshape(per_group_in, groups, per_group_out).max(axis=2)
    return per_pair.T.reshape(-1)  # channel c = group * per_group_in + index within the group


def input_channel_factors(op: Operation, weight: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """`factors` (one per input channel) laid out to multiply a conv2d or dense weight."""
    if isinstance(op, DenseOp):
        return factors[:, None]
    groups, per_group_in, per_group_out = _conv_input_layout(op, weight)
    by_group = factors.reshape(groups, per_group_in)  # [group, index within the group]
    return np.repeat(by_group.T, per_group_out, axis=1)[None, None]  # [1, 1, C_in/g, C_out]


# ---------------------------------------------------------------------------
# finding chains


@dataclass(eq=False)
class ScalingChain:
    """producer -> transfers -> consumers, as the module docstring describes."""

    producer: Operation
    transfers: list[Operation]
    transfer_operands: list[int]
    """Which operand of each transfer is the chain's tensor."""
    consumers: list[Operation]
    observers: list[ObserveOp]
    channels: int

    @property
    def value(self) -> SSAValue:
        """The tensor the consumers read."""
        return (self.transfers[-1] if self.transfers else self.producer).results[0]


def _real_uses(value: SSAValue) -> tuple[list[tuple[Operation, int]], list[ObserveOp]]:
    """(user, operand index) of every use but `sima.observe` markers, and the markers."""
    uses, observers = [], []
    for use in value.uses:
        if isinstance(use.operation, ObserveOp):
            observers.append(use.operation)
        else:
            uses.append((use.operation, use.index))
    return uses, observers


def _other_constant(op: Operation, index: int) -> np.ndarray | None:
    """The data of the constant that is `op`'s other operand (binary ops)."""
    found = _float_constant(op.operands[1 - index])
    return None if found is None else found[1]


def _commutes(op: Operation, index: int, channels: int) -> bool:
    """Does `op`, reading the chain value as operand `index`, satisfy f(x / s) == f(x) / s
    channel by channel (after its constant, if any, is divided by s)?"""
    if not op.results or len(op.results) != 1:
        return False
    in_shape, out_shape = shape_of(op.operands[index]), shape_of(op.results[0])
    if not in_shape or out_shape[-1:] != (channels,):
        return False
    if isinstance(op, _COMMUTING_OPS):
        return True
    if isinstance(op, PreluOp):
        return index == 0
    if isinstance(op, ClipOp):
        return all(bound == 0.0 or np.isinf(bound) for bound in (op.min.value.data, op.max.value.data))
    if isinstance(op, PadOp):
        pads, rank = op.pads.get_values(), len(in_shape)
        channel_untouched = pads[rank - 1] == 0 and pads[2 * rank - 1] == 0
        return channel_untouched and (op.mode.data != "constant" or op.value.value.data == 0.0)
    if isinstance(op, ReshapeOp):
        return True  # the last dimension stays (checked above): row-major, every element keeps its channel
    if isinstance(op, TransposeOp):
        return op.perm.get_values()[-1] == len(in_shape) - 1  # the channel axis stays last
    if isinstance(op, AddOp | SubOp | MulOp | DivOp):
        if out_shape != in_shape or (isinstance(op, DivOp) and index != 0):
            return False
        constant = _other_constant(op, index)
        if constant is None:
            return False
        # add / sub rescale their constant along the last axis: it must have one
        return isinstance(op, MulOp | DivOp) or constant.ndim == 0 or constant.shape[-1] in (1, channels)
    return False


def _is_consumer(op: Operation, index: int) -> bool:
    return isinstance(op, WEIGHT_LAYERS) and index == 0 and _weight_layer_arrays(op) is not None


def _chain_from(producer: Operation) -> ScalingChain | None:
    """The chain starting at `producer`'s output, or None if it has none."""
    value = producer.results[0]
    channels = shape_of(value)[-1] if shape_of(value) else 0
    transfers: list[Operation] = []
    transfer_operands: list[int] = []
    observers: list[ObserveOp] = []
    while True:
        uses, markers = _real_uses(value)
        observers += markers
        if uses and all(_is_consumer(user, index) for user, index in uses):
            consumers = list(dict.fromkeys(user for user, _ in uses))
            if len(consumers) != len(uses):
                return None  # one consumer reading the value twice cannot happen, but would not be a chain
            return ScalingChain(producer, transfers, transfer_operands, consumers, observers, channels)
        if len(uses) != 1:
            return None
        user, index = uses[0]
        if user.operands.count(value) != 1 or not _commutes(user, index, channels):
            return None
        transfers.append(user)
        transfer_operands.append(index)
        value = user.results[0]


def find_chains(root: Operation, producer_types: tuple[type[Operation], ...]) -> list[ScalingChain]:
    """Every scaling chain under `root`, in program order of their producers."""
    chains = []
    for op in root.walk():
        if isinstance(op, producer_types) and _weight_layer_arrays(op) is not None:
            output_shape = shape_of(op.results[0])
            if not output_shape or (isinstance(op, LayerNormOp) and not _layer_norm_scales_per_channel(op)):
                continue
            if not _fused_clamp_commutes(op):
                continue
            chain = _chain_from(op)
            if chain is not None and chain.channels > 0:
                chains.append(chain)
    return chains


def _fused_clamp_commutes(op: Operation) -> bool:
    """A fused activation clamp (`fuse-activations`) commutes with dividing the
    output by a positive per-channel factor only if each bound is 0 or infinite
    (relu, or none); relu6's bound 6 would have to become 6 / s_c per channel."""
    bounds = getattr(op, "activation_bounds", None)
    return bounds is None or all(b == 0 or math.isinf(b) for b in bounds())


def layer_norm_channel_ranges(op: LayerNormOp, channels: int) -> np.ndarray:
    """max |scale_c| + max |bias_c| per last-axis channel c (over the other normalised
    axes): a bound on the output channel xhat * scale_c + bias_c where |xhat| <= 1.
    xhat is standardised (unit variance over the normalised axes), so this is a
    data-free measure of the channel's output range, as max |w| is a weight
    layer's."""
    arrays = _weight_layer_arrays(op)
    total = np.zeros(channels)
    for array in arrays.values():
        flat = np.abs(_along_last_axis(array.astype(np.float64), channels)).reshape(-1, channels)
        total = total + flat.max(axis=0)
    return total


def _layer_norm_scales_per_channel(op: LayerNormOp) -> bool:
    """Scale and bias can take a factor per last-axis channel: each is a scalar or
    has the last axis (of size C or 1, which then is widened to C)."""
    channels = shape_of(op.output)[-1]
    return all(
        value is None or not shape_of(value) or shape_of(value)[-1] in (1, channels)
        for value in (op.scale, op.bias)
    )


# ---------------------------------------------------------------------------
# scaling


def _along_last_axis(array: np.ndarray, channels: int) -> np.ndarray:
    """`array` broadcast to have `channels` entries on its last axis."""
    shape = array.shape[:-1] + (channels,) if array.ndim else (channels,)
    return np.broadcast_to(array, shape)


@dataclass(eq=False)
class ChainScales:
    """The factor s of every chain (the chain's tensors are divided by it) and the
    weights those factors imply, computed from the original weights each time
    so that rescaling a chain many times costs no accumulated rounding."""

    chains: list[ScalingChain]
    factors: dict[ScalingChain, np.ndarray] = field(init=False)
    _as_producer: dict[Operation, ScalingChain] = field(init=False)
    _as_consumer: dict[Operation, ScalingChain] = field(init=False)
    _original: dict[Operation, np.ndarray] = field(init=False)

    def __post_init__(self) -> None:
        self.factors = {chain: np.ones(chain.channels) for chain in self.chains}
        self._as_producer = {chain.producer: chain for chain in self.chains}
        self._as_consumer = {consumer: chain for chain in self.chains for consumer in chain.consumers}
        self._original = {
            op: _weight_layer_arrays(op)[1].astype(np.float64)
            for op in (*self._as_producer, *self._as_consumer)
            if isinstance(op, WEIGHT_LAYERS)
        }

    def rescale(self, chain: ScalingChain, factors: np.ndarray) -> None:
        """Divide the chain's tensors by `factors` as well."""
        self.factors[chain] = self.factors[chain] * factors

    def weight(self, op: Operation, changed: set[ScalingChain] | None = None) -> np.ndarray:
        """The current weight (float64) of a conv2d or dense: its original weight
        with its input and output channels rescaled by the chains around it
        (only the `changed` ones, if given)."""
        weight = self._original[op]
        if (chain := self._as_consumer.get(op)) is not None and (changed is None or chain in changed):
            weight = weight * input_channel_factors(op, weight, self.factors[chain])
        if (chain := self._as_producer.get(op)) is not None and (changed is None or chain in changed):
            weight = weight / self._output_factors(op, chain)
        return weight

    def _output_factors(self, op: Operation, chain: ScalingChain) -> np.ndarray:
        return self.factors[chain] if isinstance(op, Conv2DOp) else self.factors[chain][None, :]

    def producer_ranges(self, chain: ScalingChain) -> np.ndarray:
        """max |w| of each output channel of the chain's conv2d or dense producer;
        for a layer_norm producer max|scale| + max|bias| per channel (see
        `layer_norm_channel_ranges`), both as the current factors leave them."""
        if isinstance(chain.producer, LayerNormOp):
            return layer_norm_channel_ranges(chain.producer, chain.channels) / self.factors[chain]
        return output_channel_absmax(chain.producer, self.weight(chain.producer))

    def consumer_ranges(self, chain: ScalingChain) -> np.ndarray:
        """max |w| over every consumer's weights that read each channel."""
        return np.max([input_channel_absmax(c, self.weight(c)) for c in chain.consumers], axis=0)

    def changed_chains(self) -> list[ScalingChain]:
        return [c for c in self.chains if np.max(np.abs(self.factors[c] - 1.0)) > NO_CHANGE]

    def materialize(self, suffix: str) -> list[ScalingChain]:
        """Rewrite the IR: new weights named `<weight>.<suffix>` for every chain whose
        factors differ from 1; returns those chains."""
        changed = self.changed_chains()
        changed_set = set(changed)
        rewritten: set[Operation] = set()
        for chain in changed:
            for op in (chain.producer, *chain.consumers):
                if op not in rewritten:
                    rewritten.add(op)
                    self._rewrite_layer(op, changed_set, suffix)
            for op, index in zip(chain.transfers, chain.transfer_operands):
                if isinstance(op, AddOp | SubOp):  # the other transfers commute as they are
                    self._rescale_constant(op, 1 - index, chain, suffix)
            for observer in chain.observers:  # statistics of the unscaled tensor
                observer.properties.pop("stats", None)
                observer.properties.pop("quant", None)
        return changed

    def _rewrite_layer(self, op: Operation, changed: set[ScalingChain], suffix: str) -> None:
        arrays = _weight_layer_arrays(op)
        produced = self._as_producer.get(op)
        out_factors = self.factors[produced] if produced in changed else None
        if isinstance(op, LayerNormOp):
            assert out_factors is not None
            for index, array in arrays.items():
                _replace_operand(op, index, _along_last_axis(array, len(out_factors)) / out_factors, suffix)
            return
        _replace_operand(op, 1, self.weight(op, changed), suffix)
        if out_factors is not None and 2 in arrays:
            _replace_operand(op, 2, arrays[2] / out_factors, suffix)

    def _rescale_constant(self, op: Operation, index: int, chain: ScalingChain, suffix: str) -> None:
        """Divide the constant operand `index` of an add / sub by the chain's factors."""
        factors = self.factors[chain]
        constant = _float_constant(op.operands[index])[1]
        _replace_operand(op, index, _along_last_axis(constant, len(factors)) / factors, suffix)


def _replace_operand(op: Operation, index: int, array: np.ndarray, suffix: str) -> None:
    """Make operand `index` of `op` (a constant) a new constant holding `array`."""
    old = op.operands[index].owner
    assert isinstance(old, ConstantOp)
    original = builders.constant_array(old)
    new = builders.derived_constant(old, np.ascontiguousarray(array, dtype=original.dtype), suffix)
    Rewriter.insert_op(new, InsertPoint.before(op))
    op.operands[index] = new.output
    if not old.output.uses:
        Rewriter.erase_op(old)


def log_change(factors: Iterable[np.ndarray]) -> float:
    """The largest |log s| among `factors`: how far a round moved the weights."""
    return max((float(np.max(np.abs(np.log(f)))) for f in factors if f.size), default=0.0)


def dead_channels(ranges: np.ndarray) -> np.ndarray:
    """Channels whose range is at most float32 epsilon times the largest one:
    below float32 resolution of the layer (exported models hold such all-but-zero,
    often denormal, channels). Rescaling them would only shuffle rounding noise."""
    return ranges <= DEAD * ranges.max(initial=0.0)
