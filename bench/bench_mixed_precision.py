"""Automatic int8 / int16 mixed precision (`afe.apis.mixed_precision.suggest_int16_nodes`):
what each int16 node buys, and what it costs, on the real models.

For each model: `suggest_int16_nodes(net, calibration, config, max_nodes=--max-nodes)` (config:
`default_quantization`, or with --config gptq / comp its weight rounding / activation compensation)
on --calibration inputs (seed 1; the tool sees nothing else); its walk records every
step, and the walk for k nodes (or for an SQNR target) is a prefix of it. For k = 0
(int8), 1, 2, ... and for each --targets SQNR (the first step reaching it), then for
full int16 activations (the config with 16-bit activations, nothing else changed;
for gptq that is int16_quantization), quantize with `LoadedNet.quantize` (`config.with_custom_quantization_configs`
of that step) and print:

    cal dB     the calibration SQNR the tool measured, at the logits (centred softmax inputs;
               --measured-at outputs: the outputs), and `same`: the model `LoadedNet.quantize`
               makes gives exactly that SQNR on the calibration inputs
    eval       output SQNR dB / top-1 agreement with fp32 % on --evaluation inputs (seed 2)
    +extra     top-1 % on --extra-evaluation more (seed 3), and pooled over both
    MACs %     the int16 nodes' share of the MLA's work
    tool s     CPU seconds the tool takes for that step (its max_nodes = k call)
    quant s    CPU seconds of LoadedNet.quantize with the suggestion
    exact x    bit-exact `Model.execute` CPU median over onnxruntime fp32's (one thread each,
               same input, same run; `bench/cpu_timing.cpu_median`)
    runs       what `Model.execute` runs bit-exact (`runtime.onnx_backend.executor_for`):
               ort(sessions / ops left to NumPy) or numpy (the interpreter: a convolution
               does not lower)

Classifiers (cls, orientation) get top-1; det and rec SQNR only (fewer inputs: --dense-evaluation).

    python bench/bench_mixed_precision.py [--only cls,orientation,det,rec] [--max-nodes 16] [--targets 25,30]
        [--calibration 32] [--evaluation 100] [--extra-evaluation 300] [--dense-evaluation 20] [--runs 10]
        [--ranking-samples 16] [--ks all] [--config default|gptq|comp] [--measured-at logits|outputs] [--folds 1] [--ranked-from int8|int16]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one BLAS thread: CPU time is latency on an idle core
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

CLASSIFIERS = ("cls", "orientation")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="cls,orientation,det,rec")
    parser.add_argument("--max-nodes", type=int, default=16)
    parser.add_argument("--targets", default="25,30", help="calibration output SQNR targets (dB), comma-separated")
    parser.add_argument("--calibration", type=int, default=32)
    parser.add_argument("--evaluation", type=int, default=100)
    parser.add_argument("--extra-evaluation", type=int, default=300)
    parser.add_argument("--dense-evaluation", type=int, default=20, help="det / rec evaluation inputs")
    parser.add_argument("--runs", type=int, default=10, help="timed runs per engine")
    parser.add_argument("--ranking-samples", type=int, default=16)
    parser.add_argument("--config", choices=("default", "gptq", "comp"), default="default",
                        help="the int8 config searched: default_quantization, .with_weight_rounding() (GPTQ) "
                        "or .with_activation_compensation()")
    parser.add_argument("--measured-at", choices=("logits", "outputs"), default="logits", help="the tool's criterion")
    parser.add_argument("--folds", type=int, default=1, help="the tool's folds")
    parser.add_argument("--ranked-from", choices=("int8", "int16"), default="int8", help="the tool's ranking")
    parser.add_argument("--ks", default="all", help="node counts to quantize and measure: all, or e.g. 0,1,2,4,8,16")
    args = parser.parse_args()

    import numpy as np
    import onnxruntime

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root / "test"))
    sys.path.insert(0, str(root / "bench"))
    from bench_quantization_accuracy import sqnr_db, top1_agreement
    from cpu_timing import cpu_median
    from afe.apis.defines import default_quantization, quantization_scheme
    from afe.apis.mixed_precision import suggest_int16_nodes
    from models import REAL_MODELS, load_real_net, nhwc_samples, real_inputs
    from afe.apis.model import Model
    from afe.core.quantize_pipeline import partitioned_float_module
    from runtime.interpreter import Interpreter
    from runtime.mixed_precision import compared_at, sample_errors
    from runtime.onnx_backend.program import OnnxProgram

    logging.getLogger().setLevel(logging.ERROR)
    targets = [float(t) for t in args.targets.split(",") if t]
    config = {"default": default_quantization, "gptq": default_quantization.with_weight_rounding(),
              "comp": default_quantization.with_activation_compensation()}[args.config]
    # every activation 16 bits, the rest as searched (gptq: = int16_quantization)
    full_int16 = config.with_activation_quantization(quantization_scheme(asymmetric=True, per_channel=False, bits=16))
    for name in [n for n in args.only.split(",") if n]:
        spec = REAL_MODELS[name]
        net = load_real_net(name)
        classify = name in CLASSIFIERS
        calibration = nhwc_samples(name, args.calibration, seed=1)
        evaluation = nhwc_samples(name, args.evaluation if classify else args.dense_evaluation, seed=2)
        extra = nhwc_samples(name, args.extra_evaluation, seed=3) if classify and args.extra_evaluation else []
        expected = [net.execute(s) for s in evaluation]
        expected_extra = [net.execute(s) for s in extra]
        float_reference = partitioned_float_module(net.module)
        compared, centre_axes = compared_at(float_reference, args.measured_at)
        compared_float = Interpreter(compared(float_reference))
        expected_calibration = [compared_float.run(s) for s in calibration]

        start = time.process_time()
        suggestion = suggest_int16_nodes(net, calibration, config, max_nodes=args.max_nodes, measured_at=args.measured_at,
                                         folds=args.folds, ranked_from=args.ranked_from, ranking_samples=args.ranking_samples, progress=False)
        tool_seconds = time.process_time() - start
        print(f"\n== {name} ({args.config}, measured at the {args.measured_at}, folds {args.folds}, ranked from {args.ranked_from}): calibration {len(calibration)}, evaluation {len(evaluation)}"
              + (f" + {len(extra)}" if extra else "") + f"; tool {tool_seconds:.1f} CPU s for {len(suggestion.nodes)} nodes "
              f"({suggestion.stopped}); ranking top 8: "
              + ", ".join(f"{n.split('/')[-1]} {g:+.2f}" for n, g in suggestion.ranking[:8]), flush=True)

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
        session = onnxruntime.InferenceSession(str(spec.path), options, providers=["CPUExecutionProvider"])
        image = real_inputs(name, 1, seed=7)[0]
        feeds_ort = {spec.input_name: image}
        feeds_ours = {spec.input_name: np.ascontiguousarray(image.transpose(0, 2, 3, 1))}

        rows: list[tuple[str, object, object]] = []  # (label, config, step or None)
        ks = range(len(suggestion.steps)) if args.ks == "all" else [int(k) for k in args.ks.split(",") if int(k) < len(suggestion.steps)]
        for k in ks:
            rows.append((f"k={k}", config.with_custom_quantization_configs(suggestion.configs_for(k)) if k else config, suggestion.steps[k]))
        for target in targets:
            reached = next((k for k, step in enumerate(suggestion.steps) if step.sqnr_db >= target), None)
            if reached is None:
                print(f"  target {target} dB: not reached within {len(suggestion.nodes)} nodes "
                      f"(best {suggestion.sqnr_db:.2f} dB)")
            else:
                rows.append((f">={target:g}dB k={reached}", config.with_custom_quantization_configs(suggestion.configs_for(reached)),
                             suggestion.steps[reached]))
        rows.append(("int16 all", full_int16, None))

        header = (f"{'row':<16} {'node added':<28} {'cal dB':>7} {'same':>5} {'eval dB':>7} {'top1':>6} {'+extra':>6} {'pooled':>6} "
                  f"{'MACs %':>6} {'tool s':>6} {'quant s':>7} {'exact x':>7} runs")
        print(header, flush=True)
        for label, row_config, step in rows:
            start = time.process_time()
            model = net.quantize(calibration, row_config)
            quantize_seconds = time.process_time() - start
            produced = [model.execute(s) for s in evaluation]
            produced_extra = [model.execute(s) for s in extra]
            compared_model = Model(compared(model.module), name=name)  # where the tool measures
            calibration_sqnr = sample_errors(expected_calibration, [compared_model.execute(s) for s in calibration], centre_axes).sqnr_db()
            same = step is not None and abs(calibration_sqnr - step.sqnr_db) < 1e-9
            first = lambda outputs: [o[0] for o in outputs]  # noqa: E731
            eval_sqnr = sqnr_db(first(expected), first(produced))
            top1 = extra_top1 = pooled = float("nan")
            if classify:
                top1 = 100 * top1_agreement(first(expected), first(produced))
                if extra:
                    extra_top1 = 100 * top1_agreement(first(expected_extra), first(produced_extra))
                    pooled = 100 * top1_agreement(first(expected + expected_extra), first(produced + produced_extra))
            model.execute(feeds_ours)
            executor = model._executor(False)
            runs = (f"ort({executor.segment_count()}/{len(executor.numpy_ops())})" if isinstance(executor, OnnxProgram) else "numpy")
            ort_seconds = cpu_median(lambda: session.run(None, feeds_ort), args.runs, warmup=1)
            exact_seconds = cpu_median(lambda: model.execute(feeds_ours), args.runs, warmup=1)
            added = step.nodes[-1].split("/")[-1] if step is not None and step.nodes else ""
            share = 100 * step.work_share if step is not None else 100.0
            tool = f"{step.seconds:6.1f}" if step is not None else f"{'':>6}"
            print(f"{label:<16} {added:<28} {calibration_sqnr:7.2f} {str(same) if step is not None else '':>5} {eval_sqnr:7.2f} "
                  f"{top1:6.1f} {extra_top1:6.1f} {pooled:6.2f} {share:6.1f} {tool} {quantize_seconds:7.1f} "
                  f"{exact_seconds / ort_seconds:7.2f} {runs}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
