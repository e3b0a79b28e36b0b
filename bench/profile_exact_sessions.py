"""Where the bit-exact onnxruntime sessions spend their time: kernel time per ONNX node kind and
per sima op, next to onnxruntime fp32's own profile of the float model.

For each model (and activation width), quantize on a few real samples (min / max calibration:
the latency does not depend on the ranges' method), build the bit-exact program as
`Model.execute` does (`exact_int16_form.EXACT_FORM`; --form float: `exact_float_form`'s
int8-only form, the int16 lowering before it), check it against the NumPy interpreter, print
the CPU-time ratio to onnxruntime fp32 (medians, one thread), then run it again with
onnxruntime's profiler on and sum its per-node kernel times: by ONNX op type and by the sima op
each node lowers (the node name's prefix; nodes onnxruntime made or renamed, such as its NCHWc
Convs and reorders, show as "?<op type>"). Profiling adds a per-node cost, so its sums exceed
the measured latency; read them as shares.

    python bench/profile_exact_sessions.py [--only cls,orientation] [--bits int16] [--runs 20] [--top 12] [--form exact|float]
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

from cpu_timing import cpu_median, limit_blas_threads  # bench/: the script's folder is on sys.path


def kernel_times(files: list[str]) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """({op type: [microseconds, node runs]}, {sima op: [...]}) summed over onnxruntime profile files."""
    by_type: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0])
    by_op: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0])
    for name in files:
        with open(name) as handle:
            events = json.load(handle)
        for event in events:
            if event.get("cat") != "Node" or not event["name"].endswith("_kernel_time"):
                continue
            node, op_type = event["name"][: -len("_kernel_time")], event["args"]["op_name"]
            op = node.split("/")[0].split(" ")[0] if "/" in node else f"?{op_type}"
            for table, key in ((by_type, op_type), (by_op, op)):
                table[key][0] += event["dur"]
                table[key][1] += 1
    return by_type, by_op


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="cls,det,rec,orientation", help="comma-separated model names")
    parser.add_argument("--bits", default="int16", help="activation widths (int8, int16)")
    parser.add_argument("--runs", type=int, default=20, help="timed (and profiled) runs")
    parser.add_argument("--top", type=int, default=12, help="rows per table")
    parser.add_argument("--form", choices=("exact", "float"), default="exact", help="EXACT_FORM (default) or EXACT_FLOAT_FORM")
    args = parser.parse_args()
    limit_blas_threads(1)

    # imported after the thread settings, which BLAS reads at load time
    import numpy as np
    import onnxruntime

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "test"))
    from afe.apis.defines import MinMaxMethod, default_quantization, int16_quantization
    from models import REAL_MODELS, load_real_net, nhwc_samples, real_inputs
    from runtime.onnx_backend.exact_float_form import EXACT_FLOAT_FORM
    from runtime.onnx_backend.exact_int16_form import EXACT_FORM
    from runtime.onnx_backend.program import OnnxProgram

    logging.getLogger().setLevel(logging.ERROR)
    configs = {"int8": default_quantization, "int16": int16_quantization}
    form = EXACT_FORM if args.form == "exact" else EXACT_FLOAT_FORM

    def print_table(title: str, table: dict[str, list[float]]) -> None:
        print(f"  {title}")
        for key, (microseconds, count) in sorted(table.items(), key=lambda item: -item[1][0])[: args.top]:
            print(f"    {key:<34} {count // args.runs:>5} nodes {microseconds / args.runs / 1e3:9.3f} ms/run")

    for name in [n for n in args.only.split(",") if n]:
        spec = REAL_MODELS[name]
        if spec.path is None:
            print(f"{name}: {spec.package} is not installed (pip install -e '.[test]')")
            continue
        net = load_real_net(name, spec.shape)
        image = real_inputs(name, 6, seed=7)[-1]
        feeds_ort, feeds_ours = {spec.input_name: image}, {spec.input_name: np.ascontiguousarray(image.transpose(0, 2, 3, 1))}
        for bits in [b for b in args.bits.split(",") if b]:
            model = net.quantize(nhwc_samples(name, 4, seed=7), configs[bits].with_calibration(MinMaxMethod()))
            interpreter = model._interpreter(False)
            with tempfile.TemporaryDirectory() as directory:
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
                session = onnxruntime.InferenceSession(str(spec.path), options, providers=["CPUExecutionProvider"])
                program = OnnxProgram(interpreter, threads=1, emulation=form)
                same = all(np.array_equal(a, b) for a, b in zip(program.run(feeds_ours), interpreter.run(feeds_ours), strict=True))
                ort = cpu_median(lambda: session.run(None, feeds_ort), args.runs, warmup=1)
                ours = cpu_median(lambda: program.run(feeds_ours), args.runs, warmup=1)
                print(f"{name} {bits} ({args.form}): onnxruntime fp32 {1e3 * ort:.2f} ms, exact {1e3 * ours:.2f} ms, "
                      f"cpu/ort {ours / ort:.2f}, same as NumPy: {same}, {program.segment_count()} session(s), "
                      f"{len(program.numpy_ops())} op(s) in NumPy")
                original = OnnxProgram._options

                def profiled(self, original=original):
                    options = original(self)
                    options.enable_profiling, options.profile_file_prefix = True, os.path.join(directory, "exact")
                    return options

                OnnxProgram._options = profiled
                try:
                    profiled_program = OnnxProgram(interpreter, threads=1, emulation=form)
                finally:
                    OnnxProgram._options = original
                for _ in range(args.runs):
                    profiled_program.run(feeds_ours)
                for step in profiled_program._program:
                    if getattr(step, "session", None) is not None:
                        step.session.end_profiling()
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
                options.enable_profiling, options.profile_file_prefix = True, os.path.join(directory, "fp32")
                reference = onnxruntime.InferenceSession(str(spec.path), options, providers=["CPUExecutionProvider"])
                for _ in range(args.runs):
                    reference.run(None, feeds_ort)
                reference.end_profiling()
                by_type, by_op = kernel_times(glob.glob(os.path.join(directory, "exact*.json")))
                fp32_by_type, _ = kernel_times(glob.glob(os.path.join(directory, "fp32*.json")))
            total, fp32_total = sum(v[0] for v in by_type.values()), sum(v[0] for v in fp32_by_type.values())
            print(f"  profiled kernel time per run: exact {total / args.runs / 1e3:.2f} ms, fp32 {fp32_total / args.runs / 1e3:.2f} ms")
            print_table("exact, by ONNX op type", by_type)
            print_table("exact, by sima op", by_op)
            print_table("fp32, by ONNX op type", fp32_by_type)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
