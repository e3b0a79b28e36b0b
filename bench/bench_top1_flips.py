"""The classifiers' top-1 flips themselves (issue #5): for each input where the int8
model's argmax differs from fp32's, the fp32 and int8 outputs, and what kind of flip it is.

For cls and orientation, configurations as in `bench_top1_techniques.py` (same data:
calibration seed 1, evaluation seed 2 and seed 3), all --evaluation + --extra-evaluation
inputs together. Per configuration:

    flips         argmax of the bit-exact int8 output (dequantized softmax) != fp32's
    output ties   flips where the int8 output's top value is shared by two classes
                  (argmax takes the lower index)
    logits agree  flips where the int8 LOGITS (the qsoftmax's input, dequantized) have
                  fp32's argmax strictly: the softmax's quantization made the flip
    logit ties    flips where the int8 logits' top is shared (a tie before the softmax)

and per flip: fp32 probabilities, int8 probabilities, fp32 logits, int8 logits; and
the Gaussian flip model (`runtime.logit_error.flip_model`): the std of the error of the
difference of fp32's two best logits, the agreement it predicts, and how much less
error 98 % agreement on these inputs would need.

    python bench/bench_top1_flips.py [--only cls,orientation] [--configs int8,+comp]
        [--calibration 32] [--evaluation 100] [--extra-evaluation 300] [--quiet]

Measured (400 inputs, flips / output ties / logits agree / logit ties): cls int8 24 / 3 / 0 / 3,
+comp 11 / 1 / 0 / 1, +groups+rr+comp 11 / 1 / 0 / 1; orientation int8 42 / 5 / 0 / 5, +groups
12 / 0 / 0 / 0 (again on 2026-11-24 with calibration on one BLAS thread: cls the same,
orientation int8 39 / 2 / 0 / 2, +groups 13 / 0 / 0 / 0). No flip comes from the softmax's int8 output (the qsoftmax runs on the MLA,
step 1/255): where the int8 logits have fp32's argmax the probabilities keep it, and every
tie of the output is a tie of the int8 logits (cls: both logits on the same step of 0.114).
The flips are logit errors of 0.2-0.5 on inputs whose fp32 logits differ by 0.02-0.5.
Narrowing the logits' range (finer step, 0.5 / 0.3 / 0.25 of the MSE range) clipped the
confident inputs' logits (logit SQNR 23.3 -> 9.2 / 4.9 / 3.9 dB) and moved no top-1 (cls
int8 94 / 94.0-94.7 on 300, +comp 95-96 / 97.7).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

DEFAULT_CONFIGS = {"cls": "int8,+comp", "orientation": "int8,+groups"}


def classify_flips(fp32_output: np.ndarray, int8_output: np.ndarray, int8_logits: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean masks over samples (rows) of the kinds of flip (module docstring)."""
    expected = np.argmax(fp32_output, axis=1)
    flipped = np.argmax(int8_output, axis=1) != expected
    top = int8_output.max(axis=1, keepdims=True)
    output_tie = np.count_nonzero(int8_output == top, axis=1) > 1
    logit_top = int8_logits.max(axis=1, keepdims=True)
    logit_tie = np.count_nonzero(int8_logits == logit_top, axis=1) > 1
    logits_agree = (np.argmax(int8_logits, axis=1) == expected) & ~logit_tie
    return {"flips": flipped, "output ties": flipped & output_tie, "logits agree": flipped & logits_agree,
            "logit ties": flipped & logit_tie}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="cls,orientation")
    parser.add_argument("--configs", default=None, help="comma-separated (default: cls int8,+comp; orientation int8,+groups)")
    parser.add_argument("--calibration", type=int, default=32)
    parser.add_argument("--evaluation", type=int, default=100)
    parser.add_argument("--extra-evaluation", type=int, default=300)
    parser.add_argument("--quiet", action="store_true", help="counts only, not every flip")
    args = parser.parse_args()

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root / "test"))
    sys.path.insert(0, str(root / "bench"))
    from bench_quantization_accuracy import logits as module_logits
    from runtime.logit_error import flip_model
    from bench_top1_techniques import Configurations
    from afe.apis.defines import default_quantization
    from afe.core.quantize_pipeline import partitioned_float_module
    from models import load_real_net, nhwc_samples

    logging.getLogger().setLevel(logging.ERROR)
    np.set_printoptions(precision=4, suppress=True, linewidth=200)
    for name in [n for n in args.only.split(",") if n]:
        net = load_real_net(name)
        calibration = nhwc_samples(name, args.calibration, seed=1)
        samples = nhwc_samples(name, args.evaluation, seed=2) + (
            nhwc_samples(name, args.extra_evaluation, seed=3) if args.extra_evaluation else [])
        float_module = partitioned_float_module(net.module)
        fp32 = module_logits(float_module, samples)
        fp32_output = np.stack([o.reshape(-1) for o, _ in fp32]).astype(np.float64)
        fp32_logits = np.stack([l.reshape(-1) for _, l in fp32])
        top2 = np.sort(fp32_output, axis=1)[:, -2:]
        margins = top2[:, 1] - top2[:, 0]
        configurations = Configurations(float_module, calibration, default_quantization)
        print(f"\n== {name}: {len(samples)} inputs (seed 2: {args.evaluation}, seed 3: {len(samples) - args.evaluation}); "
              f"fp32 top-2 margin < 0.1 on {int(np.sum(margins < 0.1))}", flush=True)
        for label in (args.configs or DEFAULT_CONFIGS[name]).split(","):
            quantized, _, _ = configurations.quantized(label)
            produced = module_logits(quantized, samples)
            output = np.stack([o.reshape(-1) for o, _ in produced]).astype(np.float64)
            int8_logits = np.stack([l.reshape(-1) for _, l in produced])
            kinds = classify_flips(fp32_output, output, int8_logits)
            model = flip_model(fp32_logits.astype(np.float64), int8_logits.astype(np.float64))
            print(f"-- {label}: " + ", ".join(f"{kind} {int(np.sum(mask))}" for kind, mask in kinds.items())
                  + f"; agreement {100 * (1 - np.mean(kinds['flips'])):.1f} %; flip model: top-2 logit difference error std "
                  f"{model.sigma:.3f}, predicted {100 * model.predicted:.1f} %, 98 % needs std <= {model.needed_sigma:.3f} "
                  f"({model.needed_db:.1f} dB less)", flush=True)
            if args.quiet:
                continue
            for i in np.flatnonzero(kinds["flips"]):
                marks = [kind for kind, mask in kinds.items() if kind != "flips" and mask[i]]
                print(f"  #{i:<4} margin {margins[i]:.3f}  fp32 p {fp32_output[i]}  int8 p {output[i]}  "
                      f"fp32 logits {fp32_logits[i]}  int8 logits {int8_logits[i]}  {' '.join(marks)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
