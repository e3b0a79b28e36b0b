"""Accuracy of the quantization techniques: SQNR of the int8 model against fp32.

For each model of MODELS.md (default: cls, orientation) quantize with
`LoadedNet.quantize` (min / max calibration on real samples from
`test/models.py`) in five ways and print, for each, the SQNR in dB of the
quantized model's outputs against the float model's on evaluation samples
drawn with another seed (all samples of an output pooled; higher is better):

    int8            default_quantization (per-channel weights)
    +cle            with_channel_equalization()
    +smoothquant    with_smooth_quant()
    per-tensor      weights per-tensor: with_weight_quantization(quantization_scheme(False, False))
    per-tensor+cle  per-tensor weights with channel equalization

    python bench/bench_accuracy_techniques.py [--calibration 16] [--evaluation 32] [--only cls,orientation]
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
    parser.add_argument("--evaluation", type=int, default=32, help="evaluation samples (seed 2)")
    parser.add_argument("--only", default="cls,orientation", help="comma-separated model names (cls, det, rec, orientation)")
    args = parser.parse_args()

    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "test"))
    from afe.apis.defines import MinMaxMethod, default_quantization, quantization_scheme
    from afe.apis.loaded_net import load_model
    from afe.load.importers.general_importer import onnx_source
    from models import REAL_MODELS, real_inputs

    logging.getLogger().setLevel(logging.ERROR)  # the quantizer's notes on nodes left in float
    int8 = default_quantization.with_calibration(MinMaxMethod())
    per_tensor = int8.with_weight_quantization(quantization_scheme(False, False))
    configs = {
        "int8": int8,
        "+cle": int8.with_channel_equalization(),
        "+smoothquant": int8.with_smooth_quant(),
        "per-tensor": per_tensor,
        "per-tensor+cle": per_tensor.with_channel_equalization(),
    }

    def sqnr_db(reference: list, approximation: list) -> float:
        signal = sum(float(np.sum(r.astype(np.float64) ** 2)) for r in reference)
        noise = sum(float(np.sum((r.astype(np.float64) - a) ** 2)) for r, a in zip(reference, approximation))
        return float("inf") if noise == 0 else 10 * np.log10(signal / noise)

    print(f"SQNR vs fp32 in dB (output: all evaluation samples pooled); min/max calibration, "
          f"{args.calibration} calibration / {args.evaluation} evaluation samples")
    print(f"{'model':<12} {'output':<7} " + " ".join(f"{name:>15}" for name in configs) + f" {'quantize s (each)':>18}")
    for name in [n for n in args.only.split(",") if n]:
        spec = REAL_MODELS[name]
        if spec.path is None:
            print(f"{name:<12} {spec.package} is not installed (pip install -e '.[test]')")
            continue
        net = load_model(onnx_source(str(spec.path), {spec.input_name: spec.shape}))
        nhwc = lambda images: [{spec.input_name: np.ascontiguousarray(x.transpose(0, 2, 3, 1))} for x in images]  # noqa: E731
        calibration = nhwc(real_inputs(name, args.calibration, seed=1))
        evaluation = nhwc(real_inputs(name, args.evaluation, seed=2))
        reference = [net.execute(sample) for sample in evaluation]
        outputs = len(reference[0])
        results, seconds = {}, []
        for label, config in configs.items():
            start = time.perf_counter()
            model = net.quantize(calibration, config)
            seconds.append(time.perf_counter() - start)
            quantized = [model.execute(sample) for sample in evaluation]
            results[label] = [sqnr_db([r[i] for r in reference], [q[i] for q in quantized]) for i in range(outputs)]
        timing = "/".join(f"{s:.0f}" for s in seconds)
        for index in range(outputs):
            print(f"{name:<12} {index:<7} " + " ".join(f"{results[label][index]:>15.2f}" for label in configs) + f" {timing:>18}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
