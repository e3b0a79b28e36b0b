"""Quantize time of `default_quantization` and of its best-accuracy combination, step by step.

For each real model (`test/models.py`) run `LoadedNet.quantize` on the calibration
inputs of `bench/bench_top1_techniques.py` (seed 1; 32 for the classifiers, fewer for
det / rec as `bench/bench_data_steps_speed.py` uses) with

    int8             default_quantization
    +groups+rr+comp  .with_channel_groups().with_range_refinement().with_activation_compensation()

and print per configuration the CPU seconds of `quantize` (this process's CPU time:
it moves less than wall time on a shared machine), wall seconds, a fingerprint of the
quantized module's constants (`bench_data_steps_speed.fingerprint`: two runs of
different code with equal fingerprints made the same integers), and the CPU seconds
of each step of `afe/core/quantize_pipeline.py` (the steps are timed by wrapping the
functions it calls):

    plans    channel groups' first reading of the data (per-channel ranges)
    calib    calibrate_module (observers, the reading of the data, scales)
    rr       range_refined_module
    quant    quantize_module (the planner)
    comp     weight_rounded_module (activation compensation / GPTQ)
    other    the rest (partitioning, copies, the split pass, checks)

With --evaluation N (and --extra-evaluation M) the quantized model's output SQNR (dB,
bit-exact) and top-1 agreement with fp32 are measured on N inputs of seed 2 (and the
top-1 on M of seed 3), the sets of `bench_top1_techniques.py`.

    python bench/bench_quantize_time.py [--only cls,orientation,det,rec] [--configs int8,+groups+rr+comp]
        [--evaluation 0] [--extra-evaluation 0] [--profile FILE]

Measured (2026-11-24), +groups+rr+comp before -> after this stop's changes (range refinement
on one BLAS thread, its candidates rounded once per batch in one buffer, the channel groups'
first reading without the method's histograms). Before: the code before the change, run
while the machine was shared (load 5-17); after: one run at load 2 (CPU s; the
fingerprint says whether the integers are the same):

    model        int8   +groups+rr+comp            rr             comp   plans + calib  integers
    cls          3.9    25.2 -> 11.0 (2.8x int8)   14.0 -> 2.7    2.5    5.5            same (6efc3e3778)
    orientation  6.7   149.7 -> 41.3 (6.2x)       121.8 -> 17.1   11.5   12.3           10 of 67 ranges moved
    det          6.8   210.2 -> 58.9 (8.7x)       183.9 -> 35.1   12.6   10.7           ranges moved
    rec          10.9  252.7 -> 125.8 (11.5x)     201.7 -> 80.2   26.9   17.9           same (3b957af34f)

At the same load (2) the new code with the old threading (the refinement's BLAS pool
left at 2 threads) took cls 25.6 s (rr 17.0), orientation 157.3 s (rr 130.5): the thread
cap is most of the gain. The refactoring alone is bit for bit (`test/test_quantize_time.py`; with the old threading
the new code gives the old fingerprints on cls, orientation and det). The thread count moves
the float32 rounding of the candidates' products, and with it a few near-equal choices:
orientation 28.26 / 98.0 (98.3) -> 28.29 dB / 98.0 (98.7) top-1 % on the 100 (300) inputs of
bench_top1_techniques, det 18.78 -> 18.73 dB.

Measured (2026-11-24, session 9), +comp (`--configs int8,+comp`) before -> after the
compensation's speed-ups (moments gathered through the float target where the channels are
fewer than half the inputs, fits in the rows' space where the rows are fewer than the inputs,
grouped convs' rows gathered from the map, GPTQ's groups prepared together, the ridge solves
without the identity product; `runtime/weight_rounding.py`). Before and after run one after
the other per model (the code before from a saved copy), load 1.5-2.4, CPU s:

    model        int8   +comp total     comp step      (int8 + comp) / int8   integers
    cls          3.8    7.5 ->  5.2     3.3 ->  2.0    1.9x -> 1.5x           same (8c9317a6b9)
    orientation  2.6   17.6 ->  8.7    10.9 ->  6.1    5.2x -> 3.3x           same (7556b16ec3)
    det          3.6   17.1 -> 11.6    13.5 ->  8.0    4.8x -> 3.2x           same (711cb0f79d)
    rec          9.2   33.2 -> 22.6    27.8 -> 13.1    4.0x -> 2.4x           2 biases moved (6d0a2cd4f4 -> 39f5509459)

The calibration step of the same code moved between 2.2 and 8.6 s from run to run (its 1x1
convs run on two BLAS threads on a shared machine), hence the ratio from the comp step. int8's
fingerprints are unchanged. rec: in one depthwise conv two channels whose float and quantized
inputs agree to ~1e-19 (squared output error) chose between the float weight and a fit by
float rounding alone, before and after; their int32 biases (~7.9e8 units) moved by one unit.
rec +comp with --evaluation 100 --extra-evaluation 300: 14.81 dB, top-1 96.8 (300 others 96.7)
before and after.

Measured (2026-11-24, session 10), int8 before -> after the MSE range search's speed-ups
(`runtime/observers/mse.py`: temporaries in 64 KiB blocks, the per-bin rounding errors with
the one-cell case computed everywhere, padded clipping tables, lower bounds that spare the
exact clipping errors of the steps that cannot be evaluated). Same ranges bit for bit: the
fingerprints stay ab8ad151d1 / e1d7c9a15c / 7e06c1cc03 / fc8b725f34. Before = this script with
the old mse_range patched in, run alternately with the new code, twice each, load 1.1-1.2,
CPU s (`calib` / quantize total):

    model        calib        quantize
    cls          1.4 -> 0.8   1.7 -> 1.1
    orientation  1.3 -> 1.2   1.7 -> 1.6
    det          2.1 -> 1.8   2.6 -> 2.3
    rec          3.0 -> 2.7   3.8 -> 3.4

mse_range alone inside quantize (best of three, load 2.4-2.6): cls 1.00 -> 0.52 s, orientation
0.41 -> 0.36, det 1.00 -> 0.84, rec 1.19 -> 0.95. cProfile of cls's default quantize (32 inputs,
load 1.5): 2.23 -> 1.62 s CPU, mse_range 1.16 -> 0.60 s; the histogram updates unchanged (0.24 s).
Most of the gain is memory: the old search's temporaries (up to ~45000 candidates) were fresh
pages each time. On the 573 histograms the four models select ranges from, replayed outside
quantize: 5.7-6.2 -> 3.0 s; with glibc's mmap threshold raised (MALLOC_MMAP_THRESHOLD_, pages
reused) 3.0 -> 2.55 s. Inside quantize the allocator's state decides how much shows (cls most).
The lower bounds alone (the new code computing every exact clipping error instead): mse_range
cls 0.62 -> 0.48 s, det 0.95 -> 0.78 (load 2; without them det gains nothing from the rest).
What remains is mostly the per-bin rounding errors of the steps the pruning keeps (~40 %):
equality to the last bit keeps their arithmetic, and even an exact lower bound of the rounding
error would spare only 44 % of the coarse steps evaluated (measured on 200 of the histograms).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import logging
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

STEPS = {
    "plans": "channel_group_plans_from",
    "calib": "calibrate_module",
    "rr": "range_refined_module",
    "quant": "quantize_module",
    "comp": "weight_rounded_module",
}

CALIBRATION_COUNTS = {"det": 8, "rec": 16}
"""Calibration inputs of det and rec (bench_data_steps_speed's); the classifiers use --calibration."""


@contextlib.contextmanager
def timed_steps(seconds: dict[str, float]):
    """Add the CPU seconds of each pipeline step (`STEPS`) called inside to `seconds`."""
    import afe.core.quantize_pipeline as pipeline

    originals = {}
    for label, name in STEPS.items():
        original = getattr(pipeline, name)
        originals[name] = original

        def wrapper(*args, _original=original, _label=label, **kwargs):
            start = time.process_time()
            try:
                return _original(*args, **kwargs)
            finally:
                seconds[_label] += time.process_time() - start

        setattr(pipeline, name, wrapper)
    try:
        yield seconds
    finally:
        for name, original in originals.items():
            setattr(pipeline, name, original)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="cls,orientation,det,rec", help="comma-separated model names")
    parser.add_argument("--configs", default="int8,+groups+rr+comp", help="comma-separated: int8, +groups+rr+comp, +comp, +groups+comp, +rr+comp")
    parser.add_argument("--calibration", type=int, default=32)
    parser.add_argument("--evaluation", type=int, default=0)
    parser.add_argument("--extra-evaluation", type=int, default=0)
    parser.add_argument("--profile", default=None, help="write a cProfile of the last quantize to this file")
    args = parser.parse_args()

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root / "test"))
    sys.path.insert(0, str(root / "bench"))
    from bench_data_steps_speed import fingerprint
    from bench_quantization_accuracy import sqnr_db, top1_agreement

    import afe.core.quantize_pipeline  # noqa: F401 (imported before timing: its imports take seconds)
    from afe.apis.defines import default_quantization
    from models import load_real_net, nhwc_samples

    logging.getLogger().setLevel(logging.ERROR)

    def config_of(label: str):
        config = default_quantization
        if "+groups" in label:
            config = config.with_channel_groups()
        if "+rr" in label:
            config = config.with_range_refinement()
        if "+comp" in label:
            config = config.with_activation_compensation()
        return config

    labels = [c for c in args.configs.split(",") if c]
    print(f"code: {root}; quantize CPU s / wall s / fingerprint; steps' CPU s; load avg (1 min) before/after; "
          f"BLAS threads: OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    for name in [n for n in args.only.split(",") if n]:
        net = load_real_net(name)
        calibration = nhwc_samples(name, CALIBRATION_COUNTS.get(name, args.calibration), seed=1)
        evaluation = nhwc_samples(name, args.evaluation, seed=2) if args.evaluation else []
        extra = nhwc_samples(name, args.extra_evaluation, seed=3) if args.extra_evaluation else []
        reference = [net.execute(sample)[0] for sample in evaluation]
        reference_extra = [net.execute(sample)[0] for sample in extra]
        for label in labels:
            load_before = os.getloadavg()[0]
            seconds: dict[str, float] = defaultdict(float)
            profiler = cProfile.Profile() if args.profile else None
            with timed_steps(seconds):
                start, cpu_start = time.perf_counter(), time.process_time()
                if profiler:
                    profiler.enable()
                model = net.quantize(calibration, config_of(label))
                if profiler:
                    profiler.disable()
                wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
            if profiler:
                profiler.dump_stats(args.profile)
            steps = " ".join(f"{step} {seconds[step]:5.1f}" for step in STEPS if seconds[step])
            steps += f" other {cpu - sum(seconds.values()):5.1f}"
            accuracy = ""
            if evaluation:
                produced = [model.execute(sample)[0] for sample in evaluation]
                accuracy = f"  SQNR {sqnr_db(reference, produced):6.2f} dB top-1 {100 * top1_agreement(reference, produced):5.1f}"
                if extra:
                    produced_extra = [model.execute(sample)[0] for sample in extra]
                    accuracy += f" (+{len(extra)}: {100 * top1_agreement(reference_extra, produced_extra):5.1f})"
            print(f"{name:<12} {label:<16} CPU {cpu:6.1f} wall {wall:6.1f} {fingerprint(model.module)}  [{steps}]{accuracy}"
                  f"  load {load_before:.1f}/{os.getloadavg()[0]:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
