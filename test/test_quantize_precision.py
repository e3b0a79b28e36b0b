"""Per-node int16 (`passes/quantize_precision.py`): an int16 node reads 16-bit
values even when data movement (max_pool, reshape) stands between it and the
op computing them, on a small graph and on the real cls model; a node that
cannot read 16 bits is named in a warning. The IR is in
test/filecheck/passes/node_precisions.mlir."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from afe.apis.defines import MinMaxMethod, QuantizationPrecision, default_quantization
from afe.core.calibration_pipeline import calibrate_module
from passes.partition import partition_and_name
from passes.quantize import quantize_module
from runtime.error_analysis import ErrorAnalysis
from sima_dialect import ops
from sima_dialect.context import parse_module
from models import nhwc_samples

MIN_MAX = default_quantization.with_calibration(MinMaxMethod())
INT16 = {"quantization_precision": QuantizationPrecision.INT_16}


def _tensor(shape) -> str:
    return "tensor<" + "x".join(map(str, shape)) + "xf32>"


def _dense(array: np.ndarray) -> str:
    return f"dense<{np.asarray(array, dtype=np.float32).tolist()!r}> : {_tensor(np.shape(array))}"


def _graph(between: str) -> str:
    """conv + relu -> `between` (ops taking %0, leaving %mid of 1x4x4x8) -> reshape -> dense."""
    rng = np.random.default_rng(0)
    w, b = rng.standard_normal((3, 3, 3, 8)) * 0.3, rng.standard_normal(8) * 0.1
    wd, bd = rng.standard_normal((128, 6)) * 0.2, rng.standard_normal(6) * 0.1
    t = _tensor
    return f"""
