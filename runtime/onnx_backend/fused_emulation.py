"""fast mode's float emulation in fewer passes: convs rounded by a Cast, scales folded, reorders dropped.

    FusedProgram(fast_interpreter, threads=1)   # an OnnxProgram with FUSED_EMULATION

The float emulation (`emulate.py`) rounds every MLA tensor with a QuantizeLinear /
DequantizeLinear pair (scale 1: the centred integers c) and then, for most table
and elementwise ops, multiplies c by a constant (a table's input step, the factor
of a qmul or qadd). Around each Conv, onnxruntime moves the tensor out of its
blocked NCHWc layout and back for those ops. Profiled on cls (one thread): the
rounding pairs, the Muls and the reorders took about 70% of its time, the Convs 20%.
Here, with the same values up to where each rounding's float32 arithmetic differs:

- qconv2d: Conv with its output clipped (a Clip onnxruntime fuses into the Conv)
  and rounded by a Cast to an unsigned type (`lower_qconv2d`: sima's half-up
  rounding exactly, in ~0.6 the time of QuantizeLinear);
- hard_swish tables: one HardSwish of the real value s * c (`lower_lut`; the
  float emulation reads it as c * HardSigmoid(c), the step applied after);
- every segment's model: a Mul of a DequantizeLinear's result by a scalar becomes
  that DequantizeLinear's scale (`fold_scales`: bit for bit the same floats), and
  the elementwise ops between two blocked convolutions run on the blocked tensor
  (`blocked_layout.py`, checked bit for bit against the plain session).

Where it differs from the NumPy fast kernels, per op, is bounded in
`test/test_fast_mode_fused.py`; on the real models in `bench/bench_quantized_execute.py`
(f-sqnr). Every other op keeps the float emulation's form.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

import runtime.kernels  # noqa: F401  first: it completes runtime.integer_kernels' import cycle
from runtime.integer_arithmetic import ArithFoldedRequantization, TFLiteRequantization
from runtime.integer_kernels.boundary import quantized_element
from runtime.onnx_backend import emulate, table_functions
from runtime.onnx_backend.blocked_layout import blocked_session
from runtime.onnx_backend.graph import NCHW_TO_NHWC, NHWC_TO_NCHW, Fragment, onnx_type
from runtime.onnx_backend.lower import Operands, conv_attributes
from runtime.onnx_backend.program import OnnxProgram
from sima_dialect import quantized_ops as q


def lower_lut(op: q.LutOp, f: Fragment, operands: Operands) -> list[str]:
    """hard_swish: HardSwish(s c) (the Mul by s folds into the DequantizeLinear before it); else as `emulate`."""
    table = operands.constant(1)
    source, target = quantized_element(op.input), quantized_element(op.output)
    found = None if table is None else table_functions.recognize(table, source, target)
    if found is None or found.function.name != "hard_swish":
        return emulate.emulate_lut(op, f, operands)
    real = f.node("Mul", [operands.name(0), f.constant(np.float32(source.scale_value))])
    return [emulate._requantized(f, f.node("HardSwish", [real]), 1.0 / target.scale_value, target)]


def lower_qconv2d(op: q.QConv2DOp, f: Fragment, operands: Operands) -> list[str]:
    """Conv (+ Clip, fused by onnxruntime) -> Cast -> DequantizeLinear: the rounding of the conv's
    output in two light passes (Cast to an unsigned integer truncates; QuantizeLinear divides and
    saturates, measured ~1.6x the time of Cast on 200k values).

    The bias holds K + 1/2 more (K = -low, the centred range [low, high]), the Clip bounds the
    product to [low + K, high + K + 1/2] (low 0 under a fused relu), so truncating gives
    floor(v + 1/2) + K: sima's rounding, half up (tflite's, away from zero, differs on negative
    ties); DequantizeLinear (zero point K) leaves the centred integers. Exact where v + K + 1/2
    stays exact in float32 (int8: 2**-n resolution at 2**9, n <= 15)."""
    target = quantized_element(op.output)
    if target.bits not in (8, 16) or not isinstance(op.requantization(), ArithFoldedRequantization | TFLiteRequantization):
        return emulate.emulate_qconv2d(op, f, operands)
    w = operands.required_constant(1, "weight")
    bias = operands.required_constant(2, "bias")
    weights, offset = emulate._gemm_constants(op, w, bias, (0, 1, 2))
    low, high = emulate._centred_bounds(target)
    shift = -low  # K
    offset = (offset.astype(np.float64) - _tie_breaking(op, w.shape[-1]) + 0.5 + shift).astype(np.float32)
    product = f.node(
        "Conv",
        [f.transpose(operands.name(0), NHWC_TO_NCHW), f.constant(np.ascontiguousarray(weights.transpose(3, 2, 0, 1))), f.constant(offset)],
        **conv_attributes(op, w.shape),
    )
    bottom = (max(low, 0.0) if op.has_relu else low) + shift
    clipped = f.node("Clip", [product, f.constant(np.float32(bottom)), f.constant(np.float32(high + shift + 0.5))])
    unsigned = np.uint8 if target.bits == 8 else np.uint16
    stored = f.cast(clipped, onnx_type(np.dtype(unsigned)))
    centred = f.node("DequantizeLinear", [stored, f.constant(np.float32(1.0)), f.constant(unsigned(shift))])
    return [f.transpose(centred, NCHW_TO_NHWC)]


def _tie_breaking(op: q.QuantizedGemmOp, channels: int) -> np.ndarray:
    """The 2**-(n+1) `emulate._gemm_constants` adds to a sima product so that rounding it to nearest has no ties."""
    requantization = op.requantization()
    if not isinstance(requantization, ArithFoldedRequantization):
        return np.zeros(channels)
    shift = np.broadcast_to(np.asarray(requantization.shift, dtype=np.int64), (channels,))
    return np.where(shift > 0, np.ldexp(1.0, -shift - 1), 0.0)


class FusedFloatEmulation(emulate.FloatEmulation):
    """The float emulation with hard_swish in one op, convs rounded by a Cast, constant scales folded (`fold_scales`)."""

    lowerings = property(lambda self: {**emulate.FAST_LOWERINGS, q.LutOp: lower_lut, q.QConv2DOp: lower_qconv2d})
    # program.py: a channel-grouped int8 block lowered as one, as in the bit-exact sessions (merged_groups.py:
    # its values are the centred float32 this emulation holds too)
    merges_channel_groups = True


FUSED_EMULATION = FusedFloatEmulation()


def _scalar_float(initializers: dict[str, onnx.TensorProto], name: str) -> float | None:
    tensor = initializers.get(name)
    if tensor is None or int(np.prod(tensor.dims)) != 1 or tensor.data_type != onnx.TensorProto.FLOAT:
        return None
    return float(numpy_helper.to_array(tensor).reshape(()))


def fold_scales(model: onnx.ModelProto) -> int:
    """Fold each Mul of a DequantizeLinear's (scale 1, per tensor) result by a float32 scalar constant
    into that DequantizeLinear's scale, in place; returns how many were folded. Only where the
    DequantizeLinear's result (and each Transpose between it and the Mul) has that one reader, so
    no other reader sees the scaled values."""
    graph = model.graph
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    outputs = {value.name for value in graph.output}
    producer = {name: node for node in graph.node for name in node.output}
    readers: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            readers[name] = readers.get(name, 0) + 1
    removed, folded = [], 0
    for node in graph.node:
        if node.op_type != "Mul":
            continue
        for data_index, constant_index in ((0, 1), (1, 0)):
            factor = _scalar_float(initializers, node.input[constant_index])
            if factor is None:
                continue
            moves, source = [], producer.get(node.input[data_index])
            while source is not None and source.op_type == "Transpose" and readers.get(source.output[0]) == 1:
                moves.append(source)
                source = producer.get(source.input[0])
            alone = source is not None and readers.get(source.output[0]) == 1 and source.output[0] not in outputs
            if not alone or source.op_type != "DequantizeLinear" or len(source.input) < 2:
                continue
            if _scalar_float(initializers, source.input[1]) != 1.0:
                continue
            scale_name = f"{source.output[0]}_folded_scale"
            graph.initializer.append(numpy_helper.from_array(np.array(factor, dtype=np.float32), scale_name))
            initializers[scale_name] = graph.initializer[-1]
            source.input[1] = scale_name
            last = moves[0] if moves else source  # the Mul's operand: its producer now yields the scaled values
            last.output[0] = node.output[0]
            producer[node.output[0]] = last
            removed.append(node)
            folded += 1
            break
    for node in removed:
        graph.node.remove(node)
    return folded


class FusedProgram(OnnxProgram):
    """fast mode's OnnxProgram on `FUSED_EMULATION`: each segment's model through `fold_scales`, its
    session through `blocked_layout.blocked_session`."""

    def __init__(self, interpreter, *, threads: int | None = None, emulation: FusedFloatEmulation = FUSED_EMULATION):
        self.folded = 0  # Muls folded into DequantizeLinear scales, over all segments
        self.blocked_segments = 0  # segments whose elementwise chains run in the blocked layout
        super().__init__(interpreter, threads=threads, emulation=emulation)

    def _session(self, model: onnx.ModelProto):
        """The segment's session, scales folded, elementwise chains kept in the blocked layout
        (`blocked_layout`; the options are `OnnxProgram._session`'s for an emulation)."""
        self.folded += fold_scales(model)
        session, blocked = blocked_session(self._ort, model, self._options)
        self.blocked_segments += blocked
        return session


__all__ = ["FUSED_EMULATION", "FusedFloatEmulation", "FusedProgram", "fold_scales"]
