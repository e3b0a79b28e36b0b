"""The calibration method API of seed 000 (afe.apis.defines / afe.apis.calibration)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from afe.apis.calibration import (
    CalibrationMethod,
    HistogramEntropyMethod,
    HistogramMSEMethod,
    HistogramPercentileMethod,
    MinMaxMethod,
    MovingAverageMinMaxMethod,
    default_calibration,
)
from afe.apis.errors import UserFacingException
from runtime.observers import (
    HistogramEntropyObserver,
    HistogramMSEObserver,
    HistogramPercentileObserver,
    MinMaxObserver,
    MovingAverageMinMaxObserver,
)


@pytest.mark.parametrize(
    "names, expected",
    [
        (("MIN_MAX", "min_max"), MinMaxMethod()),
        (("MOVING_AVERAGE", "moving_average"), MovingAverageMinMaxMethod()),
        (("MSE", "mse"), HistogramMSEMethod(2048)),
        (("HISTOGRAM_ENTROPY", "entropy"), HistogramEntropyMethod(512)),
        (("HISTOGRAM_PERCENTILE", "percentile"), HistogramPercentileMethod(99.9, 1024)),
    ],
)
def test_from_str_builds_each_method_with_its_defaults(names, expected):
    for name in names:
        assert CalibrationMethod.from_str(name) == expected


@pytest.mark.parametrize(
    "method, name",
    [
        (MinMaxMethod(), "min_max"),
        (MovingAverageMinMaxMethod(), "moving_average"),
        (HistogramMSEMethod(1024), "mse"),
        (HistogramEntropyMethod(), "entropy"),
        (HistogramPercentileMethod(91.0, 2048), "percentile"),
    ],
)
def test_names(method, name):
    assert method.name == name
    assert isinstance(method, CalibrationMethod)


@pytest.mark.parametrize("bad", ["minmax", "MSE ", "Entropy", "histogram", "", None, 3])
def test_from_str_rejects_unknown_methods(bad):
    with pytest.raises(UserFacingException, match="Unsupported calibration method") as info:
        CalibrationMethod.from_str(bad)
    assert "min_max" in str(info.value)


def test_constructors_as_the_seeds_call_them():
    # Seed 003: HistogramEntropyMethod(), HistogramPercentileMethod(99.9),
    # HistogramMSEMethod(1024), HistogramPercentileMethod(91.0, 2048).
    assert HistogramMSEMethod().num_bins == 2048
    assert HistogramMSEMethod(1024).num_bins == 1024
    assert HistogramEntropyMethod().num_bins == 512
    assert HistogramPercentileMethod(99.9) == HistogramPercentileMethod(99.9, 1024)
    method = HistogramPercentileMethod(91.0, 2048)
    assert (method.percentile_value, method.num_bins) == (91.0, 2048)


def test_default_calibration_is_histogram_mse():
    assert default_calibration() == HistogramMSEMethod(2048)


def test_methods_are_frozen_and_hashable():
    methods = {MinMaxMethod(), MinMaxMethod(), HistogramMSEMethod(2048), HistogramMSEMethod()}
    assert len(methods) == 2
    assert MinMaxMethod() != MovingAverageMinMaxMethod()
    with pytest.raises(dataclasses.FrozenInstanceError):
        HistogramMSEMethod().num_bins = 4
    assert dataclasses.replace(HistogramPercentileMethod(), num_bins=64).num_bins == 64


@pytest.mark.parametrize(
    "build",
    [
        lambda: HistogramMSEMethod(1),
        lambda: HistogramMSEMethod(0),
        lambda: HistogramEntropyMethod(2.5),
        lambda: HistogramEntropyMethod(True),
        lambda: HistogramPercentileMethod(99.0, -3),
        lambda: HistogramPercentileMethod(120.0),
        lambda: HistogramPercentileMethod(10.0),
        lambda: HistogramPercentileMethod("99"),
    ],
)
def test_invalid_parameters_are_user_facing_errors(build):
    with pytest.raises(UserFacingException, match="num_bins|percentile_value"):
        build()


@pytest.mark.parametrize(
    "method, observer_type",
    [
        (MinMaxMethod(), MinMaxObserver),
        (MovingAverageMinMaxMethod(), MovingAverageMinMaxObserver),
        (HistogramMSEMethod(256), HistogramMSEObserver),
        (HistogramEntropyMethod(128), HistogramEntropyObserver),
        (HistogramPercentileMethod(95.0, 64), HistogramPercentileObserver),
    ],
)
def test_each_method_creates_its_observer(method, observer_type):
    observer = method.create_observer()
    assert type(observer) is observer_type
    assert observer is not method.create_observer()  # a fresh one each time
    if hasattr(method, "num_bins"):
        assert observer.num_bins == method.num_bins
    observer.update(np.linspace(-1.0, 3.0, 1000))
    lo, hi = observer.select_range(8)
    assert lo <= 0.0 < hi


def test_moving_average_uses_the_seed_coefficient():
    assert MovingAverageMinMaxMethod().create_observer().averaging_constant == 0.01


def test_percentile_observer_uses_the_method_percentile():
    observer = HistogramPercentileMethod(91.0, 2048).create_observer()
    observer.update(np.arange(1001.0))
    assert observer.select_range()[1] == pytest.approx(910.0, abs=observer.bin_width)


def test_defines_re_exports_the_calibration_api():
    from afe.apis import defines

    for name in ("CalibrationMethod", "MinMaxMethod", "MovingAverageMinMaxMethod", "HistogramMSEMethod",
                 "HistogramEntropyMethod", "HistogramPercentileMethod", "default_calibration"):
        assert getattr(defines, name) is globals()[name]
