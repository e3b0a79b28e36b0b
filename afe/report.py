"""The quantization report: one self-contained HTML file (plots embedded as PNG).

    write_report("report.html", ReportData(...))

What it shows, from what `afe analyze` / `afe demo` measure:

- the model's outputs, float against quantized on the same samples: SQNR,
  largest difference, and top-1 agreement for class scores;
- the per-layer error of `Model.analyze_quantization_error` as a bar chart in
  graph order, the worst layers marked, and as a table;
- for the worst layers, the histogram of the float network's values at that
  node over the samples, with the range calibration selected (the float
  values the node's integers can represent) drawn on it, and the share of
  values outside it (clipped);
- a short guide to reading it.

Plots are drawn with matplotlib's Agg canvas directly (no pyplot, no global
backend switch), so this works without a display and changes nothing for a
caller who uses pyplot.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from afe.apis.errors import UserFacingException


@dataclass(frozen=True)
class OutputAgreement:
    """One model output, quantized against float, over every sample."""

    name: str
    sqnr_db: float  # 10 log10(sum f^2 / sum (q - f)^2); inf if identical
    max_abs_error: float
    top1_agreement: float | None  # share of samples with the same argmax; None if not class scores


@dataclass(frozen=True)
class LayerRow:
    """One analysed node."""

    node: str
    op: str
    precision: str
    error_value: float
    selected_range: tuple[float, float] | None = None  # float range of its quantized output


@dataclass(frozen=True)
class ActivationHistogram:
    """The float network's values at one node over every sample."""

    node: str
    counts: np.ndarray
    edges: np.ndarray
    selected_range: tuple[float, float] | None
    step: float | None  # the quantization step (scale)
    clipped_fraction: float  # share of values outside selected_range (of all values, not only those counted)
    error_value: float
    total_values: int = 0  # values seen; the counts may hold a strided sample of them


@dataclass(frozen=True)
class ReportData:
    model_name: str
    metric: str  # "mae", "mse" or "psnr"
    local_feed: bool
    sample_count: int  # samples the outputs and histograms were measured on
    layers: Sequence[LayerRow]
    outputs: Sequence[OutputAgreement] = ()
    histograms: Sequence[ActivationHistogram] = ()
    worst: Sequence[str] = ()  # names of the worst layers, worst first (QuantizationErrorTable.worst)
    facts: Sequence[tuple[str, str]] = field(default_factory=tuple)  # (label, value) lines for the header
    analysis_sample_count: int | None = None  # samples the per-layer errors were measured on (default: all)


_METRIC_NAMES = {"mae": "mean absolute error", "mse": "mean squared error", "psnr": "PSNR (dB)"}
_PRECISION_COLOURS = {"int8": "#4C72B0", "int16": "#DD8452", "int32": "#8172B3"}
_OTHER_COLOUR = "#9a9a9a"
_WORST_COLOUR = "#C44E52"


# -- plots ---------------------------------------------------------------------------------


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _layer_error_plot(data: ReportData, worst: Sequence[LayerRow]) -> str:
    figure = _figure(11, 3.8)
    axes = figure.add_subplot()
    worst_names = {row.node for row in worst}
    values = np.array([row.error_value for row in data.layers], dtype=np.float64)
    shown = np.where(np.isfinite(values), values, np.nan)
    colours = [
        _WORST_COLOUR if row.node in worst_names else _PRECISION_COLOURS.get(row.precision, _OTHER_COLOUR) for row in data.layers
    ]
    axes.bar(np.arange(len(values)), np.nan_to_num(shown, nan=0.0), color=colours, width=0.8)
    finite = shown[np.isfinite(shown)]
    positive = finite[finite > 0]
    top = float(finite.max()) if finite.size else 1.0
    if data.metric != "psnr" and positive.size and positive.max() / positive.min() > 100:
        axes.set_yscale("log")
        axes.set_ylim(top=top * 6)  # room for the names of the worst layers
    elif top > 0:
        axes.set_ylim(top=top * 1.3)
    for index, row in enumerate(data.layers):
        if row.node in worst_names and np.isfinite(shown[index]):
            axes.annotate(
                row.node.rsplit("/", 1)[-1], (index, shown[index]), textcoords="offset points", xytext=(2, 3),
                ha="left", va="bottom", fontsize=7, rotation=35, color=_WORST_COLOUR,
            )
    axes.set_xlabel("node (graph order; numbers as in the table of every node)")
    axes.set_ylabel(_METRIC_NAMES[data.metric] + (", higher is better" if data.metric == "psnr" else ""))
    axes.set_xlim(-1, len(values) + 2)
    from matplotlib.patches import Patch

    present = sorted({row.precision for row in data.layers})
    handles = [Patch(color=_PRECISION_COLOURS.get(p, _OTHER_COLOUR), label=p) for p in present]
    handles.append(Patch(color=_WORST_COLOUR, label="worst"))
    axes.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.0), fontsize=8, ncols=len(handles), frameon=False)
    return _png(figure)


