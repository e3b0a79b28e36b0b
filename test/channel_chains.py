"""Test support for the channel-scaling passes (channel equalization, SmoothQuant):
a small builder of float `sima` functions from NumPy weights, random conv /
dense chains with outlier channels (a hypothesis strategy), per-channel
activation statistics recorded on `sima.observe` ops by running the
interpreter, and the check that a lit file's functions compute the same after
a pass.

    net = NetBuilder((1, 5, 5, 3))
    y = net.conv(net.input, weight, bias, pads=(1, 1, 1, 1))
    y = net.unary(ReluOp, y)
    module = net.module(y)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from hypothesis import strategies as st
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr, TensorType, f32
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, Region, SSAValue

from passes.channel_scaling import find_chains
from runtime.errors import InterpreterError
from runtime.interpreter import Interpreter
from sima_dialect import ops, shapes
from sima_dialect.calibration_ops import CHANNEL_ABSMAX_KEY, ObserveOp
from sima_dialect.context import parse_module
from sima_dialect.plain_data import from_attribute
from sima_dialect.ops import ConstantOp, float_attr, int_array, int_attr, shape_of
from sima_dialect.weights import ElidedWeightsError, NDArrayAttr


def tensor(shape: Sequence[int]) -> TensorType:
    return TensorType(f32, [int(d) for d in shape])


class NetBuilder:
    """Appends ops to one function with a single float32 input."""

    def __init__(self, input_shape: Sequence[int]):
        self.block = Block(arg_types=[tensor(input_shape)])
        self.input: SSAValue = self.block.args[0]
        self._weights = 0

    def _add(self, op) -> SSAValue:
        self.block.add_op(op)
        return op.results[0] if op.results else None

    def constant(self, array: np.ndarray, name: str | None = None) -> SSAValue:
        self._weights += 1
        return self._add(ConstantOp.from_array(name or f"w{self._weights}", np.asarray(array, dtype=np.float32)))

    def conv(self, x: SSAValue, weight: np.ndarray, bias: np.ndarray | None = None, *, groups: int = 1,
             pads: Sequence[int] = (0, 0, 0, 0), strides: Sequence[int] = (1, 1)) -> SSAValue:
        out = shapes.conv2d_output_shape(shape_of(x), weight.shape, strides, pads, (1, 1), groups)
        operands = [x, self.constant(weight), None if bias is None else self.constant(bias)]
        props = {"strides": int_array(strides), "pads": int_array(pads), "dilations": int_array((1, 1)), "groups": int_attr(groups)}
        return self._add(ops.Conv2DOp.build(operands=operands, properties=props, result_types=[tensor(out)]))

    def dense(self, x: SSAValue, weight: np.ndarray, bias: np.ndarray | None = None) -> SSAValue:
        out = shapes.dense_output_shape(shape_of(x), weight.shape)
        operands = [x, self.constant(weight), None if bias is None else self.constant(bias)]
        return self._add(ops.DenseOp.build(operands=operands, result_types=[tensor(out)]))

    def layer_norm(self, x: SSAValue, scale: np.ndarray, bias: np.ndarray | None = None) -> SSAValue:
        operands = [x, self.constant(scale), None if bias is None else self.constant(bias)]
        props = {"axis": int_attr(-1), "epsilon": float_attr(1e-5)}
        return self._add(ops.LayerNormOp.build(operands=operands, properties=props, result_types=[x.type]))

    def unary(self, op_class, x: SSAValue, **properties) -> SSAValue:
        props = {k: float_attr(v) for k, v in properties.items()}
        return self._add(op_class(x, props))

    def max_pool(self, x: SSAValue) -> SSAValue:
        props = {"kernel": int_array((2, 2)), "strides": int_array((1, 1)), "pads": int_array((0, 0, 1, 1)), "dilations": int_array((1, 1))}
        return self._add(ops.MaxPoolOp.build(operands=[x], properties=props, result_types=[x.type]))

    def transpose(self, x: SSAValue, perm: Sequence[int]) -> SSAValue:
        out = [shape_of(x)[p] for p in perm]
        return self._add(ops.TransposeOp.build(operands=[x], properties={"perm": int_array(perm)}, result_types=[tensor(out)]))

    def binary(self, op_class, x: SSAValue, y: SSAValue) -> SSAValue:
        out = shapes.broadcast_shapes(shape_of(x), shape_of(y))
        return self._add(op_class.build(operands=[x, y], result_types=[tensor(out)]))

    def module(self, *outputs: SSAValue) -> ModuleOp:
        self.block.add_op(ReturnOp(*outputs))
        function = FuncOp("main", ([self.input.type], [v.type for v in outputs]), Region(self.block))
        module = ModuleOp([function])
        module.verify()
        return module


# ---------------------------------------------------------------------------
# per-channel statistics, through the real calibration flow


def observe_chain_inputs(module: ModuleOp, producer_types) -> list[str]:
    """Put a min_max `sima.observe` (no stats yet) on the tensor every scaling
    chain's consumers read; returns their keys."""
    keys = []
    for index, chain in enumerate(find_chains(module, producer_types)):
        value = chain.value
        key = f"chain{index}"
        value.owner.parent.insert_op_after(ObserveOp(value, key, {"name": StringAttr("min_max")}), value.owner)
        keys.append(key)
    return keys


