"""Accuracy of the quantization techniques: SQNR of the int8 model against fp32.

For each model of MODELS.md quantize with `afe.core.quantize_pipeline` (what
`LoadedNet.quantize` runs; the default calibration, histogram MSE with 2048
bins, on real samples from `test/models.py`) in these ways:

    int8 (per-ch)   default_quantization: per-channel int8 weights
    +bc             with_bias_correction(True)                  (regular)
    +bc iter        with_bias_correction(BiasCorrectionType.ITERATIVE)
                    (bias correction keeps its corrections only if they lower the
                    output error on held-out calibration samples: a column equal to
                    the one without correction means they were not kept)
    +cle            with_channel_equalization()
    +smoothquant    with_smooth_quant()
    per-tensor      weights per tensor: with_weight_quantization(quantization_scheme(False, False))
    pt+cle          per-tensor weights with channel equalization
    pt+bc iter      per-tensor weights with iterative bias correction
    pt+cle+bc iter  per-tensor weights with both

and print, for each, the SQNR in dB (10 log10(sum f^2 / sum (q - f)^2), all
evaluation samples pooled; higher is better) of the quantized model's (first)
output against the float model's on evaluation samples drawn with another
seed (`--evaluation-seeds`: one row per seed, so the spread between two
seeds' rows shows the evaluation's own noise), and the seconds each
quantization took. The outputs of cls and
orientation are saturating softmaxes: their SQNR is dominated by the few
samples whose decision is close: on cls with 128 evaluation samples a
bootstrap over the samples gives a standard error of ~1 dB for the difference
of two columns (orientation ~0.3-0.8 dB), so smaller differences are noise.

    python bench/bench_accuracy_techniques.py [--calibration 16] [--evaluation 128] [--only cls,det,rec,orientation]
        [--det-size 320] [--columns int8,+bc,...] [--evaluation-seeds 2,3]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibration", type=int, default=16, help="calibration samples (seed 1)")
    parser.add_argument("--evaluation", type=int, default=128, help="evaluation samples (per evaluation seed)")
    parser.add_argument("--evaluation-seeds", default="2", help="comma-separated seeds of evaluation sample sets (default 2)")
    parser.add_argument("--only", default="cls,orientation,rec,det", help="comma-separated model names (cls, det, rec, orientation)")
    parser.add_argument("--det-size", type=int, default=320, help="det's input height and width (default 320, as test/models.py)")
    parser.add_argument("--columns", default="", help="comma-separated column names (default: all)")
    args = parser.parse_args()

    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "test"))
    from afe.apis.defines import BiasCorrectionType, default_quantization, quantization_scheme
    from afe.core.quantize_pipeline import quantize_float_module
    from models import REAL_MODELS, load_real_net, nhwc_samples
    from runtime.interpreter import Interpreter

    logging.getLogger().setLevel(logging.ERROR)  # the quantizer's notes on nodes left in float
    int8 = default_quantization
    iterative = BiasCorrectionType.ITERATIVE
    per_tensor = int8.with_weight_quantization(quantization_scheme(False, False))
    configs = {
        "int8 (per-ch)": int8,
        "+bc": int8.with_bias_correction(True),
        "+bc iter": int8.with_bias_correction(iterative),
        "+cle": int8.with_channel_equalization(),
        "+smoothquant": int8.with_smooth_quant(),
        "per-tensor": per_tensor,
        "pt+cle": per_tensor.with_channel_equalization(),
        "pt+bc iter": per_tensor.with_bias_correction(iterative),
        "pt+cle+bc iter": per_tensor.with_channel_equalization().with_bias_correction(iterative),
    }
    if args.columns:
        configs = {name: configs[name] for name in args.columns.split(",")}

    def sqnr_db(reference: list, approximation: list) -> float:
        signal = sum(float(np.sum(r.astype(np.float64) ** 2)) for r in reference)
        noise = sum(float(np.sum((r.astype(np.float64) - a) ** 2)) for r, a in zip(reference, approximation))
        return float("inf") if noise == 0 else 10 * np.log10(signal / noise)

    print(
        f"SQNR vs fp32 in dB (all evaluation samples pooled); default calibration (histogram MSE, 2048 bins); "
        f"{args.calibration} calibration / {args.evaluation} evaluation samples"
    )
    header = f"{'model':<12} {'':<8} " + " ".join(f"{name:>14}" for name in configs)
    print(header)
    for name in [n for n in args.only.split(",") if n]:
        spec = REAL_MODELS[name]
        if spec.path is None:
            print(f"{name:<12} {spec.package} is not installed (pip install -e '.[test]')")
            continue
        shape = (1, 3, args.det_size, args.det_size) if name == "det" else spec.shape
        net = load_real_net(name, shape)
        calibration = nhwc_samples(name, args.calibration, seed=1, shape=shape)
        seeds = [int(seed) for seed in args.evaluation_seeds.split(",")]
        evaluations = {seed: nhwc_samples(name, args.evaluation, seed=seed, shape=shape) for seed in seeds}
        references = {seed: [net.execute(sample)[0] for sample in samples] for seed, samples in evaluations.items()}
        results: dict[int, list[float]] = {seed: [] for seed in seeds}
        seconds = []
        for config in configs.values():
            start = time.perf_counter()
            modules = quantize_float_module(net.module, calibration, config, progress=False)
            seconds.append(time.perf_counter() - start)
            interpreter = Interpreter(modules.quantized)
            for seed, samples in evaluations.items():
                results[seed].append(sqnr_db(references[seed], [interpreter.run(sample)[0] for sample in samples]))
        label = f"{name}" + (f" {args.det_size}" if name == "det" else "")
        for seed in seeds:
            row = f"dB s{seed}" if len(seeds) > 1 else "SQNR dB"
            print(f"{label:<12} {row:<8} " + " ".join(f"{v:>14.2f}" for v in results[seed]), flush=True)
        print(f"{label:<12} {'quant s':<8} " + " ".join(f"{s:>14.0f}" for s in seconds), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
