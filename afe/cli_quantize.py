"""`afe quantize MODEL.onnx --calibration-data FILE.npz -o DIR`: calibrate, quantize, save.

Writes `DIR/<name>.sima` (the quantized model, with its float reference) and
`DIR/<name>.sima.json` (its Netron view); the config options are those of
`afe.cli_config`.
"""

from __future__ import annotations

import argparse
import os

from afe.cli_config import add_config_options, config_from_options, describe_config
from afe.cli_files import load_onnx, parse_input_shape, read_npz, samples_from_arrays
from afe.cli_output import describe_inputs, format_timings, nodes_per_target, say, timed


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got '{text}'")
    return value


def add_input_shape_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input-shape",
        action="append",
        default=[],
        metavar="NAME=D0,D1,...",
        help="an input's shape in the model's own layout (NCHW for images), for dynamic dimensions "
        "the data cannot tell (default: the model's; a dynamic batch is 1, others are read off the data)",
    )


def input_shapes(args: argparse.Namespace) -> dict[str, tuple[int, ...]]:
    return dict(parse_input_shape(text) for text in args.input_shape)


def add_parser(subparsers, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "quantize",
        parents=[common],
        help="quantize an ONNX model with calibration data",
        description="Calibrate a float ONNX model on the samples of a .npz file, quantize it and write "
        "<name>.sima and <name>.sima.json into the output directory.",
    )
    parser.add_argument("model", metavar="MODEL.onnx", help="the float model")
    parser.add_argument(
        "--calibration-data",
        required=True,
        metavar="FILE.npz",
        help="calibration samples: one array per input, named as the input, samples along the first axis (4-D inputs NHWC)",
    )
    parser.add_argument("-o", "--output-dir", default=".", metavar="DIR", help="where to write the model files (default: .)")
    parser.add_argument("--name", help="the model's name, and of its files (default: the ONNX file's name)")
    parser.add_argument("--max-samples", type=positive_int, metavar="N", help="calibrate on the first N samples only")
    add_input_shape_option(parser)
    add_config_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    timings: dict[str, float] = {}
    config = config_from_options(args)  # bad options fail before anything is read
    arrays = read_npz(args.calibration_data, "--calibration-data")
    with timed(timings, "import"):
        net = load_onnx(args.model, input_shapes(args), arrays)
    samples = samples_from_arrays(
        arrays, net.input_types, path=args.calibration_data, option="--calibration-data", limit=args.max_samples
    )
    name = args.name or os.path.splitext(os.path.basename(args.model))[0]
    say(f"model      {args.model}")
    say(f"inputs     {describe_inputs(net.input_types)}")
    say(f"config     {describe_config(config)}")
    say(f"calibrate  {len(samples)} samples from {args.calibration_data}")
    with timed(timings, "quantize"):
        model = net.quantize(samples, config, model_name=name)
    with timed(timings, "save"):
        model.save(name, args.output_dir)
    sima = os.path.join(args.output_dir, name + ".sima")
    say(f"nodes      {nodes_per_target(model.list_nodes())}")
    say(f"time       {format_timings(timings)}")
    say(f"wrote      {sima}")
    say(f"           {sima}.json (open it in Netron)")
    return 0
