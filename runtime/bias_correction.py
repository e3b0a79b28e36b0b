"""The data step of bias correction (Nagel et al. 2019, section 4.2): measure,
for every quantized convolution / dense layer, the expected error of its
output per output channel, and record it for `passes/bias_correction.py`.

    corrected = bias_corrected_module(quantized, float_module, samples, BiasCorrectionType.REGULAR)

What is measured. For a layer with float weights W, b and integer ones, per
output channel c, over every sample and every output position,

    e_c = E[pre_float_c] - E[pre_quant_c]

where pre_float = W x + b is the float layer's output before its activation
(a fused relu / clamp would hide the error of the clipped values), and
pre_quant the quantized layer's accumulator A in real units,
(A - z_out 2**shift) * step_out 2**-shift in sima mode (step_out M 2**-shift
in tflite mode; `passes.bias_correction.accumulator_unit`): what the layer
computes before requantization, with the input quantized as the layer reads
it. Adding e_c to the bias makes the two expectations equal. Requantization
rounds to nearest, so it adds no bias of its own. Both means are taken without
running the layer: it is linear in its input rows, so the mean output is the
sum of the rows over the positions (`window_sums`: one strided sum per kernel
tap) times the weight (`mean_output`; exact in int64 for an int8 input, whose
accumulator has no intrinsic shift; an int16 input's accumulator kernel runs).

What is added. e_c is measured as a mean over a few samples (one number per
sample: the sample's mean error of channel c), so it is noisy where the error
varies much from sample to sample. The correction added is
`reliable_correction` of those per-sample errors: each channel's mean shrunk
by its standard error (`shrunk_mean`), kept for the layer only if, left out
one sample at a time, it lowers the layer's squared error on the left-out
samples. After correction, the mean error measured again on the same samples
is e_c minus that correction (within half an accumulator unit).

- REGULAR: the input of both is the float network's activation (`x` quantized
  to the layer's input type for pre_quant): the error of the layer alone,
  from its quantized weights and its quantized input.
- ITERATIVE: pre_float as above, but pre_quant is computed from the input
  the quantized network itself produces, with every earlier layer already
  corrected: the quantized network runs layer by layer over all the samples
  at once, each layer's correction being measured and applied before the
  layers after it run. It also corrects the error accumulated upstream.

Layers: every `sima.qconv2d` / `sima.qdense` whose float counterpart (the op
of the same node name in the float module it was quantized from: a
`sima.conv2d` / `sima.dense`) has readable constant weights. A matmul with a
constant operand is imported as a dense, so it is covered; `sima.qmatmul`
(two activations) has no bias.

Data. The calibration data is read once by calibration; bias correction
needs it again. `SampleRecorder` wraps the calibration data and keeps the
first `BIAS_CORRECTION_SAMPLES` samples of the (last) calibration reading,
so a one-shot generator works and memory stays bounded; bias correction then
uses those samples (regular: streamed one at a time through the float
network; iterative: the quantized network's activations of all of them are
held at once, layer by layer, which is why the count is bounded).

Whether to correct at all: a check at the model's output. Lower per-layer mean
errors do not promise a lower output error: on the classifiers (cls,
orientation) the output error is almost all per-sample error, which bias
correction does not remove: on cls (16 calibration / 128 other samples) the
logits' squared error is about 1% bias, and corrections with the sign of half
the channels flipped at random moved the output SQNR as much as the real ones
(18.4 to 21.0 dB against 18.35, int8 20.83); regular correction (each layer
measured on float inputs) even raised orientation's logit error by 38% on
other samples. So the corrections are decided on calibration samples they were
not measured on (`HeldOutJudge`): the samples are split into `HELD_OUT_FOLDS`
folds, the corrections measured on the other folds (the same method: regular
or iterative) are applied, and each held-out sample's output error is
measured. A candidate is kept only if its gain over the current choice (per
held-out sample, paired) is significant: a one-sided sign-flip test on the
mean gain (`gain_p_value`, below `SIGNIFICANCE`), so a gain no larger than
the noise of a re-drawn per-sample error, or one that one near-tie sample
makes, is not enough. The candidates go in order (`preferred_candidate`):
regular against none; for ITERATIVE, then the iterative corrections against
that choice, so iterative keeps regular's choice unless the evidence prefers
its own corrections: on the calibration evidence it is never worse than
regular. The output error is the one the model's output shows, without the
output's own rounding: an output that is a softmax / sigmoid of scores is
compared as the float softmax / sigmoid of the scores (`compared_outputs`),
each output's squared error relative to its float signal (the SQNR's
terms). With fewer than `HELD_OUT_FOLDS` samples there is nothing to hold out:
the corrections are applied unchecked (a warning says so). Only calibration
data is used.

The float module must be the one the quantized module was quantized from
(after channel equalization or SmoothQuant, if any): the measurement compares
a layer with its own float weights.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TextIO

import numpy as np
import scipy.stats
from xdsl.dialects.builtin import IntegerType, ModuleOp
from xdsl.ir import Operation, SSAValue

from afe.ir.defines import BiasCorrectionType
from passes.bias_correction import (
    CORRECTED_OPS,
    BiasCorrectionPass,
    accumulator_offset,
    accumulator_unit,
    corrected_bias,
    record_correction,
)
from passes.patterns import builders
from runtime.calibration_data import iterate_calibration_samples
from runtime.error_analysis import tapped_interpreter
from runtime.integer_arithmetic import ArithFoldedRequantization, dequantize, quantize
from runtime.interpreter import find_function, one_blas_thread
from runtime.kernels import KERNELS
from runtime.kernels.windows import output_size, pad_spatial
from runtime.layer_walk import walk_layers
from runtime.weight_rounding import GemmInputs
from sima_dialect import ops
from sima_dialect.context import sima_context
from sima_dialect.quantized_ops import QConv2DOp, QDenseOp, QuantizedGemmOp
from sima_dialect.types import QuantizedType

BIAS_CORRECTION_SAMPLES = 32
"""How many calibration samples bias correction uses at most (the first ones)."""

HELD_OUT_FOLDS = 4
"""Folds of the output-level check: each fold is held out once while the others measure the corrections."""

_log = logging.getLogger(__name__)


class SampleRecorder:
    """Passes calibration data through, keeping the first `limit` samples of
    the last reading (`samples`). A one-shot iterator stays one-shot (the
    recorder is then an iterator itself), so a step that must read the data
    twice can still tell."""

    def __init__(self, data: Iterable[Mapping[str, Any]], limit: int = BIAS_CORRECTION_SAMPLES):
        self.data, self.limit = data, limit
        self.samples: list[Mapping[str, Any]] = []
        try:
            self.one_shot = iter(data) is data
        except TypeError:
            self.one_shot = False
        self._reading: Iterator[Mapping[str, Any]] | None = None

    def __length_hint__(self) -> int:
        return operator.length_hint(self.data, 0)

    def _read(self) -> Iterator[Mapping[str, Any]]:
        self.samples = []
        for sample in self.data:
            if len(self.samples) < self.limit:
                self.samples.append(sample)
            yield sample

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        if not self.one_shot:
            return self._read()
        return self

    def __next__(self) -> Mapping[str, Any]:
        if self._reading is None:
            self._reading = self._read()
        return next(self._reading)


def recorder_for(data: Any, limit: int = BIAS_CORRECTION_SAMPLES) -> SampleRecorder | None:
    """A recorder for `data`, or None when `data` is not a sequence of samples
    at all (a single dict, a non-iterable: the calibration step reports it)."""
    if isinstance(data, Mapping):
        return None
    try:
        iter(data)
    except TypeError:
        return None
    return SampleRecorder(data, limit)


# -- the estimate ------------------------------------------------------------------------

Estimator = Callable[[np.ndarray], np.ndarray]
"""Per-sample errors (samples x channels) -> the correction of each channel."""


def shrunk_mean(errors: np.ndarray) -> np.ndarray:
    """The per-channel mean of `errors` (samples x channels), shrunk toward 0 by
    how reliable it is: mean * max(0, 1 - se**2 / mean**2), se the standard
    error of the mean over the samples (std with ddof=1 / sqrt(n)).

    Why. A layer's error has a mean (the bias to correct) and a part that
    varies from sample to sample. A mean measured on n samples carries
    noise of variance se**2 that, added to the bias, raises the error on other
    samples; where the mean is small against se (layers seeing one value per
    sample: squeeze-and-excitation convs after a global pool, a classifier)
    the full correction does more harm than good. Of the corrections k * mean,
    k = mu**2 / (mu**2 + se**2) minimises the expected squared error left
    (mu the true mean); with mu**2 estimated by mean**2 - se**2 this is the
    positive-part James-Stein factor above. The standard error comes from
    per-sample means, not from every output position, because positions of
    one sample are correlated.

    With fewer than 2 samples there is nothing to judge reliability by: the
    mean, unshrunk."""
    errors = np.asarray(errors, dtype=np.float64)
    samples = errors.shape[0]
    if samples < 2:
        return errors.mean(axis=0)
    # the factor is scale-free: computed on errors scaled to at most 1 per channel,
    # so that squares of tiny (or huge) errors do not underflow (overflow)
    scale = np.abs(errors).max(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    scaled = errors / scale
    mean = scaled.mean(axis=0)
    squared_se = scaled.var(axis=0, ddof=1) / samples
    squared_mean = mean**2
    relative = np.divide(squared_se, squared_mean, out=np.full_like(mean, np.inf), where=squared_mean > 0)
    return mean * np.clip(1 - relative, 0, 1) * scale


def reliable_correction(errors: np.ndarray) -> np.ndarray:
    """`shrunk_mean` of `errors` (samples x channels) where a held-out check
    inside the data says it helps, else no correction (zeros): leave-one-out,
    each sample's errors corrected by the shrunk mean of the other samples;
    the layer keeps its correction only if that lowers the sum of squared
    errors over the left-out samples (below the uncorrected sum).

    Why this check is the right one: adding c to a channel changes that
    channel's squared output error of a sample by P ((e - c)**2 - e**2), P
    positions and e the sample's mean error, so the left-out sum measures the
    change of the layer's output error on samples the correction was not
    measured on. The decision is per layer (summed over its channels), so it
    rests on more than one channel's few numbers. Fewer than 3 samples leave
    too little to hold out: `shrunk_mean` as it is."""
    errors = np.asarray(errors, dtype=np.float64)
    correction = shrunk_mean(errors)
    samples = errors.shape[0]
    if samples < 3:
        return correction
    held_out = sum(
        float(np.sum((errors[i] - shrunk_mean(np.delete(errors, i, axis=0))) ** 2)) for i in range(samples)
    )
    return correction if held_out < float(np.sum(errors**2)) else np.zeros_like(correction)


# -- the layers -------------------------------------------------------------------------


def _detached_kernel(op: Operation):
    """The runtime kernel of `op`, an op built only for it (then erased)."""
    try:
        return KERNELS[type(op)](op)
    finally:
        op.erase()


def _float_pre_activation_kernel(float_op: ops.Conv2DOp | ops.DenseOp):
    """The float layer's kernel without its fused activation."""
    clone = float_op.clone()
    clone.properties.pop("act_min", None)
    clone.properties.pop("act_max", None)
    return _detached_kernel(clone)


