"""The bfloat16 scheme: accuracy (SQNR against the float model) and bit-exact execute latency.

For each model (default: cls): quantize with bf16 activations and weights,
with bf16 activations and int8 weights (seed 002's integer-weight path), and
with int8 (min / max calibration on the first samples, for comparison); then
on the evaluation samples report the output SQNR against `LoadedNet.execute`
(float), top-1 agreement, and the median latency of `Model.execute` next to
onnxruntime's float model in the same run (ratio: lower is better).

    python bench/bench_bfloat16.py [--only cls,orientation] [--calibration 8] [--evaluation 24] [--runs 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import logging
import math
import statistics
import sys
import time
from pathlib import Path

from cpu_timing import limit_blas_threads  # bench/: the script's folder is on sys.path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="cls", help="comma-separated model names (cls, det, rec, orientation)")
    parser.add_argument("--calibration", type=int, default=8, help="calibration samples (int8 only; bf16 needs none)")
    parser.add_argument("--evaluation", type=int, default=24, help="evaluation samples (other seed)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each engine")
    parser.add_argument("--threads", type=int, default=0, help="threads for BLAS and onnxruntime (0: their defaults)")
    args = parser.parse_args()
    if args.threads:
        limit_blas_threads(args.threads)

    # imported after the thread settings, which BLAS reads at load time
    import numpy as np
    import onnxruntime

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "test"))
    from afe.apis.defines import MinMaxMethod, bfloat16_scheme, default_quantization
    from afe.apis.loaded_net import load_model
    from afe.ir.tensor_type import ScalarType
    from afe.load.importers.general_importer import onnx_source
    from models import REAL_MODELS, real_inputs

    logging.getLogger().setLevel(logging.ERROR)  # the quantizer's notes on nodes left in float
    bf16_activations = default_quantization.with_activation_quantization(bfloat16_scheme())
    configs = {
        "int8": default_quantization.with_calibration(MinMaxMethod()),
        "bf16": bf16_activations.with_weight_quantization(bfloat16_scheme()),
        "bf16+int8w": bf16_activations,
    }
    print(f"{'model':<12} {'scheme':<11} {'SQNR dB':>8} {'top-1':>6} {'exact ms':>9} {'ort ms':>7} {'exact/ort':>9}")
    for name in args.only.split(","):
        spec = REAL_MODELS[name]
        net = load_model(onnx_source(str(spec.path), {spec.input_name: spec.shape}, {spec.input_name: ScalarType.float32}))
        options = onnxruntime.SessionOptions()
        if args.threads:
            options.intra_op_num_threads = args.threads
        session = onnxruntime.InferenceSession(str(spec.path), options, providers=["CPUExecutionProvider"])
        calibration = [np.ascontiguousarray(x.transpose(0, 2, 3, 1)) for x in real_inputs(name, args.calibration, seed=1)]
        evaluation_nchw = list(real_inputs(name, args.evaluation, seed=2))
        evaluation = [np.ascontiguousarray(x.transpose(0, 2, 3, 1)) for x in evaluation_nchw]
        references = [net.execute({spec.input_name: x})[0].astype(np.float64) for x in evaluation]
        for scheme, config in configs.items():
            model = net.quantize([{spec.input_name: x} for x in calibration], config, model_name=f"{name}_{scheme}")
            signal = noise = 0.0
            agree = 0
            for x, reference in zip(evaluation, references):
                out = model.execute({spec.input_name: x})[0]
                signal += float((reference**2).sum())
                noise += float(((out - reference) ** 2).sum())
                agree += int(np.argmax(out) == np.argmax(reference))
            exact, ort = [], []
            for _ in range(args.runs):
                start = time.perf_counter()
                model.execute({spec.input_name: evaluation[0]})
                exact.append(time.perf_counter() - start)
                start = time.perf_counter()
                session.run(None, {spec.input_name: evaluation_nchw[0]})
                ort.append(time.perf_counter() - start)
            sqnr = 10 * math.log10(signal / noise) if noise else math.inf
            exact_ms, ort_ms = statistics.median(exact) * 1e3, statistics.median(ort) * 1e3
            print(f"{name:<12} {scheme:<11} {sqnr:>8.2f} {agree / len(evaluation):>6.1%} {exact_ms:>9.1f} {ort_ms:>7.2f} "
                  f"{exact_ms / ort_ms:>9.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
