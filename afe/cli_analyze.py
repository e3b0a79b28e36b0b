"""`afe analyze MODEL.sima --data FILE.npz --metric mae --local-feed`: the quantization report.

Runs `Model.analyze_quantization_error` on the samples, then the float
reference (the `@float_reference` the `.sima` keeps) and the quantized model
side by side on the same samples, to compare their outputs and to collect the
float values at the worst layers; `afe.report` draws it all into one HTML file.
`gather_report` is shared with `afe demo`.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from xdsl.dialects.builtin import TensorType

from afe.apis.errors import ExceptionFuncType, UserFacingException
from afe.apis.model import Model
from afe.cli_files import load_sima, read_samples
from afe.cli_inspect import OutputQuantization
from afe.cli_output import format_timings, progress, say, timed
from afe.cli_quantize import positive_int
from afe.report import ActivationHistogram, LayerRow, OutputAgreement, ReportData, write_report
from runtime.error_analysis import METRICS, NodeMatch, QuantizationErrorTable, match_nodes, tapped_interpreter
from runtime.interpreter import find_function
from sima_dialect.types import QuantizedType

HISTOGRAM_BINS = 120
_VALUES_KEPT_PER_SAMPLE = 20_000  # a strided subset of each node's values feeds the histogram


def add_parser(subparsers, common: argparse.ArgumentParser) -> None:
    parser = subparsers.add_parser(
        "analyze",
        parents=[common],
        help="per-layer quantization error: an HTML report",
        description="Measure each layer's quantization error against the float model the .sima keeps, compare "
        "the outputs, and write an HTML report with plots (per-layer error; histograms and selected ranges of "
        "the worst layers).",
    )
    parser.add_argument("model", metavar="MODEL.sima", help="a model written by 'afe quantize'")
    parser.add_argument(
        "--data", required=True, metavar="FILE.npz", help="evaluation samples: one array per input, samples along the first axis"
    )
    parser.add_argument("--metric", choices=METRICS, default="mae", help="the per-layer error metric (default: mae)")
    parser.add_argument(
        "--local-feed",
        action="store_true",
        help="feed every quantized node the float network's values, so each error is the node's own "
        "(default: cumulative, both networks end to end)",
    )
    parser.add_argument("-o", "--output", metavar="REPORT.html", help="where to write the report (default: <model>_report.html beside the model)")
    parser.add_argument("--worst", type=positive_int, default=4, metavar="K", help="show histograms of the K worst layers (default: 4)")
    parser.add_argument("--max-samples", type=positive_int, metavar="N", help="analyze the first N samples only")
    parser.add_argument(
        "--save-stats", action="store_true", help="also rewrite the model files so that the .sima.json holds the per-layer errors"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    timings: dict[str, float] = {}
    with timed(timings, "load"):
        model = load_sima(args.model)
    samples = read_samples(args.data, model.input_types, option="--data", limit=args.max_samples)
    report_path = args.output or os.path.splitext(args.model)[0] + "_report.html"
    gathered = gather_report(
        model, samples, metric=args.metric, local_feed=args.local_feed, worst_count=args.worst,
        facts=[("model", args.model), ("data", args.data)], timings=timings,
    )
    write_report(report_path, gathered.report)
    say(f"analyzed   {model.name} on {len(samples)} samples: {args.metric}, "
        f"{'local feed (each node its own error)' if args.local_feed else 'cumulative'}")
    print_outputs(gathered)
    print_worst_layers(gathered)
    if args.save_stats:
        model.save(os.path.basename(args.model), os.path.dirname(args.model))
        say(f"updated    {args.model} and its .sima.json (Layer Statistics)")
    say(f"time       {format_timings(timings)}")
    say(f"wrote      {report_path}")
    return 0


def print_outputs(gathered: GatheredReport) -> None:
    """Each output's agreement, float against quantized."""
    for output in gathered.report.outputs:
        agreement = "" if output.top1_agreement is None else f", top-1 agreement {100 * output.top1_agreement:.1f} %"
        say(f"output     '{output.name}': SQNR {output.sqnr_db:.1f} dB{agreement}")


def print_worst_layers(gathered: GatheredReport) -> None:
    """The worst layers, worst first: error, node, op, precision."""
    by_name = {row.node: row for row in gathered.report.layers}
    for rank, name in enumerate(gathered.report.worst):
        row = by_name[name]
        say(f"{'worst' if rank == 0 else '':10} {row.error_value:<10.4g} {row.node} ({row.op}, {row.precision})")


# -- gathering ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GatheredReport:
    report: ReportData
    table: QuantizationErrorTable
    float_outputs: list[list[np.ndarray]]  # per sample, per output
    quantized_outputs: list[list[np.ndarray]]


