"""fast mode for programs with 16-bit values: their requantizations saturate but do not round.

    RelaxedProgram(fast_interpreter, threads=1)   # fast_program's choice for programs with a 16-bit value

A 16-bit value's rounding moves it by at most half a step, 2**-16 of its range:
where the int8 emulation must round as the model does to stay close to bit-exact
(the conv roundings before the hard_swish tables skipped: 18.4 dB from bit-exact and 88 %
top-1 agreement on orientation int8, 21.7 dB / 94 % on cls, 100 inputs, `bench/bench_fast_forms.py
--unrounded-tables 100`), the 16-bit roundings are below fast mode's bar by far. So the float form of
`fused_emulation.py` is kept with, for each 16-bit result:

- qconv2d: Conv (the rounding's tie-breaking 2**-(n+1) left out of the bias) and
  the Clip to its range (fused into the Conv by onnxruntime); no Cast rounding;
- every other requantization (`emulate._requantized`'s QuantizeLinear ->
  DequantizeLinear pair with a 16-bit zero point): a Mul by 1 / scale (none for
  scale 1) and the Clip to the centred range (`relax_roundings`);
- then, on each segment's model (`RelaxedProgram._session`, before onnxruntime's own
  fusions): chains of scalar Muls and Clips joined (`merge_scalar_chains`); scalar
  Muls folded into the Convs before or after them (`fold_into_convs`: the Conv +
  Clip then yields a table's real input, and the next Conv reads its real output);
  a conv's saturation moved after a HardSwish where that gives the same values
  (`saturate_after_hard_swish`), so that onnxruntime fuses the HardSwish into the
  Conv as fp32 does; Clips proven no-ops dropped (`drop_redundant_clips`).

Measured (`bench/bench_quantized_execute.py --threads 1`, CPU time / onnxruntime fp32,
int16 default_quantization, `fused_emulation` then this, back to back at load 6-7): cls
1.43 -> 1.07, det 1.42 -> 1.10, rec 1.25 -> 0.91, orientation 1.71 -> 1.23; fast vs
bit-exact output SQNR 69.6 -> 61.2, 57.3 -> 57.5, 39.2 -> 37.7, 78.6 -> 67.9 dB.

8-bit values keep their roundings (rec's int8 attention). Values stay centred in
steps of their quantization, now not integers: a table read with Gather (no float
function recognized) rounds its index first. The segments' outputs are rounded to
the IR's integers (`FloatEmulation.graph_output`). How far from bit-exact:
`test/test_fast_mode_relaxed.py`, `bench/bench_quantized_execute.py` (f-sqnr).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

import runtime.kernels  # noqa: F401  first: it completes runtime.integer_kernels' import cycle
from runtime.integer_arithmetic import ArithFoldedRequantization, TFLiteRequantization, integer_range
from runtime.integer_kernels.boundary import quantized_element
from runtime.onnx_backend import emulate, fused_emulation
from runtime.onnx_backend.graph import INT64, NCHW_TO_NHWC, NHWC_TO_NCHW, Fragment
from runtime.onnx_backend.lower import Operands, conv_attributes
from sima_dialect import quantized_ops as q

RELAXED_BITS = 16
"""The width whose requantizations this emulation does not round."""


def has_relaxed_values(function) -> bool:
    """Whether `function` has a 16-bit quantized value (the programs `RelaxedProgram` is for)."""
    return any(
        (element := emulate._quantized(value)) is not None and element.bits == RELAXED_BITS
        for op in function.walk() for value in (*op.operands, *op.results)
    )


def lower_qconv2d(op: q.QConv2DOp, f: Fragment, operands: Operands) -> list[str]:
    """A 16-bit result: Conv -> Clip to the centred range (onnxruntime fuses the Clip); else as `fused_emulation`."""
    target = quantized_element(op.output)
    if target.bits != RELAXED_BITS or not isinstance(op.requantization(), ArithFoldedRequantization | TFLiteRequantization):
        return fused_emulation.lower_qconv2d(op, f, operands)
    w = operands.required_constant(1, "weight")
    bias = operands.required_constant(2, "bias")
    weights, offset = emulate._gemm_constants(op, w, bias, (0, 1, 2))
    offset = (offset.astype(np.float64) - fused_emulation._tie_breaking(op, w.shape[-1])).astype(np.float32)
    product = f.node(
        "Conv",
        [f.transpose(operands.name(0), NHWC_TO_NCHW), f.constant(np.ascontiguousarray(weights.transpose(3, 2, 0, 1))), f.constant(offset)],
        **conv_attributes(op, w.shape),
    )
    low, high = emulate._centred_bounds(target)
    bottom = max(low, 0.0) if op.has_relu else low
    clipped = f.node("Clip", [product, f.constant(np.float32(bottom)), f.constant(np.float32(high))])
    return [f.transpose(clipped, NCHW_TO_NHWC)]


class RelaxedFloatEmulation(fused_emulation.FusedFloatEmulation):
    """`FUSED_EMULATION` with 16-bit qconv2d results clipped, not rounded (the other 16-bit
    requantizations are relaxed in the segment's model: `relax_roundings`)."""

    lowerings = property(lambda self: {**fused_emulation.FUSED_EMULATION.lowerings, q.QConv2DOp: lower_qconv2d})


RELAXED_EMULATION = RelaxedFloatEmulation()


# ---------------------------------------------------------------------------
# edits of a segment's model


class _Graph:
    """Producers, readers and initializers of a model's graph, for the edits below."""

    def __init__(self, model: onnx.ModelProto):
        self.graph = model.graph
        self.initializers = {tensor.name: tensor for tensor in self.graph.initializer}
        self.outputs = {value.name for value in self.graph.output}
        self.producer = {name: node for node in self.graph.node for name in node.output}
        self.readers: dict[str, list[onnx.NodeProto]] = {}
        for node in self.graph.node:
            for name in node.input:
                self.readers.setdefault(name, []).append(node)

    def array(self, name: str) -> np.ndarray | None:
        tensor = self.initializers.get(name)
        return None if tensor is None else numpy_helper.to_array(tensor)

    def only_reader(self, name: str, node) -> bool:
        return name not in self.outputs and self.readers.get(name, []) == [node]

    def add_constant(self, stem: str, value: np.ndarray) -> str:
        name = f"{stem}_relaxed_{len(self.graph.initializer)}"
        self.graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        self.initializers[name] = self.graph.initializer[-1]
        return name


def relax_roundings(model: onnx.ModelProto) -> int:
    """Each QuantizeLinear (scale a, 16-bit zero point z) read only by a DequantizeLinear (scale 1,
    the same z) becomes Mul(x, 1 / a) (none for a = 1) -> Clip to [low - z, high - z]: the pair's
    value without its rounding. Each Cast to int64 (a Gather's index) rounds its input first.
    In place; returns how many pairs were relaxed."""
    g = _Graph(model)
    pairs = {}  # id(DequantizeLinear) -> its QuantizeLinear
    for node in g.graph.node:
        quantize = g.producer.get(node.input[0]) if node.op_type == "DequantizeLinear" and len(node.input) == 3 else None
        if quantize is None or quantize.op_type != "QuantizeLinear" or len(quantize.input) != 3 or not g.only_reader(quantize.output[0], node):
            continue
        zero, scale = g.array(quantize.input[2]), g.array(quantize.input[1])
        back_zero, back_scale = g.array(node.input[2]), g.array(node.input[1])
        if any(a is None or a.size != 1 for a in (zero, scale, back_zero, back_scale)) or zero.dtype != np.int16:
            continue
        if back_zero.dtype == zero.dtype and back_zero.reshape(()) == zero.reshape(()) and float(back_scale.reshape(())) == 1.0:
            pairs[id(node)] = quantize
    quantizes = {id(quantize) for quantize in pairs.values()}
    low, high = integer_range(RELAXED_BITS)
    rebuilt: list[onnx.NodeProto] = []
    for node in g.graph.node:
        if id(node) in quantizes:
            continue
        if id(node) in pairs:
            quantize = pairs[id(node)]
            z, a = int(g.array(quantize.input[2]).reshape(())), float(g.array(quantize.input[1]).reshape(()))
            value = quantize.input[0]
            if a != 1.0:
                scaled = f"{node.output[0]}_scaled"
                rebuilt.append(helper.make_node("Mul", [value, g.add_constant("factor", np.float32(1.0 / a))], [scaled], name=scaled))
                value = scaled
            bounds = [g.add_constant("low", np.float32(low - z)), g.add_constant("high", np.float32(high - z))]
            rebuilt.append(helper.make_node("Clip", [value, *bounds], [node.output[0]], name=f"{node.output[0]}_clip"))
            continue
        if node.op_type == "Cast" and any(attribute.name == "to" and attribute.i == INT64 for attribute in node.attribute):
            rounded = f"{node.input[0]}_rounded"
            rebuilt.append(helper.make_node("Round", [node.input[0]], [rounded], name=rounded))
            node.input[0] = rounded
        rebuilt.append(node)
    del g.graph.node[:]
    g.graph.node.extend(rebuilt)
    return len(pairs)


def _positive_scalar(g: _Graph, node) -> tuple[int, float] | None:
    """(index of the data input, k) of a Mul by a positive float32 scalar constant, else None."""
    if node.op_type != "Mul":
        return None
    for data, constant in ((0, 1), (1, 0)):
        k = g.array(node.input[constant])
        if k is not None and k.size == 1 and k.dtype == np.float32 and float(k.reshape(())) > 0:
            return data, float(k.reshape(()))
    return None


def _scaled_copy(g: _Graph, name: str, k: float) -> str:
    return g.add_constant(name, (g.array(name).astype(np.float64) * k).astype(np.float32))


def _conv_readers(g: _Graph, name: str) -> list | None:
    """The Convs that read `name` as their input (through Transposes), if they are all its readers."""
    if name in g.outputs:
        return None
    convs = []
    for reader in g.readers.get(name, []):
        if reader.op_type == "Transpose":
            further = _conv_readers(g, reader.output[0])
            if further is None:
                return None
            convs += further
        elif reader.op_type == "Conv" and reader.input[0] == name and list(reader.input).count(name) == 1 and g.array(reader.input[1]) is not None:
            convs.append(reader)
        else:
            return None
    return convs


def fold_into_convs(model: onnx.ModelProto) -> int:
    """Fold Muls by positive scalars into Convs, in place; returns how many were folded:

    - a Mul reading (through Transposes) Clip(Conv(x)), each read by nothing else: k into the
      Conv's weights and bias and the Clip's bounds (k Clip(v, a, b) = Clip(k v, k a, k b));
    - a Mul read only by a Clip whose readers are all Convs (through Transposes): the Clip reads
      the Mul's input with bounds / k, and k goes into those Convs' weights (Conv is linear, and
      pads with zeros)."""
    g = _Graph(model)
    removed = []
    for node in list(g.graph.node):
        found = _positive_scalar(g, node)
        if found is None:
            continue
        data, k = found
        moves, source = [], g.producer.get(node.input[data])
        while source is not None and source.op_type == "Transpose" and g.only_reader(source.output[0], moves[-1] if moves else node):
            moves.append(source)
            source = g.producer.get(source.input[0])
        reader = moves[-1] if moves else node
        conv = g.producer.get(source.input[0]) if source is not None and source.op_type == "Clip" else None
        if (conv is not None and conv.op_type == "Conv" and len(conv.input) == 3 and g.only_reader(source.output[0], reader)
                and g.only_reader(conv.output[0], source) and all(g.array(name) is not None for name in (*conv.input[1:], *source.input[1:]))):
            conv.input[1], conv.input[2] = _scaled_copy(g, conv.input[1], k), _scaled_copy(g, conv.input[2], k)
            source.input[1], source.input[2] = _scaled_copy(g, source.input[1], k), _scaled_copy(g, source.input[2], k)
            (moves[0] if moves else source).output[0] = node.output[0]  # the chain now yields the Mul's result
            removed.append(node)
            continue
        readers = g.readers.get(node.output[0], [])
        clip = readers[0] if len(readers) == 1 and node.output[0] not in g.outputs else None
        if clip is None or clip.op_type != "Clip" or clip.input[0] != node.output[0] or any(g.array(name) is None for name in clip.input[1:]):
            continue
        convs = _conv_readers(g, clip.output[0])
        if not convs:
            continue
        for conv in convs:
            conv.input[1] = _scaled_copy(g, conv.input[1], k)
        clip.input[1], clip.input[2] = _scaled_copy(g, clip.input[1], 1.0 / k), _scaled_copy(g, clip.input[2], 1.0 / k)
        clip.input[0] = node.input[data]
        removed.append(node)
    for node in removed:
        g.graph.node.remove(node)
    return len(removed)


def _scalar_bounds(g: _Graph, clip) -> tuple[float, float] | None:
    if clip.op_type != "Clip" or len(clip.input) != 3:
        return None
    low, high = g.array(clip.input[1]), g.array(clip.input[2])
    if low is None or high is None or low.size != 1 or high.size != 1:
        return None
    return float(low.reshape(())), float(high.reshape(()))


def _through_transposes(g: _Graph, node, index: int = 0):
    """(producer, the Transposes between it and `node`'s input `index`, nearest first), each read
    by nothing else; producer None where the chain starts at a graph input or initializer."""
    moves, source = [], g.producer.get(node.input[index])
    while source is not None and source.op_type == "Transpose" and g.only_reader(source.output[0], moves[-1] if moves else node):
        moves.append(source)
        source = g.producer.get(source.input[0])
    return source, moves


def _merge_once(g: _Graph) -> bool:
    """One rewrite of `merge_scalar_chains`, if any applies."""
    for node in g.graph.node:
        found = _positive_scalar(g, node)
        if found is not None:
            data, k = found
            source, moves = _through_transposes(g, node, data)
            reader = moves[-1] if moves else node
            if source is not None and source.output[0] not in g.outputs and g.only_reader(source.output[0], reader):
                bounds = _scalar_bounds(g, source)
                if source.op_type == "Mul" and _positive_scalar(g, source) is not None:  # Mul(k1) [-> T] -> Mul(k2)
                    first_data, first_k = _positive_scalar(g, source)
                    source.input[1 - first_data] = g.add_constant("factor", np.float32(first_k * k))
                elif bounds is not None:  # Mul(k1) [-> T] -> Clip(a, b) [-> T] -> Mul(k2): Mul(k1 k2) -> Clip(k2 a, k2 b)
                    first, first_moves = _through_transposes(g, source)
                    if (first is None or _positive_scalar(g, first) is None or first.output[0] in g.outputs
                            or not g.only_reader(first.output[0], first_moves[-1] if first_moves else source)):
                        continue
                    first_data, first_k = _positive_scalar(g, first)
                    first.input[1 - first_data] = g.add_constant("factor", np.float32(first_k * k))
                    source.input[1] = g.add_constant("low", np.float32(bounds[0] * k))
                    source.input[2] = g.add_constant("high", np.float32(bounds[1] * k))
                else:
                    continue
                (moves[0] if moves else source).output[0] = node.output[0]
                g.graph.node.remove(node)
                return True
        bounds = _scalar_bounds(g, node)
        if bounds is not None:  # Clip(a, b) [-> T] -> Clip(c, d): one Clip(max(a, c), min(b, d)), after the Transposes
            source, moves = _through_transposes(g, node)
            first = _scalar_bounds(g, source) if source is not None else None
            if first is None or source.output[0] in g.outputs or not g.only_reader(source.output[0], moves[-1] if moves else node):
                continue
            if max(first[0], bounds[0]) > min(first[1], bounds[1]):  # disjoint ranges: a constant, left as it is
                continue
            node.input[1] = g.add_constant("low", np.float32(max(first[0], bounds[0])))
            node.input[2] = g.add_constant("high", np.float32(min(first[1], bounds[1])))
            (moves[-1] if moves else node).input[0] = source.input[0]
            g.graph.node.remove(source)
            return True
    return False


def merge_scalar_chains(model: onnx.ModelProto) -> int:
    """Join chains of Muls by positive scalars and Clips (through Transposes, each link read by
    nothing else), in place; returns how many nodes went: two Muls become one, also across a
    Clip (k2 Clip(k1 v, a, b) = Clip(k1 k2 v, k2 a, k2 b); k1 k2 rounded once: float32 may round
    the product differently, by an ulp), two Clips one (the intersection of their ranges)."""
    removed = 0
    while _merge_once(_Graph(model)):
        removed += 1
    return removed


def _hard_swish(x: float) -> float:
    return x * min(1.0, max(0.0, x / 6 + 0.5))


def saturate_after_hard_swish(model: onnx.ModelProto) -> int:
    """Conv -> Clip(a, b) [-> Transposes] -> HardSwish with a <= -3 <= 0 <= b: the Clip moves
    after the HardSwish as Clip(-inf, hard_swish(b)) (merged into a Clip that follows alone),
    which lets onnxruntime fuse the HardSwish into the Conv. The same values: hard_swish is 0
    below -3, at most 0 up to 0 and increasing above, so hard_swish(clip(v, a, b)) =
    min(hard_swish(v), hard_swish(b)).
    In place; returns how many moved."""
    g = _Graph(model)
    moved = 0
    for swish in [node for node in g.graph.node if node.op_type == "HardSwish"]:
        moves, clip = [], g.producer.get(swish.input[0])
        while clip is not None and clip.op_type == "Transpose" and g.only_reader(clip.output[0], moves[-1] if moves else swish):
            moves.append(clip)
            clip = g.producer.get(clip.input[0])
        if clip is None or clip.op_type != "Clip" or not g.only_reader(clip.output[0], moves[-1] if moves else swish):
            continue
        conv = g.producer.get(clip.input[0])
        low, high = (g.array(name) for name in clip.input[1:3]) if len(clip.input) == 3 else (None, None)
        if swish.output[0] in g.outputs or conv is None or conv.op_type != "Conv" or low is None or high is None or low.size != 1 or high.size != 1 or float(low.reshape(())) > -3.0 or float(high.reshape(())) < 0.0:
            continue
        top = np.float32(_hard_swish(float(high.reshape(()))))
        readers = g.readers.get(swish.output[0], [])
        after = readers[0] if len(readers) == 1 else None
        after_high = g.array(after.input[2]) if after is not None and after.op_type == "Clip" and len(after.input) == 3 else None
        if after_high is not None and after_high.size == 1 and g.array(after.input[1]) is not None:
            after.input[2] = g.add_constant("high", np.minimum(after_high.reshape(()).astype(np.float32), top))
        else:  # a Clip of its own after the HardSwish
            clipped = f"{swish.output[0]}_saturated"
            for reader in readers:
                reader.input[:] = [clipped if name == swish.output[0] else name for name in reader.input]
            new_clip = helper.make_node("Clip", [swish.output[0], g.add_constant("low", np.float32(-np.finfo(np.float32).max)),
                                                 g.add_constant("high", top)], [clipped], name=clipped)
            g.graph.node.insert(list(g.graph.node).index(swish) + 1, new_clip)
        (moves[-1] if moves else swish).input[0] = clip.input[0]
        g.graph.node.remove(clip)
        moved += 1
    return moved


def _hard_sigmoid(x: float, alpha: float, beta: float) -> float:
    return min(1.0, max(0.0, alpha * x + beta))


def _attribute(node, name: str, default: float) -> float:
    return next((attribute.f for attribute in node.attribute if attribute.name == name), default)


def _interval_of(g: _Graph, node, intervals: dict[str, tuple[float, float]]) -> tuple[float, float] | None:
    """Bounds of `node`'s (first) output from its inputs' bounds (None: not known). Exact real
    bounds, widened by float32 rounding where a product or sum is rounded."""

    def bounds(name: str) -> tuple[float, float] | None:
        constant = g.array(name)
        if constant is not None and constant.size > 0 and np.issubdtype(constant.dtype, np.floating):
            return float(constant.min()), float(constant.max())
        return intervals.get(name)

    kind = node.op_type
    if kind in ("Transpose", "Reshape", "Identity", "MaxPool", "GlobalAveragePool", "ReduceMean"):
        return bounds(node.input[0])
    x = bounds(node.input[0]) if node.input else None
    if kind == "AveragePool":  # padding may count as zeros
        return None if x is None else _widened(min(x[0], 0.0), max(x[1], 0.0))
    if kind == "Clip":
        low, high = bounds(node.input[1]) if len(node.input) > 1 and node.input[1] else None, bounds(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        if low is None or high is None:
            return None
        return (low[0], high[1]) if x is None else (min(max(x[0], low[0]), high[1]), max(min(x[1], high[1]), low[0]))
    if x is None:
        return None
    if kind == "Relu":
        return max(x[0], 0.0), max(x[1], 0.0)
    if kind == "HardSigmoid":
        alpha, beta = _attribute(node, "alpha", 0.2), _attribute(node, "beta", 0.5)
        ends = sorted((_hard_sigmoid(x[0], alpha, beta), _hard_sigmoid(x[1], alpha, beta)))
        return ends[0], ends[1]
    if kind == "HardSwish":  # x relu6(x + 3) / 6: decreasing below -3/2, increasing above
        values = [v * _hard_sigmoid(v, 1 / 6, 0.5) for v in (x[0], x[1])] + ([-0.375] if x[0] < -1.5 < x[1] else [])
        return _widened(min(values), max(values))
    if kind in ("Mul", "Add", "Sub") and len(node.input) == 2:
        y = bounds(node.input[1])
        if y is None:
            return None
        if kind == "Mul":
            products = [a * b for a in x for b in y]
            return _widened(min(products), max(products))
        if kind == "Add":
            return _widened(x[0] + y[0], x[1] + y[1])
        return _widened(x[0] - y[1], x[1] - y[0])
    return None


def _widened(low: float, high: float) -> tuple[float, float]:
    """[low, high] widened by a float32 rounding (relative 2**-24, and an ulp of the smallest normal)."""
    return low - abs(low) * 2.0**-23 - 2.0**-126, high + abs(high) * 2.0**-23 + 2.0**-126


def drop_redundant_clips(model: onnx.ModelProto) -> int:
    """Remove each Clip whose input provably lies within its bounds (bounds propagated from Clips
    through Transposes, scalar Muls, HardSigmoid, HardSwish, ... in graph order), in place;
    returns how many. A table's saturation after its function: the function of an input clipped
    to its range stays within the output's range when the two ranges were calibrated together."""
    g = _Graph(model)
    intervals: dict[str, tuple[float, float]] = {}
    redundant = []
    for node in g.graph.node:
        if node.op_type == "Clip" and node.output[0] not in g.outputs:
            x, low, high = intervals.get(node.input[0]), g.array(node.input[1]), g.array(node.input[2])
            if x is not None and low is not None and high is not None and low.size == 1 and high.size == 1:
                if float(low.reshape(())) <= x[0] and x[1] <= float(high.reshape(())):
                    redundant.append(node)
        interval = _interval_of(g, node, intervals)
        if interval is not None and len(node.output) == 1:
            intervals[node.output[0]] = interval
    for clip in redundant:
        for reader in g.readers.get(clip.output[0], []):
            for index, name in enumerate(reader.input):
                if name == clip.output[0]:
                    reader.input[index] = clip.input[0]
        g.graph.node.remove(clip)
    return len(redundant)


class RelaxedProgram(fused_emulation.FusedProgram):
    """fast mode's OnnxProgram on `RELAXED_EMULATION`: each segment's model relaxed (`relax_roundings`),
    then as `FusedProgram` (scales folded, elementwise chains in the blocked layout)."""

    def __init__(self, interpreter, *, threads: int | None = None):
        self.relaxed = 0  # requantization pairs relaxed, over all segments
        self.merged = 0  # scalar Muls and Clips joined with their neighbours, over all segments
        self.folded_into_convs = 0  # Muls by scalars folded into Convs, over all segments
        self.dropped_clips = 0  # Clips proven no-ops, over all segments
        self.moved_saturations = 0  # conv saturations moved after a HardSwish, over all segments
        super().__init__(interpreter, threads=threads, emulation=RELAXED_EMULATION)

    def _session(self, model: onnx.ModelProto):
        self.relaxed += relax_roundings(model)
        self.merged += merge_scalar_chains(model)
        self.folded_into_convs += fold_into_convs(model)
        self.moved_saturations += saturate_after_hard_swish(model)
        self.dropped_clips += drop_redundant_clips(model)
        return super()._session(model)


__all__ = ["RELAXED_EMULATION", "RelaxedFloatEmulation", "RelaxedProgram", "drop_redundant_clips", "fold_into_convs", "has_relaxed_values", "merge_scalar_chains", "relax_roundings", "saturate_after_hard_swish"]
