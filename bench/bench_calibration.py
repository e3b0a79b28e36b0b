"""Calibration wall time on the real models, next to onnxruntime's in the same run.

For each model of MODELS.md and each calibration method, the same real
samples (`test/models.py`) go through:

- ours: what `LoadedNet.quantize` calibrates: the float IR after
  `partition_and_name` (activations fused into their convs, as the MLA holds
  them), then `calibrate_module` (insert observers, stream the samples through
  the float IR once, record statistics, select scales);
- onnxruntime's calibrator alone (`create_calibrator` + `collect_data` +
  `compute_data`: what calibration costs inside `quantize_static`), for
  MinMax, Entropy and Percentile;
- onnxruntime's whole `quantize_static` (QDQ, per-channel) with that
  calibrator, which also writes the quantized model.

Prints seconds and the ratios ours / ort-calibrator and ours / quantize_static
(lower is better; the target for the histogram methods is 0.5 or less), in
wall time and in CPU time of this process. `--threads` applies to both sides:
NumPy's BLAS and onnxruntime's sessions (whose thread pools ignore
OMP_NUM_THREADS: the calibrator's session is given `intra_op_num_threads`).
On a machine shared with other jobs the CPU-time ratio is the steadier one.

    python bench/bench_calibration.py [--samples 32] [--only cls,orientation] [--threads 1] [--ort-default-threads]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

from cpu_timing import limit_blas_threads  # bench/: the script's folder is on sys.path

# (our method, onnxruntime's calibrate method or None,
#  create_calibrator extra_options, quantize_static extra_options): same percentile, asymmetric ranges
METHODS = [
    ("min_max", "MinMax", {}, {}),
    ("entropy", "Entropy", {"symmetric": False}, {"CalibTensorRangeSymmetric": False}),
    ("percentile", "Percentile", {"percentile": 99.9, "symmetric": False}, {"CalibPercentile": 99.9}),
    ("mse", None, {}, {}),
    ("moving_average", None, {}, {}),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=32, help="calibration samples per model")
    parser.add_argument("--only", default="", help="comma-separated model names (cls, det, rec, orientation)")
    parser.add_argument("--methods", default="", help="comma-separated method names")
    parser.add_argument("--threads", type=int, default=1, help="threads for BLAS and onnxruntime")
    parser.add_argument("--ort-default-threads", action="store_true",
                        help="leave onnxruntime's thread pools at their default size (one per core)")
    args = parser.parse_args()
    limit_blas_threads(args.threads)

    import numpy as np
    import onnxruntime
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.calibrate import CalibrationMethod, create_calibrator

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "test"))
    from afe.apis.calibration import CalibrationMethod as OurMethod
    from afe.apis.defines import default_quantization
    from afe.apis.loaded_net import load_model
    from afe.core.calibration_pipeline import calibrate_module
    from afe.load.importers.general_importer import onnx_source
    from models import REAL_MODELS, real_inputs
    from passes.partition import partition_and_name

    onnxruntime.set_default_logger_severity(3)
    default_session_options = onnxruntime.SessionOptions

    def session_options():  # what the calibrator and quantize_static create
        options = default_session_options()
        options.intra_op_num_threads = options.inter_op_num_threads = args.threads
        return options

    if not args.ort_default_threads:
        onnxruntime.SessionOptions = session_options

    def timed(run):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        return time.perf_counter() - wall, time.process_time() - cpu

    class Reader(CalibrationDataReader):
        def __init__(self, name: str, images):
            self.name, self.images = name, iter(images)

        def get_next(self):
            image = next(self.images, None)
            return None if image is None else {self.name: image}

    names = [n for n in args.only.split(",") if n] or list(REAL_MODELS)
    methods = [m for m in METHODS if not args.methods or m[0] in args.methods.split(",")]
    ort_threads = "default" if args.ort_default_threads else args.threads
    print(f"{args.samples} samples, {args.threads} thread(s), onnxruntime: {ort_threads} thread(s)")
    print(f"{'model':<12} {'method':<15} {'ours s':>7} {'ort calib s':>11} {'ort quantize s':>14} "
          f"{'ours/calib':>10} {'ours/quantize':>13} {'cpu ours/calib':>14}")
    for name in names:
        spec = REAL_MODELS[name]
        if spec.path is None:
            print(f"{name:<12} {spec.package} is not installed (pip install -e '.[test]')")
            continue
        net = load_model(onnx_source(str(spec.path), {spec.input_name: spec.shape}))
        images = real_inputs(name, args.samples, seed=1)
        samples = [{spec.input_name: image.transpose(0, 2, 3, 1)} for image in images]
        for ours_name, ort_name, calibrator_options, quantize_options in methods:
            config = dataclasses.replace(default_quantization, calibration_method=OurMethod.from_str(ours_name))

            def ours_calibration():
                module = net.module.clone()
                partition_and_name(module)
                calibrate_module(module, samples, config, progress=False)

            ours, ours_cpu = timed(ours_calibration)
            calib = calib_cpu = quantize = float("nan")
            if ort_name is not None:
                method = getattr(CalibrationMethod, ort_name)
                with tempfile.TemporaryDirectory() as tmp:
                    def ort_calibration():
                        calibrator = create_calibrator(
                            str(spec.path), augmented_model_path=os.path.join(tmp, "augmented.onnx"),
                            calibrate_method=method, extra_options=calibrator_options,
                        )
                        calibrator.collect_data(Reader(spec.input_name, images))
                        calibrator.compute_data()

                    def ort_quantization():
                        quantize_static(
                            str(spec.path), os.path.join(tmp, "q.onnx"), Reader(spec.input_name, images),
                            quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QInt8,
                            weight_type=QuantType.QInt8, calibrate_method=method, extra_options=quantize_options,
                        )

                    calib, calib_cpu = timed(ort_calibration)
                    quantize, _ = timed(ort_quantization)
            print(
                f"{name:<12} {ours_name:<15} {ours:>7.2f} {calib:>11.2f} {quantize:>14.2f} "
                f"{ours / calib:>10.2f} {ours / quantize:>13.2f} {ours_cpu / calib_cpu:>14.2f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
