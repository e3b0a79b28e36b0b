"""Issue 6's acceptance test on the real cls model (MODELS.md): the per-layer
analysis ranks layers, and the layer it ranks worst, kept in int16 through
`with_custom_quantization_configs`, lowers the cumulative error.

Protocol: min / max calibration on 32 text lines (seed 0), evaluation on 8
others (seed 1000), error metric mae. With only 8 calibration lines the worst
local errors come from evaluation values outside the calibrated ranges (the
classifier's logits, or its input), which int16 cannot fix: it keeps the
calibrated range and only refines the step. With 32, the worst node is a
convolution whose error is its resolution.

What is asserted held on every seed s of the study (bench/bench_int16_worst_layer.py
--models cls: calibration seed s, evaluation seed 1000 + s, s = 0..7; this test
is s = 0), apart from the first point, 7 of 8:
- the worst node's own (local-feed) error falls more than twofold (0.055-0.065
  -> 0.009-0.013; on seed 3 the worst node is the logits dense, whose error
  is mostly range: 0.081 -> 0.067);
- its cumulative error falls (8/8, by 3-6 %; here 0.202 -> 0.192);
- the cumulative error summed over every analysed node falls (8/8, but by
  little: 0.03-0.7 %; here 6.835 -> 6.811);
- the cumulative error falls at most of the nodes from the worst one to the
  output (8/8: at 78-100 % of them; here 78 %).

What is not asserted, because it does not hold: the error of the model's
output falls on 4 of 8 seeds only (here softmax mae 0.00683 -> 0.00708; on
seed 5 0.00225 -> 0.00126). The 2-logit output is the signed sum of ~100
layers' errors, which partly cancel, so removing one layer's error does not
reliably lower it.

The same protocol on orientation (bench --models orientation, seeds 0-7) gives
the same picture with wider margins: the worst node is conv2d_add_10 on every
seed (local 0.14-0.16 -> 0.010-0.013); in int16 its cumulative error falls
11-13 %, the cumulative error summed over all nodes 5-8 % (8/8), at 82-97 %
of the nodes after it (8/8), and the output mae 3 times in 8. It is not
tested here because one such run takes about a minute (224x224 inputs, 32
calibration images). rec (16 calibration / 4 evaluation lines, seeds 0-1,
before select-scales' saturation narrowing): the worst node's own error fell
5-100x, the output error rose on both.
"""

from __future__ import annotations

import numpy as np
import pytest

from afe.apis.defines import MinMaxMethod, QuantizationPrecision, default_quantization
from afe.apis.model import Model
from models import nhwc_samples
from runtime.error_analysis import QuantizationErrorTable

MIN_MAX = default_quantization.with_calibration(MinMaxMethod())


@pytest.fixture(scope="module")
def calibration() -> list[dict[str, np.ndarray]]:
    return nhwc_samples("cls", 32, seed=0)


@pytest.fixture(scope="module")
def evaluation() -> list[dict[str, np.ndarray]]:
    return nhwc_samples("cls", 8, seed=1000)


@pytest.fixture(scope="module")
def int8_model(cls_net, calibration) -> Model:
    return cls_net.quantize(calibration, MIN_MAX, model_name="cls_int8")


@pytest.fixture(scope="module")
def local_errors(int8_model, evaluation) -> QuantizationErrorTable:
    return int8_model.analyze_quantization_error(evaluation, "mae", local_feed=True)


@pytest.fixture(scope="module")
def worst(local_errors) -> str:
    return local_errors.worst(1, quantized_only=True)[0].node


@pytest.fixture(scope="module")
def int16_model(cls_net, calibration, worst) -> Model:
    config = MIN_MAX.with_custom_quantization_configs({worst: {"quantization_precision": QuantizationPrecision.INT_16}})
    return cls_net.quantize(calibration, config, model_name="cls_worst_int16")


def test_the_analysis_covers_every_node_of_the_quantized_cls_model(int8_model, local_errors) -> None:
    boundary = ("/quantize_in0", "/dequantize")
    nodes = [row.name for row in int8_model.list_nodes() if not row.name.endswith(boundary)]
    assert [row.node for row in local_errors] == nodes
    assert all(np.isfinite(row.error_value) and row.error_value >= 0 for row in local_errors)
    # the softmax, an integer op: its own error is a fraction of its output step 1/255 (measured 0.0016)
    assert local_errors.rows[-1].op == "sima.qsoftmax" and local_errors.rows[-1].precision == "int8"
    assert 0.0 < local_errors.rows[-1].error_value < 1 / 255


def test_the_worst_node_kept_in_int16_lowers_its_own_and_the_cumulative_error(
    int8_model, int16_model, local_errors, worst, evaluation
) -> None:
    precisions = {row.name: row.precision for row in int16_model.list_nodes()}
    assert precisions[worst] == "int16"
    local16 = int16_model.analyze_quantization_error(evaluation, "mae", local_feed=True)
    assert local16[worst] < local_errors[worst] / 2, (worst, local_errors[worst], local16[worst])
    cumulative8 = int8_model.analyze_quantization_error(evaluation, "mae", local_feed=False)
    cumulative16 = int16_model.analyze_quantization_error(evaluation, "mae", local_feed=False)
    assert cumulative16[worst] < cumulative8[worst], (worst, cumulative8[worst], cumulative16[worst])
    total8, total16 = sum(cumulative8.errors().values()), sum(cumulative16.errors().values())
    assert total16 < total8, (total8, total16)
    nodes = [row.node for row in cumulative8]
    downstream = nodes[nodes.index(worst) :]
    lower = [node for node in downstream if cumulative16[node] < cumulative8[node]]
    assert len(lower) > len(downstream) / 2, (len(lower), len(downstream))
