"""Recognisers of decomposed ops in ONNX graphs, applied before conversion.

Exporters often write an op out as several primitive nodes. Each recogniser
below finds one such spelling and replaces it with the single op it computes,
so the IR gets one `sima` op (one kernel, one quantization decision) instead
of a chain:

- BatchNormalization after Conv / ConvTranspose -> the convolution with folded
  weights and bias (when the weights are constants and nothing else reads the
  convolution's output), and likewise a per-channel constant added to,
  subtracted from, multiplied with or divided into a convolution's output;
- x * HardSigmoid(x), and x * Clip(x + 3, 0, 6) / 6 -> HardSwish;
- x * Sigmoid(x) -> SiLU (the internal op `sima.Silu`);
- ReduceMean / Sub / Pow / ReduceMean / Add / Sqrt / Div [/ Mul / Add] ->
  LayerNormalization;
- x * 0.5 * (1 + Erf(x / sqrt(2))) in its usual orders -> Gelu;
- MatMul with a constant matrix followed by Add of a constant row -> the
  internal op `sima.MatMulBias` (a dense layer with bias).

Intermediate values must have no other reader and must not be graph outputs,
otherwise the pattern is left alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from lowering.onnx_graph import DEFAULT_DOMAINS, Node, OnnxGraph
from lowering.onnx_ops_nn import fold_batch_norm

# ops created by recognisers that ONNX lacks; their converters are internal
INTERNAL_DOMAIN = "sima"


class Matcher:
    """Producer / consumer lookups on a graph, valid until the graph is edited."""

    def __init__(self, graph: OnnxGraph):
        self.graph = graph
        self.producers = graph.producers()
        self.consumers = graph.consumers()
        self.outputs = set(graph.outputs)

    def producer(self, name: str, op_type: str) -> Node | None:
        node = self.producers.get(name)
        if node is None or node.op_type != op_type or node.domain not in DEFAULT_DOMAINS:
            return None
        return node

    def only_reader(self, name: str) -> Node | None:
        """The single node reading `name`, when the value is read once and is not a graph output."""
        readers = self.consumers.get(name, [])
        if name in self.outputs or len(readers) != 1:
            return None
        return readers[0]

    def private(self, name: str, count: int = 1) -> bool:
        """True when `name` is read `count` times and is not a graph output."""
        return name not in self.outputs and len(self.consumers.get(name, [])) == count

    def scalar(self, name: str) -> float | None:
        value = self.graph.constant(name)
        if value is None or value.size != 1 or value.dtype.kind != "f":
            return None
        return float(value.reshape(()))

    def other_input(self, node: Node, name: str) -> str | None:
        """For a binary node, the input that is not `name`."""
        if len(node.inputs) != 2:
            return None
        if node.inputs[0] == name:
            return node.inputs[1]
        if node.inputs[1] == name:
            return node.inputs[0]
        return None


def close(value: float | None, target: float, rel: float = 1e-5) -> bool:
    return value is not None and abs(value - target) <= rel * abs(target)


def _node(op_type: str, name: str, inputs: list[str], outputs: list[str], domain: str = "", **attrs) -> Node:
    return Node(op_type=op_type, name=name, inputs=inputs, outputs=outputs, attrs=attrs, domain=domain)


# ---------------------------------------------------------------------------
# BatchNormalization folded into the convolution before it


def fold_conv_batch_norm(graph: OnnxGraph) -> int:
    m = Matcher(graph)
    count = 0
    for bn in [n for n in graph.nodes if n.op_type == "BatchNormalization" and n.domain in DEFAULT_DOMAINS]:
        if int(bn.attr("training_mode", 0)) or any(bn.outputs[1:]):
            continue
        conv = m.producers.get(bn.inputs[0])
        if conv is None or conv.op_type not in ("Conv", "ConvTranspose") or conv.domain not in DEFAULT_DOMAINS:
            continue
        if not m.private(conv.outputs[0]):
            continue
        weight = graph.constant(conv.input(1))
        bias_name = conv.input(2)
        bias = graph.constant(bias_name) if bias_name else None
        params = [graph.constant(name) for name in bn.inputs[1:5]]
        if weight is None or (bias_name and bias is None) or any(p is None for p in params) or weight.dtype.kind != "f":
            continue
        out_channels = _output_channels(conv, weight)
        if any(p.shape != (out_channels,) for p in params):  # type: ignore[union-attr]
            continue
        a, b = fold_batch_norm(*params, float(bn.attr("epsilon", 1e-5)))  # type: ignore[misc]
        new_weight = _scale_output_channels(conv, weight.astype(np.float64), a)
        new_bias = a * (bias.astype(np.float64) if bias is not None else 0.0) + b
        weight_name = graph.add_constant(f"{conv.input(1)}.bn_folded", new_weight.astype(weight.dtype))
        bias_name = graph.add_constant(f"{bias_name or conv.name + '.bias'}.bn_folded", new_bias.astype(weight.dtype))
        fused = Node(conv.op_type, conv.name, [conv.inputs[0], weight_name, bias_name], [bn.outputs[0]], dict(conv.attrs), conv.domain)
        graph.replace_nodes([conv, bn], [fused], at=bn)
        count += 1
    return count


def _output_channels(conv: Node, weight: np.ndarray) -> int:
    return weight.shape[0] if conv.op_type == "Conv" else weight.shape[1] * int(conv.attr("group", 1))


def _scale_output_channels(conv: Node, weight: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """The weights of a Conv / ConvTranspose with output channel c multiplied by factor[c]."""
    if conv.op_type == "Conv":  # weight [C_out, C_in / groups, k...]
        return weight * factor.reshape((-1,) + (1,) * (weight.ndim - 1))
    # weight [C_in, C_out / groups, k...]: output channel of (i, j) is group(i) * C_out/groups + j
    groups = int(conv.attr("group", 1))
    per_group_in, per_group_out = weight.shape[0] // groups, weight.shape[1]
    channel = (np.arange(weight.shape[0])[:, None] // per_group_in) * per_group_out + np.arange(per_group_out)[None, :]
    return weight * factor[channel].reshape(channel.shape + (1,) * (weight.ndim - 2))


def fold_conv_affine(graph: OnnxGraph, shapes: dict[str, tuple[int, ...]]) -> int:
    """Conv followed by Add / Sub / Mul / Div with a per-channel (or scalar) constant:
    the constant goes into the convolution's bias (and weights), as BatchNorm does.

    Exporters write a convolution's bias, or a learned per-channel affine, as
    such separate nodes (PaddlePaddle's PP-OCR models do both; det's
    ConvTranspose + bias + BatchNorm tail is such a chain).
    A BatchNormalization that such a node hid from `fold_conv_batch_norm` is
    folded once the node before it is (counted here).
    """
    count = 0
    while True:
        count += fold_conv_batch_norm(graph)
        m = Matcher(graph)
        for conv in graph.nodes:
            if conv.op_type not in ("Conv", "ConvTranspose") or conv.domain not in DEFAULT_DOMAINS or not m.private(conv.outputs[0]):
                continue
            weight = graph.constant(conv.input(1))
            bias = graph.constant(conv.input(2)) if conv.input(2) else None
            out_shape = shapes.get(conv.outputs[0])
            if weight is None or weight.dtype.kind != "f" or (conv.input(2) and bias is None) or out_shape is None:
                continue
            reader = m.consumers[conv.outputs[0]][0]
            other = m.other_input(reader, conv.outputs[0])
            if reader.op_type not in ("Add", "Sub", "Mul", "Div") or reader.domain not in DEFAULT_DOMAINS or other is None:
                continue
            if reader.op_type in ("Sub", "Div") and reader.inputs[0] != conv.outputs[0]:
                continue
            per_channel = _per_channel(graph.constant(other), out_shape, weight.dtype)
            if per_channel is None:
                continue
            new_weight = weight.astype(np.float64)
            new_bias = bias.astype(np.float64) if bias is not None else np.zeros(_output_channels(conv, weight))
            if reader.op_type == "Add":
                new_bias = new_bias + per_channel
            elif reader.op_type == "Sub":
                new_bias = new_bias - per_channel
            else:
                factor = per_channel if reader.op_type == "Mul" else 1.0 / per_channel
                new_weight = _scale_output_channels(conv, new_weight, factor)
                new_bias = new_bias * factor
            weight_name = graph.add_constant(f"{conv.input(1)}.folded", new_weight.astype(weight.dtype))
            bias_name = graph.add_constant(f"{conv.input(2) or conv.name + '.bias'}.folded", new_bias.astype(weight.dtype))
            fused = Node(conv.op_type, conv.name, [conv.inputs[0], weight_name, bias_name], [reader.outputs[0]], dict(conv.attrs), conv.domain)
            graph.replace_nodes([conv, reader], [fused], at=reader)
            count += 1
            break
        else:
            return count


def _per_channel(value: np.ndarray | None, out_shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray | None:
    """A constant that broadcasts over a conv output [N, C, ...] along C only, as [C] float64."""
    if value is None or value.dtype != dtype or value.ndim > len(out_shape):
        return None
    padded = (1,) * (len(out_shape) - value.ndim) + value.shape
    if any(d != 1 for i, d in enumerate(padded) if i != 1) or padded[1] not in (1, out_shape[1]):
        return None
    return np.broadcast_to(value.reshape(-1).astype(np.float64), (out_shape[1],)).copy()


# ---------------------------------------------------------------------------
# activations


def recognise_hard_swish(graph: OnnxGraph) -> int:
    """x * HardSigmoid(x) (alpha 1/6, beta 1/2) and x * Clip(x + 3, 0, 6) / 6."""
    m = Matcher(graph)
    rewrites: list[tuple[list[Node], str, str, Node]] = []  # (removed, x, output, anchor)
    used: set[int] = set()
    for mul in graph.nodes:
        if mul.op_type != "Mul" or mul.domain not in DEFAULT_DOMAINS or len(mul.inputs) != 2:
            continue
        for gate_name in mul.inputs:
            x = m.other_input(mul, gate_name)
            if x is None:
                continue
            hs = m.producer(gate_name, "HardSigmoid")
            if hs is not None and hs.inputs[0] == x and m.private(gate_name):
                if close(hs.attr("alpha", 0.2), 1 / 6) and close(hs.attr("beta", 0.5), 0.5):
                    rewrites.append(([hs, mul], x, mul.outputs[0], mul))
                    break
            clip = m.producer(gate_name, "Clip")
            if clip is not None and m.private(gate_name) and _is_relu6_of_x_plus_3(m, clip, x):
                div = m.only_reader(mul.outputs[0])
                if div is not None and div.op_type == "Div" and div.inputs[0] == mul.outputs[0] and close(m.scalar(div.inputs[1]), 6.0):
                    add = m.producers[clip.inputs[0]]
                    rewrites.append(([add, clip, mul, div], x, div.outputs[0], div))
                    break
    count = 0
    for removed, x, output, anchor in rewrites:
        if any(id(n) in used for n in removed):
            continue
        used.update(id(n) for n in removed)
        graph.replace_nodes(removed, [_node("HardSwish", anchor.name, [x], [output])], at=anchor)
        count += 1
    return count


def _is_relu6_of_x_plus_3(m: Matcher, clip: Node, x: str) -> bool:
    low = m.scalar(clip.input(1)) if clip.input(1) else clip.attr("min")
    high = m.scalar(clip.input(2)) if clip.input(2) else clip.attr("max")
    if low != 0.0 or high != 6.0:
        return False
    add = m.producer(clip.inputs[0], "Add")
    if add is None or not m.private(clip.inputs[0]):
        return False
    # x + 3 reads x, and x is also read by the Mul: x itself is shared by design
    other = m.other_input(add, x)
    return other is not None and m.scalar(other) == 3.0


def recognise_silu(graph: OnnxGraph) -> int:
    """x * Sigmoid(x) -> sima.Silu."""
    m = Matcher(graph)
    count = 0
    for mul in list(graph.nodes):
        if mul.op_type != "Mul" or mul.domain not in DEFAULT_DOMAINS or len(mul.inputs) != 2:
            continue
        for gate_name in mul.inputs:
            x = m.other_input(mul, gate_name)
            sig = m.producer(gate_name, "Sigmoid")
            if x is not None and sig is not None and sig.inputs[0] == x and m.private(gate_name) and sig in graph.nodes:
                graph.replace_nodes([sig, mul], [_node("Silu", mul.name, [x], [mul.outputs[0]], INTERNAL_DOMAIN)], at=mul)
                count += 1
                break
    return count


def recognise_gelu(graph: OnnxGraph) -> int:
    """x * 0.5 * (1 + Erf(x / sqrt(2))), with the multiplications in any of the usual orders."""
    m = Matcher(graph)
    count = 0
    for erf in [n for n in graph.nodes if n.op_type == "Erf" and n.domain in DEFAULT_DOMAINS]:
        scaled = erf.inputs[0]
        div = m.producer(scaled, "Div")
        mul = m.producer(scaled, "Mul")
        if div is not None and close(m.scalar(div.inputs[1]), math.sqrt(2)):
            x, first = div.inputs[0], div
        elif mul is not None:
            x = next((i for i in mul.inputs if not close(m.scalar(i), 1 / math.sqrt(2))), None)
            if x is None or m.other_input(mul, x) is None or not close(m.scalar(m.other_input(mul, x)), 1 / math.sqrt(2)):  # type: ignore[arg-type]
                continue
            first = mul
        else:
            continue
        if not m.private(scaled):
            continue
        add = m.only_reader(erf.outputs[0])
        if add is None or add.op_type != "Add" or not close(m.scalar(m.other_input(add, erf.outputs[0]) or ""), 1.0):
            continue
        matched = _gelu_products(m, x, add.outputs[0])
        if matched is None:
            continue
        products, output = matched
        removed = [first, erf, add, *products]
        if any(n not in graph.nodes for n in removed):
            continue
        graph.replace_nodes(removed, [_node("Gelu", products[-1].name, [x], [output], approximate="none")], at=products[-1])
        count += 1
    return count


def _gelu_products(m: Matcher, x: str, one_plus_erf: str) -> tuple[list[Node], str] | None:
    """The two Muls combining x, 0.5 and (1 + erf): returns them (last one last) and the output."""
    reader = m.only_reader(one_plus_erf)
    if reader is None or reader.op_type != "Mul":
        return None
    other = m.other_input(reader, one_plus_erf)
    if other is None:
        return None
    if other == x:  # (x * (1 + erf)) * 0.5
        last = m.only_reader(reader.outputs[0])
        if last is not None and last.op_type == "Mul" and close(m.scalar(m.other_input(last, reader.outputs[0]) or ""), 0.5):
            return [reader, last], last.outputs[0]
        return None
    if close(m.scalar(other), 0.5):  # x * ((1 + erf) * 0.5)
        last = m.only_reader(reader.outputs[0])
        if last is not None and last.op_type == "Mul" and m.other_input(last, reader.outputs[0]) == x:
            return [reader, last], last.outputs[0]
        return None
    half = m.producer(other, "Mul")  # (x * 0.5) * (1 + erf)
    if half is not None and m.private(other) and m.other_input(half, x) is not None and close(m.scalar(m.other_input(half, x) or ""), 0.5):
        return [half, reader], reader.outputs[0]
    return None


# ---------------------------------------------------------------------------
# LayerNorm written out


def recognise_layer_norm(graph: OnnxGraph, shapes: dict[str, tuple[int, ...]]) -> int:
    m = Matcher(graph)
    count = 0
    for mean in [n for n in graph.nodes if n.op_type == "ReduceMean" and n.domain in DEFAULT_DOMAINS]:
        x = mean.inputs[0]
        axes = _reduce_axes(graph, mean)
        rank = len(shapes[x]) if x in shapes else None
        if axes is None or rank is None or not int(mean.attr("keepdims", 1)):
            continue
        axes = sorted(a % rank for a in axes)
        first_axis = rank - len(axes)
        if axes != list(range(first_axis, rank)):
            continue
        sub = m.only_reader(mean.outputs[0])
        if sub is None or sub.op_type != "Sub" or sub.inputs != [x, mean.outputs[0]]:
            continue
        centered = sub.outputs[0]
        readers = m.consumers.get(centered, [])
        if centered in m.outputs or len(readers) != 2:
            continue
        square = next((r for r in readers if (r.op_type == "Pow" and m.scalar(r.inputs[1]) == 2.0) or (r.op_type == "Mul" and r.inputs == [centered, centered])), None)
        div = next((r for r in readers if r.op_type == "Div" and r.inputs[0] == centered), None)
        if square is None or div is None:
            continue
        var = m.only_reader(square.outputs[0])
        if var is None or var.op_type != "ReduceMean" or _reduce_axes(graph, var) is None:
            continue
        if sorted(a % rank for a in _reduce_axes(graph, var)) != axes or not int(var.attr("keepdims", 1)):  # type: ignore[union-attr]
            continue
        add_eps = m.only_reader(var.outputs[0])
        epsilon = m.scalar(m.other_input(add_eps, var.outputs[0]) or "") if add_eps is not None and add_eps.op_type == "Add" else None
        if epsilon is None or epsilon <= 0:
            continue
        sqrt = m.only_reader(add_eps.outputs[0])  # type: ignore[union-attr]
        if sqrt is None or sqrt.op_type != "Sqrt" or div.inputs[1] != sqrt.outputs[0] or not m.private(sqrt.outputs[0]):
            continue
        removed = [mean, sub, square, var, add_eps, sqrt, div]
        output = div.outputs[0]
        scale_name, bias_name = "", ""
        normalized_shape = shapes.get(x, ())[first_axis:]
        mul = m.only_reader(output)
        if mul is not None and mul.op_type == "Mul":
            gamma = _affine_param(graph, m.other_input(mul, output), len(axes), normalized_shape)
            if gamma is not None:
                scale_name = graph.add_constant(m.other_input(mul, output) or "ln.scale", gamma)
                removed.append(mul)
                output = mul.outputs[0]
                add = m.only_reader(output)
                if add is not None and add.op_type == "Add":
                    beta = _affine_param(graph, m.other_input(add, output), len(axes), normalized_shape)
                    if beta is not None:
                        bias_name = graph.add_constant(m.other_input(add, output) or "ln.bias", beta)
                        removed.append(add)
                        output = add.outputs[0]
        if not scale_name:
            eps_value = graph.constant(m.other_input(add_eps, var.outputs[0]) or "")  # type: ignore[union-attr]
            dtype = eps_value.dtype if eps_value is not None else np.dtype(np.float32)
            scale_name = graph.add_constant(f"{mean.name}.scale", np.ones(normalized_shape, dtype=dtype))
        inputs = [x, scale_name] + ([bias_name] if bias_name else [])
        fused = _node("LayerNormalization", removed[-1].name, inputs, [output], axis=-len(axes), epsilon=epsilon)
        if any(n not in graph.nodes for n in removed):
            continue
        graph.replace_nodes(removed, [fused], at=removed[-1])
        count += 1
    return count


def _reduce_axes(graph: OnnxGraph, node: Node) -> list[int] | None:
    if "axes" in node.attrs:
        return [int(a) for a in node.attrs["axes"]]
    value = graph.constant(node.input(1))
    return None if value is None else [int(a) for a in value.reshape(-1)]


def _affine_param(graph: OnnxGraph, name: str | None, k: int, normalized_shape: tuple[int, ...]) -> np.ndarray | None:
    """A constant LayerNorm scale / bias, reshaped to broadcast over the last k axes, or None."""
    value = graph.constant(name or "")
    if value is None or value.dtype.kind != "f":
        return None
    while value.ndim > k and value.shape[0] == 1:
        value = value.reshape(value.shape[1:])
    if value.ndim > k:
        return None
    try:
        if np.broadcast_shapes(value.shape, normalized_shape) != tuple(normalized_shape):
            return None
    except ValueError:
        return None
    return value


# ---------------------------------------------------------------------------
# dense layer with bias


def recognise_matmul_bias(graph: OnnxGraph, shapes: dict[str, tuple[int, ...]]) -> int:
    """MatMul(x, W) + b with constant W [K, N] and b [N] (x of rank >= 2) -> sima.MatMulBias."""
    m = Matcher(graph)
    count = 0
    for matmul in [n for n in graph.nodes if n.op_type == "MatMul" and n.domain in DEFAULT_DOMAINS]:
        weight = graph.constant(matmul.inputs[1])
        lhs_rank = len(shapes[matmul.inputs[0]]) if matmul.inputs[0] in shapes else None
        if weight is None or weight.ndim != 2 or lhs_rank is None or lhs_rank < 2:
            continue
        add = m.only_reader(matmul.outputs[0])
        if add is None or add.op_type != "Add":
            continue
        bias_name = m.other_input(add, matmul.outputs[0])
        bias = graph.constant(bias_name or "")
        if bias is None or bias.dtype != weight.dtype or bias.shape[-1:] != (weight.shape[1],):
            continue
        if bias.ndim > lhs_rank or any(d != 1 for d in bias.shape[:-1]):
            continue
        bias_flat = graph.add_constant(bias_name or "bias", bias.reshape(-1))
        fused = _node("MatMulBias", add.name, [matmul.inputs[0], matmul.inputs[1], bias_flat], [add.outputs[0]], INTERNAL_DOMAIN)
        graph.replace_nodes([matmul, add], [fused], at=add)
        count += 1
    return count


RECOGNISERS: list[tuple[str, Callable[..., int]]] = [
    ("fold-conv-batchnorm", fold_conv_batch_norm),
    ("fold-conv-affine", fold_conv_affine),
    ("hard-swish", recognise_hard_swish),
    ("silu", recognise_silu),
    ("layer-norm", recognise_layer_norm),
    ("gelu", recognise_gelu),
    ("matmul-bias", recognise_matmul_bias),
]


def apply_recognisers(graph: OnnxGraph, shapes: dict[str, tuple[int, ...]]) -> dict[str, int]:
    """Run every recogniser once, in order; returns how many rewrites each made."""
    counts = {}
    for name, recogniser in RECOGNISERS:
        counts[name] = recogniser(graph, shapes) if name in ("fold-conv-affine", "layer-norm", "matmul-bias") else recogniser(graph)
    return counts
