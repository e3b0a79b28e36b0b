"""Benchmark: build, verify and print (weights elided) a ResNet-50-sized `sima` graph.

The graph is ResNet-50's topology in NHWC with batch norm folded into the
convolutions: 53 conv2d (each with a bias), 49 relu, 16 add, a max pool, a
global average pool, a reshape and the final dense layer, whose ~25.5M float32
parameters live in `sima.constant` ops holding `#sima.ndarray` weights. Each
timed step does all the work it would do for a user: building copies every
(writable) weight array into a read-only one, and printing computes every
weight's content digest.

    python bench/bench_ir_build.py [--repeat 3] [--show-ir]

Prints the time of each step (build, verify, print) and their total for every run;
not a test.
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable

import numpy as np
from xdsl.builder import Builder, InsertPoint
from xdsl.dialects.builtin import ModuleOp, TensorType, f32
from xdsl.dialects.func import FuncOp, ReturnOp
from xdsl.ir import Block, SSAValue
from xdsl.printer import Printer

from sima_dialect import ops, shapes

# (bottleneck width, number of blocks, stride of the first block) per stage.
RESNET50_STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))
EXPANSION = 4
NUM_CLASSES = 1000


def make_weights(seed: int = 0) -> dict[str, np.ndarray]:
    """ResNet-50's parameters (random, float32, HWIO conv weights), as an importer gets them."""
    rng = np.random.default_rng(seed)
    weights: dict[str, np.ndarray] = {}

    def conv(name: str, k: int, c_in: int, c_out: int) -> None:
        weights[f"{name}.weight"] = rng.standard_normal((k, k, c_in, c_out), dtype=np.float32)
        weights[f"{name}.bias"] = rng.standard_normal((c_out,), dtype=np.float32)

    conv("conv1", 7, 3, 64)
    c_in = 64
    for stage, (width, blocks, _) in enumerate(RESNET50_STAGES, start=1):
        for block in range(blocks):
            prefix = f"layer{stage}.{block}"
            conv(f"{prefix}.conv1", 1, c_in, width)
            conv(f"{prefix}.conv2", 3, width, width)
            conv(f"{prefix}.conv3", 1, width, width * EXPANSION)
            if block == 0:
                conv(f"{prefix}.downsample", 1, c_in, width * EXPANSION)
            c_in = width * EXPANSION
    weights["fc.weight"] = rng.standard_normal((c_in, NUM_CLASSES), dtype=np.float32)
    weights["fc.bias"] = rng.standard_normal((NUM_CLASSES,), dtype=np.float32)
    return weights


