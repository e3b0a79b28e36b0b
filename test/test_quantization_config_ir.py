"""afe.ir.defines, afe.ir.tensor_type, afe.ir.attributes, afe.core.configs: the quantizer's small types."""

from __future__ import annotations

import logging

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from afe.apis.errors import UserFacingException
from afe.core.configs import QuantizationPrecision
from afe.ir.attributes import ConvAddActivationAttrs, ObservedDistribution
from afe.ir.defines import (
    BiasCorrectionType,
    NodeReporter,
    Quantization,
    QuantizationFlavor,
    RequantizationMode,
    quantization_from_range,
)
from afe.ir.tensor_type import ScalarType, signed_integer_type

finite = st.floats(-1e6, 1e6)


@given(finite, finite, st.sampled_from([8, 16, 32]), st.booleans())
def test_quantization_from_range(a, b, bits, asymmetric):
    lo, hi = min(a, b), max(a, b)
    q = quantization_from_range(lo, hi, bits, asymmetric)
    assert q.bits == bits
    # Real zero is exact.
    assert q.dequantize(q.quantize(0.0)) == 0.0
    if not asymmetric:
        assert q.zero_point == 0
    if max(-lo, hi) > 0:
        # The observed range is representable (to within one step at the clipped end).
        assert q.min_val <= min(lo, 0.0) + q.step and q.max_val >= max(hi, 0.0) - q.step
        for x in (lo, hi):
            assert abs(q.dequantize(q.quantize(x)) - x) <= 0.5 * q.step * (1 + 1e-9) + 1e-12 * abs(x)
    else:
        assert (q.scale, q.zero_point) == (1.0, 0)


def test_quantization_convention_and_step():
    q = Quantization.representable(scale=4.0, zero_point=-3, bits=8)
    assert q.quantize(np.array([0.0, 1.0, -0.125, 100.0])).tolist() == [-3, 1, -4, 127]
    assert q.quantize(np.array([0.125])).tolist() == [-2]  # 0.5 rounds away from zero
    assert q.step == 0.25
    assert Quantization.from_step(0.25, -3, 8) == q
    assert q.dequantize(np.array([1])).tolist() == [1.0]
    assert q.scalar_type is ScalarType.int8
    assert q.with_scale_pow2(1).scale == 8.0


def test_quantization_validation():
    with pytest.raises(ValueError, match="scale"):
        Quantization.representable(0.0, 0, 8)
    with pytest.raises(ValueError, match="zero point"):
        Quantization.representable(1.0, 200, 8)
    with pytest.raises(ValueError, match="bits"):
        Quantization.representable(1.0, 0, 12)
    with pytest.raises(ValueError, match="finite"):
        quantization_from_range(0.0, float("inf"), 8, True)


def test_scalar_types():
    assert ScalarType.float32.numpy_type() == np.float32
    assert ScalarType.uint8.numpy_type() == np.uint8
    assert ScalarType.bfloat16.numpy_type() == np.dtype(ml_dtypes.bfloat16)
    assert ScalarType.from_numpy(np.int16) is ScalarType.int16
    assert ScalarType.from_numpy(ml_dtypes.bfloat16) is ScalarType.bfloat16
    assert (ScalarType.int8.min_value, ScalarType.int8.max_value) == (-128, 127)
    assert ScalarType.uint8.is_integer and not ScalarType.uint8.is_signed_integer
    assert ScalarType.bfloat16.is_float and ScalarType.bfloat16.bits == 16
    assert signed_integer_type(32) is ScalarType.int32
    with pytest.raises(ValueError, match="integer"):
        ScalarType.float32.max_value
    with pytest.raises(ValueError, match="supported"):
        ScalarType.from_numpy(np.complex64)


def test_enums():
    assert RequantizationMode("sima") is RequantizationMode.sima
    assert {m.value for m in RequantizationMode} == {"sima", "tflite"}
    assert {m.value for m in QuantizationFlavor} == {"sima", "tflite"}
    assert BiasCorrectionType("iterative") is BiasCorrectionType.ITERATIVE
    assert QuantizationPrecision.INT_16.bits == 16


def test_observed_distribution_and_attrs():
    assert ObservedDistribution.from_array(np.array([3.0, -1.0])) == ObservedDistribution(-1.0, 3.0)
    with pytest.raises(ValueError, match="min"):
        ObservedDistribution(2.0, 1.0)
    with pytest.raises(ValueError, match="finite"):
        ObservedDistribution(float("nan"), 1.0)
    with pytest.raises(ValueError, match="one value per output channel"):
        ConvAddActivationAttrs(np.zeros((3, 3, 2, 4)), np.zeros(3))


def test_node_reporter(caplog):
    reporter = NodeReporter("MLA_0/conv2d_add_3")
    with caplog.at_level(logging.WARNING, logger="afe.quantization"):
        reporter.warn("weights narrowed")
    assert reporter.warnings == ["weights narrowed"]
    assert "node MLA_0/conv2d_add_3: weights narrowed" in caplog.text
    error = reporter.error("no plan")
    assert isinstance(error, UserFacingException) and "MLA_0/conv2d_add_3" in str(error)
