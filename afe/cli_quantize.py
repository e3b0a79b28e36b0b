"""`afe quantize MODEL.onnx --calibration-data FILE.npz -o DIR`: calibrate, quantize, save.

Writes `DIR/<name>.sima` (the quantized model, with its float reference) and
`DIR/<name>.sima.json` (its Netron view); the config options are those of
`afe.cli_config`. `--suggest-int16 N` first asks `afe.apis.mixed_precision.suggest_int16_nodes`
for up to N nodes to compute in int16 (on the calibration data) and quantizes with them.
"""

from __future__ import annotations

import argparse
import os

from afe.apis.errors import UserFacingException

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
    mixed = parser.add_argument_group("automatic mixed precision (afe.apis.mixed_precision.suggest_int16_nodes)")
    mixed.add_argument(
        "--suggest-int16",
        type=positive_int,
        metavar="N",
        help="before quantizing, choose up to N MLA nodes to compute in int16 on the calibration data (each kept only "
        "where it raises the calibration SQNR; slow: about one quantization per candidate node)",
    )
    mixed.add_argument(
        "--suggest-int16-among",
        action="append",
        default=[],
        metavar="NODE",
        help="with --suggest-int16: choose among these nodes only (repeatable; default: every MLA node that can run in int16)",
    )
    mixed.add_argument(
        "--suggest-int16-ranked-from",
        choices=("int8", "int16"),
        default="int8",
        help="with --suggest-int16: rank nodes by what each gains alone in int16 (int8, default) or by what the "
        "all-int16 model loses with it alone in int8 (int16, AIMET AMP's ranking)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    timings: dict[str, float] = {}
    config = config_from_options(args)  # bad options fail before anything is read
    if args.suggest_int16 is None and (args.suggest_int16_among or args.suggest_int16_ranked_from != "int8"):
        raise UserFacingException("--suggest-int16-among / --suggest-int16-ranked-from need --suggest-int16 N")
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
    if args.suggest_int16 is not None:
        config = suggested_config(net, samples, config, args, timings)
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


def suggested_config(net, samples, config, args: argparse.Namespace, timings: dict[str, float]):
    """`config` with the int16 nodes `suggest_int16_nodes` proposes (--suggest-int16 N), said as it goes."""
    from afe.apis.mixed_precision import suggest_int16_nodes

    with timed(timings, "suggest int16"):
        suggestion = suggest_int16_nodes(
            net, samples, config, max_nodes=args.suggest_int16, ranked_from=args.suggest_int16_ranked_from,
            candidates=args.suggest_int16_among or None,
        )
    chosen = ", ".join(suggestion.nodes) if suggestion.nodes else "none (no node raised the calibration SQNR)"
    say(f"int16      {chosen}")
    say(f"           calibration SQNR {suggestion.baseline_sqnr_db:.2f} -> {suggestion.sqnr_db:.2f} dB, "
        f"{100 * suggestion.mac_share:.1f} % of the MLA's MACs in int16")
    return suggestion.quantization_config
