"""Where to cut a channel-grouped block (issue #5): cls's `MLA_0/conv2d_add_17 ->
hard_swish_18 -> conv2d_add_19`, the one block `channel_groups.MIN_GAIN` splits in cls
and the tensor (`hard_swish_18`) with 36 % of cls +comp's remaining logit error
(`bench_top1_prefix.py`).

For each block `channel_group_plans` splits it prints
the tensor the depthwise conv reads: per-channel ranges (calibration `channel_absmax`),
the sum of the depthwise conv's squared weights per channel (how much each channel's
rounding is amplified), the cut of each rule (`channel_groups.CUTS`) and its amplified
noise sum (step ~ the group's largest range). Then, for each candidate, the split module
calibrated again, its int8 steps of that tensor (per group), and bit-exact output SQNR
dB / top-1 % against fp32 on --evaluation inputs (seed 2) and top-1 on
--extra-evaluation more (seed 3), without and with activation compensation:

    none            no block split (= int8 / +comp)
    range           the default cut (`cut="range"`)
    depthwise       the cut for the noise the depthwise conv amplifies (`cut="depthwise"`)
    t=N             the N smallest-range channels apart (a fixed cut, for comparison only:
                    N is not chosen from calibration data)
    RULE&P1&P2      RULE's plans plus the blocks starting at convs P1, P2 cut by RULE (for
                    comparison only: `bench_top1_prefix.py` named them, on the evaluation set)

Everything is chosen from the --calibration inputs (seed 1); the evaluation sets only measure.
--float-nodes leaves nodes unquantized (run in float: an upper bound for what any split of
them can do); --int16-nodes gives nodes int16 activations (e.g. cls's logits,
MLA_0/dense_add_108).

Measured (cls, 32 / 100 (300); SQNR dB / top-1 % (top-1 %), then with compensation):
none 20.69 / 94 (94.0), 23.68 / 96 (97.7); range 20.94 / 96 (94.0), 23.84 / 96 (97.0);
depthwise (15 apart instead of 11) 20.48 / 95 (94.0), 23.66 / 95 (96.3); t=13 19.84 / 95
(94.0), 23.50 / 98 (97.0); t=19 19.95 / 94 (93.7), 22.11 / 96 (97.0); range plus the
fused-relu blocks of conv2d_add_relu_2 and _10: 18.21 / 94 (92.7), 23.17 / 94 (95.7).
Upper bounds, unsplit, nodes in float: conv2d_add_17, hard_swish_18, conv2d_add_19:
20.72 / 93 (94.7), 23.56 / 95 (96.3); with the relu_2 / relu_3 and relu_10 / relu_11
blocks too: 22.60 / 97 (94.0), 24.20 / 94 (96.3). int16 logits: none 20.58 / 94 (94.3),
23.64 / 95 (97.7); range 20.83 / 96 (95.0), 23.66 / 96 (98.0). No choice of this block's
cut reaches 98 % on both sets; even the block in float does not.

    python bench/bench_top1_block.py [--only cls] [--candidates none,range,depthwise,t=13]
        [--calibration 32] [--evaluation 100] [--extra-evaluation 300] [--no-comp]
        [--float-nodes N1,N2] [--int16-nodes N1]
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
    parser.add_argument("--only", default="cls")
    parser.add_argument("--candidates", default="none,range,depthwise")
    parser.add_argument("--calibration", type=int, default=32)
    parser.add_argument("--evaluation", type=int, default=100)
    parser.add_argument("--extra-evaluation", type=int, default=300)
    parser.add_argument("--no-comp", action="store_true", help="measure without compensation only")
    parser.add_argument("--int16-nodes", default="", help="comma-separated nodes given int16 activations (per-node option), "
                        "e.g. MLA_0/dense_add_108 (cls's logits)")
    parser.add_argument("--float-nodes", default="", help="comma-separated nodes left unquantized (an upper bound for what a "
                        "split can do), e.g. MLA_0/hard_swish_18,MLA_0/conv2d_add_19")
    args = parser.parse_args()

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root / "test"))
    sys.path.insert(0, str(root / "bench"))
    from bench_quantization_accuracy import sqnr_db, top1_agreement
    from afe.apis.defines import default_quantization as config
    from afe.apis.model import Model
    from afe.core.calibration_pipeline import calibrate_module, insert_observers_pass
    from afe.core.quantize_pipeline import partitioned_float_module
    from models import load_real_net, nhwc_samples
    from passes.quantize import quantize_module
    from passes.smooth_quant import channel_absmax
    from passes.split_channel_groups import group_blocks
    from runtime.calibrate import calibrate
    from runtime.channel_groups import best_cut, channel_group_plans, depthwise_amplification, ranked_plans, split_module
    from runtime.interpreter import Interpreter
    from runtime.weight_rounding import WEIGHT_ROUNDING_SAMPLES, weight_rounded_module
    from sima_dialect.calibration_ops import ObserveOp
    from sima_dialect.context import sima_context

    if args.int16_nodes:
        from afe.core.configs import QuantizationPrecision

        config = config.with_custom_quantization_configs(
            {node: {"quantization_precision": QuantizationPrecision.INT_16} for node in args.int16_nodes.split(",") if node})
    float_nodes = [node for node in args.float_nodes.split(",") if node]
    logging.getLogger().setLevel(logging.ERROR)
    np.set_printoptions(precision=3, suppress=True, linewidth=160)
    for name in [n for n in args.only.split(",") if n]:
        float_module = partitioned_float_module(load_real_net(name).module, float_nodes)
        calibration = nhwc_samples(name, args.calibration, seed=1)
        evaluation = nhwc_samples(name, args.evaluation, seed=2)
        extra = nhwc_samples(name, args.extra_evaluation, seed=3) if args.extra_evaluation else []
        reference = Interpreter(float_module)
        expected = [reference.run(s)[0] for s in evaluation]
        expected_extra = [reference.run(s)[0] for s in extra]

        statistics = float_module.clone()
        insert_observers_pass(config.calibration_method).apply(sima_context(), statistics)
        calibrate(statistics, calibration, progress=False, channel_statistics=True)
        chosen = dict(channel_group_plans(statistics))
        blocks = {b.producer.node_name: b for b in group_blocks(statistics)}
        print(f"\n== {name}{' int16 at ' + args.int16_nodes if args.int16_nodes else ''}"
              f"{' float at ' + args.float_nodes if args.float_nodes else ''}: blocks split by MIN_GAIN: {', '.join(chosen) or 'none'}", flush=True)
        ranges_of = {}
        for producer in chosen:
            block = blocks[producer]
            read = (block.function or block.producer).results[0]
            ranges = next(found for use in read.uses if isinstance(use.operation, ObserveOp)
                          and (found := channel_absmax(use.operation, block.channels)) is not None)
            amplified = depthwise_amplification(block)
            ranges_of[producer] = ranges
            order = np.argsort(ranges, kind="stable")
            print(f"-- {producer} -> {(block.function or block.producer).node_name} -> {block.depthwise.node_name}, "
                  f"{block.channels} channels; sorted by range: range, sum of squared depthwise weights")
            if block.channels <= 64:  # wider tensors: the cuts' summary only
                print(ranges[order])
                print(amplified[order])
            noise_whole = ranges.max() ** 2 * amplified.sum()
            for rule, weights in (("range", None), ("depthwise", amplified)):
                first, _ = best_cut(ranges, weights)
                inside = np.isin(np.arange(block.channels), first)
                noise = ranges[inside].max() ** 2 * amplified[inside].sum() + ranges.max() ** 2 * amplified[~inside].sum()
                print(f"   cut {rule:<9}: {len(first)} apart (ranges <= {ranges[inside].max():.3f}); amplified noise "
                      f"{noise_whole / noise:.1f}x below unsplit (group shares {ranges[inside].max() ** 2 * amplified[inside].sum() / noise:.0%}"
                      f" / {ranges.max() ** 2 * amplified[~inside].sum() / noise:.0%})")

        for candidate in [c for c in args.candidates.split(",") if c]:
            start = time.process_time()
            rule, *added = candidate.split("&")
            if candidate == "none":
                plans = []
            elif rule in ("range", "depthwise"):
                plans = channel_group_plans(statistics, cut=rule)
                cuts = {producer: first for producer, first, _ in ranked_plans(statistics, cut=rule)}
                unknown = [p for p in added if p not in cuts]
                if unknown:
                    raise SystemExit(f"no block a cut helps starts at {', '.join(unknown)} (blocks: {', '.join(cuts)})")
                plans = [(b, cuts[b]) for b in blocks if b in dict(plans) or b in added]
            elif candidate.startswith("t="):
                count = int(candidate[2:])
                plans = [(p, sorted(np.argsort(r, kind="stable")[:count].tolist())) for p, r in ranges_of.items()]
            else:
                raise SystemExit(f"unknown candidate {candidate!r} (none, range, depthwise, t=N, RULE&P1&P2)")
            calibrated = calibrate_module(split_module(float_module, plans), calibration, config, progress=False)
            steps = []
            for producer, first in plans:
                for index in (0, 1):
                    observed = [o for o in calibrated.walk() if isinstance(o, ObserveOp) and o.quant is not None
                                and getattr(o.input.owner, "node_name", "") .startswith(
                                    (blocks[producer].function or blocks[producer].producer).node_name + f"/group{index}")]
                    steps += [f"group{index} ({len(first) if index == 0 else blocks[producer].channels - len(first)} ch) "
                              f"step {o.quant.scale_value:.4f} zp {o.quant.zero_point_value}" for o in observed]
            quantized = quantize_module(calibrated, config)
            variants = [("", quantized)]
            if not args.no_comp:
                compensated, _ = weight_rounded_module(quantized, calibrated, calibration[:WEIGHT_ROUNDING_SAMPLES],
                                                       compensate=True, progress=False)
                variants.append(("+comp", compensated))
            seconds = time.process_time() - start
            print(f"{candidate}: {', '.join(f'{p} ({len(f)} apart)' for p, f in plans) or 'unsplit'}; "
                  f"{'; '.join(steps)}  ({seconds:.0f} s)", flush=True)
            for label, module in variants:
                model = Model(module, name=name, float_reference=float_module, config=config)
                outputs = [model.execute(s)[0] for s in evaluation]
                outputs_extra = [model.execute(s)[0] for s in extra]
                extra_cell = f" ({100 * top1_agreement(expected_extra, outputs_extra):5.1f})" if extra else ""
                print(f"   {candidate + label:<18} {sqnr_db(expected, outputs):6.2f} / {100 * top1_agreement(expected, outputs):5.1f}"
                      f"{extra_cell}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
