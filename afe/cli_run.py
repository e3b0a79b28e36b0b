"""`afe run MODEL.sima --input FILE.npz -o OUT.npz [--fast-mode]`: execute a quantized model.

The outputs are written as one array per model output, named as the output,
one row per sample (for an output [1, 2], an array [N, 1, 2]; 4-D outputs
NHWC), as float values (the model dequantizes its outputs).
"""

from __future__ import annotations

import argparse
import os

from afe.cli_files import load_sima, read_samples, write_outputs
from afe.cli_output import format_timings, progress, say, timed
from afe.cli_quantize import positive_int


def add_parser(subparsers, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "run",
        parents=[common],
        help="execute a quantized model on the samples of a .npz file",
        description="Execute a quantized model (.sima) on every sample of a .npz file and save its outputs "
        "(one array per output, one row per sample) to a .npz file.",
    )
    parser.add_argument("model", metavar="MODEL.sima", help="a model written by 'afe quantize'")
    parser.add_argument(
        "--input", required=True, metavar="FILE.npz", help="samples: one array per input, named as the input, samples along the first axis"
    )
    parser.add_argument("-o", "--output", metavar="OUT.npz", help="where to save the outputs (default: <model name>_outputs.npz)")
    parser.add_argument(
        "--fast-mode", action="store_true", help="emulate the integer convolutions and matrix products in float32: faster, not bit exact"
    )
    parser.add_argument("--max-samples", type=positive_int, metavar="N", help="run the first N samples only")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    timings: dict[str, float] = {}
    with timed(timings, "load"):
        model = load_sima(args.model)
    samples = read_samples(args.input, model.input_types, option="--input", limit=args.max_samples)
    output_path = args.output or f"{model.name}_outputs.npz"
    if not output_path.endswith(".npz"):
        output_path += ".npz"  # np.savez would add it anyway; say the real name
    mode = "fast mode (float32 emulation)" if args.fast_mode else "bit-exact integer arithmetic"
    with timed(timings, "run"):
        outputs = [model.execute(sample, fast_mode=args.fast_mode) for sample in progress(samples, "Running", len(samples))]
    write_outputs(output_path, model.output_names, outputs)
    per_sample = timings["run"] / len(samples) * 1000
    say(f"ran        {model.name} on {len(samples)} samples, {mode}, {per_sample:.1f} ms per sample")
    for index, name in enumerate(model.output_names):
        say(f"output     '{name}': {[len(samples), *outputs[0][index].shape]}")
    say(f"time       {format_timings(timings)}")
    say(f"wrote      {os.path.normpath(output_path)}")
    return 0
