"""Quantized execute latency: `Model.execute` bit-exact and `fast_mode`, next to onnxruntime.

For each model of MODELS.md (default: all four) and each activation width
(int8, int16): quantize once with `LoadedNet.quantize` (`default_quantization`
or min / max calibration, on a few real samples from `test/models.py`), then
alternate timed runs of onnxruntime's float model, `LoadedNet.execute`
(float), `Model.execute` (bit-exact integer arithmetic) and
`Model.execute(fast_mode=True)` on the same input. Prints the median
latencies (wall clock), the ratios to onnxruntime (lower is better; issue 5's
targets: bit-exact <= 2, fast mode <= 1.2), fast / exact, and fast mode's
largest difference from bit-exact on the model's outputs.

With --threads 1 (the fair comparison: one BLAS thread, onnxruntime
intra_op_num_threads=1) each engine runs on one core, so its process CPU time
is its latency on an idle core: the "cpu" ratios use medians of
`time.process_time()` and stay meaningful when other jobs share the machine
(wall-clock ratios then depend on who was preempted).

    python bench/bench_quantized_execute.py [--runs 10] [--samples 4] [--threads 1] [--only cls,orientation] [--calibration minmax]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs of each engine")
    parser.add_argument("--samples", type=int, default=4, help="calibration samples")
    parser.add_argument("--threads", type=int, default=0, help="threads for BLAS and onnxruntime (0: their defaults)")
    parser.add_argument("--only", default="cls,det,rec,orientation", help="comma-separated model names (cls, det, rec, orientation)")
    parser.add_argument("--calibration", choices=("default", "minmax"), default="default",
                        help="default_quantization's calibration (the brief's setting) or min / max (faster to quantize)")
    parser.add_argument("--bits", default="int8,int16", help="activation widths to run (int8, int16)")
    args = parser.parse_args()
    if args.threads:
        for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[variable] = str(args.threads)

    # imported after the thread settings, which BLAS reads at load time
    import numpy as np
    import onnxruntime

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "test"))
    from afe.apis.defines import MinMaxMethod, default_quantization, int16_quantization
    from afe.apis.loaded_net import load_model
    from afe.load.importers.general_importer import onnx_source
    from models import REAL_MODELS, real_inputs

    logging.getLogger().setLevel(logging.ERROR)  # the quantizer's notes on nodes left in float
    configs = {"int8": default_quantization, "int16": int16_quantization}
    print(f"{'model':<12} {'bits':<5} {'quant s':>7} {'ort ms':>7} {'fp32 ms':>7} {'exact ms':>8} {'fast ms':>7} "
          f"{'exact/ort':>9} {'fast/ort':>8} {'fp32/ort':>8} {'cpu ms: ort':>11} {'exact':>7} {'fast':>7} "
          f"{'cpu: exact/ort':>14} {'fast/ort':>8} {'fp32/ort':>8} "
          f"{'fast/exact':>10} {'max|fast-exact|':>15}")
    for name in [n for n in args.only.split(",") if n]:
        spec = REAL_MODELS[name]
        if spec.path is None:
            print(f"{name:<12} {spec.package} is not installed (pip install -e '.[test]')")
            continue
        net = load_model(onnx_source(str(spec.path), {spec.input_name: spec.shape}))
        options = onnxruntime.SessionOptions()
        if args.threads:
            options.intra_op_num_threads = args.threads
            options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(str(spec.path), options, providers=["CPUExecutionProvider"])
        images = real_inputs(name, args.samples + 1, seed=7)
        calibration = [{spec.input_name: np.ascontiguousarray(x.transpose(0, 2, 3, 1))} for x in images[:-1]]
        feeds_ours = {spec.input_name: np.ascontiguousarray(images[-1].transpose(0, 2, 3, 1))}
        feeds_ort = {spec.input_name: images[-1]}
        for bits in [b for b in args.bits.split(",") if b]:
            config = configs[bits] if args.calibration == "default" else configs[bits].with_calibration(MinMaxMethod())
            start = time.perf_counter()
            model = net.quantize(calibration, config)
            quantize_seconds = time.perf_counter() - start
            exact_out, fast_out = model.execute(feeds_ours), model.execute(feeds_ours, fast_mode=True)  # warm up
            session.run(None, feeds_ort)
            net.execute(feeds_ours)
            difference = max(float(np.abs(e - f).max()) for e, f in zip(exact_out, fast_out))
            times: dict[str, list[float]] = {"ort": [], "fp32": [], "exact": [], "fast": []}
            cpu_times: dict[str, list[float]] = {key: [] for key in times}
            runs = {
                "ort": lambda: session.run(None, feeds_ort),
                "fp32": lambda: net.execute(feeds_ours),
                "exact": lambda: model.execute(feeds_ours),
                "fast": lambda: model.execute(feeds_ours, fast_mode=True),
            }
            for _ in range(args.runs):
                for key, run in runs.items():
                    start, cpu_start = time.perf_counter(), time.process_time()
                    run()
                    times[key].append(time.perf_counter() - start)
                    cpu_times[key].append(time.process_time() - cpu_start)
            ms = {key: 1000 * statistics.median(values) for key, values in times.items()}
            cpu = {key: statistics.median(values) for key, values in cpu_times.items()}
            print(f"{name:<12} {bits:<5} {quantize_seconds:>7.2f} {ms['ort']:>7.2f} {ms['fp32']:>7.2f} {ms['exact']:>8.2f} "
                  f"{ms['fast']:>7.2f} {ms['exact'] / ms['ort']:>9.2f} {ms['fast'] / ms['ort']:>8.2f} {ms['fp32'] / ms['ort']:>8.2f} "
                  f"{1000 * cpu['ort']:>11.2f} {1000 * cpu['exact']:>7.2f} {1000 * cpu['fast']:>7.2f} "
                  f"{cpu['exact'] / cpu['ort']:>14.2f} {cpu['fast'] / cpu['ort']:>8.2f} {cpu['fp32'] / cpu['ort']:>8.2f} "
                  f"{ms['fast'] / ms['exact']:>10.2f} {difference:>15.3g}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
