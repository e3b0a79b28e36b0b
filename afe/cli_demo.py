"""`afe demo`: the shipped example, end to end.

Quantizes the PP-OCR text-line orientation classifier shipped in the
repository's `examples/ppocr_cls/` (model, license and NOTICE, real text-line
crops made by `make_inputs.py`) on its 40 calibration crops, evaluates float
against int8 on the 40 other crops, analyses the per-layer error, and writes
`<out>/ppocr_cls.sima`, `<out>/ppocr_cls.sima.json` and `<out>/report.html`.

The example is found beside the package: `examples/` in the checkout that
`pip install -e .` installed from (the files are not copied into a wheel), or
wherever --example-dir says.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from afe.apis.errors import UserFacingException
from afe.cli_analyze import gather_report, print_worst_layers
from afe.cli_config import add_config_options, config_from_options, describe_config
from afe.cli_files import load_onnx, read_npz, samples_from_arrays
from afe.cli_output import describe_inputs, format_timings, nodes_per_target, say, timed
from afe.cli_quantize import positive_int
from afe.report import write_report

MODEL_FILE = "ch_ppocr_mobile_v2.0_cls_infer.onnx"
MODEL_NAME = "ppocr_cls"
CALIBRATION_FILE = "calibration.npz"
EVALUATION_FILE = "evaluation.npz"
LABELS = "upside_down"  # the true orientation of each crop, stored beside the inputs
DEFAULT_OUTPUT_DIR = "afe_demo_out"
DEFAULT_ANALYSIS_SAMPLES = 16  # of the 40 evaluation crops: keeps the demo well under a minute


def default_example_dir() -> Path:
    """examples/ppocr_cls in the checkout this package is installed from."""
    return Path(__file__).resolve().parent.parent / "examples" / "ppocr_cls"


def add_parser(subparsers, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "demo",
        parents=[common],
        help="quantize the shipped example (PP-OCR text-line classifier) and report",
        description="Quantize the shipped PP-OCR text-line orientation classifier on real text-line crops, print "
        "float vs int8 agreement and SQNR on other crops, and write the model files and an HTML report.",
    )
    parser.add_argument(
        "-o", "--output-dir", default=DEFAULT_OUTPUT_DIR, metavar="DIR", help=f"where to write the files (default: {DEFAULT_OUTPUT_DIR})"
    )
    parser.add_argument("--metric", choices=("mae", "mse", "psnr"), default="mae", help="the per-layer error metric (default: mae)")
    parser.add_argument(
        "--cumulative", action="store_true", help="per-layer errors end to end instead of each node fed the float values"
    )
    parser.add_argument("--max-samples", type=positive_int, metavar="N", help="use the first N calibration and evaluation crops only")
    parser.add_argument(
        "--analysis-samples",
        type=positive_int,
        default=DEFAULT_ANALYSIS_SAMPLES,
        metavar="N",
        help=f"per-layer errors on the first N evaluation crops (default: {DEFAULT_ANALYSIS_SAMPLES}; "
        "the analysis runs every node alone per crop, so it is the slow part)",
    )
    parser.add_argument(
        "--example-dir", metavar="DIR", help=f"the example's folder (default: {default_example_dir()})"
    )
    add_config_options(parser)
    parser.set_defaults(run=run)


def _example_files(directory: Path) -> tuple[Path, Path, Path]:
    files = (directory / MODEL_FILE, directory / CALIBRATION_FILE, directory / EVALUATION_FILE)
    missing = [file.name for file in files if not file.is_file()]
    if missing:
        raise UserFacingException(
            f"the example is not in '{directory}' (missing {', '.join(missing)}): afe demo runs the files of the "
            "repository's examples/ppocr_cls/; install from a clone with pip install -e . or give --example-dir"
        )
    return files


def run(args: argparse.Namespace) -> int:
    config = config_from_options(args)
    directory = Path(args.example_dir) if args.example_dir else default_example_dir()
    model_file, calibration_file, evaluation_file = _example_files(directory)
    timings: dict[str, float] = {}

    say("model      PP-OCR text-line orientation classifier (MobileNetV3; classes: upright, turned 180°)")
    say(f"           {model_file} ({model_file.stat().st_size / 1e6:.1f} MB, Apache-2.0: see NOTICE and LICENSE beside it)")
    calibration_arrays = read_npz(str(calibration_file), "calibration data")
    evaluation_arrays = read_npz(str(evaluation_file), "evaluation data")
    with timed(timings, "import"):
        net = load_onnx(str(model_file), arrays=calibration_arrays)
    calibration = samples_from_arrays(
        calibration_arrays, net.input_types, path=str(calibration_file), option="calibration data", limit=args.max_samples
    )
    evaluation = samples_from_arrays(
        evaluation_arrays, net.input_types, path=str(evaluation_file), option="evaluation data", limit=args.max_samples
    )
    say(f"inputs     {describe_inputs(net.input_types)}")
    say(f"config     {describe_config(config)}")
    say(f"calibrate  {len(calibration)} text-line crops ({calibration_file.name})")
    with timed(timings, "quantize"):
        model = net.quantize(calibration, config, model_name=MODEL_NAME)
    say(f"nodes      {nodes_per_target(model.list_nodes())}")

    say(f"evaluate   {len(evaluation)} other crops ({evaluation_file.name}, from another part of the page)")
    local_feed = not args.cumulative
    gathered = gather_report(
        model, evaluation, metric=args.metric, local_feed=local_feed, worst_count=4,
        analysis_samples=args.analysis_samples, timings=timings,
        facts=[("model", str(model_file)), ("config", describe_config(config)),
               ("calibration", f"{len(calibration)} crops, {calibration_file}"), ("evaluation", str(evaluation_file))],
    )
    float_classes = np.array([outputs[0].reshape(-1).argmax() for outputs in gathered.float_outputs])
    int_classes = np.array([outputs[0].reshape(-1).argmax() for outputs in gathered.quantized_outputs])
    agreeing = int(np.sum(float_classes == int_classes))
    say(f"fp32/int8  top-1 agreement {agreeing}/{len(evaluation)} ({100 * agreeing / len(evaluation):.1f} %), "
        f"output SQNR {gathered.report.outputs[0].sqnr_db:.1f} dB")
    if LABELS in evaluation_arrays:
        truth = evaluation_arrays[LABELS][: len(evaluation)].astype(int)
        say(f"accuracy   true orientation: fp32 {int(np.sum(float_classes == truth))}/{len(truth)}, "
            f"int8 {int(np.sum(int_classes == truth))}/{len(truth)}")
    analysed = gathered.table.sample_count
    which = f"all {analysed}" if analysed == len(evaluation) else f"the first {analysed} of the {len(evaluation)}"
    say(f"per layer  {args.metric} on {which} crops, "
        f"{'local feed (each node its own error)' if local_feed else 'cumulative'}; worst layers:")
    print_worst_layers(gathered)

    with timed(timings, "save"):
        model.save(MODEL_NAME, args.output_dir)  # after the analysis: the .sima.json holds its Layer Statistics
        report_path = os.path.join(args.output_dir, "report.html")
        write_report(report_path, gathered.report)
    say(f"time       {format_timings(timings)}")
    sima = os.path.join(args.output_dir, MODEL_NAME + ".sima")
    say(f"wrote      {sima}")
    say(f"           {sima}.json (open it in Netron)")
    say(f"           {report_path}")
    return 0

