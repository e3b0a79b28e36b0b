"""Where the int8 error that flips the classifiers' top-1 comes from (issue #5).

For cls and orientation (`test/models.py`), calibrate with `default_quantization`
(calibration seed 1) and, on the evaluation inputs (seed 2), compute the LOGITS
(the softmax's input, centred: a shift
changes nothing after the softmax) of the float network with chosen parts rounded
(`runtime/logit_error.py`: activations to their int8 grids and MSE ranges,
weights per channel to int8; arithmetic and tables in float), against fp32:

    tensor rows   only    that activation tensor rounded, everything else float
                  except  every other tensor rounded, that one float
    weight rows   only    that conv / dense's weights rounded (activations float)
    group rows    the same for every tensor of a part of the network (stem, SE
                  squeeze / gate / multiply, depthwise inputs, residual adds, head)

Each cell: logit SQNR (dB) / flipped inputs (argmax of the logits differs from
fp32's). `share`: the tensor's `only` logit noise power as a fraction of the sum
over all tensors' (the errors of different tensors are close to independent:
the sum is printed next to the noise of every tensor rounded at once). The
first lines compare the simulation (every tensor rounded) with the bit-exact
int8 model itself.

    python bench/bench_top1_attribution.py [--only cls,orientation] [--calibration 32]
        [--evaluation 100] [--top 15] [--no-except] [--no-weights]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="cls,orientation")
    parser.add_argument("--calibration", type=int, default=32)
    parser.add_argument("--evaluation", type=int, default=100)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--no-except", action="store_true", help="skip the per-tensor `except` runs")
    parser.add_argument("--no-weights", action="store_true", help="skip the per-layer weight rows")
    args = parser.parse_args()

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root / "test"))
    sys.path.insert(0, str(root / "bench"))
    from bench_quantization_accuracy import logits as module_logits
    from afe.apis.defines import default_quantization
    from afe.core.calibration_pipeline import calibrate_module
    from afe.core.quantize_pipeline import partitioned_float_module
    from models import load_real_net, nhwc_samples
    from passes.quantize import quantize_module
    from runtime.logit_error import GROUPS, RoundedRun, flips, logit_sqnr_db, tensor_groups

    logging.getLogger().setLevel(logging.ERROR)
    for name in [n for n in args.only.split(",") if n]:
        start = time.perf_counter()
        net = load_real_net(name)
        calibrated = calibrate_module(partitioned_float_module(net.module), nhwc_samples(name, args.calibration, seed=1),
                                      default_quantization, progress=False)
        evaluation = nhwc_samples(name, args.evaluation, seed=2)
        quantized = quantize_module(calibrated, default_quantization)
        integer_logits = np.stack([l.reshape(-1) - l.mean() for _, l in module_logits(quantized, evaluation)])
        run = RoundedRun(calibrated, evaluation)
        reference = run.logits({})
        float_values = run.last
        everything = run.mse_choices()
        rounded = run.logits(everything)
        all_values = run.last
        groups = tensor_groups(run)
        probabilities = np.exp(reference - reference.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        top2 = np.sort(probabilities, axis=1)[:, -2:]
        margins = top2[:, 1] - top2[:, 0]

        def cell(logits: np.ndarray) -> str:
            return f"{logit_sqnr_db(reference, logits):6.2f} / {flips(reference, logits):3d}"

        def noise(logits: np.ndarray) -> float:
            return float(np.sum(np.square(reference - logits)))

        print(f"\n== {name}: calibration {args.calibration}, evaluation {args.evaluation}; "
              f"{len(everything)} roundable tensors, {len(run.gemms)} gemms; logit SQNR dB / flipped inputs")
        print(f"int8 model (bit-exact)            {cell(integer_logits)}   "
              f"flipped inputs' fp32 top-2 margins: {np.round(margins[np.argmax(integer_logits, 1) != np.argmax(reference, 1)], 3).tolist()}")
        print(f"every tensor rounded (simulated)  {cell(rounded)}   (float weights and arithmetic)")
        every_weight = run.logits({}, list(run.gemms), keep=False)
        print(f"every weight rounded              {cell(every_weight)}   (float activations)")
        print(f"both                              {cell(run.logits(everything, list(run.gemms), keep=False))}")
        print(f"inputs with fp32 margin < 0.1: {int(np.sum(margins < 0.1))}, < 0.2: {int(np.sum(margins < 0.2))}", flush=True)

        rows = []
        for key in everything:
            run.last = float_values
            only = run.logits({key: everything[key]}, changed_from=key, keep=False)
            others = None
            if not args.no_except:
                run.last = all_values
                others = run.logits({k: q for k, q in everything.items() if k != key}, changed_from=key, keep=False)
            rows.append((key, groups[key], only, others))
        total = sum(noise(only) for _, _, only, _ in rows)
        print(f"sum of the tensors' `only` noise {total:.4g}; every tensor rounded at once {noise(rounded):.4g}")
        print(f"-- tensors, top {args.top} by `only` noise share")
        print(f"{'tensor':<42} {'group':<16} {'share':>6} {'only':>13} {'except':>13}")
        for key, group, only, others in sorted(rows, key=lambda r: -noise(r[2]))[: args.top]:
            print(f"{key:<42} {group:<16} {noise(only) / total:6.1%} {cell(only):>13} {cell(others) if others is not None else '':>13}")

        print("-- groups: tensors, summed `only` share, the group alone, all but the group")
        print(f"{'group':<16} {'tensors':>7} {'share':>6} {'only':>13} {'except':>13}")
        for group in GROUPS:
            members = [key for key in everything if groups[key] == group]
            if not members:
                continue
            share = sum(noise(only) for key, g, only, _ in rows if g == group) / total
            run.last = None
            only = run.logits({k: everything[k] for k in members}, keep=False)
            others = run.logits({k: q for k, q in everything.items() if k not in members}, keep=False)
            print(f"{group:<16} {len(members):>7} {share:6.1%} {cell(only):>13} {cell(others):>13}", flush=True)

        if not args.no_weights:
            run.logits({})
            weight_rows = []
            for gemm in run.gemms:
                run.last = float_values
                weight_rows.append((gemm, run.logits({}, [gemm], changed_from=gemm, keep=False)))
            weight_total = sum(noise(l) for _, l in weight_rows)
            print(f"-- weights, top {args.top} layers by `only` noise (sum {weight_total:.4g}; all at once {noise(every_weight):.4g})")
            for gemm, logits in sorted(weight_rows, key=lambda r: -noise(r[1]))[: args.top]:
                print(f"{gemm:<42} {noise(logits) / weight_total:6.1%} {cell(logits):>13}")
        print(f"({time.perf_counter() - start:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