def _accumulator_kernel(op: QuantizedGemmOp):
    """A kernel giving the accumulator A = P + B of `op` (int32): the op with a
    shift-0 sima requantization to int32 and no relu."""
    output = op.output.type.element_type
    assert isinstance(output, QuantizedType)
    as_int32 = QuantizedType(IntegerType(32), output.scale_value, 0)
    identity = ArithFoldedRequantization(np.zeros(1, dtype=np.int64))
    shift = op.intrinsic_shift_values()
    if isinstance(op, QConv2DOp):
        variant = QConv2DOp(
            op.input, op.weight, op.bias, identity, shift, as_int32,
            strides=op.strides.get_values(), pads=op.pads.get_values(),
            dilations=op.dilations.get_values(), groups=op.groups.value.data,
        )  # fmt: skip
    else:
        variant = QDenseOp(op.input, op.weight, op.bias, identity, shift, as_int32)
    return _detached_kernel(variant)


def _constant(value: SSAValue | None) -> np.ndarray | None:
    if value is None or not isinstance(value.owner, ops.ConstantOp):
        return None
    return builders.constant_array(value.owner)


def _channel_means(values: np.ndarray) -> np.ndarray:
    return values.reshape(-1, values.shape[-1]).mean(axis=0, dtype=np.float64)


