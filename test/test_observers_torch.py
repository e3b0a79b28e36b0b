"""Acceptance: the min/max observers agree with torch.ao's observers on the
same batches (torch is a test-only dependency)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch.ao.quantization.observer import MinMaxObserver as TorchMinMax
from torch.ao.quantization.observer import MovingAverageMinMaxObserver as TorchMovingAverage

from afe.apis.calibration import MinMaxMethod, MovingAverageMinMaxMethod

batches = st.lists(
    hnp.arrays(
        np.float32,
        hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=8),
        elements=st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False, width=32),
    ),
    min_size=1,
    max_size=12,
)


def _run_both(ours, theirs, arrays):
    for array in arrays:
        ours.update(array)
        theirs(torch.from_numpy(array.copy()))
    return ours, theirs


def _assert_same_statistics(ours, theirs):
    # torch keeps float32 statistics; ours are float64.
    assert ours.min_val == pytest.approx(theirs.min_val.item(), rel=1e-6, abs=1e-4)
    assert ours.max_val == pytest.approx(theirs.max_val.item(), rel=1e-6, abs=1e-4)


def _assert_same_affine_quantization(ours, theirs):
    """torch's per-tensor affine quint8 parameters follow from our range:
    scale = (hi - lo) / 255 (which torch raises to at least float32's eps),
    zero point = -round(lo / scale)."""
    lo, hi = ours.select_range(8, symmetric=False)
    scale, zero_point = theirs.calculate_qparams()
    expected_scale = max((hi - lo) / 255, torch.finfo(torch.float32).eps)
    assert expected_scale == pytest.approx(scale.item(), rel=1e-5)
    # abs=1: float32 (torch) and float64 (ours) may round a .5 tie apart.
    assert min(max(-round(lo / expected_scale), 0), 255) == pytest.approx(zero_point.item(), abs=1)


@settings(max_examples=50, deadline=None)
@given(arrays=batches)
def test_min_max_matches_torch(arrays):
    ours, theirs = _run_both(MinMaxMethod().create_observer(), TorchMinMax(dtype=torch.quint8), arrays)
    assert ours.min_val == theirs.min_val.item() and ours.max_val == theirs.max_val.item()
    _assert_same_affine_quantization(ours, theirs)


@settings(max_examples=50, deadline=None)
@given(arrays=batches)
def test_moving_average_matches_torch(arrays):
    ours, theirs = _run_both(
        MovingAverageMinMaxMethod().create_observer(),
        TorchMovingAverage(averaging_constant=0.01, dtype=torch.quint8),
        arrays,
    )
    _assert_same_statistics(ours, theirs)
    _assert_same_affine_quantization(ours, theirs)


def test_moving_average_over_many_batches_matches_torch():
    rng = np.random.default_rng(0)
    arrays = [
        (rng.normal(size=(4, 16)) * (1 + 0.05 * i) + 0.01 * i).astype(np.float32) for i in range(300)
    ]
    ours, theirs = _run_both(
        MovingAverageMinMaxMethod().create_observer(),
        TorchMovingAverage(averaging_constant=0.01, dtype=torch.quint8),
        arrays,
    )
    _assert_same_statistics(ours, theirs)
    # After 300 batches the average is far from both the first batch and the
    # plain min/max: the filter really runs.
    assert abs(ours.max_val - float(arrays[0].max())) > 0.5
    assert ours.max_val < max(float(a.max()) for a in arrays) - 0.5


def test_symmetric_range_matches_torch_symmetric_bound():
    """torch's per-tensor symmetric qint8 scale is max(|min|, |max|) / 127.5;
    our symmetric range is (-a, a) with the same a."""
    rng = np.random.default_rng(1)
    arrays = [rng.normal(size=100).astype(np.float32) - 0.7 for _ in range(5)]
    ours, theirs = _run_both(
        MinMaxMethod().create_observer(),
        TorchMinMax(dtype=torch.qint8, qscheme=torch.per_tensor_symmetric),
        arrays,
    )
    lo, hi = ours.select_range(8, symmetric=True)
    scale, _ = theirs.calculate_qparams()
    assert lo == -hi and hi / 127.5 == pytest.approx(scale.item(), rel=1e-6)
