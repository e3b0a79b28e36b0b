"""Top-1 agreement of the int8 classifiers with each technique of issue #5 and
their combinations, from one calibration.

For cls and orientation: calibrate with `default_quantization` on --calibration
inputs (seed 1), then build each configuration from that calibration:

    int8        the MSE ranges (= default_quantization, nearest weights)
    +logit      ranges re-chosen for the error at the logits (`runtime/logit_ranges.py`,
                on the first --logit-samples calibration inputs)
    +rr         ranges re-chosen for the error at the next conv (`with_range_refinement`)
    +rrf        +rr against the float network's paths (`float_target=True`)
    +comp       weights and biases fitted to compensate the int8 activations
                (`with_activation_compensation`)
    +alt        +comp, then --alt-rounds rounds of: ranges re-chosen on the compensated
                network, compensation refitted (`runtime/compensated_ranges.py`)
    +altf       +alt with the ranges chosen for the error against the float network's
                next-layer outputs (the paths through the float weights on the float tensors)
    +gncomp     +comp with each depthwise conv's rows weighted by the slope of its activation at the
                float output (Gauss-Newton, `runtime/weighted_compensation.py`)
    +groups     conv -> f -> depthwise blocks whose channels span very different ranges split
                into two channel groups (`passes/split_channel_groups.py`, chosen by
                `runtime/channel_groups.py` from a first calibration; --group-blocks: only
                the first N such blocks), then calibrated again
    +groupscal  +groups with the split threshold chosen on the calibration inputs instead of
                MIN_GAIN: of splitting the k blocks of largest gain (k = 0, 1, ...), the k whose
                int8 model (MSE ranges, nearest weights) has the highest logit SQNR on the
                calibration inputs held out (2 folds: ranges calibrated on the even inputs,
                logits measured on the odd ones, and the other way round;
                `channel_groups.plans_chosen_by`); the scores are printed

and measure, bit-exact, the output SQNR (dB) / top-1 agreement (%) with fp32 on
--evaluation inputs (seed 2) and on --extra-evaluation more (seed 3),
and the CPU seconds each configuration's own steps took (plus the calibration's,
printed once; the steps a configuration shares with another, e.g. the groups'
second calibration, count for each). On all those inputs together (`truth`): the
top-1 against the inputs' true class (`test/models.py` `true_classes`; fp32's in
the header) and the agreement with fp32 where fp32's log-probability margin is
at least 0.5 (`bench_quantization_accuracy.DECIDED_MARGIN`).

--calibration-seeds 1,4,5 repeats all of it for each seed of the calibration inputs
(32 other real inputs each; seeds 2 and 3 are the evaluation's and refused) and ends
with a summary per configuration over the seeds: mean [min, max] of each figure,
and on how many seeds the top-1 agreement on the --evaluation inputs is >= 98 %.

    python bench/bench_top1_techniques.py [--only cls,orientation] [--configs int8,+comp,+groups,+groups+comp]
        [--calibration 32] [--evaluation 100] [--extra-evaluation 300] [--logit-samples 32] [--group-blocks 0] [--group-min-gain 10]
        [--rr-samples 16] [--alt-rounds 1] [--calibration-seeds 1]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class Configurations:
    """The quantized modules of one model's configurations (module docstring), built from one
    calibration; steps shared between configurations (the groups' second calibration, a range
    step) run once and their seconds count for every configuration using them."""

    def __init__(self, float_module, calibration, config, *, group_blocks: int = 0, group_min_gain: float | None = None,
                 logit_samples: int = 32, rr_samples: int | None = None, alt_rounds: int = 1):
        from afe.core.calibration_pipeline import calibrate_module

        self.float_module, self.calibration, self.config = float_module, calibration, config
        self.group_blocks, self.group_min_gain, self.logit_samples = group_blocks, group_min_gain, logit_samples
        self.rr_samples, self.alt_rounds = rr_samples, alt_rounds
        start = time.process_time()
        self.plain = calibrate_module(float_module, calibration, config, progress=False)
        self.calibration_seconds = time.process_time() - start
        self.grouped = None
        self.group_note = ""
        self.chosen_grouped = None
        self.group_seconds = {"fixed": 0.0, "chosen": 0.0}  # CPU seconds of the groups' own steps, counted for every config using them
        self.refined: dict[tuple[bool, ...], tuple[object, str, float]] = {}

    def _grouped(self):
        from afe.core.calibration_pipeline import calibrate_module, insert_observers_pass
        from runtime.calibrate import calibrate
        from runtime.channel_groups import channel_group_plans, split_module
        from sima_dialect.context import sima_context

        if self.grouped is None:
            start = time.process_time()
            statistics = self.float_module.clone()
            insert_observers_pass(self.config.calibration_method).apply(sima_context(), statistics)
            calibrate(statistics, self.calibration, progress=False, channel_statistics=True)
            plans = channel_group_plans(statistics, *(() if self.group_min_gain is None else (self.group_min_gain,)))
            plans = plans[: self.group_blocks] if self.group_blocks else plans
            self.grouped = calibrate_module(split_module(self.float_module, plans), self.calibration, self.config, progress=False)
            self.group_note = f"+groups splits {len(plans)} blocks: " + ", ".join(f"{producer} ({len(first)} apart)" for producer, first in plans)
            self.group_seconds["fixed"] = time.process_time() - start
        return self.grouped

    def _chosen_grouped(self):
        """+groupscal: the calibrated split module with the threshold chosen on the calibration inputs."""
        import numpy as np
        from bench_quantization_accuracy import logits as module_logits
        from afe.core.calibration_pipeline import calibrate_module, insert_observers_pass
        from passes.quantize import quantize_module
        from runtime.calibrate import calibrate
        from runtime.channel_groups import plans_chosen_by, ranked_plans, split_module
        from sima_dialect.context import sima_context

        if self.chosen_grouped is None:
            start = time.process_time()
            statistics = self.float_module.clone()
            insert_observers_pass(self.config.calibration_method).apply(sima_context(), statistics)
            calibrate(statistics, self.calibration, progress=False, channel_statistics=True)
            ranked = ranked_plans(statistics)

            def centred(module, samples) -> np.ndarray:
                stacked = np.stack([l.reshape(-1) for _, l in module_logits(module, samples)])
                return stacked - stacked.mean(axis=1, keepdims=True)

            reference = centred(self.float_module, self.calibration)

            halves = (list(range(0, len(self.calibration), 2)), list(range(1, len(self.calibration), 2)))

            def score(plans) -> float:
                # held out: ranges calibrated on one half of the inputs, logits measured on the other
                # (in-sample, the score chose 8 of cls's 11 blocks and the evaluation sets lost 1.7 dB)
                split = split_module(self.float_module, plans)
                noise = 0.0
                for fitted, held in (halves, halves[::-1]):
                    calibrated = calibrate_module(split, [self.calibration[i] for i in fitted], self.config, progress=False)
                    produced = centred(quantize_module(calibrated, self.config), [self.calibration[i] for i in held])
                    noise += float(np.sum(np.square(produced - reference[held])))
                return float(10 * np.log10(np.sum(np.square(reference)) / noise))

            plans, scores = plans_chosen_by(ranked, score)
            self.chosen_grouped = calibrate_module(split_module(self.float_module, plans), self.calibration, self.config, progress=False)
            self.chosen_note = (f"+groupscal splits {len(plans)} of {len(ranked)} blocks (gains "
                                + ", ".join(f"{gain:.1f}" for _, _, gain in ranked) + "); held-out calibration logit SQNR by blocks split: "
                                + ", ".join(f"{score:.2f}" for score in scores))
            self.group_seconds["chosen"] = time.process_time() - start
        return self.chosen_grouped

    def calibrated(self, label: str):
        """The calibrated module of `label`'s range steps (groups, +rr, +logit), its note and seconds."""
        from runtime.logit_ranges import logit_refined_module
        from runtime.range_refinement import RANGE_REFINEMENT_SAMPLES, range_refined_module

        steps = ("+groups" in label and "+groupscal" not in label, "+rr" in label, "+logit" in label, "+groupscal" in label, "+rrf" in label)
        if steps not in self.refined:
            calibrated = self._grouped() if steps[0] else self._chosen_grouped() if steps[3] else self.plain
            note = ""
            start = time.process_time()  # the groups' step is counted apart (shared by the configs without +rr too)
            if steps[1]:
                calibrated, _ = range_refined_module(calibrated, self.calibration[: self.rr_samples or RANGE_REFINEMENT_SAMPLES],
                                                     float_target=steps[4])
            if steps[2]:
                calibrated, history = logit_refined_module(calibrated, self.calibration[: self.logit_samples])
                note = f"  logit objective {history[0]:.4g} -> {history[-1]:.4g}"
            self.refined[steps] = (calibrated, note, time.process_time() - start)
        return self.refined[steps]

    def quantized(self, label: str):
        """`label`'s quantized module, its note and the seconds its own steps took."""
        from passes.quantize import quantize_module
        from runtime.range_refinement import RANGE_REFINEMENT_SAMPLES
        from runtime.weight_rounding import WEIGHT_ROUNDING_SAMPLES, weight_rounded_module

        calibrated, note, earlier = self.calibrated(label)
        earlier += self.group_seconds["chosen" if "+groupscal" in label else "fixed"] if "+groups" in label else 0.0
        start = time.process_time()
        if "+alt" in label:
            from runtime.compensated_ranges import alternated_module

            quantized, _, history = alternated_module(calibrated, self.config, self.calibration, rounds=self.alt_rounds, float_target="+altf" in label,
                                                      refinement_samples=self.rr_samples or RANGE_REFINEMENT_SAMPLES)
            note += "  ranges moved per round: " + ", ".join(str(len(r.moved)) for r in history)
            return quantized, note, earlier + time.process_time() - start
        quantized = quantize_module(calibrated, self.config)
        if "+gncomp" in label:
            from runtime.weighted_compensation import activation_weighted_accumulator

            quantized, _ = weight_rounded_module(quantized, calibrated, self.calibration[:WEIGHT_ROUNDING_SAMPLES], compensate=True,
                                                 accumulator_for=activation_weighted_accumulator, progress=False)
        if "+comp" in label:
            quantized, _ = weight_rounded_module(quantized, calibrated, self.calibration[:WEIGHT_ROUNDING_SAMPLES], compensate=True,
                                                 progress=False)
        return quantized, note, earlier + time.process_time() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="cls,orientation")
    parser.add_argument("--configs", default="int8,+comp,+groups,+groups+comp", help="comma-separated; steps combine, e.g. +groups+rr+comp, +groupscal+comp")
    parser.add_argument("--calibration", type=int, default=32)
    parser.add_argument("--evaluation", type=int, default=100)
    parser.add_argument("--extra-evaluation", type=int, default=300)
    parser.add_argument("--logit-samples", type=int, default=32)
    parser.add_argument("--group-blocks", type=int, default=0, help="+groups: split at most this many blocks (0: all chosen)")
    parser.add_argument("--group-min-gain", type=float, default=None, help="+groups: channel_groups.MIN_GAIN instead of its default")
    parser.add_argument("--rr-samples", type=int, default=None, help="+rr: calibration inputs the refinement runs on (default RANGE_REFINEMENT_SAMPLES)")
    parser.add_argument("--calibration-seeds", "--calibration-seed", default="1",
                        help="comma-separated seeds of the calibration inputs (the bench of record: 1), a summary over them at the end")
    parser.add_argument("--alt-rounds", type=int, default=1, help="+alt: rounds of ranges re-chosen on the compensated network")
    args = parser.parse_args()

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root / "test"))
    sys.path.insert(0, str(root / "bench"))
    from afe.apis.defines import default_quantization
    from afe.core.quantize_pipeline import partitioned_float_module
    from models import load_real_net, nhwc_samples, true_classes
    from runtime.interpreter import Interpreter

    logging.getLogger().setLevel(logging.ERROR)
    config = default_quantization
    seeds = [int(s) for s in args.calibration_seeds.split(",") if s]
    if {2, 3} & set(seeds):
        parser.error("--calibration-seeds: 2 and 3 are the evaluation inputs' seeds")
    for name in [n for n in args.only.split(",") if n]:
        net = load_real_net(name)
        evaluation = nhwc_samples(name, args.evaluation, seed=2)
        extra = nhwc_samples(name, args.extra_evaluation, seed=3) if args.extra_evaluation else []
        truth = np.concatenate([true_classes(name, args.evaluation, seed=2), true_classes(name, len(extra), seed=3)])
        float_module = partitioned_float_module(net.module)
        reference = Interpreter(float_module)
        data = EvaluationSet(evaluation, extra, [reference.run(s)[0] for s in evaluation], [reference.run(s)[0] for s in extra], truth)
        figures: dict[str, list[tuple[float, ...]]] = {}  # per configuration, per seed: top-1 100, 300, pooled, truth, decided
        for seed in seeds:
            for label, row in run_seed(name, seed, args, config, float_module, data).items():
                figures.setdefault(label, []).append(row)
        if len(seeds) > 1:
            print_summary(name, seeds, figures, args, data)
    return 0


