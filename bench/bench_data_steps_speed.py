"""Quantize time and accuracy of the data steps: activation compensation and bias correction.

For each real model (`test/models.py`: cls, orientation, det, rec) quantize, on
the data of `bench/bench_quantization_accuracy.py` (calibration seed 1,
evaluation seed 2, the same sample counts), with

    int8       default_quantization
    +comp      with_activation_compensation()   (runtime/weight_rounding.py)
    +bc        with_bias_correction(True)       (runtime/bias_correction.py, regular)
    +bc iter   with_bias_correction(BiasCorrectionType.ITERATIVE)

and print per configuration the seconds `LoadedNet.quantize` took (calibration
included; wall clock and this process's CPU time, which moves less with the load of a
shared machine), the output SQNR (dB, bit-exact execution) against fp32, and a
fingerprint of the quantized module's integer constants (weights and biases of
every layer), so that two runs of different code can be compared bit for bit.
The load average of the machine before and after each model is printed too:
quantize times on a shared machine move with it.

    python bench/bench_data_steps_speed.py [--only cls,orientation,det,rec] [--columns int8,+comp,+bc,+bc iter]
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np


def fingerprint(module) -> str:
    """A short hash of every constant of the module's function, in program order."""
    from runtime.interpreter import find_function
    from sima_dialect import ops

    digest = hashlib.sha256()
    for op in find_function(module).walk():
        if isinstance(op, ops.ConstantOp):
            array = op.as_array()
            digest.update(str(array.dtype).encode() + str(array.shape).encode())
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:10]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="cls,orientation,det,rec", help="comma-separated model names")
    parser.add_argument("--columns", default="int8,+comp,+bc,+bc iter", help="comma-separated configurations")
    parser.add_argument("--calibration", type=int, default=32)
    parser.add_argument("--evaluation", type=int, default=100)
    parser.add_argument("--det-calibration", type=int, default=8)
    parser.add_argument("--det-evaluation", type=int, default=8)
    parser.add_argument("--rec-calibration", type=int, default=16)
    parser.add_argument("--rec-evaluation", type=int, default=32)
    args = parser.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "test"))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_quantization_accuracy import sqnr_db

    import afe.core.quantize_pipeline  # noqa: F401 (imported before timing: its imports take seconds)
    from afe.apis.defines import BiasCorrectionType, default_quantization
    from afe.apis.loaded_net import load_model
    from afe.load.importers.general_importer import onnx_source
    from models import REAL_MODELS, real_inputs

    logging.getLogger().setLevel(logging.ERROR)
    configs = {
        "int8": default_quantization,
        "+comp": default_quantization.with_activation_compensation(),
        "+bc": default_quantization.with_bias_correction(True),
        "+bc iter": default_quantization.with_bias_correction(BiasCorrectionType.ITERATIVE),
    }
    configs = {name: configs[name] for name in args.columns.split(",") if name}
    sizes = {"det": (args.det_calibration, args.det_evaluation), "rec": (args.rec_calibration, args.rec_evaluation)}
    print(f"code: {Path(__file__).resolve().parent.parent}; SQNR dB (bit-exact) / quantize s (wall) / quantize s (CPU) / constants' fingerprint")
    print(f"{'model':<12} " + " ".join(f"{name:>37}" for name in configs) + "   load avg (1 min) before/after")
    for name in [n for n in args.only.split(",") if n]:
        spec = REAL_MODELS[name]
        calibration_count, evaluation_count = sizes.get(name, (args.calibration, args.evaluation))
        nhwc = lambda images: [{spec.input_name: np.ascontiguousarray(x.transpose(0, 2, 3, 1))} for x in images]  # noqa: E731
        calibration = nhwc(real_inputs(name, calibration_count, seed=1))
        evaluation = nhwc(real_inputs(name, evaluation_count, seed=2))
        net = load_model(onnx_source(str(spec.path), {spec.input_name: spec.shape}))
        reference = [net.execute(sample)[0] for sample in evaluation]
        load_before = os.getloadavg()[0]
        cells = []
        for config in configs.values():
            start, cpu_start = time.perf_counter(), time.process_time()
            model = net.quantize(calibration, config)
            seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
            sqnr = sqnr_db(reference, [model.execute(sample)[0] for sample in evaluation])
            cells.append(f"{sqnr:6.2f} / {seconds:6.1f} / {cpu_seconds:6.1f} / {fingerprint(model.module)}")
        print(f"{name:<12} " + " ".join(f"{c:>37}" for c in cells) + f"   {load_before:.1f}/{os.getloadavg()[0]:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
