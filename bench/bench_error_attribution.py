"""Where a quantized model's output error comes from: one rounding at a time.

For each real model (`test/models.py`), quantize with `default_quantization`
(calibration seed 1) and run, on the evaluation inputs (seed 2), float
functions with some of the quantized model's rounding put back
(`runtime.error_analysis.mixed_module`):

    tensor units  every activation tensor the quantized model rounds (node outputs,
                  the model input): rounded to its int8 grid and range, in a float network
    node units    every node with integer arithmetic beyond a table (conv, dense,
                  multiply, add, pools, softmax: weights, bias, requantization,
                  multipliers), run as the quantized model runs it

and prints, for each unit, output SQNR (dB) / top-1 agreement with fp32 when

    only      that unit alone is quantized (everything else float); for a node
              unit its inputs are quantized too (an integer op reads integers)
    except    everything else is quantized and that unit is not: for a tensor,
              every other tensor rounded (float weights and arithmetic); for a
              node, the whole integer model with that node in float (its
              output still rounded where its readers quantize it)

Summary rows: every tensor rounded (activations only, float weights and
arithmetic), every node integer (= the quantized model, checked), and the
quantized model itself. The top `--top` units of each list are sorted by the
`except` gain (how much the model's SQNR rises without that unit) and by `only`.

    python bench/bench_error_attribution.py [--only cls,orientation] [--calibration 32]
        [--evaluation 32] [--top 10] [--units tensor,node] [--fast-mode]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path


# integer arithmetic beyond a table or a copy: what a node unit measures
ARITHMETIC_OPS = (
    "sima.qconv2d",
    "sima.qdense",
    "sima.qmul",
    "sima.qadd",
    "sima.qsub",
    "sima.qmatmul",
    "sima.qavg_pool",
    "sima.qglobal_avg_pool",
    "sima.qsoftmax",
    "sima.qlayer_norm",
    "sima.qconv2d_transpose",
    "sima.qresize_linear",
    "sima.qprelu",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="cls,orientation")
    parser.add_argument("--calibration", type=int, default=32)
    parser.add_argument("--evaluation", type=int, default=32)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--units", default="tensor,node", help="which units to measure: tensor, node or both")
    parser.add_argument("--fast-mode", action="store_true", help="float32 GEMMs for integer nodes (not bit exact)")
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "test"))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_quantization_accuracy import sqnr_db, top1_agreement
    from afe.apis.defines import default_quantization
    from models import load_real_net, nhwc_samples
    from runtime.error_analysis import comparable, match_nodes, mixed_module, quantized_tensors
    from runtime.fast_kernels import FAST_KERNELS
    from runtime.interpreter import Interpreter, find_function

    logging.getLogger().setLevel(logging.ERROR)
    kernels = FAST_KERNELS if args.fast_mode else None
    for name in [n for n in args.only.split(",") if n]:
        start = time.perf_counter()
        net = load_real_net(name)
        model = net.quantize(nhwc_samples(name, args.calibration, seed=1), default_quantization)
        evaluation = nhwc_samples(name, args.evaluation, seed=2)
        quantized, reference_module = model.module, model.float_reference
        reference = [Interpreter(reference_module).run(s)[0] for s in evaluation]
        classify = name != "det"

        def score(**units) -> tuple[float, float | None]:
            interpreter = Interpreter(mixed_module(quantized, reference_module, **units), kernels=kernels)
            outputs = [interpreter.run(s)[0] for s in evaluation]
            return sqnr_db(reference, outputs), (top1_agreement(reference, outputs) if classify else None)

        def cell(result: tuple[float, float | None]) -> str:
            sqnr, top1 = result
            return f"{sqnr:6.2f}" + ("" if top1 is None else f" / {100 * top1:5.1f}")

        tensors = list(quantized_tensors(quantized, reference_module))
        matches = [m for m in match_nodes(find_function(quantized), find_function(reference_module)) if comparable(m)]
        nodes = [m.name for m in matches if m.op_name in ARITHMETIC_OPS]
        every_node = [m.name for m in matches]
        model_outputs = [model.execute(s, fast_mode=args.fast_mode)[0] for s in evaluation]
        whole = (sqnr_db(reference, model_outputs), top1_agreement(reference, model_outputs) if classify else None)
        activations = score(rounded_tensors=tensors)
        integer = score(integer_nodes=every_node)
        print(f"\n== {name}: calibration {args.calibration}, evaluation {args.evaluation}, "
              f"{len(tensors)} tensors, {len(nodes)} arithmetic nodes of {len(every_node)}")
        print(f"quantized model        {cell(whole)}")
        print(f"every node integer     {cell(integer)}")
        print(f"activations only       {cell(activations)}   (every tensor rounded; float weights and arithmetic)")
        print(f"{'kind':<7} {'unit':<40} {'only':>15} {'except':>15} {'gain dB':>8}", flush=True)
        rows = []

        def add(kind: str, unit: str, only, others, baseline) -> None:
            rows.append((kind, unit, only, others, others[0] - baseline[0]))
            print(f"{kind:<7} {unit:<40} {cell(only):>15} {cell(others):>15} {rows[-1][4]:>+8.2f}", flush=True)

        units = args.units.split(",")
        for tensor in tensors if "tensor" in units else []:
            only = score(rounded_tensors=[tensor])
            add("tensor", tensor, only, score(rounded_tensors=[t for t in tensors if t != tensor]), activations)
        for node in nodes if "node" in units else []:
            only = score(integer_nodes=[node])
            add("node", node, only, score(integer_nodes=[n for n in every_node if n != node]), integer)
        for kind in ("tensor", "node"):
            of_kind = [row for row in rows if row[0] == kind]
            if not of_kind:
                continue
            print(f"-- top {args.top} {kind} units by except gain:")
            for row in sorted(of_kind, key=lambda r: -r[4])[: args.top]:
                print(f"   {row[1]:<40} only {cell(row[2])}  except {cell(row[3])}  gain {row[4]:+.2f}")
            print(f"-- top {args.top} {kind} units by only (lowest SQNR alone):")
            for row in sorted(of_kind, key=lambda r: r[2][0])[: args.top]:
                print(f"   {row[1]:<40} only {cell(row[2])}  except {cell(row[3])}")
        print(f"({time.perf_counter() - start:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