@dataclass
class EvaluationSet:
    """The evaluation inputs (seed 2), the extra ones (seed 3), fp32's outputs on both and their true classes."""

    evaluation: list
    extra: list
    expected: list
    expected_extra: list
    truth: np.ndarray

    @property
    def expected_classes(self) -> np.ndarray:
        return np.array([int(np.argmax(e)) for e in [*self.expected, *self.expected_extra]])

    @property
    def decided(self) -> np.ndarray:
        """The inputs fp32 decides: its log-probability margin >= DECIDED_MARGIN."""
        from bench_quantization_accuracy import DECIDED_MARGIN, top1_margin

        return top1_margin([*self.expected, *self.expected_extra]) >= DECIDED_MARGIN

    def fp32_truth_top1(self) -> float:
        return 100 * float(np.mean(self.expected_classes == self.truth))


def run_seed(name, seed, args, config, float_module, data: EvaluationSet):
    """One calibration seed's table (module docstring); returns, per configuration, its top-1 %
    on the evaluation inputs, the extra ones, both, against the true class, and where fp32 decides."""
    from bench_quantization_accuracy import DECIDED_MARGIN, sqnr_db, top1_agreement
    from afe.apis.model import Model
    from models import nhwc_samples

    evaluation, extra, expected, expected_extra, truth = data.evaluation, data.extra, data.expected, data.expected_extra, data.truth
    expected_classes, decided = data.expected_classes, data.decided

    calibration = nhwc_samples(name, args.calibration, seed=seed)
    configurations = Configurations(float_module, calibration, config, group_blocks=args.group_blocks,
                                    group_min_gain=args.group_min_gain, logit_samples=args.logit_samples, rr_samples=args.rr_samples,
                                    alt_rounds=args.alt_rounds)
    print(f"\n== {name}: calibration {args.calibration} (seed {seed}, {configurations.calibration_seconds:.1f} s), evaluation {args.evaluation}, "
          f"+{len(extra)}; output SQNR dB / top-1 % (+{len(extra)}: SQNR / top-1 %), CPU seconds beyond calibration; "
          f"truth {len(truth)}: top-1 % vs the true class (fp32 {data.fp32_truth_top1():.1f}) / "
          f"agreement % where fp32's margin >= {DECIDED_MARGIN} ({int(decided.sum())} inputs)", flush=True)
    figures = {}
    for label in [c for c in args.configs.split(",") if c]:
        had_groups = configurations.grouped is not None, configurations.chosen_grouped is not None
        quantized, note, seconds = configurations.quantized(label)
        if configurations.grouped is not None and not had_groups[0]:
            print(f"  {configurations.group_note}", flush=True)
        if configurations.chosen_grouped is not None and not had_groups[1]:
            print(f"  {configurations.chosen_note}", flush=True)
        model = Model(quantized, name=name, float_reference=float_module, config=config)
        outputs = [model.execute(s)[0] for s in evaluation]
        outputs_extra = [model.execute(s)[0] for s in extra]
        extra_cell = (f" (+{len(extra)}: {sqnr_db(expected_extra, outputs_extra):5.2f} / {100 * top1_agreement(expected_extra, outputs_extra):5.1f})"
                      if extra else "")
        classes = np.array([int(np.argmax(o)) for o in [*outputs, *outputs_extra]])
        row = (100 * top1_agreement(expected, outputs), 100 * top1_agreement(expected_extra, outputs_extra) if extra else float("nan"),
               100 * np.mean(classes == expected_classes), 100 * np.mean(classes == truth), 100 * np.mean((classes == expected_classes)[decided]))
        figures[label] = row
        print(f"{label:<22} {sqnr_db(expected, outputs):6.2f} / {row[0]:5.1f}{extra_cell}"
              f"  truth {row[3]:5.1f} / {row[4]:5.1f}  {seconds:6.1f} s{note}", flush=True)
    return figures


def print_summary(name, seeds, figures, args, data: EvaluationSet) -> None:
    """Mean [min, max] over the calibration seeds of each configuration's figures."""
    from bench_quantization_accuracy import DECIDED_MARGIN

    print(f"\n== {name}: over calibration seeds {', '.join(map(str, seeds))}: mean [min, max] of top-1 agreement % on the "
          f"{args.evaluation}, on the +{args.extra_evaluation}, pooled; top-1 % vs the true class (fp32 {data.fp32_truth_top1():.1f}); "
          f"agreement % where fp32's margin >= {DECIDED_MARGIN}; seeds with >= 98 % on the {args.evaluation}")
    for label, rows in figures.items():
        table = np.array(rows)
        cells = [f"{np.mean(column):5.1f} [{np.min(column):5.1f}, {np.max(column):5.1f}]" for column in table.T]
        print(f"{label:<22} " + "  ".join(cells) + f"  {int(np.sum(table[:, 0] >= 98.0))} of {len(rows)}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
