"""Peak memory of calibration does not grow with the number of samples.

Calibrates a real model (default: PP-OCR cls, default calibration method:
histogram MSE) on N real samples produced lazily by a generator (so the data
itself never sits in memory), once per N in a fresh subprocess, and prints
each run's peak resident memory (ru_maxrss) and its growth over the smallest N.
The acceptance target: 1,000 samples within 10% of 64 samples.

    python bench/bench_calibration_memory.py [--model cls] [--counts 64,1000] [--method mse]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_one(model: str, count: int, method: str) -> dict:
    """In this (fresh) process: calibrate on `count` lazily generated samples."""
    import dataclasses
    import resource

    import numpy as np

    sys.path.insert(0, str(ROOT / "test"))
    from afe.apis.calibration import CalibrationMethod
    from afe.apis.defines import default_quantization
    from afe.apis.loaded_net import load_model
    from afe.core.calibration_pipeline import calibrate_module
    from afe.load.importers.general_importer import onnx_source
    from afe.core.utils import length_hinted
    from models import REAL_MODELS, real_input

    spec = REAL_MODELS[model]
    net = load_model(onnx_source(str(spec.path), {spec.input_name: spec.shape}))
    config = dataclasses.replace(default_quantization, calibration_method=CalibrationMethod.from_str(method))

    def samples():
        rng = np.random.default_rng(0)
        for _ in range(count):
            yield {spec.input_name: real_input(model, rng).transpose(0, 2, 3, 1)}

    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    calibrate_module(net.module, length_hinted(count, samples()), config, progress=False)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"count": count, "peak_kib": peak, "before_kib": baseline, "seconds": seconds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cls")
    parser.add_argument("--counts", default="64,1000")
    parser.add_argument("--method", default="mse")
    parser.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.model, args.child, args.method)))
        return 0

    counts = [int(c) for c in args.counts.split(",")]
    results = []
    for count in counts:
        out = subprocess.run(
            [sys.executable, __file__, "--model", args.model, "--method", args.method, "--child", str(count)],
            capture_output=True, text=True, check=True,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    smallest = results[0]
    print(f"model {args.model}, method {args.method}")
    print(f"{'samples':>8} {'peak MiB':>9} {'after import MiB':>17} {'calibration s':>14} {'peak vs ' + str(smallest['count']):>12}")
    for r in results:
        growth = r["peak_kib"] / smallest["peak_kib"] - 1
        print(f"{r['count']:>8} {r['peak_kib'] / 1024:>9.1f} {r['before_kib'] / 1024:>17.1f} {r['seconds']:>14.1f} {growth:>+12.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