class GraphBuilder:
    """Appends `sima` ops to one block, computing result types with `sima_dialect.shapes`."""

    def __init__(self, block: Block, weights: dict[str, np.ndarray]):
        self.builder = Builder(InsertPoint.at_end(block))
        self.weights = weights

    def constant(self, name: str) -> SSAValue:
        return self.builder.insert(ops.ConstantOp.from_array(name, self.weights[name])).output

    def conv(self, x: SSAValue, name: str, stride: int, relu: bool = True) -> SSAValue:
        weight = self.constant(f"{name}.weight")
        bias = self.constant(f"{name}.bias")
        k = ops.shape_of(weight)[0]
        strides, pads, dilations = (stride, stride), (k // 2,) * 4, (1, 1)
        out_shape = shapes.conv2d_output_shape(ops.shape_of(x), ops.shape_of(weight), strides, pads, dilations, 1)
        conv = ops.Conv2DOp.build(
            operands=[x, weight, bias],
            result_types=[TensorType(f32, out_shape)],
            properties={
                "strides": ops.int_array(strides),
                "pads": ops.int_array(pads),
                "dilations": ops.int_array(dilations),
                "groups": ops.int_attr(1),
            },
        )
        out = self.builder.insert(conv).output
        return self.relu(out) if relu else out

    def relu(self, x: SSAValue) -> SSAValue:
        return self.builder.insert(ops.ReluOp(x)).output

    def add(self, lhs: SSAValue, rhs: SSAValue) -> SSAValue:
        add = ops.AddOp.build(operands=[lhs, rhs], result_types=[lhs.type])
        return self.builder.insert(add).output

    def max_pool(self, x: SSAValue) -> SSAValue:
        kernel, strides, pads, dilations = (3, 3), (2, 2), (1, 1, 1, 1), (1, 1)
        out_shape = shapes.pool_output_shape(ops.shape_of(x), kernel, strides, pads, dilations)
        pool = ops.MaxPoolOp.build(
            operands=[x],
            result_types=[TensorType(f32, out_shape)],
            properties={
                "kernel": ops.int_array(kernel),
                "strides": ops.int_array(strides),
                "pads": ops.int_array(pads),
                "dilations": ops.int_array(dilations),
            },
        )
        return self.builder.insert(pool).output

    def global_avg_pool(self, x: SSAValue) -> SSAValue:
        n, _, _, c = ops.shape_of(x)
        pool = ops.GlobalAvgPoolOp.build(operands=[x], result_types=[TensorType(f32, (n, 1, 1, c))])
        return self.builder.insert(pool).output

    def reshape(self, x: SSAValue, shape: tuple[int, ...]) -> SSAValue:
        return self.builder.insert(ops.ReshapeOp.build(operands=[x], result_types=[TensorType(f32, shape)])).output

    def dense(self, x: SSAValue, name: str) -> SSAValue:
        weight = self.constant(f"{name}.weight")
        bias = self.constant(f"{name}.bias")
        out_shape = shapes.dense_output_shape(ops.shape_of(x), ops.shape_of(weight))
        dense = ops.DenseOp.build(operands=[x, weight, bias], result_types=[TensorType(f32, out_shape)])
        return self.builder.insert(dense).output


def build_resnet50(weights: dict[str, np.ndarray], image_size: int = 224) -> ModuleOp:
    input_type = TensorType(f32, (1, image_size, image_size, 3))
    output_type = TensorType(f32, (1, NUM_CLASSES))
    func = FuncOp("resnet50", ((input_type,), (output_type,)))
    g = GraphBuilder(func.body.block, weights)

    x = g.max_pool(g.conv(func.args[0], "conv1", stride=2))
    for stage, (_, blocks, first_stride) in enumerate(RESNET50_STAGES, start=1):
        for block in range(blocks):
            prefix = f"layer{stage}.{block}"
            stride = first_stride if block == 0 else 1
            y = g.conv(x, f"{prefix}.conv1", 1)
            y = g.conv(y, f"{prefix}.conv2", stride)
            y = g.conv(y, f"{prefix}.conv3", 1, relu=False)
            shortcut = g.conv(x, f"{prefix}.downsample", stride, relu=False) if block == 0 else x
            x = g.relu(g.add(y, shortcut))
    x = g.global_avg_pool(x)
    x = g.reshape(x, (1, ops.shape_of(x)[-1]))
    logits = g.dense(x, "fc")
    g.builder.insert(ReturnOp(logits))
    return ModuleOp([func])


def print_module(module: ModuleOp) -> str:
    stream = io.StringIO()
    Printer(stream=stream).print_op(module)
    return stream.getvalue()


def timed(step: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = step()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="how many times to build, verify and print")
    parser.add_argument("--show-ir", action="store_true", help="print the elided IR of the last run")
    args = parser.parse_args()

    start = time.perf_counter()
    weights = make_weights()
    parameters = sum(w.size for w in weights.values())
    print(f"made {parameters / 1e6:.2f}M random float32 parameters ({parameters * 4 / 2**20:.0f} MiB) "
          f"in {(time.perf_counter() - start) * 1000:.0f} ms (not timed below)")

    runs: list[dict[str, float]] = []
    for _ in range(args.repeat):
        build_time, module = timed(lambda: build_resnet50(weights))
        verify_time, _ = timed(module.verify)
        print_time, text = timed(lambda: print_module(module))
        runs.append({"build": build_time, "verify": verify_time, "print": print_time,
                     "total": build_time + verify_time + print_time})

    body = list(module.walk())
    constants = sum(isinstance(op, ops.ConstantOp) for op in body)
    sima_ops = sum(op.name.startswith("sima.") for op in body)
    if args.show_ir:
        print(text)
    print(f"graph: {sima_ops} sima ops ({constants} sima.constant, {sima_ops - constants} compute), "
          f"{len(text.splitlines())} lines / {len(text) / 1024:.0f} KiB of elided IR")
    print(f"{'run':<6}" + "".join(f"{step:>10}" for step in runs[0]))
    for i, run in enumerate(runs, start=1):
        print(f"{i:<6}" + "".join(f"{seconds * 1000:8.1f}ms" for seconds in run.values()))
    best = {step: min(run[step] for run in runs) for step in runs[0]}
    print(f"{'best':<6}" + "".join(f"{seconds * 1000:8.1f}ms" for seconds in best.values()))


if __name__ == "__main__":
    main()
