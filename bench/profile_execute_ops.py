"""Where bit-exact `Model.execute` spends its time: CPU time per op kind, next to onnxruntime fp32.

For each model (and activation width), quantize on a few real samples (min / max
calibration: the latency does not depend on the ranges' method), then run the
NumPy interpreter's plan step by step on one input, timing each step with
`time.process_time()` (one BLAS thread: the CPU time of a step is its latency
on an idle core, even on a shared machine), and print the median per step
summed per op kind, with the whole run's CPU time and onnxruntime's
(intra_op_num_threads=1) on the same input. A fused chain of elementwise ops
(`runtime.integer_kernels.chains`) counts under its first op.

    python bench/profile_execute_ops.py [--only cls,det] [--bits int8,int16] [--runs 10] [--top 10]
"""

from __future__ import annotations

import argparse
import collections
import logging
import statistics
import sys
import time
from pathlib import Path

from cpu_timing import cpu_median, limit_blas_threads  # bench/: the script's folder is on sys.path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="cls,det,rec,orientation", help="comma-separated model names")
    parser.add_argument("--bits", default="int8,int16", help="activation widths (int8, int16)")
    parser.add_argument("--runs", type=int, default=10, help="timed runs")
    parser.add_argument("--top", type=int, default=0, help="also list the slowest steps")
    args = parser.parse_args()
    limit_blas_threads(1)

    # imported after the thread settings, which BLAS reads at load time
    import numpy as np
    import onnxruntime

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "test"))
    from afe.apis.defines import MinMaxMethod, default_quantization, int16_quantization
    from afe.apis.loaded_net import load_model
    from afe.load.importers.general_importer import onnx_source
    from models import REAL_MODELS, real_inputs

    logging.getLogger().setLevel(logging.ERROR)
    configs = {"int8": default_quantization, "int16": int16_quantization}
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 1, 1


    for name in [n for n in args.only.split(",") if n]:
        spec = REAL_MODELS[name]
        if spec.path is None:
            print(f"{name}: {spec.package} is not installed (pip install -e '.[test]')")
            continue
        net = load_model(onnx_source(str(spec.path), {spec.input_name: spec.shape}))
        session = onnxruntime.InferenceSession(str(spec.path), options, providers=["CPUExecutionProvider"])
        images = real_inputs(name, 5, seed=7)
        calibration = [{spec.input_name: np.ascontiguousarray(x.transpose(0, 2, 3, 1))} for x in images[:-1]]
        x_nhwc = np.ascontiguousarray(images[-1].transpose(0, 2, 3, 1))
        for bits in [b for b in args.bits.split(",") if b]:
            model = net.quantize(calibration, configs[bits].with_calibration(MinMaxMethod()))
            interpreter = model._interpreter(False)  # the bit-exact NumPy interpreter
            interpreter.run([x_nhwc]), session.run(None, {spec.input_name: images[-1]})  # warm up
            ort = cpu_median(lambda: session.run(None, {spec.input_name: images[-1]}), args.runs)
            ours = cpu_median(lambda: interpreter.run([x_nhwc]), args.runs)
            per_step = step_times(interpreter, interpreter.bind([x_nhwc]), args.runs)
            total = sum(per_step)
            print(f"{name} {bits}: onnxruntime {1e3 * ort:.2f} ms, ours {1e3 * ours:.2f} ms (cpu/ort {ours / ort:.2f}), "
                  f"{len(per_step)} steps, their medians sum to {1e3 * total:.2f} ms")
            by_kind: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0])
            for step, seconds in zip(interpreter._steps, per_step):
                kind = by_kind[step.where.split(" ")[0]]
                kind[0] += seconds
                kind[1] += 1
            for kind, (seconds, count) in sorted(by_kind.items(), key=lambda item: -item[1][0]):
                print(f"  {kind:<26} {count:>4} steps {1e3 * seconds:9.2f} ms {100 * seconds / total:6.1f} %")
            slowest = sorted(zip(per_step, interpreter._steps), key=lambda item: -item[0])[: args.top]
            for seconds, step in slowest:
                print(f"    {1e6 * seconds:9.0f} us  {step.where}  {[shape for shape, _ in step.expected]}")
    return 0


def step_times(interpreter, bound, runs: int) -> list[float]:
    """The median CPU time of each step of the interpreter's plan over `runs` runs."""
    import numpy as np

    times: list[list[float]] = [[] for _ in interpreter._steps]
    for _ in range(runs):
        env = interpreter._initial_env.copy()
        for slot, value in zip(interpreter._arg_slots, bound):
            env[slot] = value
        with np.errstate(all="ignore"):
            for index, step in enumerate(interpreter._steps):
                arguments = [env[slot] for slot in step.operands]
                start = time.process_time()
                produced = step.kernel(*arguments)
                times[index].append(time.process_time() - start)
                values = [produced] if len(step.results) == 1 else list(produced)
                for slot, value in zip(step.results, values):
                    env[slot] = value
                for slot in step.free:
                    env[slot] = None
    return [statistics.median(t) for t in times]


if __name__ == "__main__":
    raise SystemExit(main())