def record_channel_absmax(module: ModuleOp, samples: Sequence[np.ndarray]) -> dict[str, np.ndarray]:
    """Calibrate with `runtime.calibrate` (which records stats.channel_absmax on
    every observe); returns key -> channel_absmax."""
    from runtime.calibrate import calibrate

    function = next(op for op in module.body.ops if isinstance(op, FuncOp))
    name = Interpreter(function).input_names[0]
    observes = calibrate(module, [{name: sample} for sample in samples], progress=False, channel_statistics=True)
    return {op.key.data: np.asarray(from_attribute(op.stats.data[CHANNEL_ABSMAX_KEY])) for op in observes}


def chain_input_keys(module: ModuleOp, producer_types) -> dict[str, object]:
    """Observe key of every chain's consumer input -> the chain."""
    keys = {}
    for chain in find_chains(module, producer_types):
        for observer in chain.observers:
            if observer.input is chain.value:
                keys[observer.key.data] = chain
    return keys


def ignore_observers() -> dict:
    """Interpreter kernels under which `sima.observe` does nothing."""
    return {ObserveOp: lambda op: (lambda x: None)}


def run(module: ModuleOp, inputs) -> list[np.ndarray]:
    return Interpreter(module, kernels=ignore_observers()).run(inputs)


def assert_same_function(after: list[np.ndarray], before: list[np.ndarray]) -> None:
    """Equal up to float32 rounding: the weights are rescaled, the arithmetic is not."""
    for got, want in zip(after, before, strict=True):
        scale = max(float(np.abs(want).max()), 1e-30)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=2e-6 * scale)


# ---------------------------------------------------------------------------
# random chains

ACTIVATIONS = ("relu", "none", "leaky_relu", "clip_to_inf", "max_pool", "transpose_hw")  # the last two: convs only
DENSE_ACTIVATIONS = ACTIVATIONS[:-2]


def channel_scales(rng: np.random.Generator, channels: int, dead: bool) -> np.ndarray:
    """Per-channel magnitudes spread over three decades (outlier channels),
    optionally with one all-zero channel."""
    scales = 10.0 ** rng.uniform(-1.5, 1.5, channels)
    if dead and channels > 1:
        scales[rng.integers(channels)] = 0.0
    return scales


@st.composite
def chain_specs(draw, kinds=("conv", "dense"), layer_norm=False):
    """A chain of 2-4 weight layers with activations between them; with
    `layer_norm`, dense chains may start with a layer_norm of the input."""
    kind = draw(st.sampled_from(kinds))
    layers = []
    channels = draw(st.integers(1, 6))
    for _ in range(draw(st.integers(2, 4))):
        grouping = draw(st.sampled_from(("full", "depthwise", "grouped"))) if kind == "conv" else "full"
        if grouping == "grouped" and channels % 2:
            grouping = "full"
        out = channels if grouping == "depthwise" else draw(st.integers(1, 6))
        if grouping == "grouped" and out % 2:
            out += 1
        layers.append(
            {
                "in": channels,
                "out": out,
                "grouping": grouping,
                "kernel": draw(st.sampled_from((1, 3))) if kind == "conv" else 1,
                "bias": draw(st.booleans()),
                "dead": draw(st.booleans()),
                "after": draw(st.sampled_from(ACTIVATIONS if kind == "conv" else DENSE_ACTIVATIONS)),
            }
        )
        channels = out
    first_norm = layer_norm and kind == "dense" and draw(st.booleans())
    return {"kind": kind, "layers": layers, "layer_norm": first_norm, "seed": draw(st.integers(0, 2**31 - 1))}