def window_sums(inputs: GemmInputs, x: np.ndarray, pad_value: float | int = 0) -> tuple[np.ndarray, int]:
    """The sum, over every output position of `x` [N, H, W, C] (a dense: every row of
    [..., K]), of the input row the weight multiplies there: [G, K] (K as the weight's
    flattened HWI axes per group; `x` padded with `pad_value`), and the positions' count.
    Integers are summed in int64 (exact), floats in float64. A conv / dense is linear in
    its input rows, so its mean output is these sums times the weight over the count
    (`mean_output`): KH*KW sums of the input instead of the whole convolution."""
    dtype = np.int64 if np.issubdtype(x.dtype, np.integer) else np.float64
    if inputs.kernel is None:
        flat = x.reshape(-1, x.shape[-1])
        return flat.sum(axis=0, dtype=dtype)[None], flat.shape[0]
    n, h, w, c = x.shape
    (kh, kw), (sh, sw), (dh, dw) = inputs.kernel, inputs.strides[:2], inputs.dilations[:2]
    out_h = output_size(h, kh, sh, inputs.pads[0] + inputs.pads[2], dh)
    out_w = output_size(w, kw, sw, inputs.pads[1] + inputs.pads[3], dw)
    padded = pad_spatial(x, inputs.pads, x.dtype.type(pad_value))
    sums = np.empty((kh, kw, c), dtype=dtype)
    for i in range(kh):
        for j in range(kw):
            tap = padded[:, i * dh : i * dh + (out_h - 1) * sh + 1 : sh, j * dw : j * dw + (out_w - 1) * sw + 1 : sw]
            sums[i, j] = tap.sum(axis=(0, 1, 2), dtype=dtype)
    grouped = sums.reshape(kh, kw, inputs.groups, c // inputs.groups).transpose(2, 0, 1, 3)
    return grouped.reshape(inputs.groups, -1), n * out_h * out_w


def mean_output(inputs: GemmInputs, sums: np.ndarray, count: int, weight: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """The per-channel mean of a conv / dense output [C] (float64) from `window_sums`:
    (sums . W) / count + bias. With integer sums, weight and bias the total is summed
    exactly in int64 before the one division, as a float64 mean of the integer outputs."""
    integer = np.issubdtype(sums.dtype, np.integer)
    grouped = inputs.group_weight(np.asarray(weight, dtype=np.int64 if integer else np.float64))  # [G, K, C/G]
    total = (sums[:, None, :] @ grouped).reshape(-1)
    if bias is None:
        return total / count
    if integer:
        return (total + count * np.asarray(bias, dtype=np.int64)) / count
    return total / count + np.asarray(bias, dtype=np.float64)


@dataclass(eq=False)
class _Layer:
    """One quantized conv / dense and what measuring its error needs."""

    op: QuantizedGemmOp
    float_input: SSAValue  # the float layer's input, in the float module
    float_kernel: Any
    float_operands: list[np.ndarray | None]  # weight, bias
    accumulator_kernel: Any
    unit: np.ndarray
    offset: np.ndarray
    float_means: list[np.ndarray] = field(default_factory=list)  # one per sample

    @property
    def name(self) -> str:
        return self.op.node_name

    @property
    def inputs(self) -> GemmInputs:
        return GemmInputs.of(self.op)

    def add_float(self, x: np.ndarray) -> None:
        """Add one sample's per-channel mean float pre-activation output (from the float input `x`):
        the layer is linear, so from its window sums (`mean_output`; float rounding aside, the
        mean of the float kernel's output)."""
        inputs = self.inputs
        sums, count = window_sums(inputs, np.asarray(x, dtype=np.float32))
        self.float_means.append(mean_output(inputs, sums, count, *self.float_operands))

    def quantized_mean(self, x_quantized: np.ndarray, bias: np.ndarray) -> np.ndarray:
        """One sample's per-channel mean quantized pre-activation output (real units) for the integer input.
        An int8 input's accumulator is linear in it (A = sum Qa Qw + B, padding with the input's
        zero point): the exact mean from its window sums; an int16 input's product has an
        intrinsic shift (a floor per position): the accumulator kernel."""
        weight = _constant(self.op.weight)
        if x_quantized.dtype == np.int8:
            inputs = self.inputs
            zero_point = self.op.input.type.element_type.zero_point_value
            sums, count = window_sums(inputs, x_quantized, zero_point)
            return (mean_output(inputs, sums, count, weight, bias) - self.offset) * self.unit
        accumulator = self.accumulator_kernel(x_quantized, weight, bias)
        return (_channel_means(accumulator) - self.offset) * self.unit

    def quantize_input(self, x: np.ndarray) -> np.ndarray:
        element = self.op.input.type.element_type
        return quantize(x, element.scale_value, element.zero_point_value, element.bits)


def _layers(quantized: ModuleOp, float_module: ModuleOp) -> list[_Layer]:
    """The layers to correct, in the quantized function's order."""
    float_ops = {
        op.node_name: op
        for op in find_function(float_module).walk()
        if isinstance(op, ops.Conv2DOp | ops.DenseOp) and op.node_name
    }
    layers = []
    for op in find_function(quantized).walk():
        if not isinstance(op, CORRECTED_OPS) or not op.node_name or op.node_name not in float_ops:
            continue
        float_op = float_ops[op.node_name]
        weight, bias = _constant(float_op.weight), _constant(float_op.bias)
        if weight is None or (float_op.bias is not None and bias is None):
            continue
        if _constant(op.weight) is None or _constant(op.bias) is None:
            continue
        layers.append(
            _Layer(
                op=op,
                float_input=float_op.input,
                float_kernel=_float_pre_activation_kernel(float_op),
                float_operands=[weight, bias],
                accumulator_kernel=_accumulator_kernel(op),
                unit=accumulator_unit(op),
                offset=accumulator_offset(op).astype(np.float64),
            )
        )
    return layers


# -- measuring --------------------------------------------------------------------------


def _float_pass(
    float_module: ModuleOp,
    layers: list[_Layer],
    samples: Iterable[Mapping[str, Any]],
    regular: bool,
    progress: bool | None,
    progress_file: TextIO | None,
    outputs: Sequence[SSAValue] = (),
) -> tuple[list[dict[str, np.ndarray]], dict[_Layer, list[np.ndarray]], list[list[np.ndarray]]]:
    """Stream the samples through the float module: every layer's float means,
    and with `regular` its quantized means on the float inputs. Returns the
    checked samples, the quantized means (one per sample) and, per sample, the
    values of `outputs` (float values of `float_module`)."""
    interpreter, offset = tapped_interpreter(float_module, [*outputs, *(layer.float_input for layer in layers)])
    specs = dict(zip(interpreter.input_names, interpreter.input_types))
    quantized_means: dict[_Layer, list[np.ndarray]] = {layer: [] for layer in layers}
    checked, output_values = [], []
    for sample in iterate_calibration_samples(
        samples, specs, what="bias correction", progress=progress, progress_file=progress_file
    ):
        checked.append(sample)
        taps = interpreter.run(sample)[offset:]
        output_values.append([np.asarray(v, dtype=np.float64) for v in taps[: len(outputs)]])
        taps = taps[len(outputs) :]
        with np.errstate(all="ignore"):
            for layer, x in zip(layers, taps):
                layer.add_float(x)
                if regular:
                    bias = _constant(layer.op.bias)
                    quantized_means[layer].append(layer.quantized_mean(layer.quantize_input(x), bias))
    return checked, quantized_means, output_values


def _errors(layer: _Layer, quantized_means: list[np.ndarray]) -> np.ndarray:
    """The layer's per-sample, per-channel mean errors (samples x channels)."""
    return np.stack(layer.float_means) - np.stack(quantized_means)


def run_layer_by_layer(
    quantized: ModuleOp,
    samples: Sequence[Mapping[str, Any]],
    layers: list[_Layer],
    estimate: Estimator = reliable_correction,
) -> tuple[dict[_Layer, np.ndarray], list[list[np.ndarray]]]:
    """Run the quantized function op by op over all `samples` at once; before each
    layer runs, measure its errors on the inputs the (corrected) prefix produced,
    and run it with the bias corrected by `estimate` of them. Returns each
    layer's errors (samples x channels, before its correction) and each sample's
    outputs (those of the corrected network)."""
    by_op = {layer.op: layer for layer in layers}
    errors: dict[_Layer, np.ndarray] = {}

    def correct(op: Operation, inputs: list[np.ndarray], constants: dict[SSAValue, np.ndarray]) -> None:
        layer = by_op[op]
        bias = constants[op.bias]
        errors[layer] = _errors(layer, [layer.quantized_mean(x, bias) for x in inputs])
        constants[op.bias] = corrected_bias(op, estimate(errors[layer]))[0]

    outputs = walk_layers(quantized, samples, set(by_op), correct)
    return errors, outputs


@one_blas_thread()
def bias_corrected_module(
    quantized: ModuleOp,
    float_module: ModuleOp,
    samples: Iterable[Mapping[str, Any]],
    kind: BiasCorrectionType,
    *,
    estimate: Estimator = reliable_correction,
    progress: bool | None = None,
    progress_file: TextIO | None = None,
    check: bool = True,
) -> ModuleOp:
    """A copy of `quantized` with the biases of its conv / dense layers corrected
    (`kind` REGULAR or ITERATIVE) on `samples` ({input name: array}, read once),
    against `float_module`, the float module it was quantized from (same node
    names); each layer's correction is `estimate` of its measured errors.

    With `check` the corrections are decided on held-out calibration samples
    (`choose_corrections`; the module's documentation says how): the result is
    `quantized` itself when no correction is kept, and the log (INFO) says
    what was kept and on what evidence."""
    if kind is BiasCorrectionType.NONE:
        return quantized
    clone = quantized.clone()
    iterative = kind is BiasCorrectionType.ITERATIVE
    # regular's errors are a candidate of the check even for iterative
    regular = _measure_regular(
        clone, float_module, samples, estimate, progress, progress_file, outputs=check, quantized_means=check or not iterative
    )
    if not regular.layers:
        return quantized
    if check and len(regular.samples) < HELD_OUT_FOLDS:
        _log.warning(
            "bias correction: %d calibration sample(s) are too few to check the corrections on held-out samples "
            "(%d needed); they are applied unchecked",
            len(regular.samples),
            HELD_OUT_FOLDS,
        )
        check = False
    if not check:
        measurement = _iterative_measurement(regular) if iterative else regular
        return with_corrections(quantized, measurement.corrections(estimate))
    corrections = choose_corrections(clone, float_module, regular, iterative)
    return with_corrections(quantized, corrections) if corrections else quantized


def with_corrections(quantized: ModuleOp, corrections: Mapping[str, np.ndarray]) -> ModuleOp:
    """A copy of `quantized` whose conv / dense layers named in `corrections`
    (node name -> one real number per output channel) have them folded into their biases."""
    corrected = quantized.clone()
    for op in find_function(corrected).walk():
        if isinstance(op, CORRECTED_OPS) and op.node_name in corrections:
            record_correction(op, corrections[op.node_name])
    BiasCorrectionPass().apply(sima_context(), corrected)
    return corrected


@one_blas_thread()
def measure_channel_errors(
    quantized: ModuleOp,
    float_module: ModuleOp,
    samples: Iterable[Mapping[str, Any]],
    kind: BiasCorrectionType,
    *,
    estimate: Estimator = reliable_correction,
    progress: bool | None = None,
) -> dict[str, np.ndarray]:
    """Node name -> the errors `kind` bias correction measures at that layer of
    `quantized` on `samples` (samples x output channels: each sample's mean of
    float - quantized pre-activation output, real units); for ITERATIVE each
    layer's are measured after the layers before it were corrected with
    `estimate`. `quantized` itself is not changed."""
    measured = _measure(quantized.clone(), float_module, samples, kind, estimate, progress, None)
    return {layer.name: errors for layer, errors in measured.errors.items()}


# -- the output-level check ---------------------------------------------------------------------

SIGNIFICANCE = 0.05
"""A correction is kept only if a gain as large as the one measured on held-out
calibration samples would arise by chance with at most this probability
(one-sided sign-flip test, `gain_p_value`)."""

_SIGN_FLIPS = 20000  # random sign flips of the test (exact when 2**samples is fewer)


@dataclass(frozen=True)
class _ComparedOutput:
    """One output the check compares: the float value, its quantized counterpart,
    and the float function the model's output applies to them (identity, or the
    final softmax / sigmoid)."""

    float_value: SSAValue
    quantized_value: SSAValue
    reader: Callable[[np.ndarray], np.ndarray] | None = None

    def read(self, values: np.ndarray) -> np.ndarray:
        return values if self.reader is None else np.asarray(self.reader(values), dtype=np.float64)


def _compared(float_module: ModuleOp, quantized: ModuleOp) -> list[_ComparedOutput]:
    by_name: dict[str, Operation] = {}
    for op in find_function(quantized).walk():
        name = getattr(op, "node_name", None)
        if name and len(op.results) == 1:
            by_name.setdefault(name, op)
    float_returned = find_function(float_module).get_return_op().operands
    quantized_returned = find_function(quantized).get_return_op().operands
    compared = []
    for value, returned in zip(float_returned, quantized_returned, strict=True):
        producer = value.owner
        if isinstance(producer, ops.SoftmaxOp | ops.SigmoidOp):
            scores = producer.input
            counterpart = by_name.get(getattr(scores.owner, "node_name", None) or "")
            if counterpart is not None and counterpart.results[0].type.get_shape() == scores.type.get_shape():
                reader = KERNELS[type(producer)](producer)
                compared.append(_ComparedOutput(scores, counterpart.results[0], lambda x, k=reader: k(x.astype(np.float32))))
                continue
        compared.append(_ComparedOutput(value, returned))
    return compared


def compared_outputs(float_module: ModuleOp, quantized: ModuleOp) -> list[tuple[SSAValue, SSAValue]]:
    """The (float, quantized) value pairs the output check reads, one per
    returned value of the float function: the returned value itself, or, where
    it is a softmax / sigmoid of scores, those scores, which the check then
    passes through the float softmax / sigmoid on both sides. So the check
    measures the error of the model's output as the corrections change it (the
    scores), without the output's own int8 rounding, which no bias correction
    changes and which would only add noise to the comparison. The quantized
    counterpart of the scores is the result of the op of the same node name in
    `quantized`; without one, the quantized function's returned value at the
    same position (compared as it is)."""
    return [(c.float_value, c.quantized_value) for c in _compared(float_module, quantized)]


def _quantized_outputs(module: ModuleOp, float_module: ModuleOp, samples: Sequence[Mapping[str, Any]]) -> list[list[np.ndarray]]:
    """Per sample, `module`'s side of `compared_outputs` as the output reads it (real values)."""
    compared = _compared(float_module, module)
    taps = [c.quantized_value for c in compared]
    interpreter, offset = tapped_interpreter(module, taps)
    results = []
    with np.errstate(all="ignore"):
        for sample in samples:
            values = interpreter.run(sample)[offset:]
            results.append([c.read(_real(v, tap)) for v, tap, c in zip(values, taps, compared)])
    return results


def _real(array: np.ndarray, value: SSAValue) -> np.ndarray:
    element = value.type.element_type
    if isinstance(element, QuantizedType):
        return dequantize(array, element.scale_value, element.zero_point_value).astype(np.float64)
    return np.asarray(array, dtype=np.float64)


def sample_output_errors(reference: list[list[np.ndarray]], values: list[list[np.ndarray]], signal: Sequence[float]) -> np.ndarray:
    """Per sample, the squared error of `values` against `reference` (samples x
    outputs), each output's divided by its `signal` (so that outputs of
    different scales weigh alike): summed over samples, the inverse of the SQNR
    (one output)."""
    return np.array(
        [
            sum(float(np.sum((v - r) ** 2)) / signal[o] for o, (r, v) in enumerate(zip(sample_r, sample_v)))
            for sample_r, sample_v in zip(reference, values)
        ]
    )


def gain_p_value(baseline: np.ndarray, candidate: np.ndarray) -> float:
    """How likely a mean gain (baseline - candidate, per held-out sample) at
    least as large as the one observed is under the hypothesis that the
    candidate is no better: a one-sided paired sign-flip (permutation) test,
    which assumes nothing of the errors' distribution but symmetry under that
    hypothesis. It is the mean that is tested because the SQNR is a sum over
    samples; a gain made by one or two samples (a near tie of a softmax) is
    not significant, however large. With fixed random flips, so it is
    repeatable."""
    gain = np.asarray(baseline, dtype=np.float64) - np.asarray(candidate, dtype=np.float64)
    if gain.size < 2 or not np.any(gain):
        return 1.0
    result = scipy.stats.permutation_test(
        (gain,), np.mean, permutation_type="samples", alternative="greater",
        vectorized=True, n_resamples=_SIGN_FLIPS, random_state=0,
    )  # fmt: skip
    return float(result.pvalue)


class HeldOutJudge:
    """The output error of corrections on calibration samples they were not
    measured on: the samples fall in `HELD_OUT_FOLDS` folds (every
    `HELD_OUT_FOLDS`-th sample); each fold's corrections are measured, by the
    method of the measurement given, on the other folds' samples only, and the
    fold's outputs are compared with the float ones (`sample_output_errors`).
    `plain` is the uncorrected network's per-sample error."""

    def __init__(self, quantized: ModuleOp, float_module: ModuleOp, measurement: _Measurement):
        self.quantized, self.float_module = quantized, float_module
        self.samples = measurement.samples
        self.reference = measurement.float_outputs
        outputs = len(self.reference[0])
        tiny = np.finfo(np.float64).tiny
        self.signal = [max(sum(float(np.sum(values[o] ** 2)) for values in self.reference), tiny) for o in range(outputs)]
        self.plain = sample_output_errors(self.reference, _quantized_outputs(quantized, float_module, self.samples), self.signal)

    def folds(self) -> list[list[int]]:
        return [list(range(first, len(self.samples), HELD_OUT_FOLDS)) for first in range(HELD_OUT_FOLDS)]

    def errors(self, measurement: _Measurement) -> np.ndarray:
        """Per sample, the output error with the corrections `measurement`'s method makes without that sample's fold."""
        errors = np.empty(len(self.samples))
        for held in self.folds():
            fit = [i for i in range(len(self.samples)) if i not in held]
            corrected = with_corrections(self.quantized, measurement.subset(fit).corrections(measurement.estimate))
            values = _quantized_outputs(corrected, self.float_module, [self.samples[i] for i in held])
            errors[held] = sample_output_errors([self.reference[i] for i in held], values, self.signal)
        return errors


def preferred_candidate(plain: np.ndarray, candidates: Sequence[np.ndarray]) -> tuple[int | None, list[float]]:
    """Which of the `candidates` (per held-out sample output errors, in order)
    to keep, None for none (`plain`'s errors), and each candidate's p-value:
    going through them in order, a candidate replaces the current choice
    (first: no correction) only if it lowers the held-out error significantly
    against it (`gain_p_value` below `SIGNIFICANCE`). So a later candidate is
    kept only where the evidence prefers it to what came before, and the
    choice's summed error is never above that of the choice without the later
    candidates."""
    chosen, chosen_errors, p_values = None, plain, []
    for index, errors in enumerate(candidates):
        p_values.append(gain_p_value(chosen_errors, errors))
        if p_values[-1] < SIGNIFICANCE:
            chosen, chosen_errors = index, errors
    return chosen, p_values


def choose_corrections(quantized: ModuleOp, float_module: ModuleOp, regular: _Measurement, iterative: bool) -> dict[str, np.ndarray]:
    """The corrections to apply (node name -> per-channel corrections; empty:
    none), decided on held-out calibration samples (`HeldOutJudge`) by
    `preferred_candidate` among: the regular corrections (`regular`, measured
    with the float outputs) and, if `iterative`, then the iterative ones made
    from the same samples. So regular corrections are kept only if they lower
    the held-out output error significantly; iterative's replace that choice
    (regular's, or none) only if they lower it significantly further: on the
    calibration evidence iterative is never worse than regular.

    `quantized` is the module `regular`'s layers belong to."""
    judge = HeldOutJudge(quantized, float_module, regular)
    measurements = [regular] + ([_iterative_measurement(regular)] if iterative else [])
    names = ["regular", "iterative"]
    errors = [judge.errors(measurement) for measurement in measurements]
    chosen, p_values = preferred_candidate(judge.plain, errors)
    _log.info(
        "bias correction: held-out output error (relative squared error, %d calibration samples): none %.4g, %s; "
        "kept: %s (a candidate replaces the one before only where p < %g)",
        len(judge.plain), judge.plain.sum(),
        ", ".join(f"{name} {e.sum():.4g} (p = {p:.3g})" for name, e, p in zip(names, errors, p_values)),
        "none" if chosen is None else names[chosen], SIGNIFICANCE,
    )  # fmt: skip
    if chosen is None:
        return {}
    return measurements[chosen].corrections(measurements[chosen].estimate)


# -- measuring, all together -----------------------------------------------------------------


@dataclass(eq=False)
class _Measurement:
    """What bias correction measured on the calibration samples."""

    quantized: ModuleOp  # the module the layers' ops belong to
    layers: list[_Layer]
    samples: list[Mapping[str, Any]]
    errors: dict[_Layer, np.ndarray]  # samples x channels, before each layer's correction
    float_outputs: list[list[np.ndarray]]  # per sample, the float side of compared_outputs as read (if asked)
    iterative: bool
    estimate: Estimator

    def corrections(self, estimate: Estimator) -> dict[str, np.ndarray]:
        return {layer.name: estimate(errors) for layer, errors in self.errors.items()}

    def subset(self, rows: list[int]) -> _Measurement:
        """The measurement the same method makes on the samples `rows` only."""
        samples = [self.samples[i] for i in rows]
        outputs = [self.float_outputs[i] for i in rows] if self.float_outputs else []
        if not self.iterative:  # each layer on float inputs: its rows are its errors on those samples
            errors = {layer: errors[rows] for layer, errors in self.errors.items()}
            return replace(self, samples=samples, errors=errors, float_outputs=outputs)
        layers = [replace(layer, float_means=[layer.float_means[i] for i in rows]) for layer in self.layers]
        errors, _ = run_layer_by_layer(self.quantized, samples, layers, self.estimate)
        return replace(self, layers=layers, samples=samples, errors=errors, float_outputs=outputs)


def _measure_regular(
    quantized: ModuleOp,
    float_module: ModuleOp,
    samples: Iterable[Mapping[str, Any]],
    estimate: Estimator,
    progress: bool | None,
    progress_file: TextIO | None,
    *,
    outputs: bool = False,
    quantized_means: bool = True,
) -> _Measurement:
    """Every layer's float means on `samples` and (with `quantized_means`) its
    regular errors; with `outputs`, also the float side of `compared_outputs`
    per sample, as the output reads it."""
    layers = _layers(quantized, float_module)
    if not layers:
        return _Measurement(quantized, [], [], {}, [], False, estimate)
    compared = _compared(float_module, quantized) if outputs else []
    checked, means, float_outputs = _float_pass(
        float_module, layers, samples, quantized_means, progress, progress_file, [c.float_value for c in compared]
    )
    read = [[c.read(v) for c, v in zip(compared, values)] for values in float_outputs] if outputs else []
    errors = {layer: _errors(layer, means[layer]) for layer in layers} if quantized_means else {}
    return _Measurement(quantized, layers, checked, errors, read, False, estimate)


def _iterative_measurement(measurement: _Measurement) -> _Measurement:
    """The iterative measurement on the samples and float means of `measurement`."""
    errors, _ = run_layer_by_layer(measurement.quantized, measurement.samples, measurement.layers, measurement.estimate)
    return replace(measurement, errors=errors, iterative=True)


def _measure(
    quantized: ModuleOp,
    float_module: ModuleOp,
    samples: Iterable[Mapping[str, Any]],
    kind: BiasCorrectionType,
    estimate: Estimator,
    progress: bool | None,
    progress_file: TextIO | None,
    *,
    outputs: bool = False,
) -> _Measurement:
    """Measure every layer's errors (`kind`) on `samples`; with `outputs`, also
    keep the float side of `compared_outputs` per sample."""
    regular = kind is BiasCorrectionType.REGULAR
    measured = _measure_regular(
        quantized, float_module, samples, estimate, progress, progress_file, outputs=outputs, quantized_means=regular
    )
    if regular or not measured.layers:
        return measured
    return _iterative_measurement(measured)


__all__ = [
    "BIAS_CORRECTION_SAMPLES",
    "SampleRecorder",
    "HELD_OUT_FOLDS",
    "SIGNIFICANCE",
    "HeldOutJudge",
    "bias_corrected_module",
    "choose_corrections",
    "compared_outputs",
    "gain_p_value",
    "preferred_candidate",
    "measure_channel_errors",
    "reliable_correction",
    "sample_output_errors",
    "shrunk_mean",
    "recorder_for",
    "run_layer_by_layer",
    "with_corrections",
]