func.func @main(%x: {t((1, 8, 8, 3))} {{sima.name = "image"}}) -> {t((1, 6))} {{
  %w = sima.constant {_dense(w)}
  %b = sima.constant {_dense(b)}
  %wd = sima.constant {_dense(wd)}
  %bd = sima.constant {_dense(bd)}
  %c = sima.conv2d %x, %w, %b {{strides = array<i64: 1, 1>, dilations = array<i64: 1, 1>, groups = 1 : i64, pads = array<i64: 1, 1, 1, 1>}} : ({t((1, 8, 8, 3))}, {t(w.shape)}, {t(b.shape)}) -> {t((1, 8, 8, 8))}
  %0 = sima.relu %c : {t((1, 8, 8, 8))}
  {between}
  %flat = sima.reshape %mid : ({t((1, 4, 4, 8))}) -> {t((1, 128))}
  %y = sima.dense %flat, %wd, %bd : ({t((1, 128))}, {t(wd.shape)}, {t(bd.shape)}) -> {t((1, 6))}
  func.return %y : {t((1, 6))}
}}
"""


POOL = (
    "%mid = sima.max_pool %0 {kernel = array<i64: 2, 2>, strides = array<i64: 2, 2>, pads = array<i64: 0, 0, 0, 0>, "
    "dilations = array<i64: 1, 1>} : (tensor<1x8x8x8xf32>) -> tensor<1x4x4x8xf32>"
)
# a transpose runs only at 8 bits on the MLA: the int16 dense cannot read 16 bits through it
POOL_TRANSPOSE = (
    POOL.replace("%mid =", "%p =")
    + "\n  %mid = sima.transpose %p {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x4x4x8xf32>) -> tensor<1x4x4x8xf32>"
)


def _float_module(between: str):
    module = parse_module(_graph(between))
    partition_and_name(module)
    return module


def _samples(count: int, seed: int) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [{"image": rng.standard_normal((1, 8, 8, 3)).astype(np.float32)} for _ in range(count)]


def _node(module, kind: str) -> ops.SimaOp:
    (op,) = [op for op in module.walk() if isinstance(op, ops.SimaOp) and op.name == kind]
    return op


def _bits(value) -> int:
    return value.type.element_type.bits


def _local_error(quantized, reference, node: str) -> float:
    analysis = ErrorAnalysis(quantized, reference, local_feed=True)
    for sample in _samples(4, seed=2):
        analysis.add_sample(sample)
    return analysis.statistics[node].value("mae")


@pytest.fixture(scope="module")
def pooled():
    module = _float_module(POOL)
    return module, calibrate_module(module, _samples(8, seed=1), MIN_MAX, progress=False)


def test_an_int16_dense_reads_16_bits_through_reshape_and_max_pool(pooled) -> None:
    module, calibrated = pooled
    dense = _node(module, "sima.dense").node_name
    quantized = quantize_module(calibrated, MIN_MAX.with_custom_quantization_configs({dense: INT16}))
    qdense, qconv = _node(quantized, "sima.qdense"), _node(quantized, "sima.qconv2d")
    assert _bits(qdense.input) == 16 and _bits(qdense.output) == 16
    # the 16 bits reach the convolution computing the values: it writes int16, the pool and reshape move them
    assert _bits(qconv.output) == 16 and _bits(qconv.input) == 8
    assert _bits(_node(quantized, "sima.max_pool").output) == 16
    # the values the dense reads are at 16-bit resolution: alone (local feed), the
    # reshape before it makes the rounding error of its (carried back) input quantization
    reshape = _node(module, "sima.reshape").node_name
    int8 = quantize_module(calibrated, MIN_MAX)
    error16, error8 = _local_error(quantized, module, reshape), _local_error(int8, module, reshape)
    assert error16 < error8 / 20, (error16, error8)


def test_an_int16_dense_behind_an_int8_only_transpose_reads_8_bits_and_says_so(caplog) -> None:
    module = _float_module(POOL_TRANSPOSE)
    calibrated = calibrate_module(module, _samples(4, seed=1), MIN_MAX, progress=False)
    dense, transpose = _node(module, "sima.dense").node_name, _node(module, "sima.transpose").node_name
    with caplog.at_level(logging.WARNING, logger="afe.quantization"):
        quantized = quantize_module(calibrated, MIN_MAX.with_custom_quantization_configs({dense: INT16}))
    assert f"node {dense}: INT_16 asked, but it reads 8-bit values: its input comes from '{transpose}'" in caplog.text
    assert _bits(_node(quantized, "sima.qdense").input) == 8
    # nothing before the transpose was widened for nothing
    assert _bits(_node(quantized, "sima.qconv2d").output) == 8
    assert _bits(_node(quantized, "sima.max_pool").output) == 8


def test_int16_on_an_op_the_mla_runs_only_at_8_bits_is_ignored_with_a_warning(caplog) -> None:
    module = _float_module(POOL_TRANSPOSE)
    calibrated = calibrate_module(module, _samples(2, seed=1), MIN_MAX, progress=False)
    transpose = _node(module, "sima.transpose").node_name
    with caplog.at_level(logging.WARNING, logger="afe.quantization"):
        quantized = quantize_module(calibrated, MIN_MAX.with_custom_quantization_configs({transpose: INT16}))
    assert f"node {transpose}: INT_16 ignored: the MLA runs sima.transpose only at 8 bits" in caplog.text
    assert _bits(_node(quantized, "sima.transpose").output) == 8


# ---------------------------------------------------------------------------
# the real cls model: global_avg_pool -> reshape -> dense_add_108 (the logits)


def test_cls_int16_logits_dense_reads_16_bits_and_its_own_error_falls(cls_net) -> None:
    calibration = nhwc_samples("cls", 4, seed=0)
    # evaluated on calibration samples: their values lie inside the calibrated
    # ranges, so a node's own error is its resolution, which is what int16 changes
    evaluation = calibration[:2]
    dense, reshape = "MLA_0/dense_add_108", "MLA_0/reshape_107"
    int8 = cls_net.quantize(calibration, MIN_MAX, model_name="cls_int8")
    int16 = cls_net.quantize(calibration, MIN_MAX.with_custom_quantization_configs({dense: INT16}), model_name="cls_d16")
    (qdense,) = [op for op in int16.module.walk() if isinstance(op, ops.SimaOp) and op.node_name == dense]
    assert _bits(qdense.input) == 16 and _bits(qdense.output) == 16
    flat = qdense.input.owner
    pool = flat.input.owner
    assert (flat.node_name, pool.node_name) == (reshape, "MLA_0/global_avg_pool2d_106") and _bits(pool.output) == 16
    local8 = int8.analyze_quantization_error(evaluation, "mae", local_feed=True)
    local16 = int16.analyze_quantization_error(evaluation, "mae", local_feed=True)
    assert local16[reshape] < local8[reshape] / 20, (local8[reshape], local16[reshape])
    assert local16[dense] < local8[dense] / 2, (local8[dense], local16[dense])