def build_chain(spec: dict) -> tuple[ModuleOp, np.ndarray]:
    """(module, one input) for a chain spec; weights drawn from the spec's seed."""
    rng = np.random.default_rng(spec["seed"])
    conv = spec["kind"] == "conv"
    first = spec["layers"][0]["in"]
    net = NetBuilder((1, 5, 5, first) if conv else (3, first))
    x = net.input
    if spec.get("layer_norm"):
        x = net.layer_norm(x, rng.standard_normal(first) * channel_scales(rng, first, False), rng.standard_normal(first))
    for layer in spec["layers"]:
        c_in, c_out, k = layer["in"], layer["out"], layer["kernel"]
        groups = {"full": 1, "depthwise": c_in, "grouped": 2}[layer["grouping"]]
        shape = (k, k, c_in // groups, c_out) if conv else (c_in, c_out)
        weight = rng.standard_normal(shape) * channel_scales(rng, c_out, layer["dead"])
        bias = rng.standard_normal(c_out) if layer["bias"] else None
        if conv:
            pad = k // 2
            x = net.conv(x, weight, bias, groups=groups, pads=(pad, pad, pad, pad))
        else:
            x = net.dense(x, weight, bias)
        after = layer["after"]
        if after == "relu":
            x = net.unary(ops.ReluOp, x)
        elif after == "leaky_relu":
            x = net.unary(ops.LeakyReluOp, x, alpha=0.1)
        elif after == "clip_to_inf":
            x = net.unary(ops.ClipOp, x, min=0.0, max=float("inf"))
        elif after == "max_pool":
            x = net.max_pool(x)
        elif after == "transpose_hw":  # NHWC -> NWHC: the channel stays last (the input is square)
            x = net.transpose(x, (0, 2, 1, 3))
    module = net.module(x)
    return module, random_input(module, rng)


def random_input(module: ModuleOp, rng: np.random.Generator) -> np.ndarray:
    function = next(op for op in module.body.ops if isinstance(op, FuncOp))
    return rng.standard_normal(function.args[0].type.get_shape()).astype(np.float32)


# ---------------------------------------------------------------------------
# lit files


def lit_chunks(path: Path) -> list[tuple[str, str]]:
    return [
        (f"{path.name}#{i}", chunk) for i, chunk in enumerate(path.read_text().split("// -----")) if "func.func" in chunk
    ]


def run_lit_chunks_through(path: Path, module_pass, errors: tuple[type[Exception], ...] = ()) -> int:
    """Run every runnable function of a lit file before and after `module_pass` and
    check it computes the same; chunks whose pass raises one of `errors` (the
    lit file's error cases) are skipped. Returns how many were compared."""
    compared = 0
    for name, text in lit_chunks(path):
        module = parse_module(text)
        try:
            interpreter = Interpreter(module, kernels=ignore_observers())
        except (InterpreterError, ElidedWeightsError):
            continue  # weights elided from the text
        function = next(op for op in module.body.ops if isinstance(op, FuncOp))
        rng = np.random.default_rng(0)
        inputs = [(rng.standard_normal(a.type.get_shape()) * 3).astype(np.float32) for a in function.args]
        expected = interpreter.run(inputs)
        try:
            module_pass.apply(Context(), module)
        except errors:
            continue
        module.verify()
        try:
            assert_same_function(run(module, inputs), expected)
        except AssertionError as error:
            raise AssertionError(f"{name}: {error}") from None
        compared += 1
    return compared


def with_weights_rounded_off(module: ModuleOp, rng: np.random.Generator) -> ModuleOp:
    """A copy of `module` whose every float32 weight is off by one rounding step
    (relative 2**-24, random sign): the size of the rounding a rescaled weight
    carries, so its outputs differ from the original's by the model's own
    float32 rounding noise."""
    copy = module.clone()
    for op in copy.walk():
        if isinstance(op, ConstantOp) and isinstance(op.value, NDArrayAttr) and op.value.array.dtype == np.float32:
            array = op.value.array
            nudged = array * (1 + rng.choice([-1.0, 1.0], array.shape) * 2.0**-24)
            op.properties["value"] = NDArrayAttr.from_array(op.value.weight_name, nudged.astype(np.float32))
    return copy


def rounding_noise(module: ModuleOp, inputs: Sequence[np.ndarray], outputs: Sequence[list[np.ndarray]]) -> float:
    """Largest output change from rounding every weight by one step (see above)."""
    rounded = Interpreter(with_weights_rounded_off(module, np.random.default_rng(0)), kernels=ignore_observers())
    return max(
        float(np.abs(got - want).max())
        for x, expected in zip(inputs, outputs)
        for got, want in zip(rounded.run([x]), expected)
    )


def within_rounding_noise(after: Sequence[list[np.ndarray]], before: Sequence[list[np.ndarray]], noise: float) -> tuple[float, float]:
    """(largest output change, its bound): twice the rounding noise plus a few ulps of the output."""
    scale = max(float(np.abs(out).max()) for outs in before for out in outs)
    change = max(float(np.abs(a - b).max()) for xs, ys in zip(after, before) for a, b in zip(xs, ys))
    return change, 2 * noise + 8 * float(np.finfo(np.float32).eps) * scale
