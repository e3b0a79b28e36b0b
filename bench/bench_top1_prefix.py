"""Where the error of a configured int8 classifier (e.g. with compensation or channel
groups, whose weights were fitted to the int8 activations) enters its logits (issue #5).

`bench_top1_attribution.py` rounds parts of the FLOAT network (MSE ranges, nearest
weights); that cannot see a compensated network, whose weights undo part of its
activations' error. Here the integer model itself is cut: for each node n (in the
function's order), the logits when every node up to n takes the integer model's value
(bit-exact, dequantized) and everything after n is computed in float from them
(`runtime/logit_error.RoundedRun.prefix_logits`). The noise that prefix leaves at the
logits rises from 0 (all float) to the integer model's; the rise at a node is what that
node (its weights, bias, requantization and output rounding, seen by a float suffix)
adds. Logits centred, as in `bench_top1_attribution.py`.

Printed per model and configuration (as in `bench_top1_techniques.py`): the logit SQNR /
flips of the integer model, the top --top nodes by rise (share of the total), and the
rises summed by part of the network (`logit_error.tensor_groups`).

    python bench/bench_top1_prefix.py [--only cls,orientation] [--configs +comp]
        [--calibration 32] [--evaluation 100] [--top 15]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np

BEST = {"cls": "+comp", "orientation": "+groups+comp"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="cls,orientation")
    parser.add_argument("--configs", default=None, help="comma-separated (default: cls +comp, orientation +groups+comp)")
    parser.add_argument("--calibration", type=int, default=32)
    parser.add_argument("--evaluation", type=int, default=100)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root / "test"))
    sys.path.insert(0, str(root / "bench"))
    from bench_top1_techniques import Configurations
    from afe.apis.defines import default_quantization
    from afe.core.quantize_pipeline import partitioned_float_module
    from models import load_real_net, nhwc_samples
    from runtime.logit_error import GROUPS, RoundedRun, flips, integer_values, logit_sqnr_db, tensor_groups

    logging.getLogger().setLevel(logging.ERROR)
    for name in [n for n in args.only.split(",") if n]:
        float_module = partitioned_float_module(load_real_net(name).module)
        calibration = nhwc_samples(name, args.calibration, seed=1)
        evaluation = nhwc_samples(name, args.evaluation, seed=2)
        configurations = Configurations(float_module, calibration, default_quantization)
        for label in (args.configs or BEST[name]).split(","):
            start = time.perf_counter()
            quantized, _, _ = configurations.quantized(label)
            calibrated, _, _ = configurations.calibrated(label)
            run = RoundedRun(calibrated, evaluation)
            reference = run.logits({}, keep=False)
            replaced = integer_values(quantized, run, evaluation)
            cuts = [i for i, op in enumerate(run.body) if op.results and all(r in replaced for r in op.results)]
            prefixes = run.prefix_logits(replaced, cuts)

            def noise(logits: np.ndarray) -> float:
                return float(np.sum(np.square(reference - logits)))

            inputs_only = run.prefix_logits(replaced, [0])[0] if run.body else reference
            group_of_value = {op.input: group for key, group in tensor_groups(run).items() for op in [run.observes[key]]}
            rises, previous = [], noise(inputs_only)
            for cut, logits in zip(cuts, prefixes):
                op = run.body[cut]
                rises.append((getattr(op, "node_name", None) or op.name, group_of_value.get(op.results[0], "other"),
                              noise(logits) - previous, logits))
                previous = noise(logits)
            total = noise(prefixes[-1])
            print(f"\n== {name} {label}: {args.evaluation} inputs, {len(cuts)} cuts; integer model logits "
                  f"{logit_sqnr_db(reference, prefixes[-1]):.2f} dB / {flips(reference, prefixes[-1])} flips "
                  f"(input rounding alone: {logit_sqnr_db(reference, inputs_only):.2f} dB, {noise(inputs_only) / total:.1%})", flush=True)
            print(f"-- nodes, top {args.top} by rise: share of the integer model's noise, then the prefix's logit SQNR dB / flips")
            for node, group, rise, logits in sorted(rises, key=lambda r: -r[2])[: args.top]:
                print(f"{node:<42} {group:<16} {rise / total:7.1%}  {logit_sqnr_db(reference, logits):6.2f} / {flips(reference, logits):3d}")
            print("-- parts: summed rise")
            for group in GROUPS:
                members = [r for r in rises if r[1] == group]
                if members:
                    print(f"{group:<16} {len(members):>4} nodes {sum(r[2] for r in members) / total:7.1%}")
            print(f"({time.perf_counter() - start:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
