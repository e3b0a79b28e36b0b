"""Where fast mode (`Model.execute(fast_mode=True)`) spends its time inside onnxruntime, next to fp32.

For each model (and activation width): quantize on a few real samples (min / max
calibration: latency does not depend on the ranges' method), build fast mode's
program (`integer_emulation.fast_program`, or the float form with --form float)
with onnxruntime's profiler on in every session, and run it and onnxruntime on
the float model (one thread each) on the same input. Prints, per onnxruntime
kernel (op type after its graph optimizations), the node count and its nodes' median
times summed, for both, and the time outside kernels
(session overhead, our NumPy steps and copies) as `(outside kernels)`.

    python bench/profile_fast_mode.py [--only cls,orientation] [--bits int8] [--runs 20] [--form int8|float] [--save DIR] [--convs]

--convs also prints each convolution's kernel time next to fp32's (in execution order).

`(outside kernels)` is mostly the profiler's own cost, several microseconds per node (orientation
int8, 177 nodes: 7.88 ms profiled, ~6.6 ms not; fp32, 55 nodes: 5.23 / 4.85 ms), so it overstates
what a node costs: unprofiled, onnxruntime's per-node overhead is ~0.3 us (a chain of 200 Relus
on 16 values: 74 us a run, one node 10 us), and fast mode's Python around the session
(`OnnxProgram.run`, `Model.execute`) ~0.03 ms on orientation, ~0.1 ms on cls (measured with
`time.process_time`, 2026-11-24). SessionOptions measured on orientation's int8 session made no
difference beyond noise (+-2 %): enable_mem_pattern / enable_cpu_mem_arena off, intra-op
spinning off, denormals as zero; graph optimizations at EXTENDED only were 8-12 % slower.

--save writes each session's optimized model (onnxruntime's own graph) to DIR.

det int8 (2026-11-24, session 10, min / max calibration, load ~1): fast 31.3 ms CPU profiled against
fp32 25.8 (1.22); its hard_swish -> qmul -> qadd chains' nine passes each (QuantizeLinear 4.9 ms,
Mul 4.0, DequantizeLinear 3.0, Sub 1.2) became one GatherElements each (24: 3.8 ms), and two Muls of
1.26 ms each on its [1, 320, 320, 1] output (a [1] constant, broadcast one element at a time by
onnxruntime; 24 us shaped [1, 1, 1, 1]: `broadcast_constants.py`) went: 27.9 ms against 25.6 (1.09,
load ~4), QLinearConv 12.6 ms against fp32's Conv 13.2.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import statistics
import sys
from pathlib import Path
from unittest import mock

from cpu_timing import cpu_median, limit_blas_threads  # bench/: the script's folder is on sys.path


CONV_KINDS = ("Conv", "FusedConv", "QLinearConv", "NhwcFusedConv")


def node_times(profile_file: str) -> list[tuple[str, str, float]]:
    """(node name, op type, median microseconds per run) of every node of an onnxruntime profile, in
    the order of its first run (the median of the runs: a shared machine preempts some)."""
    events = json.loads(Path(profile_file).read_text())
    os.remove(profile_file)
    durations: dict[str, list[float]] = collections.defaultdict(list)
    kind_of: dict[str, str] = {}
    for event in events:
        if event.get("cat") != "Node" or not event.get("name", "").endswith("_kernel_time"):
            continue
        durations[event["name"]].append(event["dur"])  # dicts keep the first run's order
        kind_of[event["name"]] = event.get("args", {}).get("op_name", "?")
    return [(node.removesuffix("_kernel_time"), kind_of[node], statistics.median(values)) for node, values in durations.items()]


def kernel_times(nodes: list[tuple[str, str, float]]) -> dict[str, list[float]]:
    """op type -> [node count, microseconds per run], summed over `nodes` (`node_times`)."""
    times: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0])
    for _, kind, micros in nodes:
        times[kind][0] += 1
        times[kind][1] += micros
    return dict(times)


def print_convs(ours: list[tuple[str, str, float]], fp32: list[tuple[str, str, float]]) -> None:
    """The convolutions of both side by side, in execution order (the same network: the n-th of each
    is the same layer where neither fuses or splits one), with their times and ratio."""
    mine = [node for node in ours if node[1] in CONV_KINDS]
    theirs = [node for node in fp32 if node[1] in CONV_KINDS]
    print(f"  convolutions in order ({len(mine)} ours, {len(theirs)} fp32): ours us, fp32 us, ratio, our node")
    for index in range(max(len(mine), len(theirs))):
        a = mine[index] if index < len(mine) else ("-", "-", float("nan"))
        b = theirs[index] if index < len(theirs) else ("-", "-", float("nan"))
        print(f"  {index:>3} {a[1]:<12} {a[2]:>8.1f} {b[1]:<10} {b[2]:>8.1f} {a[2] / b[2]:>6.2f}  {a[0][:70]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="cls,orientation", help="comma-separated model names")
    parser.add_argument("--bits", default="int8", help="activation widths (int8, int16)")
    parser.add_argument("--runs", type=int, default=20, help="profiled runs")
    parser.add_argument("--form", choices=("default", "int8", "float"), default="default", help="fast mode's form ($SIMA_FAST_FORM)")
    parser.add_argument("--save", default="", help="directory for the sessions' optimized models")
    parser.add_argument("--convs", action="store_true", help="also each convolution's time next to fp32's, in order")
    args = parser.parse_args()
    limit_blas_threads(1)
    if args.form != "default":
        os.environ["SIMA_FAST_FORM"] = args.form

    import numpy as np
    import onnxruntime

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "test"))
    from afe.apis.defines import MinMaxMethod, default_quantization, int16_quantization
    from afe.apis.loaded_net import load_model
    from afe.load.importers.general_importer import onnx_source
    from models import REAL_MODELS, real_inputs
    from runtime.onnx_backend.integer_emulation import fast_program
    from runtime.onnx_backend.program import OnnxProgram, _Segment

    logging.getLogger().setLevel(logging.ERROR)
    configs = {"int8": default_quantization, "int16": int16_quantization}
    save = Path(args.save) if args.save else None
    if save:
        save.mkdir(parents=True, exist_ok=True)

    def profiled_options(label: str):
        build_options = OnnxProgram._options
        count = [0]

        def options(self):
            made = build_options(self)
            made.intra_op_num_threads = 1
            made.enable_profiling = True
            made.profile_file_prefix = f"/tmp/profile_fast_{os.getpid()}"
            if save:
                count[0] += 1
                made.optimized_model_filepath = str(save / f"{label}_{count[0]}.onnx")
            return made

        return options

    for name in [n for n in args.only.split(",") if n]:
        spec = REAL_MODELS[name]
        if spec.path is None:
            print(f"{name}: {spec.package} is not installed (pip install -e '.[test]')")
            continue
        net = load_model(onnx_source(str(spec.path), {spec.input_name: spec.shape}))
        images = real_inputs(name, 5, seed=7)
        calibration = [{spec.input_name: np.ascontiguousarray(x.transpose(0, 2, 3, 1))} for x in images[:-1]]
        x_nhwc = np.ascontiguousarray(images[-1].transpose(0, 2, 3, 1))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
        options.enable_profiling = True
        options.profile_file_prefix = f"/tmp/profile_fp32_{os.getpid()}"
        session = onnxruntime.InferenceSession(str(spec.path), options, providers=["CPUExecutionProvider"])
        feeds = {spec.input_name: images[-1]}
        session.run(None, feeds)
        fp32_cpu = cpu_median(lambda: session.run(None, feeds), args.runs)
        fp32_nodes = node_times(session.end_profiling())
        fp32 = kernel_times(fp32_nodes)
        for bits in [b for b in args.bits.split(",") if b]:
            model = net.quantize(calibration, configs[bits].with_calibration(MinMaxMethod()))
            with mock.patch.object(OnnxProgram, "_options", profiled_options(f"{name}_{bits}")):
                program = fast_program(model._interpreter(True), threads=1)
            program.run([x_nhwc])
            ours_cpu = cpu_median(lambda: program.run([x_nhwc]), args.runs)
            sessions = [step.session for step in program._program if isinstance(step, _Segment) and step.session is not None]
            our_nodes = [node for segment_session in sessions for node in node_times(segment_session.end_profiling())]
            ours: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0], kernel_times(our_nodes))
            form = type(program).__name__ + ("/int8" if getattr(program, "emulation", None).__class__.__name__ == "IntegerEmulation" else "")
            print(f"\n{name} {bits} ({form}, {len(sessions)} session(s), {len(program.numpy_ops())} NumPy op(s)): "
                  f"fast {1e3 * ours_cpu:.2f} ms CPU, fp32 {1e3 * fp32_cpu:.2f} ms, ratio {ours_cpu / fp32_cpu:.2f}")
            ours["(outside kernels)"] = [0, 1e6 * ours_cpu - sum(v[1] for v in ours.values())]
            fp32_all = dict(fp32)
            fp32_all["(outside kernels)"] = [0, 1e6 * fp32_cpu - sum(v[1] for v in fp32.values())]
            print(f"  {'kernel':<28} {'fast n':>6} {'fast us':>9} {'fp32 n':>6} {'fp32 us':>9}")
            for kind in sorted(set(ours) | set(fp32_all), key=lambda k: -max(ours.get(k, [0, 0])[1], fp32_all.get(k, [0, 0])[1])):
                o, r = ours.get(kind, [0, 0.0]), fp32_all.get(kind, [0, 0.0])
                print(f"  {kind:<28} {o[0]:>6} {o[1]:>9.0f} {r[0]:>6} {r[1]:>9.0f}")
            if args.convs:
                print_convs(our_nodes, fp32_nodes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