def _histogram_plot(histogram: ActivationHistogram, metric: str) -> str:
    figure = _figure(5.4, 3.0)
    axes = figure.add_subplot()
    widths = np.diff(histogram.edges)
    axes.bar(histogram.edges[:-1], histogram.counts, width=widths, align="edge", color="#4C72B0", linewidth=0)
    if histogram.counts.max(initial=0) > 0:
        axes.set_yscale("log")
    if histogram.selected_range is not None:
        low, high = histogram.selected_range
        for edge in (low, high):
            axes.axvline(edge, color=_WORST_COLOUR, linestyle="--", linewidth=1.2)
        axes.axvspan(low, high, color=_WORST_COLOUR, alpha=0.07, label=f"selected range [{low:.3g}, {high:.3g}]")
        axes.legend(loc="upper right", fontsize=7)
    axes.set_title(f"{histogram.node}\n{metric} {histogram.error_value:.4g}", fontsize=8)
    axes.set_xlabel("float value at the node")
    axes.set_ylabel("count")
    return _png(figure)


# -- HTML ----------------------------------------------------------------------------------

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1150px; color: #222; line-height: 1.45; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.6em 0; }
th, td { padding: 2px 10px; border-bottom: 1px solid #eee; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.worst td { color: #C44E52; font-weight: 600; }
.facts td:first-child { color: #666; }
.grid { display: flex; flex-wrap: wrap; gap: 12px; }
.grid figure { margin: 0; } figcaption { font-size: 0.8em; color: #555; max-width: 540px; }
details { margin: 0.6em 0; } code { background: #f4f4f4; padding: 0 3px; }
"""


def _number(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "-"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if math.isnan(value):
        return "n/a"
    return f"{value:.{digits}g}"


def _escape(text: object) -> str:
    return html.escape(str(text))


def _guide(metric: str, local_feed: bool) -> str:
    feed = (
        "<b>local feed</b>: every quantized node was fed the float network's values, so a node's error is "
        "its own — what quantizing that node alone costs. A high bar is a node to look at."
        if local_feed
        else "<b>cumulative</b>: the quantized and float networks both ran end to end, so a node's error "
        "includes everything before it; the error usually grows along the graph, and a jump marks the node "
        "that adds it. The last node's error is that of the whole network."
    )
    direction = "higher PSNR is better" if metric == "psnr" else "lower is better"
    return f"""
<p>Errors compare each node's quantized output (dequantized) with the float network's output at the same
node, over every value of every sample ({_escape(_METRIC_NAMES[metric])}; {direction}). In this run: {feed}</p>
<ul>
<li><b>Outputs</b>: SQNR is 10·log10(Σf² / Σ(q−f)²) over the model output; about 6 dB per bit, so 20–30 dB
is typical of int8 and each 6 dB more halves the error. Top-1 agreement counts samples whose largest class
score is the same in both.</li>
<li><b>Histograms</b>: the float values that reached a node, and the range its integers represent
(dashed). Values outside the range are clipped; a wide range over a narrow peak wastes levels, so small
values lose precision. Long, sparse tails that stretch the range are the usual cause of a bad layer.</li>
<li><b>What to try</b>: another calibration method (<code>--calibration-method percentile</code> or
<code>entropy</code> clips tails; <code>min_max</code> never clips), more or more representative calibration
samples, int16 for a bad node (<code>--int16-node NODE</code>), or leaving it in float
(<code>--unquantized-node NODE</code>).</li>
</ul>"""


def render_report(data: ReportData) -> str:
    """The report as an HTML document (a string)."""
    if data.metric not in _METRIC_NAMES:
        raise UserFacingException(f"report: unknown metric {data.metric!r}; the metrics are {', '.join(_METRIC_NAMES)}")
    by_name = {row.node: row for row in data.layers}
    worst = [by_name[name] for name in data.worst if name in by_name]
    worst_names = {row.node for row in worst}
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Quantization report: {_escape(data.model_name)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Quantization report: {_escape(data.model_name)}</h1>",
        '<table class="facts">',
        *(f"<tr><td>{_escape(label)}</td><td>{_escape(value)}</td></tr>" for label, value in data.facts),
        f"<tr><td>samples</td><td>{data.sample_count}</td></tr>",
        f"<tr><td>per-layer error</td><td>{_escape(_METRIC_NAMES[data.metric])}, "
        f"{'local feed' if data.local_feed else 'cumulative'}, on {_analysed(data)} samples</td></tr>",
        "</table>",
    ]
    if data.outputs:
        parts += [
            "<h2>Outputs: float against quantized</h2>",
            "<table><tr><th>output</th><th>SQNR (dB)</th><th>largest |difference|</th><th>top-1 agreement</th></tr>",
            *(
                f"<tr><td>{_escape(o.name)}</td><td class=num>{_number(o.sqnr_db, 3)}</td>"
                f"<td class=num>{_number(o.max_abs_error)}</td>"
                f"<td class=num>{'-' if o.top1_agreement is None else f'{100 * o.top1_agreement:.1f} %'}</td></tr>"
                for o in data.outputs
            ),
            "</table>",
        ]
    parts += [
        "<h2>Per-layer error</h2>",
        f'<img alt="per-layer error" src="data:image/png;base64,{_layer_error_plot(data, worst)}">' if data.layers else "<p>No node was analysed.</p>",
    ]
    if worst:
        parts += [
            "<h3>Worst layers</h3>",
            "<table><tr><th>node</th><th>op</th><th>precision</th>"
            f"<th>{_escape(data.metric)}</th><th>selected range</th></tr>",
            *(
                f"<tr class=worst><td>{_escape(r.node)}</td><td>{_escape(r.op)}</td><td>{_escape(r.precision)}</td>"
                f"<td class=num>{_number(r.error_value)}</td><td>{_range(r.selected_range)}</td></tr>"
                for r in worst
            ),
            "</table>",
        ]
    if data.histograms:
        parts.append("<h2>Values at the worst layers, and the selected ranges</h2><div class=grid>")
        for histogram in data.histograms:
            counted = int(histogram.counts.sum())
            caption = (
                f"{_number(100 * histogram.clipped_fraction, 3)} % of the values fall outside the selected range"
                + (f"; quantization step {_number(histogram.step)}" if histogram.step is not None else "")
                + (f". Counts of a strided sample: {counted:,} of {histogram.total_values:,} values."
                   if histogram.total_values > counted else ".")
            )
            parts.append(
                f'<figure><img alt="{_escape(histogram.node)}" src="data:image/png;base64,{_histogram_plot(histogram, data.metric)}">'
                f"<figcaption>{caption}</figcaption></figure>"
            )
        parts.append("</div>")
    parts += ["<h2>How to read this report</h2>", _guide(data.metric, data.local_feed)]
    parts += [
        f"<details><summary>Every analysed node ({len(data.layers)})</summary>",
        f"<table><tr><th>#</th><th>node</th><th>op</th><th>precision</th><th>{_escape(data.metric)}</th><th>selected range</th></tr>",
        *(
            f"<tr{' class=worst' if r.node in worst_names else ''}><td class=num>{i}</td><td>{_escape(r.node)}</td>"
            f"<td>{_escape(r.op)}</td><td>{_escape(r.precision)}</td><td class=num>{_number(r.error_value)}</td>"
            f"<td>{_range(r.selected_range)}</td></tr>"
            for i, r in enumerate(data.layers)
        ),
        "</table></details>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _analysed(data: ReportData) -> str:
    count = data.analysis_sample_count
    return str(data.sample_count) if count is None or count == data.sample_count else f"the first {count} of the {data.sample_count}"


def _range(selected: tuple[float, float] | None) -> str:
    return "-" if selected is None else f"[{_number(selected[0])}, {_number(selected[1])}]"


def write_report(path: str, data: ReportData) -> None:
    """Write `render_report(data)` to `path` (its directory is created if needed)."""
    text = render_report(data)
    try:
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)
    except OSError as error:
        raise UserFacingException(f"cannot write the report '{path}': {error.strerror or error}") from None
