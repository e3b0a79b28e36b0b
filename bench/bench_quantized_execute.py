"""Quantized execute latency: `Model.execute` bit-exact and `fast_mode`, next to onnxruntime.

For each model of MODELS.md (default: cls) and each activation width (int8,
int16): quantize with `LoadedNet.quantize` (min / max calibration on real
samples from `test/models.py`), then alternate timed runs of onnxruntime's
float model, `LoadedNet.execute` (float), `Model.execute` (bit-exact integer
arithmetic) and `Model.execute(fast_mode=True)` on the same input. Prints the
median latencies, the ratios to onnxruntime (lower is better) and fast / exact,
and fast mode's largest difference from bit-exact on the model's outputs.

    python bench/bench_quantized_execute.py [--runs 10] [--samples 8] [--threads N] [--only cls,orientation]
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
    parser.add_argument("--samples", type=int, default=8, help="calibration samples")
    parser.add_argument("--threads", type=int, default=0, help="threads for BLAS and onnxruntime (0: their defaults)")
    parser.add_argument("--only", default="cls", help="comma-separated model names (cls, det, rec, orientation)")
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
    print(f"{'model':<12} {'bits':<5} {'quant s':>7} {'ort ms':>8} {'fp32 ms':>8} {'exact ms':>9} {'fast ms':>8} "
          f"{'exact/ort':>9} {'fast/ort':>8} {'fast/exact':>10} {'max|fast-exact|':>15}")
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
        for bits, config in configs.items():
            start = time.perf_counter()
            model = net.quantize(calibration, config.with_calibration(MinMaxMethod()))
            quantize_seconds = time.perf_counter() - start
            exact_out, fast_out = model.execute(feeds_ours), model.execute(feeds_ours, fast_mode=True)  # warm up
            session.run(None, feeds_ort)
            net.execute(feeds_ours)
            difference = max(float(np.abs(e - f).max()) for e, f in zip(exact_out, fast_out))
            times: dict[str, list[float]] = {"ort": [], "fp32": [], "exact": [], "fast": []}
            runs = {
                "ort": lambda: session.run(None, feeds_ort),
                "fp32": lambda: net.execute(feeds_ours),
                "exact": lambda: model.execute(feeds_ours),
                "fast": lambda: model.execute(feeds_ours, fast_mode=True),
            }
            for _ in range(args.runs):
                for key, run in runs.items():
                    start = time.perf_counter()
                    run()
                    times[key].append(time.perf_counter() - start)
            ms = {key: 1000 * statistics.median(values) for key, values in times.items()}
            print(f"{name:<12} {bits:<5} {quantize_seconds:>7.2f} {ms['ort']:>8.2f} {ms['fp32']:>8.2f} {ms['exact']:>9.2f} "
                  f"{ms['fast']:>8.2f} {ms['exact'] / ms['ort']:>9.1f} {ms['fast'] / ms['ort']:>8.1f} "
                  f"{ms['fast'] / ms['exact']:>10.2f} {difference:>15.3g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