def gather_report(
    model: Model,
    samples: Sequence[dict[str, np.ndarray]],
    *,
    metric: str,
    local_feed: bool,
    worst_count: int,
    analysis_samples: int | None = None,
    facts: Sequence[tuple[str, str]] = (),
    timings: dict[str, float] | None = None,
) -> GatheredReport:
    """Everything the report shows, measured on `samples` (each exactly as
    `model.execute` takes it): the per-layer errors on the first
    `analysis_samples` of them (all by default), the rest on all."""
    timings = {} if timings is None else timings
    analysed = samples if analysis_samples is None else samples[:analysis_samples]
    with timed(timings, "analyze"):
        table = model.analyze_quantization_error(analysed, metric, local_feed=local_feed)
    matches = {match.name: match for match in match_nodes(find_function(model.module), find_function(model.float_reference))}
    worst = [row.node for row in table.worst(worst_count)]
    taps = [matches[name].reference.results[0] for name in worst]
    try:
        reference, output_count = tapped_interpreter(model.float_reference, taps)
    except Exception as error:  # the float reference as saved cannot run: say which model
        raise UserFacingException(f"the float reference of '{model.name}' cannot run: {error}", ExceptionFuncType.QUANTIZATION_ERROR_ANALYSIS) from None
    collectors = [_ValueCollector(_quantization(matches[name])) for name in worst]
    float_outputs, quantized_outputs = [], []
    with timed(timings, "evaluate"):
        for sample in progress(samples, "Comparing outputs", len(samples)):
            produced = reference.run(sample)
            float_outputs.append(produced[:output_count])
            for collector, values in zip(collectors, produced[output_count:]):
                collector.add(values)
            quantized_outputs.append(model.execute(sample))
    layers = [
        LayerRow(row.node, row.op, row.precision, row.error_value, _selected_range(matches.get(row.node)))
        for row in table
    ]
    histograms = [collector.histogram(name, table[name]) for name, collector in zip(worst, collectors)]
    report = ReportData(
        model_name=model.name,
        metric=metric,
        local_feed=local_feed,
        sample_count=len(samples),
        analysis_sample_count=len(analysed),
        layers=layers,
        outputs=compare_outputs(model.output_names, float_outputs, quantized_outputs),
        histograms=histograms,
        worst=worst,
        facts=tuple(facts),
    )
    return GatheredReport(report, table, float_outputs, quantized_outputs)


def _quantization(match: NodeMatch | None) -> OutputQuantization | None:
    """How the quantized node's output is quantized (None if it stayed float)."""
    if match is None or not match.outputs or not isinstance(match.outputs[0].type, TensorType):
        return None
    element = match.outputs[0].type.element_type
    if not isinstance(element, QuantizedType):
        return None
    return OutputQuantization(element.bits, element.scale_value, element.zero_point_value)


def _selected_range(match: NodeMatch | None) -> tuple[float, float] | None:
    quantization = _quantization(match)
    return None if quantization is None else quantization.float_range


class _ValueCollector:
    """A node's float values over the samples: a strided subset for the histogram,
    and the exact count of values outside the selected range."""

    def __init__(self, quantization: OutputQuantization | None):
        self.quantization = quantization
        self.kept: list[np.ndarray] = []
        self.total = 0
        self.clipped = 0

    def add(self, values: np.ndarray) -> None:
        flat = np.asarray(values, dtype=np.float32).ravel()
        self.total += flat.size
        if self.quantization is not None:
            low, high = self.quantization.float_range
            self.clipped += int(np.count_nonzero((flat < low) | (flat > high)))
        stride = max(1, flat.size // _VALUES_KEPT_PER_SAMPLE)
        self.kept.append(flat[::stride])

    def histogram(self, node: str, error_value: float) -> ActivationHistogram:
        values = np.concatenate(self.kept) if self.kept else np.zeros(0, np.float32)
        values = values[np.isfinite(values)]
        selected = None if self.quantization is None else self.quantization.float_range
        bounds = [float(values.min()), float(values.max())] if values.size else [0.0, 1.0]
        if selected is not None:
            bounds = [min(bounds[0], selected[0]), max(bounds[1], selected[1])]
        if bounds[0] == bounds[1]:
            bounds = [bounds[0] - 0.5, bounds[1] + 0.5]
        counts, edges = np.histogram(values, bins=HISTOGRAM_BINS, range=(bounds[0], bounds[1]))
        return ActivationHistogram(
            node=node,
            counts=counts,
            edges=edges,
            selected_range=selected,
            step=None if self.quantization is None else self.quantization.scale,
            clipped_fraction=self.clipped / self.total if self.total else 0.0,
            error_value=error_value,
            total_values=self.total,
        )


def compare_outputs(
    names: Sequence[str], float_outputs: Sequence[Sequence[np.ndarray]], quantized_outputs: Sequence[Sequence[np.ndarray]]
) -> list[OutputAgreement]:
    """Each output, quantized against float over every sample: SQNR, largest difference,
    and top-1 agreement when the output is one row of class scores per sample."""
    agreements = []
    for index, name in enumerate(names):
        reference = np.stack([np.asarray(sample[index], dtype=np.float64) for sample in float_outputs])
        quantized = np.stack([np.asarray(sample[index], dtype=np.float64) for sample in quantized_outputs])
        noise = float(np.sum((quantized - reference) ** 2))
        signal = float(np.sum(reference**2))
        sqnr = math.inf if noise == 0.0 else (10.0 * math.log10(signal / noise) if signal > 0 else -math.inf)
        top1 = None
        rows = reference.reshape(len(reference), -1)
        if rows.shape[1] >= 2 and reference[0].squeeze().ndim == 1:  # [1, C] or [C]: class scores
            top1 = float(np.mean(rows.argmax(axis=1) == quantized.reshape(len(quantized), -1).argmax(axis=1)))
        agreements.append(OutputAgreement(name, sqnr, float(np.abs(quantized - reference).max(initial=0.0)), top1))
    return agreements
