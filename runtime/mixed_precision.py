"""Automatic int8 / int16 mixed precision: which MLA nodes to compute in int16.

Seed 003's mixed precision is manual: the user names the nodes that get
`quantization_precision: INT_16`. This module chooses them for a budget, from
measurements on calibration data only (`afe.apis.mixed_precision.suggest_int16_nodes`
is the API; it supplies `measure`, the error of a real quantization with a given set
of int16 nodes, at the outputs or at the logits: `logits_module`, `sample_errors`):

1. rank: each candidate alone in int16 (on top of the nodes already int16), its
   SQNR gain over the int8 model (one quantization and one run over the
   ranking samples per candidate); or (`ranked_from="int16"`) what the
   all-int16 model loses with the candidate's result in int8;
2. walk the ranking, best first (the nodes that gained alone): add the next
   node, quantize, measure on every calibration sample; keep the node only if
   the SQNR rises by more than `min_gain_db` (nodes interact: two nodes
   widening the same tensor gain it once), and with `folds` on every fold of
   the samples; stop at the budget (`Int16Budget`).

Each accepted step is recorded (`Int16Step`), so one walk also gives every
smaller budget: the walk for `max_nodes=k` is the first k accepted steps of the
walk for a larger k, and the walk for an SQNR target stops at the first step
reaching it.

Candidates are the MLA nodes the MLA runs at 16 bits that compute values
(`int16_candidates`): data movement (reshape, max_pool, ...) carries its
input's quantization and gains nothing of its own. A node's cost is its share
of the MLA's work (`node_work`): multiply-accumulates for convolutions and
dense layers, one operation per output element for every other node.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm
from xdsl.dialects.builtin import ModuleOp, TensorType
from xdsl.ir import Operation, SSAValue

from passes.mla_support import supports_bits
from passes.name_nodes import functions_of, named_ops
from passes.quantize_movement import passes_quantization_through
from runtime.interpreter import find_function
from sima_dialect import ops
from sima_dialect.element_types import is_float_type
from sima_dialect.quantized_ops import DequantizeOp, QSoftmaxOp

WIDE_BITS = 16


# -- candidates and their cost ---------------------------------------------------------------


def _elements(value) -> int:
    shape = value.type.get_shape() if isinstance(value.type, TensorType) else ()
    return int(np.prod(shape, dtype=np.int64)) if shape else 1


def node_work(op: ops.SimaOp) -> int:
    """The work of one MLA node: multiply-accumulates of a convolution or dense layer
    (output elements over the channels times the weight's size: HWIO / (in, out) weights),
    otherwise one operation per output element."""
    if isinstance(op, ops.Conv2DOp | ops.DenseOp | ops.Conv2DTransposeOp):
        output_shape = op.results[0].type.get_shape()
        positions = int(np.prod(output_shape[:-1], dtype=np.int64))
        return positions * _elements(op.weight)
    return sum(_elements(result) for result in op.results)


@dataclass(frozen=True)
class Int16Candidate:
    """An MLA node that may be computed in int16, with its share of the MLA's work."""

    name: str
    op: str  # e.g. "sima.conv2d"
    work: int
    readers: tuple[str, ...] = ()  # the MLA nodes reading its result (through data movement)


def _readers(op: ops.SimaOp) -> list[str]:
    """The named MLA nodes that read `op`'s results, looking through data movement (which
    carries the quantization of what it reads)."""
    found: list[str] = []
    for result in op.results:
        for use in result.uses:
            reader = use.operation
            if not isinstance(reader, ops.SimaOp) or reader.target_name != "MLA":
                continue
            if passes_quantization_through(reader):
                found += [name for name in _readers(reader) if name not in found]
            elif reader.node_name and reader.node_name not in found:
                found.append(reader.node_name)
    return found


def int16_candidates(float_reference: ModuleOp) -> tuple[list[Int16Candidate], int]:
    """The nodes of the partitioned, named float module that int16 can help (MLA nodes
    the MLA runs at 16 bits, reading or writing float tensors, not data movement), in
    graph order, and the total work of every MLA node."""
    candidates: list[Int16Candidate] = []
    total = 0
    for function in functions_of(float_reference):
        for op in named_ops(function):
            if op.target_name != "MLA" or isinstance(op, ops.ConstantOp):
                continue
            work = node_work(op)
            total += work
            computes = not passes_quantization_through(op) and supports_bits(op, WIDE_BITS)
            floats = any(isinstance(r.type, TensorType) and is_float_type(r.type.element_type) for r in op.results)
            if computes and floats and op.node_name:
                candidates.append(Int16Candidate(op.node_name, op.name, work, tuple(_readers(op))))
    return candidates, total


# -- measuring ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleErrors:
    """Per sample: the float outputs' energy (`signal`) and the squared error (`noise`)."""

    signal: np.ndarray
    noise: np.ndarray

    def sqnr_db(self, fold: int | None = None, folds: int = 1) -> float:
        """10 log10(signal / noise) over every sample, or over fold `fold` of `folds`
        (samples i with i % folds == fold); inf when the outputs are equal."""
        chosen = slice(None) if fold is None else slice(fold, None, folds)
        signal, noise = float(np.sum(self.signal[chosen])), float(np.sum(self.noise[chosen]))
        if noise == 0.0:
            return math.inf
        if signal == 0.0:
            return -math.inf
        return 10.0 * math.log10(signal / noise)


def sample_errors(
    reference: Sequence[Sequence[np.ndarray]], produced: Sequence[Sequence[np.ndarray]], centre_axes: Sequence[int | None] = ()
) -> SampleErrors:
    """The `SampleErrors` of `produced[i]` (sample i's outputs) against `reference[i]`,
    over every element of every float output; output j centred along `centre_axes[j]`
    first (its mean there subtracted: logits a softmax reads, which it cannot tell from
    shifted ones), if given and not None."""
    signal, noise = np.zeros(len(reference)), np.zeros(len(reference))
    for index, (expected, actual) in enumerate(zip(reference, produced, strict=True)):
        for j, (e, a) in enumerate(zip(expected, actual, strict=True)):
            if not np.issubdtype(np.asarray(e).dtype, np.floating):
                continue  # indices (argmax): no signal to compare
            e64, a64 = np.asarray(e, dtype=np.float64), np.asarray(a, dtype=np.float64)
            axis = centre_axes[j] if j < len(centre_axes) else None
            if axis is not None:
                e64, a64 = e64 - e64.mean(axis=axis, keepdims=True), a64 - a64.mean(axis=axis, keepdims=True)
            signal[index] += float(np.sum(np.square(e64)))
            noise[index] += float(np.sum(np.square(e64 - a64)))
    return SampleErrors(signal, noise)


def _softmax_reading(value: SSAValue) -> Operation | None:
    """The softmax (float or integer) that makes `value`, directly or through a dequantize."""
    owner = value.owner
    if isinstance(owner, DequantizeOp):
        owner = owner.input.owner
    return owner if isinstance(owner, ops.SoftmaxOp | QSoftmaxOp) else None


def logits_module(module: ModuleOp) -> tuple[ModuleOp, list[int | None]]:
    """A copy of `module` whose results made by a softmax are that softmax's input instead
    (the logits: a classifier's top-1 is theirs, and the softmax hides their error wherever
    it saturates), and per result the softmax's axis (None: the result is unchanged)."""
    copy = module.clone()
    function = find_function(copy)
    returned = function.get_return_op()
    assert returned is not None
    axes: list[int | None] = []
    operands = []
    for value in returned.operands:
        softmax = _softmax_reading(value)
        if softmax is None:
            axes.append(None)
            operands.append(value)
            continue
        logits = softmax.operands[0]
        axes.append(softmax.axis.value.data % len(logits.type.get_shape()))
        operands.append(logits)
    returned.operands = operands
    function.update_function_type()
    return copy, axes


def compared_at(float_reference: ModuleOp, measured_at: str) -> tuple[Callable[[ModuleOp], ModuleOp], list[int | None]]:
    """What a module is compared by, at `measured_at`: "logits" (`logits_module`: a module's
    softmax outputs replaced by their inputs, each centred along its softmax's axis) or
    "outputs" (as they are); and those axes, for `sample_errors`."""
    if measured_at == "logits":
        return (lambda module: logits_module(module)[0]), logits_module(float_reference)[1]
    return (lambda module: module), []


def output_sqnr_db(reference: Sequence[Sequence[np.ndarray]], produced: Sequence[Sequence[np.ndarray]]) -> float:
    """10 log10(signal / noise) over every element of every float output of every sample
    (`reference[i]` and `produced[i]`: sample i's outputs); inf when they are equal."""
    return sample_errors(reference, produced).sqnr_db()


# -- the search -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Int16Budget:
    """When the walk stops. At least one limit must be set; the walk stops at the first reached.

    max_nodes: at most this many nodes promoted (beyond those already int16);
    target_sqnr_db: stop once the calibration SQNR reaches this;
    max_work_share: the int16 nodes' share of the MLA's work (0..1) stays within this;
    min_gain_db: a node is kept only if it raises the SQNR by more than this;
    folds: with more than 1, a node is kept only if the SQNR also rises on every fold of the
        calibration samples (sample i in fold i % folds): a gain a few samples carry is
        fitted to them and need not hold on other inputs;
    ranked_from: "int8": each node ranked by what it gains alone in int16 in the int8 model;
        "int16" (as AIMET's AMP ranks): by what the all-int16 model loses when that node's
        result is int8 (the node and its readers in int8: a tensor is 16 bits wherever one
        of its nodes is int16); where the error is spread over many nodes, removing one source
        from the int8 model hardly shows, while adding one to the int16 model does. The walk
        then keeps every node in that order (no node shows a gain alone there) up to the
        budget; min_gain_db and folds apply to the "int8" walk."""

    max_nodes: int | None = None
    target_sqnr_db: float | None = None
    max_work_share: float | None = None
    min_gain_db: float = 0.0
    folds: int = 1
    ranked_from: str = "int8"


@dataclass(frozen=True)
class Int16Step:
    """The state after one accepted node (or the start): the int16 nodes added so far, in
    order, the calibration SQNR, their work share and the CPU seconds spent so far."""

    nodes: tuple[str, ...]
    sqnr_db: float
    work_share: float
    seconds: float


@dataclass
class Int16Search:
    """What `search_int16_nodes` found: the ranking (node, SQNR gain alone in dB, best first),
    the accepted steps (the first is the start), every check made (nodes tried, SQNR, kept)
    and why the walk stopped."""

    ranking: list[tuple[str, float]]
    steps: list[Int16Step]
    checks: list[tuple[str, float, bool]] = field(default_factory=list)
    stopped: str = ""

    @property
    def nodes(self) -> tuple[str, ...]:
        return self.steps[-1].nodes


def search_int16_nodes(
    candidates: Sequence[Int16Candidate],
    total_work: int,
    measure: Callable[[frozenset[str], bool], SampleErrors],
    budget: Int16Budget,
    *,
    already_int16: Collection[str] = (),
    progress: bool | None = None,
    started: float | None = None,
) -> Int16Search:
    """Rank `candidates` and walk the ranking within `budget` (module docstring).

    `measure(int16_nodes, ranking)` is the calibration error (`SampleErrors`) of
    the model quantized with `int16_nodes` in int16 (`ranking`: measured on the ranking
    samples, else on every calibration sample). `already_int16`: nodes int16 from the start
    (counted in the work share, not in `max_nodes`). Steps record the CPU seconds since
    `started` (a `time.process_time()`; default: this call's start)."""
    start_time = time.process_time() if started is None else started
    work = {candidate.name: candidate.work for candidate in candidates}
    base = frozenset(already_int16)
    share = lambda nodes: sum(work.get(n, 0) for n in nodes) / total_work if total_work else 0.0  # noqa: E731

    def improves(trial: SampleErrors, current: SampleErrors) -> bool:
        if trial.sqnr_db() <= current.sqnr_db() + budget.min_gain_db:
            return False
        folds = budget.folds if budget.folds > 1 else 0
        return all(trial.sqnr_db(fold, folds) > current.sqnr_db(fold, folds) for fold in range(folds))

    current = measure(base, False)
    baseline_sqnr = current.sqnr_db()
    steps = [Int16Step((), baseline_sqnr, share(base), time.process_time() - start_time)]
    search = Int16Search([], steps)
    if budget.target_sqnr_db is not None and baseline_sqnr >= budget.target_sqnr_db:
        search.stopped = f"the int8 model already reaches {budget.target_sqnr_db} dB"
        return search
    if budget.max_nodes == 0:
        search.stopped = "max_nodes is 0"
        return search

    ranked = [c for c in candidates if c.name not in base]
    every = base | {c.name for c in ranked}
    from_int16 = budget.ranked_from == "int16"
    ranked_base = measure(every if from_int16 else base, True).sqnr_db()
    gains = []
    for candidate in tqdm(ranked, desc="Ranking int16 candidates", unit=" nodes", disable=None if progress is None else not progress):
        if from_int16:  # what the int16 model loses with this node's result in int8 (16 bits win
            # where a tensor's nodes disagree, so its readers go to int8 with it)
            demoted = {candidate.name, *candidate.readers}
            gains.append((candidate.name, ranked_base - measure(every - demoted, True).sqnr_db()))
        else:  # what the int8 model gains with this node in int16
            gains.append((candidate.name, measure(base | {candidate.name}, True).sqnr_db() - ranked_base))
    search.ranking = sorted(gains, key=lambda item: -item[1])

    chosen: list[str] = []
    walk = [(name, gain) for name, gain in search.ranking if gain > 0.0]
    bar = tqdm(walk, desc="Checking int16 nodes", unit=" nodes", disable=None if progress is None else not progress)
    for name, _ in bar:
        trial = base | set(chosen) | {name}
        if budget.max_work_share is not None and share(trial) > budget.max_work_share:
            continue  # too costly; a cheaper node further down may still fit
        errors = measure(frozenset(trial), False)
        sqnr = errors.sqnr_db()
        kept = from_int16 or improves(errors, current)
        search.checks.append((name, sqnr, kept))
        if kept:
            chosen.append(name)
            current = errors
            steps.append(Int16Step(tuple(chosen), sqnr, share(trial), time.process_time() - start_time))
            bar.set_postfix(nodes=len(chosen), sqnr=f"{sqnr:.2f} dB")
            if budget.target_sqnr_db is not None and sqnr >= budget.target_sqnr_db:
                search.stopped = f"target {budget.target_sqnr_db} dB reached"
                break
            if budget.max_nodes is not None and len(chosen) >= budget.max_nodes:
                search.stopped = f"max_nodes ({budget.max_nodes}) reached"
                break
    bar.close()
    if not search.stopped:
        search.stopped = "no candidate left that helps within the budget"
    return search


__all__ = [
    "Int16Budget",
    "Int16Candidate",
    "Int16Search",
    "Int16Step",
    "int16_candidates",
    "compared_at",
    "logits_module",
    "node_work",
    "SampleErrors",
    "output_sqnr_db",
    "sample_errors",
    "search_int16_nodes",
]
