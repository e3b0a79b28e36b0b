"""The logits of a calibrated network with chosen activations (and weights)
rounded to their int8 grids, the rest in float: where the int8 error that
flips a classifier's top-1 comes from (issue #5), and a fast objective for
choosing ranges by the error they cause at the logits.

    run = RoundedRun(calibrated, samples)            # samples: {input name: array}
    reference = run.logits({})                        # float
    everything = run.logits(run.mse_choices())        # every rounded tensor at its MSE range
    one = run.logits({"MLA_0/hard_swish_1": element}) # only that tensor rounded

`calibrated` is the module `calibrate_module` returns: the float function with a
`sima.observe` (carrying its selected `quant`) on every activation. A tensor is
named by its observe's key; only tensors the quantized function holds as integers
of their own quantization are roundable (`range_refinement._is_rounded`: made or
read by an MLA op, not data movement). Rounding is `rounded` (round to the grid, clip to
the range, in float32; ties up, where the integer kernels round away from zero), weights, integer arithmetic and tables stay float: the
activations' rounding alone (session 4 measured it carries the classifiers'
int8 error: float activations with int8 weights keep top-1 at 98.4%).

Weights: `weights` names conv / dense ops (node names) whose weight is rounded per
output channel (last axis), symmetric, to max|w| / 127 (the planner's grid is
close to it but not equal: it may halve a channel's step and clip).

All samples run at once, stacked on the batch axis (the kernels are NumPy over
the whole array; a reshape keeps the batch). Every value of the last run is
kept, so a run that changes tensors only from some point on recomputes only the
ops after that point (`logits(..., base=...)`): a sweep over the tensors in
order costs about half a run per tensor.

Prefix cuts of an integer model (`integer_values`, `prefix_logits`): every node up to a
cut takes the quantized function's value (bit-exact, dequantized), everything after it is
computed in float from them; the rise of the logit noise from one cut to the next is what
that node adds as a float suffix sees it. Unlike rounding parts of the float network this
also attributes a network whose weights were fitted to its int8 activations
(compensation), `bench/bench_top1_prefix.py`.

The logits: the operand of the function's last softmax, centred (their mean over
the classes subtracted: the softmax cannot tell a shift, so its error is no
error), or the function's first result if it has no softmax.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation, SSAValue
from xdsl.traits import Pure

from runtime.interpreter import Interpreter, find_function
from runtime.kernels import KERNELS
from runtime.range_refinement import _is_rounded
from sima_dialect import ops
from sima_dialect.calibration_ops import ObserveOp
from sima_dialect.quantized_ops import QuantizeOp
from sima_dialect.types import QuantizedType


class LogitErrorError(ValueError):
    pass


def rounded(x: np.ndarray, element: QuantizedType) -> np.ndarray:
    """x rounded to the grid of `element` and clipped to its range, in float32
    (`range_refinement.fake_quantize`'s rounding without its float64 copies)."""
    step, zero_point = element.scale_value, element.zero_point_value
    low, high = -(2 ** (element.bits - 1)) - zero_point, 2 ** (element.bits - 1) - 1 - zero_point
    q = np.multiply(x, np.float32(1.0 / step), dtype=np.float32)
    q += np.float32(0.5)
    np.floor(q, out=q)
    np.maximum(q, np.float32(low), out=q)
    np.minimum(q, np.float32(high), out=q)
    q *= np.float32(step)
    return q


def rounded_weight(weight: np.ndarray) -> np.ndarray:
    """`weight` rounded per output channel (last axis), symmetric int8, step max|w| / 127."""
    weight = np.asarray(weight, dtype=np.float64)
    absmax = np.max(np.abs(weight.reshape(-1, weight.shape[-1])), axis=0)
    step = np.where(absmax > 0, absmax / 127.0, 1.0)
    return (np.clip(np.round(weight / step), -127, 127) * step).astype(np.float32)


class RoundedRun:
    """The calibrated function over `samples` at once, with chosen rounding (module docstring)."""

    def __init__(self, calibrated: ModuleOp, samples: Sequence[Mapping[str, Any]]):
        if not samples:
            raise LogitErrorError("RoundedRun needs at least one sample")
        self.function = find_function(calibrated)
        interpreter = Interpreter(calibrated)
        names = interpreter.input_names
        self.body = list(self.function.body.block.ops)[:-1]
        self.count = len(samples)
        self.inputs = {
            argument: np.concatenate([np.asarray(sample[name], dtype=np.float32) for sample in samples])
            for argument, name in zip(self.function.args, names)
        }
        softmaxes = [op for op in self.body if isinstance(op, ops.SoftmaxOp)]
        self.logit_value: SSAValue = softmaxes[-1].operands[0] if softmaxes else list(self.function.body.block.ops)[-1].operands[0]
        # a softmax over the last axis reads its logits up to a shift: they are compared centred
        self.centred = bool(softmaxes) and softmaxes[-1].axis.value.data % len(self.logit_value.type.get_shape()) == len(
            self.logit_value.type.get_shape()) - 1
        # the roundable tensors: observe key -> (the value, its MSE quantization, index of its producer)
        self.observes: dict[str, ObserveOp] = {}
        position = {op: index for index, op in enumerate(self.body)}
        self.position: dict[str, int] = {}
        for op in self.body:
            if isinstance(op, ObserveOp) and op.quant is not None and _is_rounded(op.input):
                self.observes[op.key.data] = op
                owner = op.input.owner
                # a re-run starts AT the producer: the value it keeps is rounded already
                self.position[op.key.data] = position[owner] if isinstance(owner, Operation) else 0
        self.gemms = {op.node_name: op for op in self.body if isinstance(op, (ops.Conv2DOp, ops.DenseOp)) and op.node_name}
        for name, op in self.gemms.items():
            self.position.setdefault(name, position[op])
        self.constants: dict[SSAValue, np.ndarray] = {}
        with np.errstate(all="ignore"):
            for op in self.body:
                if op.has_trait(Pure) and op.results and all(operand in self.constants for operand in op.operands):
                    produced = KERNELS[type(op)](op)(*[self.constants[operand] for operand in op.operands])
                    for result, value in zip(op.results, produced if len(op.results) > 1 else [produced]):
                        self.constants[result] = np.asarray(value)
        self._kernels = {op: KERNELS[type(op)](op) for op in self.body if not isinstance(op, ObserveOp) and op.results}
        self._rounded_weights: dict[str, np.ndarray] = {}
        self.last: dict[SSAValue, np.ndarray] | None = None
        self.last_choice: tuple[dict[str, QuantizedType], frozenset[str]] | None = None
        # the batched run must be the interpreter's, sample by sample
        first = interpreter.run(samples[0])[0]
        batched = self._run({}, frozenset(), 0, None)
        output = batched[list(self.function.body.block.ops)[-1].operands[0]][:1]
        if output.shape != np.shape(first) or not np.allclose(output, first, rtol=1e-4, atol=1e-5):
            raise LogitErrorError("the batched run differs from the interpreter's on the first sample (a kernel is not batch-safe)")

    # -- names ---------------------------------------------------------------------------

    def mse_choices(self) -> dict[str, QuantizedType]:
        """Every roundable tensor at its selected (MSE) quantization."""
        return {key: op.quant for key, op in self.observes.items()}

    def tensor_of(self, key: str) -> SSAValue:
        return self.observes[key].input

    # -- running -------------------------------------------------------------------------

    def _weight(self, op: Operation, weights: frozenset[str]) -> dict[int, np.ndarray]:
        if not isinstance(op, (ops.Conv2DOp, ops.DenseOp)) or op.node_name not in weights:
            return {}
        if op.node_name not in self._rounded_weights:
            self._rounded_weights[op.node_name] = rounded_weight(self.constants[op.operands[1]])
        return {1: self._rounded_weights[op.node_name]}

    def _run(self, choices: Mapping[str, QuantizedType], weights: frozenset[str], start: int,
             base: dict[SSAValue, np.ndarray] | None, stop: int | None = None,
             replaced: Mapping[SSAValue, np.ndarray] | None = None) -> dict[SSAValue, np.ndarray]:
        values = dict(self.inputs) if base is None else dict(base)
        with np.errstate(all="ignore"):
            if start == 0:
                values.update(self.inputs)
                if replaced:
                    values.update({a: replaced[a] for a in self.inputs if a in replaced})
            for index, op in enumerate(self.body[start:], start):
                if replaced and index <= stop and op.results and all(r in replaced for r in op.results):
                    values.update({r: replaced[r] for r in op.results})
                    continue
                if isinstance(op, ObserveOp):
                    key = op.key.data
                    if key in choices and choices[key] is not None:
                        values[op.input] = rounded(values[op.input], choices[key])
                    continue
                if not op.results or op.results[0] in self.constants:
                    continue
                replaced = self._weight(op, weights)
                operands = [
                    replaced[i] if i in replaced else (self.constants[v] if v in self.constants else values[v])
                    for i, v in enumerate(op.operands)
                ]
                if isinstance(op, ops.ReshapeOp):
                    produced = operands[0].reshape((self.count, *op.output.type.get_shape()[1:]))
                else:
                    produced = self._kernels[op](*operands)
                for result, value in zip(op.results, produced if len(op.results) > 1 else [produced]):
                    values[result] = np.asarray(value)
        return values

    def logits(self, choices: Mapping[str, QuantizedType], weights: Sequence[str] = (), *,
               changed_from: str | None = None, keep: bool = True) -> np.ndarray:
        """The logits, (samples, classes), with the tensors of `choices` (observe key ->
        quantization) and the weights of the gemms named in `weights` rounded.

        `changed_from`: the first tensor or gemm (in the function's order) where
        `choices` / `weights` may differ from those of the last run kept (`keep`): the
        ops before it are not run again. The caller promises that nothing before it changed."""
        unknown = sorted(set(choices) - set(self.observes)) + sorted(set(weights) - set(self.gemms))
        if unknown:
            raise LogitErrorError(f"no roundable tensor or gemm named {', '.join(map(repr, unknown))}")
        start, base = 0, None
        if changed_from is not None and self.last is not None:
            start, base = self.position[changed_from], self.last
        values = self._run(choices, frozenset(weights), start, base)
        if keep:
            self.last = values
        logits = values[self.logit_value].reshape(self.count, -1).astype(np.float64)
        return logits - logits.mean(axis=-1, keepdims=True) if self.centred else logits


    def prefix_logits(self, replaced: Mapping[SSAValue, np.ndarray], cuts: Sequence[int]) -> list[np.ndarray]:
        """For each position of `cuts` (increasing indices into `body`), the logits when every
        value of `replaced` made at or before that position takes its replacement (another
        function's values, e.g. the integer model's, dequantized) and the rest is computed in
        float from them: the error the ops up to the cut leave at the logits."""
        if any(later <= earlier for earlier, later in zip(cuts, cuts[1:])):
            raise LogitErrorError("prefix cuts must increase")
        results, base, start = [], None, 0
        for cut in cuts:
            # the values before the previous cut are those of the previous run: start after it
            values = self._run({}, frozenset(), start, base, cut, replaced)
            logits = values[self.logit_value].reshape(self.count, -1).astype(np.float64)
            results.append(logits - logits.mean(axis=-1, keepdims=True) if self.centred else logits)
            base, start = values, cut + 1
        return results


def integer_values(quantized: ModuleOp, run: RoundedRun, samples: Sequence[Mapping[str, Any]]) -> dict[SSAValue, np.ndarray]:
    """The values of the quantized function (bit-exact, dequantized) over `samples`, stacked
    on the batch axis, keyed by the values of `run`'s function they stand for (node
    outputs of the same node name, `error_analysis.match_nodes`; the function inputs)."""
    from runtime.error_analysis import _dequantized, comparable, match_nodes, tapped_interpreter

    matches = [m for m in match_nodes(find_function(quantized), run.function) if comparable(m)]
    taps = [(q, f) for m in matches for q, f in zip(m.outputs, m.reference.results)]
    interpreter, offset = tapped_interpreter(quantized, [q for q, _ in taps])
    produced = [interpreter.run(sample) for sample in samples]
    values = {f: np.concatenate([np.asarray(_dequantized(p[offset + i], q), dtype=np.float32) for p in produced])
              for i, (q, f) in enumerate(taps)}
    # the model inputs: what the quantized function reads (its boundary quantize, if any)
    quantized_function = find_function(quantized)
    for argument, float_argument in zip(quantized_function.args, run.function.args):
        readers = [use.operation for use in argument.uses if isinstance(use.operation, QuantizeOp)]
        if len(readers) == 1 and len(list(argument.uses)) == 1:
            element = readers[0].output.type.element_type
            values[float_argument] = rounded(run.inputs[float_argument], element)
    return values


def logit_sqnr_db(reference: np.ndarray, approximation: np.ndarray) -> float:
    noise = float(np.sum(np.square(reference - approximation)))
    return float("inf") if noise == 0 else 10 * float(np.log10(np.sum(np.square(reference)) / noise))


def flips(reference: np.ndarray, approximation: np.ndarray) -> int:
    """How many samples' argmax differ."""
    return int(np.count_nonzero(np.argmax(reference, axis=-1) != np.argmax(approximation, axis=-1)))


@dataclass(frozen=True)
class FlipModel:
    """A Gaussian model of top-1 flips: each sample's fp32 margin m (its best logit minus its
    second best) is moved by the quantized model's error e of that same difference, and the
    answer flips when e < -m; e ~ N(0, sigma^2) with sigma the errors' standard deviation."""

    sigma: float  # std of the error of the difference of fp32's two best logits
    predicted: float  # the model's expected agreement: mean over samples of Phi(m / sigma)
    needed_sigma: float  # the largest sigma whose expected agreement reaches `target` (sigma * 1e-6 if none does)

    @property
    def needed_db(self) -> float:
        """How much less error (dB) `needed_sigma` is than `sigma`."""
        return 20 * math.log10(self.sigma / self.needed_sigma)


def flip_model(reference: np.ndarray, approximation: np.ndarray, target: float = 0.98) -> FlipModel:
    """`FlipModel` of logits `approximation` [N, C] against `reference` [N, C] (fp32)."""
    from scipy.stats import norm

    rows = np.arange(len(reference))
    order = np.argsort(reference, axis=1)
    best, second = order[:, -1], order[:, -2]
    margin = reference[rows, best] - reference[rows, second]
    error = (approximation[rows, best] - approximation[rows, second]) - margin
    sigma = float(np.std(error))

    def agreement(s: float) -> float:
        return float(np.mean(norm.cdf(margin / s))) if s > 0 else float(np.mean(margin > 0) + 0.5 * np.mean(margin == 0))

    if sigma == 0 or agreement(sigma) >= target:
        return FlipModel(sigma, agreement(sigma), sigma)
    # the expected agreement falls as sigma grows: bisect log sigma for the largest that reaches it
    low, high = sigma * 1e-6, sigma
    for _ in range(60):
        middle = math.sqrt(low * high)
        low, high = (middle, high) if agreement(middle) >= target else (low, middle)
    return FlipModel(sigma, agreement(sigma), low)


# -- which part of the network a tensor belongs to -----------------------------------------

GROUPS = ("input", "stem", "SE squeeze", "SE gate", "SE multiply", "depthwise input", "residual add", "head", "other")


def _readers(value: SSAValue) -> list[Operation]:
    return [use.operation for use in value.uses if not isinstance(use.operation, ObserveOp)]


def tensor_groups(run: RoundedRun) -> dict[str, str]:
    """Each roundable tensor's part of the network (GROUPS), by structure:
    input (a function argument); stem (the first conv's output and the unary ops
    right after it); squeeze-and-excitation: the pool and convs before a gate
    (SE squeeze), the hard_sigmoid read by a multiply (SE gate), the multiply's
    output (SE multiply); head (the last global pool and everything after it);
    read by a depthwise conv (depthwise input); an add's output (residual add)."""
    groups: dict[str, str] = {}
    body = run.body
    gemms = [op for op in body if isinstance(op, (ops.Conv2DOp, ops.DenseOp))]
    stem: set[SSAValue] = set()
    if gemms:
        value = gemms[0].results[0]
        stem.add(value)
        while True:
            readers = _readers(value)
            if len(readers) != 1 or isinstance(readers[0], (ops.Conv2DOp, ops.DenseOp)) or len(readers[0].operands) != 1:
                break
            value = readers[0].results[0]
            stem.add(value)
    squeeze: set[SSAValue] = set()
    gates: set[SSAValue] = set()
    multiplies: set[SSAValue] = set()
    for op in body:
        if isinstance(op, ops.MulOp):
            for operand in op.operands:
                if isinstance(operand.owner, ops.HardSigmoidOp):
                    gates.add(operand)
                    multiplies.add(op.results[0])
                    # back through the gate's convs to the pool
                    current = operand.owner.operands[0]
                    for _ in range(6):
                        squeeze.add(current)
                        owner = current.owner
                        if not isinstance(owner, Operation) or isinstance(owner, ops.GlobalAvgPoolOp):
                            break
                        current = owner.operands[0]
    pools = [op for op in body if isinstance(op, ops.GlobalAvgPoolOp) and op.results[0] not in squeeze]
    head_start = body.index(pools[-1]) if pools else len(body)
    for key, op in run.observes.items():
        value = op.input
        owner = value.owner
        index = body.index(owner) if isinstance(owner, Operation) else -1
        if not isinstance(owner, Operation):
            group = "input"
        elif value in stem:
            group = "stem"
        elif value in multiplies:
            group = "SE multiply"
        elif value in gates:
            group = "SE gate"
        elif value in squeeze:
            group = "SE squeeze"
        elif index >= head_start:
            group = "head"
        elif any(isinstance(r, ops.Conv2DOp) and r.groups.value.data > 1 for r in _readers(value)):
            group = "depthwise input"
        elif isinstance(owner, ops.AddOp):
            group = "residual add"
        else:
            group = "other"
        groups[key] = group
    return groups


__all__ = ["GROUPS", "FlipModel", "LogitErrorError", "RoundedRun", "flip_model", "flips", "integer_values", "logit_sqnr_db", "rounded_weight", "tensor_groups"]
