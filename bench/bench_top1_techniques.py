"""Top-1 agreement of the int8 classifiers with each technique of issue #5 and
their combinations, from one calibration.

For cls and orientation: calibrate with `default_quantization` on --calibration
inputs (seed 1), then build each configuration from that calibration:

    int8        the MSE ranges (= default_quantization, nearest weights)
    +logit      ranges re-chosen for the error at the logits (`runtime/logit_ranges.py`,
                on the first --logit-samples calibration inputs)
    +rr         ranges re-chosen for the error at the next conv (`with_range_refinement`)
    +comp       weights and biases fitted to compensate the int8 activations
                (`with_activation_compensation`)
    +groups     conv -> f -> depthwise blocks whose channels span very different ranges split
                into two channel groups (`passes/split_channel_groups.py`, chosen by
                `runtime/channel_groups.py` from a first calibration; --group-blocks: only
                the first N such blocks), then calibrated again

and measure, bit-exact, the output SQNR (dB) / top-1 agreement (%) with fp32 on
--evaluation inputs (seed 2) and the top-1 on --extra-evaluation more (seed 3),
and the seconds each configuration's own steps took (plus the calibration's,
printed once).

    python bench/bench_top1_techniques.py [--only cls,orientation] [--configs int8,+comp,+groups,+groups+comp]
        [--calibration 32] [--evaluation 100] [--extra-evaluation 300] [--logit-samples 32] [--group-blocks 0] [--group-min-gain 10]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="cls,orientation")
    parser.add_argument("--configs", default="int8,+comp,+groups,+groups+comp", help="comma-separated; steps combine, e.g. +groups+rr+comp")
    parser.add_argument("--calibration", type=int, default=32)
    parser.add_argument("--evaluation", type=int, default=100)
    parser.add_argument("--extra-evaluation", type=int, default=300)
    parser.add_argument("--logit-samples", type=int, default=32)
    parser.add_argument("--group-blocks", type=int, default=0, help="+groups: split at most this many blocks (0: all chosen)")
    parser.add_argument("--group-min-gain", type=float, default=None, help="+groups: channel_groups.MIN_GAIN instead of its default")
    args = parser.parse_args()

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root / "test"))
    sys.path.insert(0, str(root / "bench"))
    from bench_quantization_accuracy import sqnr_db, top1_agreement
    from afe.apis.defines import default_quantization
    from afe.apis.model import Model
    from afe.core.calibration_pipeline import calibrate_module
    from afe.core.quantize_pipeline import partitioned_float_module
    from models import load_real_net, nhwc_samples
    from passes.quantize import quantize_module
    from afe.core.calibration_pipeline import insert_observers_pass
    from runtime.calibrate import calibrate
    from runtime.channel_groups import channel_group_plans, split_module
    from sima_dialect.context import sima_context
    from runtime.interpreter import Interpreter
    from runtime.logit_ranges import logit_refined_module
    from runtime.range_refinement import RANGE_REFINEMENT_SAMPLES, range_refined_module
    from runtime.weight_rounding import WEIGHT_ROUNDING_SAMPLES, weight_rounded_module

    logging.getLogger().setLevel(logging.ERROR)
    config = default_quantization
    for name in [n for n in args.only.split(",") if n]:
        net = load_real_net(name)
        calibration = nhwc_samples(name, args.calibration, seed=1)
        evaluation = nhwc_samples(name, args.evaluation, seed=2)
        extra = nhwc_samples(name, args.extra_evaluation, seed=3) if args.extra_evaluation else []
        float_module = partitioned_float_module(net.module)
        reference = Interpreter(float_module)
        expected = [reference.run(s)[0] for s in evaluation]
        expected_extra = [reference.run(s)[0] for s in extra]
        start = time.perf_counter()
        plain = calibrate_module(float_module, calibration, config, progress=False)
        calibration_seconds = time.perf_counter() - start
        grouped = None
        refined: dict[str, object] = {}  # the calibrated module of each range step, shared by the configs
        print(f"\n== {name}: calibration {args.calibration} ({calibration_seconds:.1f} s), evaluation {args.evaluation}, "
              f"+{len(extra)}; output SQNR dB / top-1 % (+{len(extra)}: top-1 %), seconds beyond calibration", flush=True)
        for label in [c for c in args.configs.split(",") if c]:
            start = time.perf_counter()
            if "+groups" in label:
                if grouped is None:
                    statistics = float_module.clone()
                    insert_observers_pass(config.calibration_method).apply(sima_context(), statistics)
                    calibrate(statistics, calibration, progress=False, channel_statistics=True)
                    plans = channel_group_plans(statistics, *(() if args.group_min_gain is None else (args.group_min_gain,)))
                    plans = plans[: args.group_blocks] if args.group_blocks else plans
                    grouped = calibrate_module(split_module(float_module, plans), calibration, config, progress=False)
                    print(f"  +groups splits {len(plans)} blocks: "
                          + ", ".join(f"{producer} ({len(first)} apart)" for producer, first in plans), flush=True)
                calibrated = grouped
            else:
                calibrated = plain
            note = ""
            steps = ("+groups" in label, "+rr" in label, "+logit" in label)
            if steps in refined:
                calibrated, note, earlier = refined[steps]
                start -= earlier  # the shared step's time counts for every config using it
            else:
                if "+rr" in label:
                    calibrated, _ = range_refined_module(calibrated, calibration[:RANGE_REFINEMENT_SAMPLES])
                if "+logit" in label:
                    calibrated, history = logit_refined_module(calibrated, calibration[: args.logit_samples])
                    note = f"  logit objective {history[0]:.4g} -> {history[-1]:.4g}"
                refined[steps] = (calibrated, note, time.perf_counter() - start)
            quantized = quantize_module(calibrated, config)
            if "+comp" in label:
                quantized, _ = weight_rounded_module(quantized, calibrated, calibration[:WEIGHT_ROUNDING_SAMPLES], compensate=True,
                                                     progress=False)
            seconds = time.perf_counter() - start
            model = Model(quantized, name=name, float_reference=float_module, config=config)
            outputs = [model.execute(s)[0] for s in evaluation]
            outputs_extra = [model.execute(s)[0] for s in extra]
            extra_cell = f" (+{len(extra)}: {100 * top1_agreement(expected_extra, outputs_extra):5.1f})" if extra else ""
            print(f"{label:<22} {sqnr_db(expected, outputs):6.2f} / {100 * top1_agreement(expected, outputs):5.1f}{extra_cell}"
                  f"  {seconds:6.1f} s{note}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
